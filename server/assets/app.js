// The dashboard: sign-in, the header, and a hash router (#/overview, #/entries?…,
// #/artifact/<sha256>, #/verify, #/admin, #/reports). Each page is a module with a render
// function; nothing is fetched from anywhere but this server's /api/v1.

import { api, currentLedger, pin, saveSession, session, setLedger, signOut, L } from './api.js';
import { errorBox, field, focusTitle, h, heading, info, replace } from './ui.js';
import { parseVerifierKey } from './verify.js';
import * as overview from './overview.js';
import * as entries from './entries.js';
import * as artifact from './artifact.js';
import * as verifyPage from './verify-page.js';
import * as admin from './admin.js';
import * as reports from './reports.js';

const pages = { overview, entries, artifact, verify: verifyPage, admin, reports };
const main = () => document.getElementById('main');
let notice = '';

/** Parses `#/name/arg?k=v` into {name, args, query}. */
function route() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : 'overview';
  const [path, qs = ''] = hash.split('?');
  const [name, ...args] = path.split('/').map(decodeURIComponent);
  return { name: name || 'overview', args, query: new URLSearchParams(qs) };
}

/** Navigates to `#/path` (re-rendering even when the hash is unchanged). */
export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function renderHeader(s) {
  const nav = document.getElementById('nav');
  const box = document.getElementById('session');
  nav.hidden = !s;
  if (!s) {
    replace(box);
    return;
  }
  const current = route().name;
  for (const a of nav.querySelectorAll('a')) {
    const name = a.getAttribute('href').slice(2);
    if (name === current || (current === 'artifact' && name === 'entries')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.getElementById('nav-admin').hidden = !(s.admin || s.role === 'admin');
  const who = s.admin ? 'admin token' : `key ${s.keyId} (${s.role})`;
  let ledgerControl;
  if (s.ledgers.length > 1) {
    ledgerControl = h('select', { id: 'ledger-select', 'aria-label': 'Ledger' },
      s.ledgers.map((l) => h('option', { value: l, selected: l === s.ledger }, l)));
    ledgerControl.addEventListener('change', () => {
      setLedger(ledgerControl.value);
      render();
    });
  } else {
    ledgerControl = h('strong', {}, s.ledger);
  }
  const out = h('button', { type: 'button', class: 'btn small ghost' }, 'Sign out');
  out.addEventListener('click', () => {
    signOut();
    notice = 'You are signed out. The key was removed from this tab.';
    go('#/overview');
  });
  replace(box,
    h('span', { class: 'who' }, 'Signed in with ', who),
    h('span', { class: 'ledger-pick' }, h('span', { 'aria-hidden': 'true' }, 'Ledger '), ledgerControl),
    out);
}

function renderSignIn(el) {
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const vkey = h('input', { type: 'text', name: 'vkey', autocomplete: 'off', spellcheck: 'false', placeholder: 'localhost/notarium/default+1a2b3c4d+AQ…' });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'page-title' },
    field('API key or admin token', key, 'Kept in this browser tab only (session storage); sent to this server in the Authorization header, never in a URL or cookie.'),
    field('Verifier key to pin (optional)', vkey, "The ledger's verifier key, obtained from your operator. Checkpoint signatures are verified against it in this browser."),
    h('button', { type: 'submit', class: 'btn primary' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    replace(status, h('p', { class: 'muted' }, 'Signing in…'));
    try {
      await signIn(key.value.trim(), vkey.value.trim());
      notice = '';
      key.value = '';
      go('#/overview');
    } catch (e) {
      replace(status, errorBox(e, 'Sign-in failed'));
      key.focus();
    }
  });
  replace(el,
    heading('Sign in to Notarium', 'Notarize build outputs in a verifiable ledger; authenticate and audit them with proofs checked in your browser.'),
    notice ? info(notice) : null,
    form);
  key.focus();
}

async function signIn(token, vkeyText) {
  if (!token) throw new Error('enter an API key or the admin token');
  const me = await api('/whoami', { token });
  let ledgers;
  if (me.admin_token) {
    ledgers = (await api('/ledgers', { token })).ledgers.map((l) => l.name);
  } else {
    ledgers = [me.ledger];
  }
  if (vkeyText) {
    const key = await parseVerifierKey(vkeyText);
    let matched = false;
    for (const l of ledgers) {
      const info = await api(L(l), { token });
      if (info.origin === key.name) {
        pin(l, key.text);
        matched = true;
      }
    }
    if (!matched) throw new Error(`the verifier key is for ${key.name}, which is none of the ledgers this key can see`);
  }
  saveSession({
    token,
    admin: me.admin_token,
    role: me.role,
    keyId: me.key_id,
    keyLedger: me.ledger,
    ledgers,
    ledger: ledgers.includes('default') ? 'default' : ledgers[0],
  });
}

/** Refreshes the list of ledgers after one is created. */
export async function refreshLedgers() {
  const s = session();
  if (!s || !s.admin) return;
  const ledgers = (await api('/ledgers')).ledgers.map((l) => l.name);
  saveSession({ ...s, ledgers });
  renderHeader(session());
}

let rendering = 0;

async function render() {
  const el = main();
  const s = session();
  renderHeader(s);
  if (!s) {
    document.title = 'Sign in · Notarium';
    renderSignIn(el);
    return;
  }
  const r = route();
  const page = pages[r.name];
  const ticket = ++rendering;
  if (!page) {
    replace(el, heading('Not found'), info(`There is no page ${r.name}.`));
    focusTitle();
    return;
  }
  replace(el, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const ctx = { ...r, session: s, ledger: currentLedger(), go, refreshLedgers, stale: () => ticket !== rendering };
    await page.render(el, ctx);
    document.title = `${page.title} · Notarium`;
  } catch (e) {
    if (ticket === rendering) replace(el, heading(page.title || 'Error'), errorBox(e));
  }
  // Move focus to the new page's title, unless the user already moved into the page.
  const active = document.activeElement;
  const busy = active && active !== document.body && el.contains(active) && active.id !== 'page-title';
  if (ticket === rendering && !busy) focusTitle();
}

window.addEventListener('hashchange', render);
// The skip link targets #main: focus it without changing the route.
document.querySelector('.skip-link')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  main().focus();
});
window.addEventListener('notarium:unauthorized', (ev) => {
  signOut();
  notice = `Your session ended: ${ev.detail}`;
  render();
});
render();
