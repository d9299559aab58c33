import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/react';
import { App } from './App';
import { stubFetch } from './test/fetchStub';
import { alert } from './test/fixtures';

describe('navigation', () => {
  it('names the Alerts link by the text it shows, with the open count', async () => {
    sessionStorage.setItem('backline.token', 'tok');
    stubFetch((c) => {
      if (c.path.startsWith('/api/v1/alerts?state=open&')) return { status: 200, body: { items: [alert({ id: 'a1' }), alert({ id: 'a2' })] } };
      if (c.path.startsWith('/api/v1/')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    render(<App />);
    const link = screen.getByTestId('nav-alerts');
    // The visible text ("Alerts 2") is part of the name: no aria-label that says something else.
    // The count arrives after the session and the alerts are fetched (slow on a busy machine).
    await waitFor(() => expect(link).toHaveAccessibleName('Alerts 2 open'), { timeout: 5000 });
    expect(link).not.toHaveAttribute('aria-label');
    expect(screen.getByTestId('nav-alert-count')).toHaveTextContent('2');
  });
});
