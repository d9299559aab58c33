import '@testing-library/jest-dom/vitest';
import { afterEach } from 'vitest';
import { cleanup, configure } from '@testing-library/react';

// A busy CI machine renders slowly: wait for the UI to settle up to 10 s (found or not, a
// test still fails on what it asserts; this only bounds how long it waits).
configure({ asyncUtilTimeout: 10000 });

afterEach(() => {
  cleanup();
  sessionStorage.clear();
  window.history.replaceState(null, '', '/');
});
