//! Status proofs: what a server sends so that a client knows, for one key at one checkpoint,
//! either the last entries about the key (and how many there are in all) or that there is
//! none. `docs/status-index.md` §5–§7 is the specification this module implements.
//!
//! A proof is a claim until [`IndexProof::verify`] turns it into an [`IndexAnswer`]. Both wire
//! forms (JSON with lowercase hex, and a compact binary form) refuse every non-canonical
//! input, so one proof has exactly one encoding in each form.

use serde::{Deserialize, Serialize};

use super::tree::{LeafNode, MapProof};
use super::{chain_step, leaf_hash, node_hash, IndexKey, Value, EMPTY, KEY_BITS};
use crate::checkpoint::SignedCheckpoint;
use crate::hash::{Hash, TreeSize};
use crate::Error;

/// First byte of the binary form: its format version.
pub const BINARY_VERSION: u8 = 0x01;
/// Largest integer the JSON form carries (`2^53 - 1`): JavaScript's numbers hold it exactly.
pub const JSON_MAX_INT: u64 = (1 << 53) - 1;

/// A status proof for one key against one index root.
///
/// Nothing in it is trusted: [`IndexProof::verify`] checks it against the root the signed
/// checkpoint commits to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexProof {
    /// The siblings along the key's path, leaf side first: `siblings[0]` is the sibling at
    /// depth `d = siblings.len()`, `siblings[d - 1]` the root's child.
    pub siblings: Vec<Hash>,
    /// What the key's path reaches at depth `d`.
    pub terminal: Terminal,
}

/// What a key's path reaches at the end of a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// An empty subtree: the key is absent.
    Empty,
    /// A subtree holding only another key's leaf: the key is absent.
    Other(LeafNode),
    /// The key's own leaf, with the last entries about it.
    Member(Suffix),
}

/// The last `count - from + 1` entries about a key, and what comes before them as a chain
/// value: `prev = chain_{from-1}`, `indices = [i_from, …, i_count]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suffix {
    /// How many entries concern the key in all.
    pub count: u64,
    /// The position (from 1) of the first revealed index.
    pub from: u64,
    /// `chain_{from-1}`: 32 zero bytes when `from = 1`.
    pub prev: Hash,
    /// The revealed entry indices, strictly increasing.
    pub indices: Vec<u64>,
}

/// What a verified proof says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexAnswer {
    /// No entry about the key exists in the checkpoint's tree.
    Absent,
    /// `count` entries about the key exist; `indices` are the last of them, exactly, from
    /// position `from` (1-based) to `count`.
    Present {
        /// How many entries concern the key.
        count: u64,
        /// The position of `indices[0]` among them (1-based).
        from: u64,
        /// The last `count - from + 1` entry indices, strictly increasing.
        indices: Vec<u64>,
    },
}

impl IndexAnswer {
    /// The index of the latest entry about the key, if any.
    pub fn latest(&self) -> Option<u64> {
        match self {
            IndexAnswer::Absent => None,
            IndexAnswer::Present { indices, .. } => indices.last().copied(),
        }
    }

    /// Whether the whole history is revealed (every entry about the key is in `indices`).
    pub fn is_complete(&self) -> bool {
        match self {
            IndexAnswer::Absent => true,
            IndexAnswer::Present { from, .. } => *from == 1,
        }
    }
}

fn bad(msg: &'static str) -> Error {
    Error::InvalidIndexProof(msg)
}

impl IndexProof {
    /// Turns a map proof from [`super::tree::prove`] into a status proof for `key`, whose
    /// entries are exactly `indices` (all of them, increasing), revealing the `last` of them
    /// (at least one; `u64::MAX` reveals the whole history).
    ///
    /// # Errors
    /// [`Error::InvalidIndexUpdate`] for unsorted `indices`; [`Error::CorruptIndex`] when the
    /// map's leaf and `indices` disagree (the index and the entries it was built from differ).
    pub fn from_map(
        map: MapProof,
        key: &IndexKey,
        indices: &[u64],
        last: u64,
    ) -> Result<IndexProof, Error> {
        let value = Value::of(indices)?;
        let terminal = match map.leaf {
            Some(leaf) if leaf.key == *key => {
                if leaf.value != value {
                    return Err(Error::CorruptIndex(
                        "the entries about the key do not match its value in the index",
                    ));
                }
                let count = value.count;
                let reveal = last.clamp(1, count);
                let from = count - reveal + 1;
                let split = usize::try_from(from - 1).expect("from - 1 < indices.len()");
                Terminal::Member(Suffix {
                    count,
                    from,
                    prev: Value::of(&indices[..split])?.chain,
                    indices: indices[split..].to_vec(),
                })
            }
            other => {
                if !indices.is_empty() {
                    return Err(Error::CorruptIndex(
                        "entries about the key exist but the index has no leaf for it",
                    ));
                }
                other.map_or(Terminal::Empty, Terminal::Other)
            }
        };
        let proof = IndexProof {
            siblings: map.siblings,
            terminal,
        };
        proof.check_form()?;
        Ok(proof)
    }

