import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The Rust server embeds dist/ and serves it at "/", with the API same-origin at /api/v1.
// In development, point the dev server at a running backline (BACKLINE_URL, default :18080).
const backend = process.env.BACKLINE_URL ?? 'http://127.0.0.1:18080';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: { proxy: { '/api': backend, '/healthz': backend } },
  preview: { proxy: { '/api': backend, '/healthz': backend } },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    // Generous per-test bound for a loaded 2-core machine (the default 5 s failed under load).
    testTimeout: 30000,
    restoreMocks: true,
    unstubGlobals: true,
    // Times are shown in the viewer's zone: the tests are a viewer in UTC, wherever they run.
    env: { TZ: 'UTC' },
  },
});
