#!/usr/bin/env python3
"""An independent verifier of Notarium's status index, written from docs/status-index.md alone
(Python 3 standard library only), run against the test vectors:

    python3 status_index.py core/tests/data/status_index_v1.json

It derives keys (section 2), computes chains and leaf hashes (3), computes each map's root by
the hashing rule (4) straight from its entries, parses proofs in both forms (7.1, 7.2) and
re-encodes them, verifies them (6), refuses every negative case, and reads the checkpoint
lines (9). It prints one summary line starting with "ok:" and exits 0, or names the first
failure and exits 1.
"""

import base64
import hashlib
import json
import re
import sys

EMPTY = bytes(32)
DOMAIN = b"notarium/index/v1"
MAX_JSON_INT = 2**53 - 1
HEX64 = re.compile(r"[0-9a-f]{64}")


class Reject(Exception):
    """The proof (or line) must be refused."""


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def u64be(x):
    return x.to_bytes(8, "big")


# --- section 2: keys ------------------------------------------------------------------------


def artifact_key(sha_hex):
    return sha256(DOMAIN, b"\x00", b"\x01", bytes.fromhex(sha_hex))


def signer_key(signer_id):
    return sha256(DOMAIN, b"\x00", b"\x02", signer_id.encode("utf-8"))


def bit(k, i):
    return (k[i // 8] >> (7 - i % 8)) & 1


# --- section 3: values ----------------------------------------------------------------------


def chain_step(prev, index):
    return sha256(b"\x12", prev, u64be(index))


def chain_of(indices):
    c = EMPTY
    for i in indices:
        c = chain_step(c, i)
    return c


def leaf_hash(k, count, chain):
    return sha256(b"\x10", k, u64be(count), chain)


def node_hash(left, right):
    return sha256(b"\x11", left, right)


# --- section 4: the root of a map, by the rule ---------------------------------------------


def subtree_hash(items, depth):
    """items: list of (k, count, chain) sharing their first `depth` bits."""
    if not items:
        return EMPTY
    if len(items) == 1:
        return leaf_hash(*items[0])
    left = [it for it in items if bit(it[0], depth) == 0]
    right = [it for it in items if bit(it[0], depth) == 1]
    return node_hash(subtree_hash(left, depth + 1), subtree_hash(right, depth + 1))


# --- section 7.1: JSON ----------------------------------------------------------------------


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Reject("duplicated JSON member " + k)
        seen[k] = v
    return seen


def _reject_constant(name):
    raise Reject("not a JSON number: " + name)


def _parse_float(text):
    raise Reject("a JSON number with a fraction or exponent: " + text)


def _hash(v):
    if not isinstance(v, str) or not HEX64.fullmatch(v):
        raise Reject("a hash must be 64 lowercase hex characters")
    return bytes.fromhex(v)


def _int(v):
    # bool is an int in Python; JSON true/false are not integers.
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > MAX_JSON_INT:
        raise Reject("an integer out of range or of the wrong type")
    return v


def parse_json(text, canonical=True):
    try:
        obj = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
    except Reject:
        raise
    except ValueError as e:
        raise Reject("not JSON: %s" % e)
    if not isinstance(obj, dict):
        raise Reject("a proof is a JSON object")
    kind = obj.get("kind")
    if kind == "absent":
        allowed = {"kind", "siblings", "leaf"}
        required = {"kind", "siblings"}
    elif kind == "member":
        allowed = {"kind", "siblings", "count", "from", "prev", "indices"}
        required = allowed
    else:
        raise Reject("kind must be absent or member")
    if not set(obj) <= allowed:
        raise Reject("unknown or misplaced members: %s" % sorted(set(obj) - allowed))
    if not required <= set(obj):
        raise Reject("missing members: %s" % sorted(required - set(obj)))
    if not isinstance(obj["siblings"], list):
        raise Reject("siblings must be an array")
    proof = {"siblings": [_hash(s) for s in obj["siblings"]]}
    if kind == "absent":
        if "leaf" in obj:
            leaf = obj["leaf"]
            if not isinstance(leaf, dict) or set(leaf) != {"key", "count", "chain"}:
                raise Reject("leaf must have exactly key, count, chain")
            proof["terminal"] = ("other", _hash(leaf["key"]), _int(leaf["count"]), _hash(leaf["chain"]))
        else:
            proof["terminal"] = ("empty",)
    else:
        if not isinstance(obj["indices"], list):
            raise Reject("indices must be an array")
        proof["terminal"] = (
            "member",
            _int(obj["count"]),
            _int(obj["from"]),
            _hash(obj["prev"]),
            [_int(i) for i in obj["indices"]],
        )
    check_form(proof)
    if canonical and to_json(proof) != text:
        raise Reject("not the canonical JSON bytes")
    return proof


def to_json(proof):
    sib = ",".join('"%s"' % s.hex() for s in proof["siblings"])
    t = proof["terminal"]
    if t[0] == "empty":
        return '{"kind":"absent","siblings":[%s]}' % sib
    if t[0] == "other":
        return '{"kind":"absent","siblings":[%s],"leaf":{"key":"%s","count":%d,"chain":"%s"}}' % (
            sib, t[1].hex(), t[2], t[3].hex())
    return '{"kind":"member","siblings":[%s],"count":%d,"from":%d,"prev":"%s","indices":[%s]}' % (
        sib, t[1], t[2], t[3].hex(), ",".join(str(i) for i in t[4]))


# --- section 7.2: binary --------------------------------------------------------------------


def parse_binary(b):
    if len(b) < 4:
        raise Reject("truncated header")
    if b[0] != 0x01:
        raise Reject("unknown format version")
    kind = b[1]
    d = int.from_bytes(b[2:4], "big")
    if d > 256:
        raise Reject("more than 256 siblings")
    pos = 4
    if len(b) < pos + 32 * d:
        raise Reject("truncated siblings")
    siblings = [b[pos + 32 * i: pos + 32 * i + 32] for i in range(d)]
    pos += 32 * d
    rest = b[pos:]
    if kind == 0x00:
        if rest:
            raise Reject("trailing bytes")
        terminal = ("empty",)
    elif kind == 0x01:
        if len(rest) != 72:
            raise Reject("other leaf must be exactly 72 bytes")
        terminal = ("other", rest[:32], int.from_bytes(rest[32:40], "big"), rest[40:72])
    elif kind == 0x02:
        if len(rest) < 48:
            raise Reject("truncated suffix")
        count = int.from_bytes(rest[0:8], "big")
        frm = int.from_bytes(rest[8:16], "big")
        prev = rest[16:48]
        if count == 0 or frm == 0 or frm > count:
            raise Reject("from must be between 1 and count")
        n = count - frm + 1
        if len(rest) - 48 != 8 * n:
            raise Reject("suffix length does not match count - from + 1")
        indices = [int.from_bytes(rest[48 + 8 * i: 56 + 8 * i], "big") for i in range(n)]
        terminal = ("member", count, frm, prev, indices)
    else:
        raise Reject("unknown terminal kind")
    proof = {"siblings": siblings, "terminal": terminal}
    check_form(proof)
    return proof


def to_binary(proof):
    t = proof["terminal"]
    kind = {"empty": 0, "other": 1, "member": 2}[t[0]]
    out = bytes([1, kind]) + len(proof["siblings"]).to_bytes(2, "big") + b"".join(proof["siblings"])
    if t[0] == "other":
        out += t[1] + u64be(t[2]) + t[3]
    elif t[0] == "member":
        out += u64be(t[1]) + u64be(t[2]) + t[3] + b"".join(u64be(i) for i in t[4])
    return out


# --- section 6: verification ----------------------------------------------------------------


def check_form(proof):
    """The checks of 6.2-6.4 that need neither q nor N."""
    s = proof["siblings"]
    if len(s) > 256:
        raise Reject("6.2: more than 256 siblings")
    if s and s[0] == EMPTY:
        raise Reject("6.2: the leaf-side sibling is empty")
    t = proof["terminal"]
    if t[0] == "other" and t[2] < 1:
        raise Reject("6.4: count 0")
    if t[0] == "member":
        _, count, frm, prev, indices = t
        if count < 1 or not 1 <= frm <= count:
            raise Reject("6.3: from must be between 1 and count")
        if len(indices) != count - frm + 1:
            raise Reject("6.3: count - from + 1 indices")
        if any(a >= b for a, b in zip(indices, indices[1:])):
            raise Reject("6.3: indices not strictly increasing")
        if indices[0] < frm - 1:
            raise Reject("6.3: an index smaller than its position")
        if (frm == 1) != (prev == EMPTY):
            raise Reject("6.3: prev is zero exactly when from = 1")


def verify(proof, q, root, size):
    """Returns ("absent",) or ("present", count, from, indices); raises Reject."""
    check_form(proof)
    s = proof["siblings"]
    d = len(s)
    t = proof["terminal"]
    if t[0] == "member":
        _, count, frm, prev, indices = t
        if indices[-1] >= size:
            raise Reject("6.3: an index outside the tree")
        chain = prev
        for i in indices:
            chain = chain_step(chain, i)
        h = leaf_hash(q, count, chain)
        answer = ("present", count, frm, list(indices))
    elif t[0] == "other":
        _, k2, count2, chain2 = t
        if count2 > size:
            raise Reject("6.4: a leaf counts more entries than the tree")
        if k2 == q:
            raise Reject("6.4: the other leaf is the query")
        if any(bit(k2, i) != bit(q, i) for i in range(d)):
            raise Reject("6.4: the other leaf is off the path")
        h = leaf_hash(k2, count2, chain2)
        answer = ("absent",)
    else:
        h = EMPTY
        answer = ("absent",)
    for i in range(d):
        if bit(q, d - 1 - i) == 0:
            h = node_hash(h, s[i])
        else:
            h = node_hash(s[i], h)
    if h != root:
        raise Reject("6.6: the proof does not lead to the root")
    return answer


# --- section 9: the checkpoint line ---------------------------------------------------------

PREFIX = "notarium-index/v1 "


def index_root_of(extension_lines):
    """The committed root (bytes), None if there is no index line; raises Reject."""
    found = None
    for line in extension_lines:
        if not line.startswith("notarium-index/"):
            continue
        if found is not None:
            raise Reject("two index lines")
        if not line.startswith(PREFIX):
            raise Reject("another index version")
        b64 = line[len(PREFIX):]
        if len(b64) != 44 or not re.fullmatch(r"[A-Za-z0-9+/]{43}=", b64):
            raise Reject("not 44 characters of padded base64")
        root = base64.b64decode(b64, validate=True)
        if len(root) != 32 or base64.b64encode(root).decode() != b64:
            raise Reject("not the canonical base64 of 32 bytes")
        found = root
    return found


def checkpoint_body_lines(body):
    if not body.endswith("\n"):
        raise Reject("a body ends in a newline")
    lines = body[:-1].split("\n")
    return lines[3:]


# --- the vectors ----------------------------------------------------------------------------


def answer_of(v):
    if v["kind"] == "absent":
        return ("absent",)
    return ("present", v["count"], v["from"], v["indices"])


def query_of(subject, query_hex):
    q = bytes.fromhex(query_hex)
    if subject is not None:
        derived = artifact_key(subject["artifact"]) if "artifact" in subject else signer_key(subject["signer"])
        if derived != q:
            raise AssertionError("query is not the key of its subject")
    return q


def main(path):
    with open(path, encoding="utf-8") as f:
        v = json.load(f)
    n_keys = n_maps = n_proofs = n_neg = n_lines = 0

    for k in v["key_derivation"]:
        subject = k["subject"]
        got = artifact_key(subject["artifact"]) if "artifact" in subject else signer_key(subject["signer"])
        assert got.hex() == k["key"], ("key", subject)
        n_keys += 1
    for c in v["chains"]:
        assert chain_of(c["indices"]).hex() == c["chain"], ("chain", c)
        assert len(c["indices"]) == c["count"]
    for leaf in v["leaves"]:
        got = leaf_hash(bytes.fromhex(leaf["key"]), leaf["count"], bytes.fromhex(leaf["chain"]))
        assert got.hex() == leaf["leaf_hash"], ("leaf", leaf)
    for n in v["nodes"]:
        got = node_hash(bytes.fromhex(n["left"]), bytes.fromhex(n["right"]))
        assert got.hex() == n["node_hash"], ("node", n)

    for m in v["maps"]:
        items = []
        for e in m["entries"]:
            k = query_of(e["subject"], e["key"])
            idx = e["indices"]
            assert all(i < m["size"] for i in idx) and idx == sorted(set(idx))
            items.append((k, len(idx), chain_of(idx)))
        root = subtree_hash(items, 0)
        assert root.hex() == m["root"], ("root", m["name"])
        n_maps += 1
        for p in m["proofs"]:
            q = query_of(p["subject"], p["query"])
            a = parse_json(p["json"])
            b = parse_binary(bytes.fromhex(p["binary"]))
            assert a == b, ("forms differ", m["name"], p["name"])
            assert to_json(a) == p["json"] and to_binary(a).hex() == p["binary"], ("re-encoding", p["name"])
            got = verify(a, q, root, m["size"])
            assert got == answer_of(p["answer"]), ("answer", m["name"], p["name"], got)
            assert len(a["siblings"]) == p["depth"]
            n_proofs += 1

    for n in v["negative"]:
        q = bytes.fromhex(n["query"])
        root = bytes.fromhex(n["root"])
        forms = []
        if n.get("json") is not None:
            forms.append(("json", lambda: parse_json(n["json"])))
        if n.get("binary") is not None:
            forms.append(("binary", lambda: parse_binary(bytes.fromhex(n["binary"]))))
        assert forms, n["name"]
        for form, parse in forms:
            try:
                proof = parse()
                verify(proof, q, root, n["size"])
            except Reject:
                continue
            raise AssertionError("negative case accepted (%s form): %s" % (form, n["name"]))
        n_neg += 1

    c = v["checkpoint"]
    body = c["body"]
    assert c["signed_note"].startswith(body + "\n"), "the signed note starts with the body"
    root = index_root_of(checkpoint_body_lines(body))
    assert root is not None and root.hex() == c["index_root"]
    assert c["index_line"] in checkpoint_body_lines(body)
    for line in c["lines"]:
        try:
            got = index_root_of(line["extension_lines"])
            ok = True
        except Reject:
            got, ok = None, False
        assert ok == line["valid"], ("line", line["extension_lines"])
        assert (got.hex() if got else None) == line["index_root"], ("line root", line["extension_lines"])
        n_lines += 1

    print("ok: %d keys, %d maps, %d proofs, %d negative cases, %d checkpoint lines"
          % (n_keys, n_maps, n_proofs, n_neg, n_lines))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: status_index.py VECTORS.json")
    try:
        main(sys.argv[1])
    except AssertionError as e:
        print("FAILED:", e)
        sys.exit(1)