    /// Checks the proof against the index `root` committed to by a checkpoint of `size`
    /// entries, for `key`, and says what it proves.
    ///
    /// # Errors
    /// [`Error::InvalidIndexProof`] naming the first check that fails (`docs/status-index.md`
    /// §6, in that order).
    pub fn verify(
        &self,
        key: &IndexKey,
        root: &Hash,
        size: TreeSize,
    ) -> Result<IndexAnswer, Error> {
        self.check_form()?;
        let d = self.siblings.len();
        let (terminal, answer) = match &self.terminal {
            Terminal::Empty => (EMPTY, IndexAnswer::Absent),
            Terminal::Other(leaf) => {
                if leaf.key == *key {
                    return Err(bad("an absence proof ends at the key's own leaf"));
                }
                if leaf.key.common_prefix_bits(key) < d {
                    return Err(bad(
                        "the other leaf does not share the key's path down to its depth",
                    ));
                }
                if leaf.value.count > size.0 {
                    return Err(bad("a leaf counts more entries than the tree holds"));
                }
                (leaf_hash(&leaf.key, &leaf.value), IndexAnswer::Absent)
            }
            Terminal::Member(s) => {
                let last = *s.indices.last().expect("check_form: at least one index");
                if last >= size.0 {
                    return Err(bad("an entry index is outside the checkpoint's tree"));
                }
                let chain = s.indices.iter().fold(s.prev, |c, &i| chain_step(&c, i));
                let value = Value {
                    count: s.count,
                    chain,
                };
                (
                    leaf_hash(key, &value),
                    IndexAnswer::Present {
                        count: s.count,
                        from: s.from,
                        indices: s.indices.clone(),
                    },
                )
            }
        };
        if root_from_path(key, terminal, &self.siblings) != *root {
            return Err(bad("the proof does not lead to the index root"));
        }
        Ok(answer)
    }

    /// [`IndexProof::verify`] against the index root that `checkpoint` commits to.
    ///
    /// # Errors
    /// [`Error::NoIndexCommitment`] when the checkpoint carries no index line;
    /// [`Error::MalformedCheckpoint`] for a malformed one; otherwise as [`IndexProof::verify`].
    pub fn verify_in(
        &self,
        key: &IndexKey,
        checkpoint: &SignedCheckpoint,
    ) -> Result<IndexAnswer, Error> {
        let root = checkpoint
            .checkpoint()
            .index_root()?
            .ok_or(Error::NoIndexCommitment)?;
        self.verify(key, &root, checkpoint.size())
    }

