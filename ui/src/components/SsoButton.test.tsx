import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/react';
import { SsoButton } from './SsoButton';
import { stubFetch } from '../test/fetchStub';

describe('single sign-on button', () => {
  it('links to the provider sign-in when the server has OIDC configured', async () => {
    const calls = stubFetch((c) =>
      c.path === '/api/v1/oidc'
        ? { status: 200, body: { enabled: true, name: 'Keycloak', login_url: '/api/v1/oidc/login' } }
        : undefined,
    );
    render(<SsoButton />);
    const link = await screen.findByRole('link', { name: 'Sign in with Keycloak' });
    expect(link).toHaveAttribute('href', '/api/v1/oidc/login');
    expect(calls.map((c) => c.path)).toEqual(['/api/v1/oidc']);
  });

  it('shows nothing when single sign-on is not configured', async () => {
    const calls = stubFetch(() => ({ status: 200, body: { enabled: false } }));
    const { container } = render(<SsoButton />);
    await waitFor(() => expect(calls.length).toBe(1));
    expect(container).toBeEmptyDOMElement();
    expect(screen.queryByRole('link')).toBeNull();
  });

  it('shows nothing when the server cannot say', async () => {
    const calls = stubFetch(() => ({ status: 500, body: { title: 'Internal Server Error', status: 500 } }));
    const { container } = render(<SsoButton />);
    await waitFor(() => expect(calls.length).toBe(1));
    expect(container).toBeEmptyDOMElement();
  });
});
