// Unit tests of the dashboard's verification module (server/assets/verify.js) in Node, which has
// the same WebCrypto (SHA-256, Ed25519) as the browser, against the outside vectors the Rust
// core is pinned to (../shared/vectors): transparency-dev's RFC 6962 reference proofs and
// probes, Tessera's signed checkpoints, Go's signed notes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  b64ToBytes, bytesToB64, bytesToHex, hexToBytes, leafHash, parseCheckpoint, parseNote,
  parseVerifierKey, rootFromInclusion, timeMicros, verifyCheckpoint, verifyConsistency,
  verifyInclusion, verifyReceipt,
} from '../../../server/assets/verify.js';

const vectors = (name) => JSON.parse(readFileSync(
  new URL(`../../../../shared/vectors/${name}`, import.meta.url), 'utf8'));

const b64 = (s) => (s === null || s === undefined ? [] : s.map(b64ToBytes));

test('inclusion: the RFC 6962 reference proofs', async () => {
  const v = vectors('inclusion_proofs.json');
  for (const r of v.reference_vectors) {
    const leaf = await leafHash(hexToBytes(r.leaf_input_hex));
    assert.equal(bytesToHex(leaf), r.leaf_hash_hex);
    const root = await rootFromInclusion(leaf, r.leaf_index, r.tree_size, r.proof_hex);
    assert.equal(bytesToHex(root), r.root_hex, `index ${r.leaf_index} size ${r.tree_size}`);
  }
});

test('inclusion: every transparency-dev probe is accepted or rejected as upstream says', async () => {
  const v = vectors('inclusion_proofs.json');
  assert.ok(v.probes.items.length > 90);
  for (const p of v.probes.items) {
    let ok = true;
    try {
      await verifyInclusion(b64ToBytes(p.leafHash), p.leafIdx, p.treeSize, b64(p.proof), b64ToBytes(p.root));
    } catch {
      ok = false;
    }
    assert.equal(ok, !p.wantErr, `${p.source_file}: ${p.desc}`);
  }
});

test('consistency: the reference proofs and the probes', async () => {
  const v = vectors('consistency_proofs.json');
  for (const r of v.reference_vectors) {
    await verifyConsistency(r.size1, r.size2, r.proof_hex, r.root1_hex, r.root2_hex);
  }
  for (const p of v.probes.items) {
    let ok = true;
    try {
      await verifyConsistency(p.size1, p.size2, b64(p.proof), b64ToBytes(p.root1), b64ToBytes(p.root2));
    } catch {
      ok = false;
    }
    // Our policy (as core/src/merkle.rs): from size 0 only the empty proof, for the empty root;
    // a strict verifier rejects non-32-byte "don't care" roots.
    const sizeZeroOk = p.size1 === 0 && !(p.proof && p.proof.length)
      && bytesToHex(b64ToBytes(p.root1)) === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const malformed = [p.root1, p.root2].some((r) => b64ToBytes(r).length !== 32);
    const want = p.size1 === 0 ? sizeZeroOk && !malformed : !p.wantErr && !malformed;
    assert.equal(ok, want, `${p.source_file}: ${p.desc}`);
  }
});

test('Tessera: every derived proof leads to its signed checkpoint, and every checkpoint verifies', async () => {
  const v = vectors('tessera_tiled_log_15_entries.json');
  const key = await parseVerifierKey(v.verifier_key_vkey);
  assert.equal(key.name, v.log_origin);
  assert.equal(key.idHex, v.key_parsed.key_id_hex);
  const roots = {};
  for (const c of v.checkpoints) {
    const cp = await verifyCheckpoint(c.signed_note, key);
    assert.equal(cp.size, BigInt(c.tree_size));
    roots[c.tree_size] = cp.root;
  }
  const enc = new TextEncoder();
  for (const p of v.DERIVED_proofs.inclusion) {
    const leaf = await leafHash(enc.encode(v.entries_ascii[p.leaf_index]));
    await verifyInclusion(leaf, p.leaf_index, p.tree_size, b64(p.proof_b64), roots[p.tree_size]);
  }
  for (const p of v.DERIVED_proofs.consistency) {
    await verifyConsistency(p.size1, p.size2, b64(p.proof_b64), roots[p.size1], roots[p.size2]);
  }
  // A flipped bit anywhere in a signed note fails.
  const note = v.checkpoints[5].signed_note;
  const forged = note.replace('\n5\n', '\n6\n');
  await assert.rejects(verifyCheckpoint(forged, key), /does not verify/);
  const other = await parseVerifierKey(vectors('signed_note_vectors.json').verifiable_vectors[0].vkey);
  await assert.rejects(verifyCheckpoint(note, other), /pinned key is for/);
});

