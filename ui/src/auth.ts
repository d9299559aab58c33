// The API token lives in sessionStorage only: it is gone when the tab closes and never appears in a URL.
const KEY = 'backline.token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

// A signed-in session's cookie is HttpOnly (script cannot read it); its CSRF token, which every
// write must send back in X-CSRF-Token, is kept beside the API token in this tab.
const CSRF_KEY = 'backline.csrf';

export function getCsrf(): string | null {
  try {
    return sessionStorage.getItem(CSRF_KEY);
  } catch {
    return null;
  }
}

export function setCsrf(csrf: string | null): void {
  if (csrf) sessionStorage.setItem(CSRF_KEY, csrf);
  else sessionStorage.removeItem(CSRF_KEY);
}
