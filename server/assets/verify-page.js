// Verify a file: its SHA-256 is computed here (WebCrypto; the file never leaves this machine),
// only the hash is sent to authenticate, and this page itself checks the answer: the
// checkpoint's Ed25519 signature against the pinned verifier key, the status-index proof that
// the entry shown is the latest about the file (or that none exists), the entry's inclusion
// proof, and the signer's latest key entry.

import { api, L, pinnedKey } from './api.js';
import { announce, badge, checkList, errorBox, h, heading, info, replace } from './ui.js';
import { bytesToHex, sha256, verifyStatus } from './verify.js';

export const title = 'Verify a file';

function verdictText(status, ok) {
  if (!ok) return 'VERIFICATION FAILED';
  if (status === 'unknown') return 'Unknown';
  return `Verified: ${status}`;
}

function explain(status, ok, ledger) {
  if (!ok) return 'The answer did not pass the checks below. Do not trust it: the proof, the checkpoint or the answer was changed, a later entry or a revocation was hidden, or the wrong key is pinned.';
  switch (status) {
    case 'trusted': return `This exact file is notarized as trusted in ledger ${ledger}: the proofs show this is its latest entry and its signer is not revoked.`;
    case 'untrusted': return 'This exact file is in the ledger, and its latest entry marks it untrusted: do not use it.';
    case 'unsupported': return 'This exact file is in the ledger, and its latest entry marks it unsupported.';
    case 'revoked': return 'This file was notarized by a key that has since been revoked: do not trust it.';
    default: return `No entry of ledger ${ledger} records this file's SHA-256: the status index proves its absence.`;
  }
}

/** Hashes, authenticates and verifies one file; renders the result into `out`. */
async function check(file, ledger, out) {
  const card = h('section', { class: 'card result', 'aria-label': `Result for ${file.name}` },
    h('h2', {}, file.name), h('p', { class: 'muted' }, `Computing the SHA-256 of ${file.size.toLocaleString('en')} bytes in this browser…`));
  out.prepend(card);
  let sha;
  try {
    sha = bytesToHex(await sha256(await file.arrayBuffer()));
  } catch (e) {
    replace(card, h('h2', {}, file.name), errorBox(e, 'Could not read the file'));
    return;
  }
  const hashCheck = { id: 'hash', ok: true, label: `The file's SHA-256 was computed in this browser: ${sha}` };
  let auth;
  try {
    auth = await api(`${L(ledger)}/artifacts/${sha}`);
  } catch (e) {
    replace(card, h('h2', {}, file.name), checkList([hashCheck]), errorBox(e, 'Could not authenticate'));
    return;
  }
  // The answer is proven complete or it is nothing: a missing or failing proof is a failed
  // verification, never a status.
  const v = await verifyStatus(auth, sha, pinnedKey(ledger));
  const checks = [hashCheck, ...v.checks];
  const ok = v.ok;
  const failed = v.checks.find((c) => !c.ok);
  const verdict = verdictText(v.status, ok);
  replace(card,
    h('h2', {}, file.name),
    h('p', { class: `verdict ${ok ? v.status : 'failed'}`, 'data-testid': 'verdict' },
      ok ? badge(v.status) : h('span', { class: 'badge bad' }, 'failed'), ' ', h('strong', {}, verdict)),
    h('p', {}, explain(v.status, ok, ledger)),
    failed ? h('p', { 'data-testid': 'failed-check' }, h('strong', {}, 'Failed check: '), failed.label) : null,
    ok && v.deciding ? h('p', {}, h('a', { href: `#/artifact/${sha}` }, 'Open the artifact’s history')) : null,
    checkList(checks, `Checks for ${file.name}`));
  announce(`${file.name}: ${verdict}${failed ? ` (${failed.label})` : ''}`);
}

export async function render(el, ctx) {
  const ledger = ctx.ledger;
  const pinned = pinnedKey(ledger);
  const input = h('input', { type: 'file', id: 'file-input', multiple: true, class: 'file-input' });
  const zone = h('div', { class: 'dropzone', id: 'dropzone', 'data-testid': 'dropzone' },
    h('p', { class: 'drop-title' }, 'Drop files here'),
    h('p', {}, 'or ', h('label', { for: 'file-input', class: 'btn primary' }, 'Choose files to verify'), input),
    h('p', { class: 'muted' }, 'Each file is hashed in this browser; only its SHA-256 is sent to the server.'));
  const out = h('div', { class: 'results', 'aria-live': 'polite' });
  const handle = (files) => {
    for (const f of files) check(f, ledger, out);
  };
  input.addEventListener('change', () => {
    handle([...input.files]);
    input.value = '';
  });
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    handle([...(ev.dataTransfer?.files || [])]);
  });
  replace(el,
    heading('Verify a file', `Authenticate files against ledger ${ledger}, with every proof checked in this browser.`),
    pinned
      ? h('p', { class: 'pinned' }, 'Checks use the pinned verifier key ', h('code', { 'data-testid': 'pinned-key' }, pinned), '.')
      : info('No verifier key is pinned for this ledger: signatures cannot be checked. Pin the key on the Overview (compare it with the one your operator gave you), or sign in with it.', 'warn'),
    zone,
    out);
}
