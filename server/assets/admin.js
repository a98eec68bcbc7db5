// Admin: create ledgers (admin token), create and revoke a ledger's API keys (admin token or an
// admin key of that ledger). A new key's secret is shown once, with a copy button, and is then
// gone from the page: the server keeps only its hash.

import { api, L } from './api.js';
import { announce, badge, copyButton, errorBox, field, h, heading, info, replace } from './ui.js';

export const title = 'Admin';

function createLedgerForm(ctx) {
  const name = h('input', { name: 'name', required: true, pattern: '[a-z0-9][a-z0-9_-]{0,63}', autocomplete: 'off', spellcheck: 'false' });
  const pub = h('input', { type: 'checkbox', name: 'public_read', id: 'public-read' });
  const out = h('div', { 'aria-live': 'polite' });
  const f = h('form', { class: 'card', 'aria-labelledby': 'create-ledger-title' },
    h('h2', { id: 'create-ledger-title' }, 'Create a ledger'),
    field('Ledger name', name, '1–64 of a-z 0-9 - _, starting with a letter or digit.'),
    h('div', { class: 'field check' }, pub, h('label', { for: 'public-read' }, 'Public read: anyone may authenticate and fetch proofs without a key')),
    h('button', { type: 'submit', class: 'btn primary' }, 'Create ledger'),
    out);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const l = await api('/ledgers', { method: 'POST', body: { name: name.value.trim(), public_read: pub.checked } });
      await ctx.refreshLedgers();
      replace(out, h('div', { class: 'alert success', role: 'status' },
        h('p', {}, h('strong', {}, `Ledger ${l.name} created.`), ' Give its verifier key to everyone who verifies its entries:'),
        h('p', {}, h('code', {}, l.verifier_key), ' ', copyButton(l.verifier_key, `verifier key of ledger ${l.name}`))));
      announce(`Ledger ${l.name} created`);
      name.value = '';
    } catch (e) {
      replace(out, errorBox(e, 'Could not create the ledger'));
    }
  });
  return f;
}

/** The panel that shows a new secret once. */
function secretPanel(k, onDone) {
  const done = h('button', { type: 'button', class: 'btn' }, 'I have stored it: hide the secret');
  const panel = h('div', { class: 'alert secret', role: 'alert', 'data-testid': 'new-secret' },
    h('p', {}, h('strong', {}, `API key ${k.id} (${k.name}, ${k.role}) created.`),
      ' This is its secret. It is shown once, now: store it in your CI\'s secret store. The server keeps only its hash.'),
    h('p', { class: 'secret-row' }, h('code', { class: 'secret-value', 'data-testid': 'secret-value' }, k.key), ' ', copyButton(k.key, 'API key secret')),
    done);
  done.addEventListener('click', () => {
    panel.remove();
    onDone();
  });
  return panel;
}

async function keysSection(ledger, ctx) {
  const section = h('section', { class: 'card', 'aria-labelledby': 'keys-title' });
  const secretSlot = h('div');
  const tableSlot = h('div');
  const refresh = async () => {
    try {
      const { keys } = await api(`${L(ledger)}/keys`);
      replace(tableSlot, keys.length ? keyTable(keys) : info('This ledger has no API keys yet.'));
    } catch (e) {
      replace(tableSlot, errorBox(e, 'Could not list keys'));
    }
  };
  const keyTable = (keys) => h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden' }, `API keys of ledger ${ledger}`),
    h('thead', {}, h('tr', {}, ['Id', 'Name', 'Role', 'Created (entry)', 'Status', 'Action'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, keys.map((k) => {
      const action = h('td');
      if (k.revoked_index === null || k.revoked_index === undefined) {
        const revoke = h('button', { type: 'button', class: 'btn small danger', 'aria-label': `Revoke key ${k.id} (${k.name})` }, 'Revoke');
        revoke.addEventListener('click', () => {
          const confirm = h('button', { type: 'button', class: 'btn small danger', 'aria-label': `Confirm: revoke key ${k.id}` }, `Yes, revoke ${k.id}`);
          const cancel = h('button', { type: 'button', class: 'btn small ghost' }, 'Cancel');
          replace(action, h('span', { class: 'confirm' }, 'Its notarizations will authenticate as revoked. ', confirm, ' ', cancel));
          confirm.focus();
          cancel.addEventListener('click', () => {
            replace(action, revoke);
            revoke.focus();
          });
          confirm.addEventListener('click', async () => {
            try {
              const r = await api(`${L(ledger)}/keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
              announce(`Key ${k.id} revoked (entry ${r.receipt.index})`);
              await refresh();
            } catch (e) {
              replace(action, errorBox(e, 'Could not revoke'));
            }
          });
        });
        action.append(revoke);
      } else {
        action.append(h('span', { class: 'muted' }, '—'));
      }
      const revoked = !(k.revoked_index === null || k.revoked_index === undefined);
      return h('tr', {},
        h('td', {}, h('code', {}, k.id)), h('td', {}, k.name), h('td', {}, k.role),
        h('td', { class: 'num' }, String(k.created_index)),
        h('td', {}, revoked ? [badge('revoked'), ` at entry ${k.revoked_index}`] : badge('active')),
        action);
    })));

  const name = h('input', { name: 'key-name', required: true, maxlength: '128', autocomplete: 'off', placeholder: 'e.g. github-release-job' });
  const role = h('select', { name: 'role' }, ['write', 'read', 'admin'].map((r) => h('option', { value: r }, r)));
  const out = h('div', { 'aria-live': 'polite' });
  const f = h('form', { class: 'inline-form', 'aria-label': `Create an API key for ledger ${ledger}` },
    field('Key name', name), field('Role', role, 'write: notarize; read: authenticate and search; admin: also manage keys.'),
    h('button', { type: 'submit', class: 'btn primary' }, 'Create key'), out);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const k = await api(`${L(ledger)}/keys`, { method: 'POST', body: { name: name.value.trim(), role: role.value } });
      name.value = '';
      replace(out);
      replace(secretSlot, secretPanel(k, () => name.focus()));
      secretSlot.querySelector('button')?.focus();
      announce(`API key ${k.id} created; its secret is shown once`);
      await refresh();
    } catch (e) {
      replace(out, errorBox(e, 'Could not create the key'));
    }
  });
  await refresh();
  if (ctx.stale()) return section;
  replace(section,
    h('h2', { id: 'keys-title' }, `API keys of ledger ${ledger}`),
    f, secretSlot, tableSlot);
  return section;
}

export async function render(el, ctx) {
  const s = ctx.session;
  if (!s.admin && s.role !== 'admin') {
    replace(el, heading('Admin'), info('Managing keys needs the admin token or an admin key of the ledger.', 'warn'));
    return;
  }
  const keys = await keysSection(ctx.ledger, ctx);
  if (ctx.stale()) return;
  replace(el,
    heading('Admin', s.admin ? 'Signed in with the server admin token: manage every ledger.' : `Signed in with an admin key of ledger ${ctx.ledger}.`),
    s.admin ? createLedgerForm(ctx) : null,
    keys);
}
