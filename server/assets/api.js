// The session and the API client. The bearer key lives in this tab's sessionStorage only: never
// in a URL, a cookie or localStorage. Pinned verifier keys are public and kept in localStorage,
// so that a pin outlives the session, as the CLI's state directory does.

const SESSION = 'notarium.session';
const PINS = 'notarium.pins';

/** An error answer of the API: {status, code, message}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The signed-in session: {token, admin, role, keyLedger, keyId, ledgers, ledger} or null. */
export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) || 'null');
  } catch {
    return null;
  }
}

export function saveSession(s) {
  sessionStorage.setItem(SESSION, JSON.stringify(s));
}

export function signOut() {
  sessionStorage.removeItem(SESSION);
}

/** The ledger the views work on. */
export function currentLedger() {
  const s = session();
  return s ? s.ledger : null;
}

export function setLedger(name) {
  const s = session();
  if (s && s.ledgers.includes(name)) saveSession({ ...s, ledger: name });
}

/** Pinned verifier key texts by ledger name. */
export function pins() {
  try {
    return JSON.parse(localStorage.getItem(PINS) || '{}');
  } catch {
    return {};
  }
}

export function pinnedKey(ledger) {
  return pins()[ledger] || '';
}

export function pin(ledger, keyText) {
  localStorage.setItem(PINS, JSON.stringify({ ...pins(), [ledger]: keyText }));
}

export function unpin(ledger) {
  const p = pins();
  delete p[ledger];
  localStorage.setItem(PINS, JSON.stringify(p));
}

/**
 * The URL of an API path, found from this script's own URL (`…/assets/api.js` → `…/api/v1`),
 * so that the dashboard works under any path prefix a reverse proxy serves it at.
 */
export function apiUrl(path) {
  return new URL(`../api/v1${path}`, import.meta.url).href;
}

/**
 * Calls the API with the session's key (or `token`). Returns parsed JSON, or the text for
 * `as: 'text'`; throws ApiError with the server's code and message.
 */
export async function api(path, { method = 'GET', body, token, as = 'json' } = {}) {
  const key = token ?? session()?.token;
  const headers = { Accept: as === 'json' ? 'application/json' : '*/*' };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `The server could not be reached (${e.message}).`);
  }
  if (!resp.ok) {
    let code = 'http_error';
    let message = `The server answered ${resp.status}.`;
    try {
      const err = (await resp.json()).error;
      code = err.code;
      message = err.message;
    } catch {
      // Not the API's error shape: keep the status.
    }
    if (resp.status === 401 && !token) {
      window.dispatchEvent(new CustomEvent('notarium:unauthorized', { detail: message }));
    }
    throw new ApiError(resp.status, code, message);
  }
  if (as === 'text') return resp.text();
  return resp.json();
}

/** Path segment of a ledger name (names are already URL-safe; this keeps it so). */
export const L = (name) => `/ledgers/${encodeURIComponent(name)}`;
