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
 * Checks a receipt in the parsed checkpoint `cp` whose signed note is `note` (core's
 * Receipt::verify_in; the caller checks the note's signature): the receipt carries that very
 * note, its entry bytes hash to its leaf hash, the entry shown is those bytes and of the
 * receipt's ledger, the inclusion proof leads to the checkpoint's root, and, given
 * `fileSha256`, the entry is about that file. Returns {ok, entry, checks}, each check with the
 * kind of failure core reports for it.
 */
async function receiptIn(receipt, cp, note, { fileSha256 } = {}) {
  const checks = [];
  const check = (id, ok, kind, label, detail = '') => checks.push({ id, ok, kind, label, detail });
  if (!receipt || typeof receipt !== 'object') {
    check('entry', false, 'invalid_receipt', 'The receipt is missing or not an object');
    return { ok: false, entry: null, checks };
  }
  const same = receipt.checkpoint === note;
  if (!same) check('proven-in', false, 'invalid_receipt', `Entry ${receipt.index} is proven in another checkpoint than the answer's`);
  let leaf = null;
  let entry = null;
  try {
    leaf = b64ToBytes(receipt.leaf);
  } catch (e) {
    check('leaf', false, 'invalid_receipt', 'The entry bytes could not be read', e.message);
  }
  let leafOk = false;
  if (leaf) {
    leafOk = bytesToHex(await leafHash(leaf)) === String(receipt.leaf_hash).toLowerCase();
    check('leaf', leafOk, 'invalid_receipt', leafOk
      ? 'The entry bytes hash to the leaf hash in the proof'
      : 'The entry bytes do not hash to the leaf hash in the proof');
    try {
      entry = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(leaf));
      const shown = stable(entry) === stable(receipt.entry);
      const ledger = entry?.ledger === receipt.ledger;
      check('entry', shown && ledger, 'invalid_receipt', !shown
        ? 'The entry shown differs from the entry bytes in the ledger'
        : ledger ? 'The entry shown is exactly the entry bytes in the ledger' : 'The entry belongs to another ledger');
      if (!entry || typeof entry !== 'object' || !['artifact', 'key'].includes(entry.type)) {
        check('entry', false, 'invalid_receipt', 'The entry bytes are not a Notarium entry');
        entry = null;
      }
    } catch (e) {
      check('entry', false, 'invalid_receipt', 'The entry bytes could not be read', e.message);
      entry = null;
    }
  }
  try {
    await verifyInclusion(hexToBytes(receipt.leaf_hash), receipt.index, cp.size, receipt.inclusion_proof, cp.root);
    check('inclusion', leafOk, 'invalid_receipt', leafOk
      ? `The inclusion proof leads from entry ${receipt.index} to the checkpoint's root (tree size ${cp.size})`
      : 'The inclusion proof is for another leaf hash than these entry bytes');
  } catch (e) {
    check('inclusion', false, 'invalid_receipt', `The inclusion proof does not lead from entry ${receipt.index} to the checkpoint's root`, e.message);
  }
  if (fileSha256 !== undefined && entry) {
    const ok = entry.type === 'artifact' && entry.sha256 === fileSha256;
    check('file', ok, 'invalid_status', ok
      ? "The ledger entry records this file's SHA-256"
      : "The ledger entry records another SHA-256 than this file's", `entry: ${entry.sha256 ?? entry.type}`);
  }
  return { ok: checks.every((c) => c.ok), entry, checks };
}

/**
 * Verifies a receipt (docs/http-api.md, receipts) against the pinned verifier key text, and
 * optionally that it is the receipt of the file whose SHA-256 is `fileSha256` (hex). Never
 * throws: returns {ok, entry, checkpoint, checks: [{id, ok, label, detail}]}, every check in
 * plain words.
 */
