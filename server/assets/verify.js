// Verification in the browser (and in Node, for its unit tests): RFC 6962 inclusion and
// consistency proofs, C2SP signed notes and checkpoints with Ed25519 (WebCrypto), receipts and
// audit reports. A port of notarium-core (core/src/merkle.rs, note.rs, checkpoint.rs,
// receipt.rs, report.rs): the same algorithms, checked against the same outside vectors.
//
// Nothing here trusts the server: every check is made against the verifier key the user
// pinned, and each check is reported on its own, in plain words.

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

/** Hex (any case) to bytes; throws on anything else. */
export function hexToBytes(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error('not a hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

/** Bytes to lowercase hex. */
export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Standard base64 to bytes; throws on anything else. */
export function b64ToBytes(b64) {
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new Error('not standard base64');
  }
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Bytes to standard base64. */
export function bytesToB64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SHA-256 of bytes (or of an ArrayBuffer), as bytes. */
export async function sha256(data) {
  return new Uint8Array(await subtle.digest('SHA-256', data));
}

/** RFC 6962 leaf hash: SHA-256(0x00 || entry). */
export function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

/** RFC 6962 node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

function hash32(h, what) {
  const bytes = typeof h === 'string' ? hexToBytes(h) : h;
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
    throw new Error(`${what} is not a 32-byte hash`);
  }
  return bytes;
}

/**
 * The root implied by an inclusion proof (RFC 9162 §2.1.3.2), as root_from_inclusion in
 * core/src/merkle.rs. `index` and `size` are numbers or BigInts; proof hashes are bytes or hex.
 * Throws "invalid proof: …" when the index is outside the tree or the proof has the wrong length.
 */
export async function rootFromInclusion(leaf, index, size, proof) {
  let fn = BigInt(index);
  let sn = BigInt(size);
  if (fn < 0n || fn >= sn) throw new Error('invalid proof: leaf index is not inside the tree');
  sn -= 1n;
  let r = hash32(leaf, 'the leaf hash');
  for (const raw of proof) {
    const p = hash32(raw, 'a proof hash');
    if (sn === 0n) throw new Error('invalid proof: inclusion proof is too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error('invalid proof: inclusion proof is too short');
  return r;
}

/** Throws unless `leaf` is at `index` of the tree of `size` leaves with root `root`. */
export async function verifyInclusion(leaf, index, size, proof, root) {
  const computed = await rootFromInclusion(leaf, index, size, proof);
  if (!equal(computed, hash32(root, 'the root'))) {
    throw new Error('invalid proof: inclusion proof does not lead to the root');
  }
}

/**
 * Throws unless the tree of `size1` leaves with `root1` is a prefix of the tree of `size2`
 * leaves with `root2` (RFC 9162 §2.1.4.2), as verify_consistency in core/src/merkle.rs,
 * including its policy for size1 == 0 (only an empty proof, only for the empty root).
 */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  const m = BigInt(size1);
  const n = BigInt(size2);
  const r1 = hash32(root1, 'the first root');
  const r2 = hash32(root2, 'the second root');
  const path = proof.map((p) => hash32(p, 'a proof hash'));
  const empty = await sha256(new Uint8Array(0));
  if (m > n) throw new Error('invalid proof: the first tree is larger than the second');
  if (m === n) {
    if (path.length) throw new Error('invalid proof: consistency proof between equal sizes must be empty');
    if (!equal(r1, r2)) throw new Error('invalid proof: same tree size with different roots');
    if (m === 0n && !equal(r1, empty)) throw new Error('invalid proof: the root of an empty tree must be SHA256("")');
    return;
  }
  if (m === 0n) {
    if (path.length) throw new Error('invalid proof: consistency proof from the empty tree must be empty');
    if (!equal(r1, empty)) throw new Error('invalid proof: the root of an empty tree must be SHA256("")');
    return;
  }
  if (!path.length) throw new Error('invalid proof: consistency proof is empty');
  const isPow2 = (m & (m - 1n)) === 0n;
  const full = isPow2 ? [r1, ...path] : path;
  let fn = m - 1n;
  let sn = n - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = full[0];
  let sr = full[0];
  for (const c of full.slice(1)) {
    if (sn === 0n) throw new Error('invalid proof: consistency proof is too long');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error('invalid proof: consistency proof is too short');
  if (!equal(fr, r1)) throw new Error('invalid proof: consistency proof does not lead to the first root');
  if (!equal(sr, r2)) throw new Error('invalid proof: consistency proof does not lead to the second root');
}

/** SHA-256(name || 0x0A || 0x01 || pubkey)[:4], the signed-note key id. */
export async function keyId(name, publicKey) {
  return (await sha256(concat(utf8.encode(name), Uint8Array.of(0x0a, 0x01), publicKey))).slice(0, 4);
}

function checkKeyName(name) {
  if (!name || /[\s+]/.test(name)) throw new Error('key name must be non-empty, without spaces or "+"');
}

/**
 * Parses a verifier key `<name>+<hex id>+<base64(0x01 || pubkey)>` and checks that its id
 * matches its key. Returns {name, id (4 bytes), idHex, publicKey (32 bytes), text}.
 */
export async function parseVerifierKey(text) {
  const t = String(text).trim();
  const first = t.indexOf('+');
  const second = t.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw new Error('a verifier key is <name>+<hex id>+<base64 key>');
  const name = t.slice(0, first);
  const idHex = t.slice(first + 1, second);
  checkKeyName(name);
  if (!/^[0-9a-fA-F]{8}$/.test(idHex)) throw new Error('the key id must be 8 hex characters');
  const raw = b64ToBytes(t.slice(second + 1));
  if (raw.length !== 33 || raw[0] !== 0x01) throw new Error('only Ed25519 keys (type 0x01, 32 bytes) are supported');
  const publicKey = raw.slice(1);
  const id = hexToBytes(idHex);
  if (!equal(await keyId(name, publicKey), id)) throw new Error('the key id does not match the key');
  return { name, id, idHex: idHex.toLowerCase(), publicKey, text: t };
}

/** Splits a signed note into its text and signature lines (C2SP signed-note); verifies nothing. */
export function parseNote(signed) {
  if (typeof signed !== 'string' || !signed.endsWith('\n')) throw new Error('a signed note ends in a newline');
  const split = signed.lastIndexOf('\n\n');
  if (split < 0) throw new Error('a signed note has a blank line before its signatures');
  const text = signed.slice(0, split + 1);
  if (text.startsWith('\n') || text.includes('\n\n')) throw new Error('note text must not contain blank lines');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) throw new Error('note text must not contain control characters');
  const signatures = [];
  for (const line of signed.slice(split + 2, -1).split('\n')) {
    if (!line.startsWith('\u2014 ')) throw new Error('a signature line starts with an em dash');
    const rest = line.slice(2);
    const space = rest.indexOf(' ');
    if (space < 0) throw new Error("a signature line is '— <name> <base64>'");
    const name = rest.slice(0, space);
    checkKeyName(name);
    const payload = b64ToBytes(rest.slice(space + 1));
    if (payload.length < 5) throw new Error('a signature is too short');
    signatures.push({ name, id: payload.slice(0, 4), signature: payload.slice(4) });
  }
  if (!signatures.length) throw new Error('a signed note has signatures');
  if (signatures.length > 100) throw new Error('more than 100 signatures');
  return { text, signatures };
}

/** Parses a checkpoint body: origin, decimal size (BigInt), base64 root, extension lines. */
export function parseCheckpointBody(text) {
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new Error('a checkpoint has an origin, a size and a root');
  const [origin, sizeText, rootText] = lines;
  if (!origin || /[\s+]/.test(origin)) throw new Error('bad origin line');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new Error('the size must be decimal without leading zeros');
  const size = BigInt(sizeText);
  if (size >= 1n << 64n) throw new Error('the size does not fit 64 bits');
  const root = b64ToBytes(rootText);
  if (root.length !== 32) throw new Error('bad root hash');
  if (lines.slice(3).some((l) => !l)) throw new Error('empty extension line');
  return { origin, size, root, rootB64: rootText, extensions: lines.slice(3) };
}

/** Parses a signed checkpoint without verifying it: {origin, size, root, note}. */
export function parseCheckpoint(signed) {
  const note = parseNote(signed);
  return { ...parseCheckpointBody(note.text), note };
}

/** Checks one Ed25519 signature with WebCrypto. */
export async function ed25519Verify(publicKey, signature, message) {
  const key = await subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  return subtle.verify({ name: 'Ed25519' }, key, signature, message);
}

/**
 * Verifies a signed checkpoint against a parsed verifier key (from parseVerifierKey): the
 * origin is the key's name, and a signature line with the key's name and id verifies.
 * Signatures by other keys (cosigners) are ignored. Throws naming what failed; returns the
 * parsed checkpoint.
 */
export async function verifyCheckpoint(signed, key) {
  const cp = parseCheckpoint(signed);
  if (cp.origin !== key.name) {
    throw new Error(`the checkpoint is for ${JSON.stringify(cp.origin)}, the pinned key is for ${JSON.stringify(key.name)}`);
  }
  const mine = cp.note.signatures.filter((s) => s.name === key.name && equal(s.id, key.id));
  if (!mine.length) throw new Error('the checkpoint carries no signature by the pinned key');
  for (const s of mine) {
    if (!(await ed25519Verify(key.publicKey, s.signature, utf8.encode(cp.note.text)))) {
      throw new Error('the checkpoint signature does not verify with the pinned key');
    }
  }
  return cp;
}

/**
 * An entry time (`YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` or `YYYY-MM-DD`, UTC) as BigInt microseconds
 * since the epoch, as core/src/time.rs parses it; null when malformed. Date.parse would drop
 * the microseconds that order entries of one millisecond.
 */
export function timeMicros(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z)?$/.exec(String(s));
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = ''] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1000n + BigInt((frac + '000000').slice(0, 6));
}

/** JSON with object keys sorted, to compare two parsed values. */
function stable(v) {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Verifies a receipt (docs/http-api.md, receipts) against the pinned verifier key text, and optionally that
 * it is the receipt of the file whose SHA-256 is `fileSha256` (hex). Never throws: returns
 * {ok, entry, checkpoint, checks: [{id, ok, label, detail}]}, every check in plain words.
 */
export async function verifyReceipt(receipt, pinnedKeyText, { fileSha256 } = {}) {
  const checks = [];
  const check = (id, ok, label, detail = '') => checks.push({ id, ok, label, detail });
  let entry = null;
  let checkpoint = null;
  let leaf = null;
  try {
    leaf = b64ToBytes(receipt.leaf);
    entry = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(leaf));
    const same = stable(entry) === stable(receipt.entry);
    check('entry', same, same
      ? 'The entry shown is exactly the entry bytes in the ledger'
      : 'The entry shown differs from the entry bytes in the ledger');
  } catch (e) {
    check('entry', false, 'The entry bytes could not be read', e.message);
  }
  if (fileSha256 !== undefined) {
    const ok = !!entry && entry.sha256 === fileSha256;
    check('file', ok, ok
      ? "The ledger entry records this file's SHA-256"
      : "The ledger entry records another SHA-256 than this file's",
    entry ? `entry: ${entry.sha256}` : '');
  }
  let leafOk = false;
  try {
    const computed = leaf ? await leafHash(leaf) : null;
    leafOk = !!computed && bytesToHex(computed) === String(receipt.leaf_hash).toLowerCase();
    check('leaf', leafOk, leafOk
      ? 'The entry bytes hash to the leaf hash in the proof'
      : 'The entry bytes do not hash to the leaf hash in the proof');
  } catch (e) {
    check('leaf', false, 'The leaf hash could not be computed', e.message);
  }
  try {
    checkpoint = parseCheckpoint(receipt.checkpoint);
  } catch (e) {
    check('checkpoint', false, 'The checkpoint could not be read', e.message);
  }
  if (checkpoint) {
    try {
      await verifyInclusion(hexToBytes(receipt.leaf_hash), receipt.index, checkpoint.size, receipt.inclusion_proof, checkpoint.root);
      check('inclusion', leafOk, leafOk
        ? `The inclusion proof leads from entry ${receipt.index} to the checkpoint's root (tree size ${checkpoint.size})`
        : 'The inclusion proof is for another leaf hash than these entry bytes');
    } catch (e) {
      check('inclusion', false, `The inclusion proof does not lead from entry ${receipt.index} to the checkpoint's root`, e.message);
    }
  }
  if (!pinnedKeyText) {
    check('signature', false, 'The checkpoint signature was not checked: no verifier key is pinned for this ledger');
  } else if (checkpoint) {
    try {
      const key = await parseVerifierKey(pinnedKeyText);
      await verifyCheckpoint(receipt.checkpoint, key);
      check('signature', true, `The checkpoint is signed by the pinned key ${key.name}+${key.idHex} (Ed25519)`);
    } catch (e) {
      check('signature', false, 'The checkpoint signature does not verify with the pinned key', e.message);
    }
  }
  return { ok: checks.every((c) => c.ok), entry, checkpoint, checks };
}

/**
 * Verifies an audit report (core/src/report.rs) against the pinned verifier key text. Never
 * throws: returns {ok, checks} with each check in plain words.
 */
export async function verifyReport(report, pinnedKeyText) {
  const checks = [];
  const check = (id, ok, label, detail = '') => checks.push({ id, ok, label, detail });
  let key;
  try {
    key = await parseVerifierKey(pinnedKeyText);
  } catch (e) {
    check('key', false, 'No usable verifier key is pinned for this ledger', e.message);
    return { ok: false, checks };
  }
  const a = BigInt(report.range.first_index);
  const b = BigInt(report.range.end_index);
  let from;
  let to;
  try {
    from = await verifyCheckpoint(report.from, key);
    to = await verifyCheckpoint(report.to, key);
    const sizesOk = from.size === a && to.size === b;
    check('checkpoints', sizesOk, sizesOk
      ? `Both checkpoints (tree sizes ${a} and ${b}) are signed by the pinned key ${key.name}+${key.idHex}`
      : 'The checkpoints are not of the sizes the range names');
  } catch (e) {
    check('checkpoints', false, 'A checkpoint of the report does not verify with the pinned key', e.message);
    return { ok: false, checks };
  }
  try {
    await verifyConsistency(from.size, to.size, report.consistency_proof, from.root, to.root);
    check('consistency', true, `The consistency proof shows tree ${b} extends tree ${a}: nothing before was rewritten`);
  } catch (e) {
    check('consistency', false, 'The consistency proof between the checkpoints does not verify', e.message);
  }
  const since = report.range.since ? timeMicros(report.range.since) : null;
  const until = report.range.until ? timeMicros(report.range.until) : null;
  let complete = BigInt(report.entries.length) === b - a;
  let included = true;
  let inRange = true;
  let firstBad = '';
  for (let i = 0; i < report.entries.length; i++) {
    const r = report.entries[i];
    if (BigInt(r.index) !== a + BigInt(i)) complete = false;
    const v = await verifyReceipt(r, pinnedKeyText);
    if (!v.ok || r.checkpoint !== report.to || r.ledger !== report.ledger) {
      included = false;
      firstBad ||= `entry ${r.index}: ${v.checks.filter((c) => !c.ok).map((c) => c.label).join('; ') || 'another checkpoint'}`;
    }
    const t = v.entry ? timeMicros(v.entry.time) : null;
    if (t === null || (since !== null && t < since) || (until !== null && t >= until)) inRange = false;
  }
  check('complete', complete, complete
    ? `The report lists exactly the entries ${a} to ${b - 1n}`
    : `The report does not list exactly the entries ${a} to ${b - 1n}`);
  check('included', included, included
    ? `Every entry is included in the end checkpoint (${report.entries.length} inclusion proofs)`
    : 'An entry is not proven in the end checkpoint', firstBad);
  check('times', inRange, inRange
    ? 'Every entry was sequenced within the report\'s time range'
    : 'An entry was sequenced outside the report\'s time range');
  return { ok: checks.every((c) => c.ok), checks };
}