test('signed notes: Go and C2SP vectors', async () => {
  const v = vectors('signed_note_vectors.json');
  for (const n of v.verifiable_vectors) {
    const key = await parseVerifierKey(n.vkey);
    assert.equal(key.idHex, n.key_id_hex);
    assert.equal(bytesToHex(key.publicKey), n.ed25519_public_key_hex);
    const note = parseNote(n.signed_note);
    assert.equal(note.text, n.note_text);
    const sig = note.signatures.find((s) => s.name === key.name);
    assert.ok(sig, n.label);
    const pk = await globalThis.crypto.subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
    assert.ok(await globalThis.crypto.subtle.verify({ name: 'Ed25519' }, pk, sig.signature, new TextEncoder().encode(note.text)), n.label);
  }
  await assert.rejects(parseVerifierKey('name+00000000+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx'), /id does not match/);
  assert.throws(() => parseNote('text\n\nno dash\n'), /em dash/);
});

test('receipts: each check is reported on its own', async () => {
  // A receipt built from Tessera's log: entry 3 ("four") of the 15-entry tree, re-labelled as
  // a Notarium-shaped receipt (the entry bytes are not JSON, so the entry check fails alone).
  const v = vectors('tessera_tiled_log_15_entries.json');
  const p = v.DERIVED_proofs.inclusion.find((x) => x.leaf_index === 3 && x.tree_size === 15);
  const bytes = new TextEncoder().encode('four');
  const receipt = {
    ledger: 'x', index: 3, entry: 'four', leaf: bytesToB64(bytes),
    leaf_hash: bytesToHex(await leafHash(bytes)),
    checkpoint: v.checkpoints[15].signed_note,
    inclusion_proof: p.proof_b64.map((h) => bytesToHex(b64ToBytes(h))),
    verifier_key: v.verifier_key_vkey,
  };
  const good = await verifyReceipt(receipt, v.verifier_key_vkey);
  const byId = (r) => Object.fromEntries(r.checks.map((c) => [c.id, c.ok]));
  assert.deepEqual(byId(good), { entry: false, leaf: true, inclusion: true, signature: true });

  const tampered = { ...receipt, inclusion_proof: [...receipt.inclusion_proof] };
  tampered.inclusion_proof[0] = tampered.inclusion_proof[0].replace(/^./, (c) => (c === '0' ? '1' : '0'));
  const bad = await verifyReceipt(tampered, v.verifier_key_vkey);
  assert.equal(byId(bad).inclusion, false);
  assert.equal(byId(bad).signature, true, 'the signature is still fine: only the proof is wrong');
  assert.match(bad.checks.find((c) => c.id === 'inclusion').label, /does not lead/);

  const unpinned = await verifyReceipt(receipt, '');
  assert.equal(byId(unpinned).signature, false);
});

test('times keep their microseconds', () => {
  assert.equal(timeMicros('1970-01-01T00:00:01.000002Z'), 1000002n);
  assert.equal(timeMicros('2026-11-21'), BigInt(Date.UTC(2026, 10, 21)) * 1000n);
  assert.ok(timeMicros('2026-11-21T10:00:00.123456Z') < timeMicros('2026-11-21T10:00:00.123457Z'));
  assert.equal(timeMicros('yesterday'), null);
});

test('encodings round-trip and reject junk', () => {
  assert.equal(bytesToHex(hexToBytes('00ff10')), '00ff10');
  assert.equal(bytesToB64(b64ToBytes('AAEC')), 'AAEC');
  assert.throws(() => hexToBytes('0g'));
  assert.throws(() => b64ToBytes('A'));
  assert.equal(parseCheckpoint('o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u2014 o AAAAAAA=\n').size, 0n);
});
