// Overview: every ledger the key can see, its size, latest checkpoint (verified against the
// pinned key) and its age, notarizations per minute, and the verifier key to copy and pin.

import { api, L, pin, pinnedKey, setLedger } from './api.js';
import { ago, announce, copyButton, errorBox, fmtTime, h, heading, replace } from './ui.js';
import { bytesToB64, indexRootOf, parseCheckpoint, parseVerifierKey, verifyCheckpoint } from './verify.js';

export const title = 'Overview';

async function checkpointStatus(note, ledger) {
  const pinned = pinnedKey(ledger);
  if (!pinned) return h('span', { class: 'badge warn' }, 'signature not checked: no key pinned');
  try {
    await verifyCheckpoint(note, await parseVerifierKey(pinned));
    return h('span', { class: 'badge ok' }, 'signature verified with the pinned key');
  } catch (e) {
    return h('span', { class: 'badge bad', title: e.message }, `signature check failed: ${e.message}`);
  }
}

/** What the checkpoint commits to beyond the tree: the status index, or nothing to prove statuses with. */
function indexCommitment(cp) {
  try {
    const root = indexRootOf(cp);
    return root
      ? [h('code', {}, bytesToB64(root)), ' ', h('span', { class: 'badge ok' }, 'committed to by the checkpoint')]
      : h('span', { class: 'badge bad' }, 'none: this ledger’s statuses cannot be proven latest');
  } catch (e) {
    return h('span', { class: 'badge bad', title: e.message }, `unreadable: ${e.message}`);
  }
}

async function card(name, ctx) {
  const [info, stats] = await Promise.all([api(L(name)), api(`${L(name)}/stats`)]);
  const cp = parseCheckpoint(stats.checkpoint);
  const pinned = pinnedKey(name);
  const pinState = !pinned
    ? h('span', { class: 'muted' }, 'not pinned')
    : pinned === info.verifier_key
      ? h('span', { class: 'badge ok' }, 'pinned')
      : h('span', { class: 'badge bad' }, 'DIFFERS from the pinned key');
  const pinBtn = h('button', { type: 'button', class: 'btn small', 'aria-label': `Pin the verifier key of ledger ${name}` },
    pinned === info.verifier_key ? 'Pinned' : 'Pin this key');
  pinBtn.disabled = pinned === info.verifier_key;
  pinBtn.addEventListener('click', () => {
    pin(name, info.verifier_key);
    announce(`Pinned the verifier key of ledger ${name}. Compare it with the one your operator gave you.`);
    ctx.go(location.hash);
  });
  const open = (hash, text) => {
    const a = h('a', { href: hash, class: 'btn small ghost' }, text);
    a.addEventListener('click', () => setLedger(name));
    return a;
  };
  const age = stats.latest_entry_time
    ? [fmtTime(stats.latest_entry_time), ' (', h('strong', {}, ago(stats.latest_entry_time)), ')']
    : 'no entries yet';
  return h('section', { class: 'card ledger', 'aria-labelledby': `ledger-${name}` },
    h('header', { class: 'card-head' },
      h('h2', { id: `ledger-${name}` }, name),
      info.public_read ? h('span', { class: 'badge neutral' }, 'public read') : null,
      name === ctx.ledger ? h('span', { class: 'badge neutral' }, 'current') : null),
    h('div', { class: 'metrics' },
      h('div', { class: 'metric' }, h('span', { class: 'metric-label' }, 'Entries'), h('span', { class: 'metric-value', 'data-testid': 'size' }, info.size.toLocaleString('en'))),
      h('div', { class: 'metric' }, h('span', { class: 'metric-label' }, 'Notarizations per minute'),
        h('span', { class: 'metric-value', 'data-testid': 'rate' }, stats.per_minute.toFixed(1)),
        h('small', { class: 'muted' }, `${stats.entries_in_window} in the last ${stats.window_seconds / 60} min`)),
      h('div', { class: 'metric' }, h('span', { class: 'metric-label' }, 'Latest checkpoint'),
        h('span', { class: 'metric-value' }, `size ${cp.size}`),
        h('small', { class: 'muted' }, 'signed ', age))),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Checkpoint root'), h('dd', {}, h('code', {}, cp.rootB64), ' ', await checkpointStatus(stats.checkpoint, name)),
      h('dt', {}, 'Status index root'), h('dd', { 'data-testid': 'index-root' }, indexCommitment(cp)),
      h('dt', {}, 'Origin'), h('dd', {}, h('code', {}, info.origin)),
      h('dt', {}, 'Verifier key'),
      h('dd', { class: 'vkey' }, h('code', { 'data-testid': 'verifier-key' }, info.verifier_key), ' ',
        copyButton(info.verifier_key, `verifier key of ledger ${name}`), ' ', pinBtn, ' ', pinState)),
    h('p', { class: 'actions' },
      open('#/entries', `Browse entries of ${name}`),
      open('#/verify', `Verify a file against ${name}`),
      open('#/reports', `Audit report of ${name}`)));
}

export async function render(el, ctx) {
  const names = ctx.session.ledgers;
  const refresh = h('button', { type: 'button', class: 'btn small' }, 'Refresh');
  refresh.addEventListener('click', () => ctx.go(location.hash));
  const list = h('div', { class: 'ledgers' });
  const cards = await Promise.all(names.map((n) => card(n, ctx).catch((e) => h('section', { class: 'card' }, h('h2', {}, n), errorBox(e)))));
  if (ctx.stale()) return;
  replace(list, cards);
  replace(el,
    heading('Overview', ctx.session.admin
      ? `Every ledger on this server (${names.length}).`
      : `The ledger your key can see. Checkpoint ages are the time of the latest entry, signed in the same commit.`),
    h('p', { class: 'toolbar' }, refresh),
    list);
}