    /// The checks that need neither the key nor the root (`docs/status-index.md` §6.2–6.4).
    fn check_form(&self) -> Result<(), Error> {
        if self.siblings.len() > KEY_BITS {
            return Err(bad("more than 256 siblings"));
        }
        if self.siblings.first() == Some(&EMPTY) {
            return Err(bad("the leaf-side sibling is empty"));
        }
        match &self.terminal {
            Terminal::Empty => {}
            Terminal::Other(leaf) => {
                if leaf.value.count == 0 {
                    return Err(bad("a leaf with count 0"));
                }
            }
            Terminal::Member(s) => {
                if s.count == 0 {
                    return Err(bad("a leaf with count 0"));
                }
                if s.from == 0 || s.from > s.count {
                    return Err(bad("from must be between 1 and count"));
                }
                if s.indices.len() as u64 != s.count - s.from + 1 {
                    return Err(bad("the suffix must hold count - from + 1 indices"));
                }
                if s.indices.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(bad("entry indices must be strictly increasing"));
                }
                if s.indices[0] < s.from - 1 {
                    return Err(bad("an entry index is smaller than its position allows"));
                }
                if (s.from == 1) != (s.prev == EMPTY) {
                    return Err(bad(
                        "prev must be 32 zero bytes exactly when the suffix starts at 1",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The compact binary form (`docs/status-index.md` §7.2).
    ///
    /// # Panics
    /// With more than 65,535 siblings, which no parsed or generated proof has (at most 256).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 32 * self.siblings.len() + 80);
        out.push(BINARY_VERSION);
        out.push(match self.terminal {
            Terminal::Empty => 0x00,
            Terminal::Other(_) => 0x01,
            Terminal::Member(_) => 0x02,
        });
        let n = u16::try_from(self.siblings.len()).expect("a proof has at most 256 siblings");
        out.extend_from_slice(&n.to_be_bytes());
        for s in &self.siblings {
            out.extend_from_slice(&s.0);
        }
        match &self.terminal {
            Terminal::Empty => {}
            Terminal::Other(leaf) => {
                out.extend_from_slice(&leaf.key.0);
                out.extend_from_slice(&leaf.value.count.to_be_bytes());
                out.extend_from_slice(&leaf.value.chain.0);
            }
            Terminal::Member(s) => {
                out.extend_from_slice(&s.count.to_be_bytes());
                out.extend_from_slice(&s.from.to_be_bytes());
                out.extend_from_slice(&s.prev.0);
                for i in &s.indices {
                    out.extend_from_slice(&i.to_be_bytes());
                }
            }
        }
        out
    }

    /// Parses the binary form, refusing anything [`IndexProof::to_bytes`] would not write.
    ///
    /// # Errors
    /// [`Error::InvalidIndexProof`].
    pub fn from_bytes(bytes: &[u8]) -> Result<IndexProof, Error> {
        let mut r = Reader(bytes);
        if r.byte()? != BINARY_VERSION {
            return Err(bad("unknown binary format version"));
        }
        let kind = r.byte()?;
        let n = usize::from(u16::from_be_bytes(r.array()?));
        if n > KEY_BITS {
            return Err(bad("more than 256 siblings"));
        }
        let mut siblings = Vec::with_capacity(n);
        for _ in 0..n {
            siblings.push(Hash(r.array()?));
        }
        let terminal = match kind {
            0x00 => Terminal::Empty,
            0x01 => Terminal::Other(LeafNode {
                key: IndexKey(r.array()?),
                value: Value {
                    count: u64::from_be_bytes(r.array()?),
                    chain: Hash(r.array()?),
                },
            }),
            0x02 => {
                let count = u64::from_be_bytes(r.array()?);
                let from = u64::from_be_bytes(r.array()?);
                let prev = Hash(r.array()?);
                if count == 0 || from == 0 || from > count {
                    return Err(bad("from must be between 1 and count"));
                }
                // Check the length before allocating: count comes from the input.
                let want = (count - from + 1).checked_mul(8);
                if want != Some(r.0.len() as u64) {
                    return Err(bad("the suffix must hold count - from + 1 indices"));
                }
                let indices =
                    r.0.chunks_exact(8)
                        .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
                        .collect();
                r.0 = &[];
                Terminal::Member(Suffix {
                    count,
                    from,
                    prev,
                    indices,
                })
            }
            _ => return Err(bad("unknown terminal kind")),
        };
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let proof = IndexProof { siblings, terminal };
        proof.check_form()?;
        Ok(proof)
    }

    /// The canonical JSON form (`docs/status-index.md` §7.1): no whitespace, fields in a
    /// fixed order, hashes as 64 lowercase hex characters.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a proof always serializes")
    }

    /// Parses the JSON form and requires it to be byte for byte canonical (what
    /// [`IndexProof::to_json`] writes). Inside a larger JSON document, use the `Deserialize`
    /// implementation, which refuses the same values but not other whitespace or key order.
    ///
    /// # Errors
    /// [`Error::InvalidIndexProof`].
    pub fn from_json(text: &str) -> Result<IndexProof, Error> {
        let proof: IndexProof =
            serde_json::from_str(text).map_err(|_| bad("not a valid JSON index proof"))?;
        if proof.to_json() != text {
            return Err(bad("JSON index proof is not in canonical form"));
        }
        Ok(proof)
    }
}

/// The root implied by a terminal hash at depth `siblings.len()` and the siblings, leaf side
/// first.
fn root_from_path(key: &IndexKey, terminal: Hash, siblings: &[Hash]) -> Hash {
    let d = siblings.len();
    siblings.iter().enumerate().fold(terminal, |h, (i, s)| {
        if key.bit(d - 1 - i) {
            node_hash(s, &h)
        } else {
            node_hash(&h, s)
        }
    })
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self.0.split_first().ok_or(bad("truncated"))?;
        self.0 = rest;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        if self.0.len() < N {
            return Err(bad("truncated"));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        Ok(head.try_into().expect("N bytes"))
    }
}

// ---------------------------------------------------------------------------------------------
// JSON: one flat object per proof; `kind` says which fields follow.

/// 64 lowercase hex characters, nothing else.
#[derive(Clone, Copy)]
struct Hex32([u8; 32]);

impl Serialize for Hex32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Hash(self.0).to_hex())
    }
}

