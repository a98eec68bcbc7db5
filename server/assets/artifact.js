// An artifact: its current status (authenticate), and its full history as a status timeline,
// each entry's proof verified in this browser; a revoked signer ends the timeline. The status
// is shown only once its proof holds (the entry is the latest about the file, its signer's
// latest key entry is the one shown, or no entry exists); the history only as proven complete.
// Each entry shows who built it apart: the identity the server verified from a CI token
// (`identity`), and the CI context the notarizing client only asserted (`ci`).

import { api, L, pinnedKey } from './api.js';
import { badge, checkList, copyButton, fmtTime, h, heading, info, replace } from './ui.js';
import { verifyHistory, verifyReceipt, verifyStatus } from './verify.js';

export const title = 'Artifact';

/** Every page of the history, oldest first (bounded: 20 pages of 1,000). */
async function history(ledger, sha) {
  const pages = [];
  let after;
  for (let i = 0; i < 20; i++) {
    const q = new URLSearchParams({ limit: '1000' });
    if (after !== undefined) q.set('after', String(after));
    const page = await api(`${L(ledger)}/artifacts/${sha}/history?${q}`);
    pages.push(page);
    if (page.next === undefined || page.next === null || !page.entries.length) break;
    after = page.next;
  }
  return pages;
}

/** A definition list of [label, value] pairs. */
function facts(pairs) {
  return h('dl', { class: 'facts compact' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** Who built it, as the server verified it from the CI's OIDC token. */
function verifiedIdentity(id) {
  return h('section', { class: 'provenance verified', 'aria-label': 'Verified identity' },
    h('p', { class: 'provenance-head' }, h('span', { class: 'badge ok' }, 'verified'), ' ',
      h('strong', {}, 'Built by a CI job'),
      h('span', { class: 'muted' }, ` (${id.provider} OIDC token, checked by the server)`)),
    facts([
      ['Issuer', id.issuer],
      ['Subject', id.subject],
      ...Object.entries(id.context || {}),
    ]));
}

/** What the notarizing client said of its CI: nobody checked it. */
function assertedContext(ci) {
  return h('section', { class: 'provenance asserted', 'aria-label': 'Asserted CI context' },
    h('p', { class: 'provenance-head' }, h('span', { class: 'badge warn' }, 'asserted'), ' ',
      h('strong', {}, 'CI context sent by the client'),
      h('span', { class: 'muted' }, ' (not verified)')),
    facts(Object.entries(ci)));
}

function details(e) {
  const rows = [];
  const add = (k, v) => v && rows.push(h('dt', {}, k), h('dd', {}, v));
  add('Signer', h('code', {}, e.signer));
  add('Kind', e.kind);
  if (e.size !== undefined) add('Size', `${Number(e.size).toLocaleString('en')} bytes`);
  for (const [k, v] of Object.entries(e.attributes || {})) add(`Attribute ${k}`, v);
  const ci = e.ci || {};
  return [
    h('dl', { class: 'facts compact' }, rows),
    e.identity ? verifiedIdentity(e.identity) : null,
    Object.keys(ci).length ? assertedContext(ci) : null,
  ];
}

export async function render(el, ctx) {
  const sha = (ctx.args[0] || '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha)) {
    replace(el, heading('Artifact'), info('An artifact is named by its SHA-256: 64 hex characters.', 'error'));
    return;
  }
  const [auth, pages] = await Promise.all([
    api(`${L(ctx.ledger)}/artifacts/${sha}`),
    history(ctx.ledger, sha),
  ]);
  if (ctx.stale()) return;
  const pinned = pinnedKey(ctx.ledger);
  const entries = pages.flatMap((p) => p.entries);
  const [current, complete, checks] = await Promise.all([
    verifyStatus(auth, sha, pinned),
    verifyHistory(pages, sha, pinned),
    Promise.all(entries.map((r) => verifyReceipt(r, pinned, { fileSha256: sha }))),
  ]);
  const name = entries.length ? entries[entries.length - 1].entry.name : 'Unknown artifact';
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Status timeline, oldest first' },
    entries.map((r, i) => {
      const e = r.entry;
      const v = checks[i];
      const what = i === 0 ? `Notarized as ${e.status}`
        : e.status === entries[i - 1].entry.status ? `Notarized again as ${e.status}` : `Status changed to ${e.status}`;
      return h('li', { class: `event ${e.status}` },
        h('div', { class: 'event-head' },
          badge(e.status), ' ',
          h('strong', {}, what), ' ',
          h('span', { class: 'muted' }, `${fmtTime(e.time)} · entry ${r.index} · name ${e.name}`)),
        details(e),
        h('details', {},
          h('summary', {}, v.ok ? 'Proof verified in this browser' : 'Proof did NOT verify'),
          checkList(v.checks, `Checks of entry ${r.index}`)));
    }),
    current.ok && current.revocation
      ? h('li', { class: 'event revoked' },
        h('div', { class: 'event-head' }, badge('revoked'), ' ',
          h('strong', {}, `Signer ${current.revocation.entry.id} revoked`), ' ',
          h('span', { class: 'muted' }, `${fmtTime(current.revocation.entry.time)} · entry ${current.revocation.index}`)),
        h('p', {}, 'The key that signed the deciding entry was revoked, so this artifact now authenticates as revoked.'))
      : null);
  const allOk = complete.ok && checks.every((c) => c.ok);
  const failed = current.checks.find((c) => !c.ok);
  replace(el,
    heading(name, 'Full history of this artifact, oldest first.'),
    h('section', { class: 'card status-card', 'aria-label': 'Current status' },
      current.ok
        ? h('p', { class: 'big', 'data-testid': 'current-status' }, 'Current status: ', badge(current.status))
        : h('p', { class: 'big', 'data-testid': 'current-status' }, 'Current status: ', h('span', { class: 'badge bad' }, 'failed'), ' ',
          h('strong', {}, 'VERIFICATION FAILED')),
      failed ? h('div', { class: 'alert error', role: 'alert' }, h('strong', {}, 'Failed check: '), failed.label,
        failed.detail ? h('small', { class: 'muted detail' }, ` (${failed.detail})`) : null) : null,
      h('details', { open: !current.ok },
        h('summary', {}, current.ok ? 'Status proven in this browser' : 'Status did NOT verify'),
        checkList(current.checks, 'Checks of the current status')),
      h('dl', { class: 'facts' },
        h('dt', {}, 'SHA-256'), h('dd', {}, h('code', {}, sha), ' ', copyButton(sha, 'SHA-256')),
        h('dt', {}, 'Ledger'), h('dd', {}, ctx.ledger),
        h('dt', {}, 'Entries'), h('dd', {}, String(entries.length))),
      entries.length
        ? info(allOk
          ? `Every entry's proof verified in this browser against the pinned key.`
          : 'Some proofs did not verify: open the entries below to see which checks failed.', allOk ? 'success' : 'error')
        : null,
      checkList(complete.checks, 'Completeness of the history')),
    h('h2', {}, 'Status timeline'),
    entries.length ? timeline : info(current.ok
      ? 'This hash is not in the ledger: unknown, a proven absence.'
      : 'The server shows no entry for this hash, and did not prove it.'));
}

