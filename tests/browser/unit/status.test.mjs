// The dashboard's status verification (server/assets/verify.js) against the vectors that pin
// notarium-core: the status index's (core/tests/data/status_index_v1.json: keys, hashing,
// proofs of membership and absence, the proofs to refuse, the checkpoint line) and the status
// answers of a real ledger with core's outcome for each (server/tests/data/status_answers_v1.json,
// genuine and mutated): verify.js must accept exactly what core accepts, with the same status,
// and refuse the rest for the same reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  bytesToHex, hexToBytes, indexChainStep, indexKeyOfArtifact, indexKeyOfSigner, indexLeafHash,
  indexNodeHash, indexProofToJson, indexRootOf, parseCheckpoint, parseIndexProof,
  parseVerifierKey, verifyCheckpoint, verifyIndexProof, verifyStatus,
} from '../../../server/assets/verify.js';

const load = (path) => JSON.parse(readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8'));
const INDEX = load('core/tests/data/status_index_v1.json');

async function keyOf(subject) {
  if (subject.artifact !== undefined) return indexKeyOfArtifact(subject.artifact);
  return indexKeyOfSigner(subject.signer);
}

test('index: key derivation, chains, leaves and nodes hash as the vectors say', async () => {
  for (const k of INDEX.key_derivation) {
    assert.equal(bytesToHex(await keyOf(k.subject)), k.key, JSON.stringify(k.subject));
  }
  for (const c of INDEX.chains) {
    let chain = new Uint8Array(32);
    for (const i of c.indices) chain = await indexChainStep(chain, i);
    assert.equal(bytesToHex(chain), c.chain, JSON.stringify(c.indices));
  }
  for (const l of INDEX.leaves) {
    assert.equal(bytesToHex(await indexLeafHash(hexToBytes(l.key), l.count, hexToBytes(l.chain))), l.leaf_hash);
  }
  for (const n of INDEX.nodes) {
    assert.equal(bytesToHex(await indexNodeHash(hexToBytes(n.left), hexToBytes(n.right))), n.node_hash);
  }
});

test('index: every proof of every map verifies with the answer it proves, in canonical form', async () => {
  let n = 0;
  for (const map of INDEX.maps) {
    for (const p of map.proofs) {
      const what = `${map.name}: ${p.name}`;
      if (p.subject) assert.equal(bytesToHex(await keyOf(p.subject)), p.query, what);
      const proof = parseIndexProof(p.json);
      assert.equal(indexProofToJson(proof), p.json, what);
      assert.equal(proof.siblings.length, p.depth, what);
      const got = await verifyIndexProof(proof, hexToBytes(p.query), hexToBytes(map.root), map.size);
      const want = p.answer.kind === 'present'
        ? { present: true, count: p.answer.count, from: p.answer.from, indices: p.answer.indices }
        : { present: false };
      assert.deepEqual(got, want, what);
      n++;
    }
  }
  assert.ok(n >= 27, `${n} proofs`);
});

test('index: every negative case is refused; only binary-form cases go unread', async () => {
  let refused = 0;
  for (const neg of INDEX.negative) {
    if (neg.json === null) {
      // The dashboard reads proofs in JSON only; these exercise the binary form (§7.2).
      assert.equal(neg.rule, '7.2', neg.name);
      continue;
    }
    await assert.rejects(
      (async () => verifyIndexProof(parseIndexProof(neg.json), hexToBytes(neg.query), hexToBytes(neg.root), neg.size))(),
      /invalid index proof: /,
      `${neg.name} (rule ${neg.rule}) was accepted`,
    );
    refused++;
  }
  assert.ok(refused >= 36, `${refused} refused`);
});

test('index: the checkpoint line is read as §9 says, and the re-signed checkpoint verifies', async () => {
  const c = INDEX.checkpoint;
  const key = await parseVerifierKey(c.verifier_key);
  const cp = await verifyCheckpoint(c.signed_note, key);
  assert.equal(bytesToHex(indexRootOf(cp)), c.index_root);
  assert.equal(indexRootOf(await verifyCheckpoint(c.original_signed_note, key)), null);
  // The line is signed: changing it breaks the signature.
  const changed = c.signed_note.replace(c.index_line, `${c.index_line.slice(0, -2)}A=`);
  await assert.rejects(verifyCheckpoint(changed, key), /does not verify/);
  for (const l of c.lines) {
    const what = JSON.stringify(l.extension_lines);
    const parsed = { ...parseCheckpoint(c.original_signed_note), extensions: l.extension_lines };
    if (!l.valid) {
      assert.throws(() => indexRootOf(parsed), /malformed checkpoint/, what);
    } else {
      const root = indexRootOf(parsed);
      assert.equal(root === null ? null : bytesToHex(root), l.index_root, what);
    }
  }
});

test('status answers: verify.js gives core\'s outcome for every genuine and mutated answer', async () => {
  const ANSWERS = load('server/tests/data/status_answers_v1.json');
  const vkey = ANSWERS.verifier_key;
  const seen = { valid: 0, refused: 0 };
  const kinds = new Set();
  for (const v of ANSWERS.vectors) {
    const r = await verifyStatus(v.answer, v.sha256, vkey, { signers: v.signers });
    const want = v.outcome;
    const failed = r.checks.find((c) => !c.ok);
    if (want.valid) {
      assert.ok(r.ok, `${v.name}: refused (${failed?.label}: ${failed?.detail})`);
      assert.equal(r.status, want.status, v.name);
      assert.equal(r.entries, want.entries, v.name);
      assert.equal(r.checks.at(-1).id, 'status', v.name);
      seen.valid++;
    } else {
      assert.ok(!r.ok, `${v.name}: accepted as ${r.status}; core says ${want.error}`);
      assert.equal(r.status, null, `${v.name}: a refused answer shows no status`);
      assert.ok(failed && failed.label, `${v.name}: the failed check is named`);
      assert.equal(failed.kind, want.kind, `${v.name}: first failed check "${failed.label}" (${failed.detail}); core: ${want.error}`);
      kinds.add(want.kind);
      seen.refused++;
    }
  }
  assert.ok(seen.valid >= 14 && seen.refused >= 100, JSON.stringify(seen));
  assert.deepEqual([...kinds].sort(), ['invalid_index_proof', 'invalid_receipt', 'invalid_status', 'no_index_commitment']);
});

test('status answers: a pinned key of another ledger, or none, verifies nothing', async () => {
  const ANSWERS = load('server/tests/data/status_answers_v1.json');
  const v = ANSWERS.vectors.find((x) => x.outcome.valid && x.outcome.status === 'trusted');
  const none = await verifyStatus(v.answer, v.sha256, '');
  assert.equal(none.ok, false);
  assert.equal(none.checks[0].id, 'signature');
  const other = await verifyStatus(v.answer, v.sha256, INDEX.checkpoint.verifier_key);
  assert.equal(other.ok, false);
  assert.match(other.checks.find((c) => !c.ok).detail, /pinned key is for/);
});