impl<'de> Deserialize<'de> for Hex32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(serde::de::Error::custom(
                "a hash must be 64 lowercase hex characters",
            ));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Hex32(out))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLeaf {
    key: Hex32,
    count: u64,
    chain: Hex32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    kind: String,
    siblings: Vec<Hex32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    leaf: Option<WireLeaf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prev: Option<Hex32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    indices: Option<Vec<u64>>,
}

impl Serialize for IndexProof {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let siblings = self.siblings.iter().map(|h| Hex32(h.0)).collect();
        let mut w = Wire {
            kind: String::new(),
            siblings,
            leaf: None,
            count: None,
            from: None,
            prev: None,
            indices: None,
        };
        match &self.terminal {
            Terminal::Empty => w.kind = "absent".into(),
            Terminal::Other(leaf) => {
                w.kind = "absent".into();
                w.leaf = Some(WireLeaf {
                    key: Hex32(leaf.key.0),
                    count: leaf.value.count,
                    chain: Hex32(leaf.value.chain.0),
                });
            }
            Terminal::Member(m) => {
                w.kind = "member".into();
                w.count = Some(m.count);
                w.from = Some(m.from);
                w.prev = Some(Hex32(m.prev.0));
                w.indices = Some(m.indices.clone());
            }
        }
        w.serialize(s)
    }
}

impl<'de> Deserialize<'de> for IndexProof {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        IndexProof::try_from(w).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<Wire> for IndexProof {
    type Error = Error;

    fn try_from(w: Wire) -> Result<Self, Error> {
        let siblings = w.siblings.iter().map(|h| Hash(h.0)).collect();
        let member_fields = w.count.is_some() as u8
            + w.from.is_some() as u8
            + w.prev.is_some() as u8
            + w.indices.is_some() as u8;
        let terminal = match w.kind.as_str() {
            "absent" => {
                if member_fields != 0 {
                    return Err(bad(
                        "an absence proof carries no count, from, prev or indices",
                    ));
                }
                match w.leaf {
                    None => Terminal::Empty,
                    Some(l) => {
                        check_json_int(l.count)?;
                        Terminal::Other(LeafNode {
                            key: IndexKey(l.key.0),
                            value: Value {
                                count: l.count,
                                chain: Hash(l.chain.0),
                            },
                        })
                    }
                }
            }
            "member" => {
                if w.leaf.is_some() {
                    return Err(bad("a membership proof carries no leaf"));
                }
                let (Some(count), Some(from), Some(prev), Some(indices)) =
                    (w.count, w.from, w.prev, w.indices)
                else {
                    return Err(bad(
                        "a membership proof needs count, from, prev and indices",
                    ));
                };
                check_json_int(count)?;
                check_json_int(from)?;
                for &i in &indices {
                    check_json_int(i)?;
                }
                Terminal::Member(Suffix {
                    count,
                    from,
                    prev: Hash(prev.0),
                    indices,
                })
            }
            _ => return Err(bad("kind must be \"absent\" or \"member\"")),
        };
        let proof = IndexProof { siblings, terminal };
        proof.check_form()?;
        Ok(proof)
    }
}

fn check_json_int(n: u64) -> Result<(), Error> {
    if n > JSON_MAX_INT {
        return Err(bad("a JSON integer above 2^53 - 1"));
    }
    Ok(())
}
