// What every page shares: the API call (same-origin cookie + the CSRF header
// ticketd asks of cookie-authenticated writes), the error display, sessions
// and a few DOM helpers. Native ES module; no framework.
import { t } from './i18n.js';

export const CSRF_HEADER = 'X-Requested-With';
export const CSRF_VALUE = 'ticketledger';

// One API call. Never throws: resolves to
//   {ok, status, body, headers}  for any HTTP answer (body parsed if JSON),
//   {ok:false, status:0, network:true, error:{code:'network', message}} if
//   the server could not be reached.
// opts: method, body (an object: sent as JSON), headers, signal.
export async function api(path, opts = {}) {
  const headers = { [CSRF_HEADER]: CSRF_VALUE, Accept: 'application/json', ...(opts.headers || {}) };
  const init = { method: opts.method || 'GET', credentials: 'same-origin', headers, signal: opts.signal, cache: 'no-store' };
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  } else if (init.method !== 'GET' && init.method !== 'HEAD') {
    init.body = '';
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    return { ok: false, status: 0, network: true, body: null, error: { code: 'network', message: String((e && e.message) || e) } };
  }
  const text = await res.text().catch(() => '');
  let body = text;
  if (text && (res.headers.get('Content-Type') || '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {}
  }
  const out = { ok: res.ok, status: res.status, body, headers: res.headers };
  if (!res.ok) {
    const e = body && typeof body === 'object' && body.error;
    out.error = e ? { code: e.code || 'error', message: e.message || '', ...e } : { code: `http_${res.status}`, message: typeof body === 'string' ? body.slice(0, 300) : '' };
  }
  return out;
}

// Text for a failed answer of api(): "409 closed: the campaign is closed".
export function errorText(r) {
  if (!r) return t('common.error');
  if (r.network) return t('common.network_error', { detail: r.error.message });
  const e = r.error || {};
  return t('common.http_error', { status: r.status, code: e.code || '', message: e.message || '' });
}

// Shows an error in `el` (role=alert, so screen readers hear it); an empty
// or null `r` clears it.
export function showError(el, r) {
  if (!el) return;
  if (!r) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.setAttribute('role', 'alert');
  el.classList.add('error');
  el.textContent = typeof r === 'string' ? r : errorText(r);
  el.hidden = false;
}

// ---------------------------------------------------------------- sessions

// GET /v1/session: {signed_in, user, admin, expires_at_ms, dev}; always 200.
export async function getSession() {
  const r = await api('/v1/session');
  if (!r.ok || !r.body || typeof r.body !== 'object') return { signed_in: false, dev: false, failed: r };
  return r.body;
}

// POST /v1/dev/session (ticketd --dev only): any name.
export function devSignIn(user, admin = false) {
  return api('/v1/dev/session', { method: 'POST', body: { user, admin } });
}

// The seller's JWT for an HttpOnly session cookie: POST /v1/session.
export function exchangeToken(jwt) {
  return api('/v1/session', { method: 'POST', headers: { Authorization: `Bearer ${jwt}` } });
}

export function signOut() {
  return api('/v1/session', { method: 'DELETE' });
}

// The production hand-off: the seller's site sends the user to
// /drops/<id>#token=<JWT>. The fragment never reaches a server or a log;
// it is read here, removed from the address bar and history at once, and
// exchanged for the cookie. Returns the token or null.
export function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash || '');
  if (!m) return null;
  const rest = location.hash
    .slice(1)
    .split('&')
    .filter((p) => !p.startsWith('token='))
    .join('&');
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- DOM

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// el('p', {class: 'x', text: 'hi', onclick: fn}, child, ...)
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

// The id segment of /drops/{id}, /verify/{id}: decoded, or '' if absent.
export function idFromPath(prefix) {
  const p = location.pathname;
  if (!p.startsWith(prefix)) return '';
  const rest = p.slice(prefix.length).split('/')[0];
  try {
    return decodeURIComponent(rest);
  } catch {
    return '';
  }
}

// A random id for Idempotency-Key (letters, digits, '-').
export function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export function storageGet(key) {
  try {
    const v = localStorage.getItem(key);
    return v === null ? null : JSON.parse(v);
  } catch {
    return null;
  }
}
export function storageSet(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {}
}
