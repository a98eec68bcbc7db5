// Small DOM helpers. Everything is built with createElement and textContent: no HTML strings,
// so nothing a ledger entry holds can become markup.

/** h('a', {href: '#/x', class: 'btn'}, 'text', child…): an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The page heading; focused so that a screen reader announces the new page. */
export function heading(text, sub) {
  return [h('h1', { tabindex: '-1', id: 'page-title' }, text), sub ? h('p', { class: 'lead' }, sub) : null];
}

export function focusTitle() {
  document.getElementById('page-title')?.focus();
}

/** Announces a message to assistive technology and shows it briefly. */
export function announce(message) {
  const toast = document.getElementById('toast');
  if (!toast) return;
  toast.textContent = '';
  // A separate task, so that the same message twice is announced twice.
  setTimeout(() => {
    toast.textContent = message;
    toast.classList.add('show');
    clearTimeout(announce.timer);
    announce.timer = setTimeout(() => toast.classList.remove('show'), 4000);
  }, 30);
}

/** An error box for an ApiError or Error. */
export function errorBox(err, what) {
  return h('div', { class: 'alert error', role: 'alert' },
    h('strong', {}, what ? `${what}: ` : 'Error: '), err.message || String(err),
    err.code ? h('span', { class: 'muted' }, ` (${err.code})`) : null);
}

export function info(text, cls = 'info') {
  return h('div', { class: `alert ${cls}` }, text);
}

/** A status badge: trusted, untrusted, unsupported, revoked, unknown, or a key action. */
export function badge(status) {
  const cls = {
    trusted: 'ok', untrusted: 'bad', revoked: 'bad', unsupported: 'warn', unknown: 'neutral',
    created: 'neutral', 'key created': 'neutral', 'key revoked': 'bad',
  }[status] || 'neutral';
  return h('span', { class: `badge ${cls}` }, status);
}

/** A button that copies `text` to the clipboard, labelled for what it copies. */
export function copyButton(text, what) {
  const btn = h('button', { type: 'button', class: 'btn small', 'aria-label': `Copy ${what}` }, 'Copy');
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = 'Copied';
      announce(`${what} copied to the clipboard`);
    } catch {
      btn.textContent = 'Copy failed';
      announce(`Could not copy: select the ${what} and copy it by hand`);
    }
    setTimeout(() => { btn.textContent = 'Copy'; }, 2000);
  });
  return btn;
}

/** A hash shortened for tables, in full in its title. */
export function shortHash(hex) {
  return h('code', { class: 'hash', title: hex }, hex ? `${hex.slice(0, 12)}…` : '');
}

/** `2026-11-21T10:00:00.123456Z` as a readable UTC time. */
export function fmtTime(t) {
  if (!t) return '';
  return String(t).replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

/** How long ago `t` was, in words. */
export function ago(t, now = Date.now()) {
  const ms = now - Date.parse(t);
  if (Number.isNaN(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.round(m / 60);
  if (hr < 48) return `${hr} h ago`;
  return `${Math.round(hr / 24)} days ago`;
}

/** The value of a datetime-local input as an RFC 3339 UTC time, or undefined. */
export function localToUtc(value) {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** An RFC 3339 UTC time as a datetime-local value in this browser's zone. */
export function utcToLocal(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' },
    h('label', { for: id }, label), input, hint ? h('small', { id: hintId, class: 'muted' }, hint) : null);
}

/** The list of verification checks, each passed or failed, in words. */
export function checkList(checks, label = 'Verification checks') {
  return h('ul', { class: 'checks', 'aria-label': label },
    checks.map((c) => h('li', { class: c.ok ? 'pass' : 'fail' },
      h('span', { class: 'mark', 'aria-hidden': 'true' }, c.ok ? '✓' : '✗'),
      h('span', { class: 'visually-hidden' }, c.ok ? 'Passed: ' : 'Failed: '),
      h('span', {}, c.label),
      c.detail ? h('small', { class: 'muted detail' }, c.detail) : null)));
}

/** Saves `data` as a file named `name` (a download from a blob: nothing leaves the machine). */
export function download(name, type, data) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = h('a', { href: url, download: name, class: 'visually-hidden' }, name);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