export async function verifyReceipt(receipt, pinnedKeyText, { fileSha256 } = {}) {
  const checks = [];
  let entry = null;
  let checkpoint = null;
  try {
    checkpoint = parseCheckpoint(receipt.checkpoint);
  } catch (e) {
    checks.push({ id: 'checkpoint', ok: false, label: 'The checkpoint could not be read', detail: e.message });
    return { ok: false, entry, checkpoint, checks };
  }
  const v = await receiptIn(receipt, checkpoint, receipt.checkpoint, { fileSha256 });
  entry = v.entry;
  checks.push(...v.checks);
  if (fileSha256 !== undefined && !entry) {
    checks.push({ id: 'file', ok: false, label: "The ledger entry records another SHA-256 than this file's" });
  }
  const check = (id, ok, label, detail = '') => checks.push({ id, ok, label, detail });
  if (!pinnedKeyText) {
    check('signature', false, 'The checkpoint signature was not checked: no verifier key is pinned for this ledger');
  } else {
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

// ---------------------------------------------------------------------------------------------
// The status index (docs/status-index.md): a port of core/src/index/ (keys, hashing, proofs and
// their verification, §2–§7) and of core/src/status.rs (what a status answer must prove: that
// its entry is the latest about the file from the signers asked for, that its signer's latest
// key entry is the one shown, or that no entry about the file exists).

const INDEX_DOMAIN = utf8.encode('notarium/index/v1');
const INDEX_LINE = 'notarium-index/v1 ';
const EMPTY = new Uint8Array(32);
const KIND_ARTIFACT = 0x01;
const KIND_SIGNER = 0x02;
const LEAF_PREFIX = 0x10;
const NODE_PREFIX = 0x11;
const CHAIN_PREFIX = 0x12;
const KEY_BITS = 256;

function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

function isEmpty(h) {
  return equal(h, EMPTY);
}

/** The index key of an artifact: SHA-256("notarium/index/v1" || 0x00 || 0x01 || its 32 raw bytes). */
export function indexKeyOfArtifact(sha256Hex) {
  if (!/^[0-9a-f]{64}$/.test(sha256Hex)) throw new Error('an artifact SHA-256 is 64 lowercase hex characters');
  return sha256(concat(INDEX_DOMAIN, Uint8Array.of(0x00, KIND_ARTIFACT), hexToBytes(sha256Hex)));
}

/** The index key of a signer: SHA-256("notarium/index/v1" || 0x00 || 0x02 || UTF-8 of its id). */
export function indexKeyOfSigner(id) {
  return sha256(concat(INDEX_DOMAIN, Uint8Array.of(0x00, KIND_SIGNER), utf8.encode(id)));
}

/** One step of a value's chain: SHA-256(0x12 || prev || u64be(index)). */
export function indexChainStep(prev, index) {
  return sha256(concat(Uint8Array.of(CHAIN_PREFIX), prev, u64be(index)));
}

/** A leaf of the map: SHA-256(0x10 || key || u64be(count) || chain). */
export function indexLeafHash(key, count, chain) {
  return sha256(concat(Uint8Array.of(LEAF_PREFIX), key, u64be(count), chain));
}

/** A subtree of two keys or more: SHA-256(0x11 || left || right). */
export function indexNodeHash(left, right) {
  return sha256(concat(Uint8Array.of(NODE_PREFIX), left, right));
}

/** Bit `i` of a key, most significant bit of the first byte first (1: the right child). */
function keyBit(key, i) {
  return (key[i >> 3] >> (7 - (i & 7))) & 1;
}

function commonPrefixBits(a, b) {
  for (let i = 0; i < 32; i++) {
    const x = a[i] ^ b[i];
    if (x) return i * 8 + Math.clz32(x) - 24;
  }
  return KEY_BITS;
}

/**
 * The status-index root a parsed checkpoint commits to (§9): null when no extension line starts
 * with `notarium-index/`; throws for a line that does but is not exactly one well-formed
 * `notarium-index/v1 <44 characters of base64>` line — an index this code cannot read is
 * refused, never taken as absent.
 */
export function indexRootOf(checkpoint) {
  let found = null;
  for (const line of checkpoint.extensions) {
    if (!line.startsWith('notarium-index/')) continue;
    if (found) throw new Error('malformed checkpoint: more than one index line');
    if (!line.startsWith(INDEX_LINE)) throw new Error('malformed checkpoint: unknown index line version');
    const b64 = line.slice(INDEX_LINE.length);
    let root = null;
    try {
      root = b64ToBytes(b64);
    } catch {
      // Refused below.
    }
    if (!root || root.length !== 32 || bytesToB64(root) !== b64) throw new Error('malformed checkpoint: bad index root');
    found = root;
  }
  return found;
}

function badProof(msg) {
  return new Error(`invalid index proof: ${msg}`);
}

const HEX32 = /^[0-9a-f]{64}$/;

function wireHash(v) {
  if (typeof v !== 'string' || !HEX32.test(v)) throw badProof('a hash must be 64 lowercase hex characters');
  return hexToBytes(v);
}

function wireInt(v) {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw badProof('an integer must be between 0 and 2^53 - 1');
  }
  return v;
}

function wireObject(v, allowed, required, what) {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badProof(`${what} must be an object`);
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw badProof(`unknown member ${JSON.stringify(k)}`);
  for (const k of required) if (!(k in v)) throw badProof(`missing member ${JSON.stringify(k)}`);
}

/**
 * An index proof from its JSON form (§7.1) as embedded in an answer, already parsed: exactly
 * the members of its shape, lowercase hex hashes, integers up to 2^53 - 1, and the structural
 * rules of §6.2–6.3. Returns {siblings, terminal}, terminal being {kind: 'empty'}, {kind:
 * 'other', key, count, chain} or {kind: 'member', count, from, prev, indices}. Throws
 * "invalid index proof: …".
 */
export function indexProofFromWire(w) {
  wireObject(w, ['kind', 'siblings', 'leaf', 'count', 'from', 'prev', 'indices'], ['kind', 'siblings'], 'an index proof');
  if (!Array.isArray(w.siblings)) throw badProof('siblings must be an array');
  const siblings = w.siblings.map(wireHash);
  let terminal;
  if (w.kind === 'absent') {
    if (['count', 'from', 'prev', 'indices'].some((k) => k in w)) {
      throw badProof('an absence proof carries no count, from, prev or indices');
    }
    if (w.leaf === undefined) {
      terminal = { kind: 'empty' };
    } else {
      wireObject(w.leaf, ['key', 'count', 'chain'], ['key', 'count', 'chain'], 'a leaf');
      terminal = { kind: 'other', key: wireHash(w.leaf.key), count: wireInt(w.leaf.count), chain: wireHash(w.leaf.chain) };
    }
  } else if (w.kind === 'member') {
    if ('leaf' in w) throw badProof('a membership proof carries no leaf');
    if (!['count', 'from', 'prev', 'indices'].every((k) => k in w)) {
      throw badProof('a membership proof needs count, from, prev and indices');
    }
    if (!Array.isArray(w.indices)) throw badProof('indices must be an array');
    terminal = {
      kind: 'member', count: wireInt(w.count), from: wireInt(w.from), prev: wireHash(w.prev), indices: w.indices.map(wireInt),
    };
  } else {
    throw badProof('kind must be "absent" or "member"');
  }
  const proof = { siblings, terminal };
  checkProofForm(proof);
  return proof;
}

/** The canonical JSON text of a proof (§7.1): no whitespace, members in their fixed order. */
export function indexProofToJson(p) {
  const siblings = p.siblings.map(bytesToHex);
  const t = p.terminal;
  if (t.kind === 'empty') return JSON.stringify({ kind: 'absent', siblings });
  if (t.kind === 'other') {
    return JSON.stringify({ kind: 'absent', siblings, leaf: { key: bytesToHex(t.key), count: t.count, chain: bytesToHex(t.chain) } });
  }
  return JSON.stringify({ kind: 'member', siblings, count: t.count, from: t.from, prev: bytesToHex(t.prev), indices: t.indices });
}

/**
 * A proof stored on its own (a file, a test vector): its JSON text must be byte for byte the
 * canonical form (§7.1), so that one proof has one encoding. Throws "invalid index proof: …".
 */
export function parseIndexProof(text) {
  let w;
  try {
    w = JSON.parse(text);
  } catch {
    throw badProof('not a valid JSON index proof');
  }
  const proof = indexProofFromWire(w);
  if (indexProofToJson(proof) !== text) throw badProof('JSON index proof is not in canonical form');
  return proof;
}

/** The checks of §6.2–6.4 that need neither the key nor the root, as core's check_form. */
function checkProofForm(p) {
  if (p.siblings.length > KEY_BITS) throw badProof('more than 256 siblings');
  if (p.siblings.length && isEmpty(p.siblings[0])) throw badProof('the leaf-side sibling is empty');
  const t = p.terminal;
  if (t.kind === 'other' && t.count === 0) throw badProof('a leaf with count 0');
  if (t.kind !== 'member') return;
  if (t.count === 0) throw badProof('a leaf with count 0');
  if (t.from === 0 || t.from > t.count) throw badProof('from must be between 1 and count');
  if (t.indices.length !== t.count - t.from + 1) throw badProof('the suffix must hold count - from + 1 indices');
  for (let i = 1; i < t.indices.length; i++) {
    if (t.indices[i - 1] >= t.indices[i]) throw badProof('entry indices must be strictly increasing');
  }
  if (t.indices[0] < t.from - 1) throw badProof('an entry index is smaller than its position allows');
  if ((t.from === 1) !== isEmpty(t.prev)) throw badProof('prev must be 32 zero bytes exactly when the suffix starts at 1');
}

/**
 * Verifies a parsed index proof for `key` (32 bytes) against the index `root` that a verified
 * checkpoint of `size` entries commits to (§6). Returns {present: false}, or {present: true,
 * count, from, indices} (the last count - from + 1 entry indices about the key); throws
 * "invalid index proof: …" naming the first rule that fails.
 */
export async function verifyIndexProof(proof, key, root, size) {
  checkProofForm(proof);
  const n = BigInt(size);
  const d = proof.siblings.length;
  const t = proof.terminal;
  let h;
  let answer;
  if (t.kind === 'empty') {
    h = EMPTY;
    answer = { present: false };
  } else if (t.kind === 'other') {
    if (equal(t.key, key)) throw badProof("an absence proof ends at the key's own leaf");
    if (commonPrefixBits(t.key, key) < d) throw badProof("the other leaf does not share the key's path down to its depth");
    if (BigInt(t.count) > n) throw badProof('a leaf counts more entries than the tree holds');
    h = await indexLeafHash(t.key, t.count, t.chain);
    answer = { present: false };
  } else {
    if (BigInt(t.indices[t.indices.length - 1]) >= n) throw badProof("an entry index is outside the checkpoint's tree");
    let chain = t.prev;
    for (const i of t.indices) chain = await indexChainStep(chain, i);
    h = await indexLeafHash(key, t.count, chain);
    answer = { present: true, count: t.count, from: t.from, indices: [...t.indices] };
  }
  for (let i = 0; i < d; i++) {
    h = keyBit(key, d - 1 - i) ? await indexNodeHash(proof.siblings[i], h) : await indexNodeHash(h, proof.siblings[i]);
  }
  if (!equal(h, root)) throw badProof('the proof does not lead to the index root');
  return answer;
}

const STATUSES = ['trusted', 'untrusted', 'unsupported', 'revoked', 'unknown'];
const PROOF_MEMBERS = ['index', 'skipped', 'signer', 'signer_created'];

/**
 * Verifies a status answer (GET …/artifacts/{sha256}) about the file whose SHA-256 is
 * `sha256Hex`, from `signers` (all signers when empty), against the pinned verifier key text:
 * core's verify_status, preceded by the checkpoint's signature. Never throws: returns {ok,
 * status (null unless ok), entries, deciding, revocation, checkpoint, checks: [{id, ok, kind,
 * label, detail}]}, every check in plain words; `kind` names the rule that failed as core's
 * errors do (signature, no_index_commitment, invalid_index_proof, invalid_receipt,
 * invalid_status), and the first failing check is the one core reports. A missing or failing
 * proof is a failed verification, never a status.
 */
export async function verifyStatus(answer, sha256Hex, pinnedKeyText, { signers = [] } = {}) {
  const checks = [];
  const check = (id, ok, kind, label, detail = '') => {
    checks.push({ id, ok, kind, label, detail });
    return ok;
  };
  // Verified only when every check passed and the last one, the status itself, was reached.
  const out = (extra = {}) => {
    const ok = checks.every((c) => c.ok) && checks.some((c) => c.id === 'status');
    return {
      checkpoint: null, entries: null, deciding: null, revocation: null, ...extra, ok, status: ok ? answer?.status : null, checks,
    };
  };
  const note = answer?.checkpoint;
  let cp = null;
  if (typeof note !== 'string') {
    check('signature', false, 'signature', 'The answer carries no checkpoint to prove it against');
    return out();
  }
  try {
    cp = parseCheckpoint(note);
  } catch (e) {
    check('signature', false, 'signature', 'The checkpoint could not be read', e.message);
    return out();
  }
  if (!pinnedKeyText) {
    check('signature', false, 'signature', 'The checkpoint signature was not checked: no verifier key is pinned for this ledger');
  } else {
    try {
      const key = await parseVerifierKey(pinnedKeyText);
      await verifyCheckpoint(note, key);
      check('signature', true, 'signature', `The checkpoint is signed by the pinned key ${key.name}+${key.idHex} (Ed25519)`);
    } catch (e) {
      check('signature', false, 'signature', 'The checkpoint signature does not verify with the pinned key', e.message);
    }
  }
  const proof = answer.proof;
  if (proof === undefined || proof === null) {
    check('proof', false, 'invalid_status', 'The answer carries no status proof: nothing shows that its entry is the latest, or that no entry exists');
  } else if (typeof proof !== 'object' || Array.isArray(proof) || Object.keys(proof).some((k) => !PROOF_MEMBERS.includes(k))
    || (proof.skipped !== undefined && !Array.isArray(proof.skipped))) {
    check('proof', false, 'invalid_status', 'The status proof is malformed');
  }
  let root = null;
  try {
    root = indexRootOf(cp);
    check('index-line', !!root, 'no_index_commitment', root
      ? `The checkpoint commits to the status index (root ${bytesToB64(root)})`
      : 'The checkpoint commits to no status index (no notarium-index/v1 line): the answer cannot be proven complete');
  } catch (e) {
    check('index-line', false, 'no_index_commitment', "The checkpoint's status-index line is malformed", e.message);
  }
  if (!checks.every((c) => c.ok)) return out({ checkpoint: cp });

  const size = cp.size;
  const shortSha = `${sha256Hex.slice(0, 12)}…`;
  let found;
  try {
    const p = indexProofFromWire(proof.index);
    found = await verifyIndexProof(p, await indexKeyOfArtifact(sha256Hex), root, size);
    check('index', true, 'invalid_index_proof', found.present
      ? `The status index proves ${found.count} ${found.count === 1 ? 'entry' : 'entries'} about this SHA-256 among the checkpoint's ${size}; the latest is entry ${found.indices[found.indices.length - 1]}`
      : `The status index proves that no entry about this SHA-256 exists among the checkpoint's ${size} entries`);
  } catch (e) {
    check('index', false, 'invalid_index_proof', "The status-index proof for this SHA-256 does not lead to the checkpoint's index root", e.message);
    return out({ checkpoint: cp });
  }
  const skipped = proof.skipped || [];
  const claim = STATUSES.includes(answer.status) ? answer.status : String(answer.status);
  const statusCheck = (proven) => check('status', proven === claim, 'invalid_status', proven === claim
    ? `The proven entries give the status ${proven}, as the server says`
    : `The server says ${claim}, but the proven entries give ${proven}`);

  if (!found.present) {
    const bare = claim === 'unknown' && !answer.receipt && !answer.revocation && !skipped.length;
    check('latest', bare, 'invalid_status', bare
      ? 'The answer shows no entry, as the proof requires'
      : `No entry about ${shortSha} exists, yet the answer says ${claim} with entries`);
    if (bare) statusCheck('unknown');
    return out({ checkpoint: cp, entries: 0 });
  }
  const { count, from, indices } = found;
  const later = async (shown, want) => {
    // The entries after the deciding one: exactly `want`, each about the file, each by a
    // signer not asked for (core's check_skipped).
    const got = shown.map((r) => r?.index);
    if (got.length !== want.length || got.some((i, k) => i !== want[k])) {
      return { ok: false, kind: 'invalid_status', label: `The answer must show the later entries [${want.join(', ')}], it shows [${got.join(', ')}]` };
    }
    for (const r of shown) {
      const v = await receiptIn(r, cp, note, { fileSha256: sha256Hex });
      const bad = v.checks.find((c) => !c.ok);
      if (bad) return { ok: false, kind: bad.kind, label: `Later entry ${r.index}: ${bad.label}`, detail: bad.detail };
      if (signers.includes(v.entry.signer)) {
        return { ok: false, kind: 'invalid_status', label: `Entry ${r.index} is by a signer asked for (${v.entry.signer}), so it decides, not an entry before it` };
      }
    }
    return { ok: true };
  };

  if (!answer.receipt) {
    // No entry decides: every entry about the file must be shown, none by the signers.
    if (!signers.length || claim !== 'unknown') {
      check('latest', false, 'invalid_status', `${count} ${count === 1 ? 'entry' : 'entries'} about ${shortSha} exist, yet the answer shows none deciding`);
      return out({ checkpoint: cp, entries: count });
    }
    if (from !== 1) {
      check('latest', false, 'invalid_status', `An unknown from some signers must show all ${count} entries about ${shortSha}`);
      return out({ checkpoint: cp, entries: count });
    }
    const l = await later(skipped, indices);
    check('latest', l.ok, l.kind || 'invalid_status', l.ok
      ? `None of the ${count} entries about this file is by ${signers.join(', ')}: each is shown and proven`
      : l.label, l.detail);
    if (l.ok) statusCheck('unknown');
    return out({ checkpoint: cp, entries: count });
  }

  const deciding = await receiptIn(answer.receipt, cp, note, { fileSha256: sha256Hex });
  checks.push(...deciding.checks);
  const entry = deciding.entry;
  if (!entry || entry.type !== 'artifact') return out({ checkpoint: cp, entries: count });
  const at = answer.receipt.index;
  let latestOk = false;
  const position = indices.indexOf(at);
  if (position < 0) {
    check('latest', false, 'invalid_status', `The deciding entry ${at} is not among the last entries about ${shortSha}`);
  } else if (position !== 0) {
    check('latest', false, 'invalid_status', `The proof reveals entries about ${shortSha} before the deciding one ${at}`);
  } else if (!signers.length && indices.length !== 1) {
    check('latest', false, 'invalid_status', `Entry ${at} is not the latest about ${shortSha}: ${indices[indices.length - 1]} came after it`);
  } else if (signers.length && !signers.includes(entry.signer)) {
    check('latest', false, 'invalid_status', `The deciding entry ${at} is signed by ${entry.signer}, not by a signer asked for`);
  } else {
    const l = await later(skipped, indices.slice(1));
    latestOk = check('latest', l.ok, l.kind || 'invalid_status', !l.ok ? l.label : signers.length
      ? `Entry ${at} is the latest entry about this file by ${signers.join(', ')}${indices.length > 1 ? `; the ${indices.length - 1} later ones are by other signers, each proven` : ''}`
      : `Entry ${at} is the latest entry about this file: no later entry exists`, l.detail);
  }
  if (!latestOk) return out({ checkpoint: cp, entries: count });

  // The signer: its latest key entry decides whether it was revoked.
  const signer = entry.signer;
  if (proof.signer === undefined || proof.signer === null) {
    check('signer-index', false, 'invalid_status', `The answer does not prove whether signer ${signer} was revoked`);
    return out({ checkpoint: cp, entries: count });
  }
  let keyFound;
  try {
    keyFound = await verifyIndexProof(indexProofFromWire(proof.signer), await indexKeyOfSigner(signer), root, size);
  } catch (e) {
    check('signer-index', false, 'invalid_index_proof', `The status-index proof for signer ${signer} does not lead to the checkpoint's index root`, e.message);
    return out({ checkpoint: cp, entries: count });
  }
  let revocation = null;
  if (!keyFound.present) {
    check('signer-index', true, 'invalid_index_proof', `The status index proves that signer ${signer} has no key entry, so no revocation`);
    const none = !answer.revocation && !proof.signer_created;
    check('signer', none, 'invalid_status', none
      ? `Signer ${signer} is not an API key of this ledger and cannot have been revoked`
      : `Signer ${signer} has no key entries, yet the answer shows one`);
    if (!none) return out({ checkpoint: cp, entries: count });
  } else {
    const latest = keyFound.indices[keyFound.indices.length - 1];
    check('signer-index', true, 'invalid_index_proof', `The status index proves that signer ${signer}'s latest key entry is entry ${latest}`);
    const shown = answer.revocation && !proof.signer_created ? [answer.revocation, 'revoked']
      : !answer.revocation && proof.signer_created ? [proof.signer_created, 'created'] : null;
    if (!shown) {
      check('signer', false, 'invalid_status', `The answer must show signer ${signer}'s latest key entry (${latest})`);
      return out({ checkpoint: cp, entries: count });
    }
    const [r, action] = shown;
    const v = await receiptIn(r, cp, note);
    const bad = v.checks.find((c) => !c.ok);
    if (bad) {
      check('signer', false, bad.kind, `Signer ${signer}'s key entry ${r.index}: ${bad.label}`, bad.detail);
      return out({ checkpoint: cp, entries: count });
    }
    const e = v.entry;
    const right = e.type === 'key' && e.id === signer && e.action === action && r.index === latest;
    check('signer', right, 'invalid_status', !right
      ? `Entry ${r.index} is not signer ${signer}'s latest key entry (${latest})`
      : action === 'revoked'
        ? `Signer ${signer} was revoked by entry ${latest}, proven in the same checkpoint`
        : `Signer ${signer} is not revoked: its latest key entry is its creation (entry ${latest})`);
    if (!right) return out({ checkpoint: cp, entries: count });
    if (action === 'revoked') revocation = { index: r.index, entry: e };
  }
  statusCheck(revocation ? 'revoked' : entry.status);
  return out({ checkpoint: cp, entries: count, deciding: { index: at, entry }, revocation });
}

/**
 * Verifies the pages of an artifact's history (GET …/artifacts/{sha256}/history, oldest first)
 * as core's client does: each page's checkpoint signed by the pinned key and committing to an
 * index, its index proof revealing every entry about the file up to it, and the pages holding
 * exactly those entries, each proven in its page's checkpoint. Never throws: returns {ok,
 * checks}. Each entry's own receipt is checked with verifyReceipt.
 */
export async function verifyHistory(pages, sha256Hex, pinnedKeyText) {
  const checks = [];
  const check = (id, ok, label, detail = '') => checks.push({ id, ok, label, detail });
  let key = null;
  try {
    key = await parseVerifierKey(pinnedKeyText);
  } catch (e) {
    check('complete', false, 'The history was not checked: no usable verifier key is pinned for this ledger', e.message);
    return { ok: false, checks };
  }
  if (!pages.length) {
    check('complete', false, 'The server sent no page of the history');
    return { ok: false, checks };
  }
  const qkey = await indexKeyOfArtifact(sha256Hex);
  const shown = [];
  let all = [];
  let size = 0n;
  try {
    let after = null;
    for (const page of pages) {
      const cp = await verifyCheckpoint(page.checkpoint, key);
      const root = indexRootOf(cp);
      if (!root) throw new Error('a page of the history is proven against a checkpoint that commits to no status index');
      if (!page.index_proof) throw new Error('a page of the history comes without its completeness proof');
      const found = await verifyIndexProof(indexProofFromWire(page.index_proof), qkey, root, cp.size);
      if (found.present && found.from !== 1) throw new Error('the index proof of a page does not reveal every entry');
      all = found.present ? found.indices : [];
      size = cp.size;
      const expected = all.filter((i) => after === null || i > after).slice(0, page.entries.length);
      const got = page.entries.map((r) => r.index);
      if (got.length !== expected.length || got.some((i, k) => i !== expected[k])) {
        throw new Error(`a page shows entries [${got.join(', ')}] where the index proves [${expected.join(', ')}]`);
      }
      for (const r of page.entries) {
        if (r.checkpoint !== page.checkpoint) throw new Error(`entry ${r.index} is proven against another checkpoint than its page's`);
        after = r.index;
        shown.push(r.index);
      }
    }
    if (shown.length !== all.length || shown.some((i, k) => i !== all[k])) {
      throw new Error(`the pages show ${shown.length} entries; the index proves ${all.length}`);
    }
    check('complete', true, `The status index proves that these are all ${all.length} entries about this file among the checkpoint's ${size}`);
  } catch (e) {
    check('complete', false, 'The history is not proven complete: entries about this file may be missing or extra', e.message);
  }
  return { ok: checks.every((c) => c.ok), checks };
}
