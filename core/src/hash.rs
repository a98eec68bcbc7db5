//! Hash types and the RFC 6962 §2.1 hashing rules.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256 as Sha256Hasher};

use crate::Error;

/// Lowercase hex of 32 bytes through a lookup table: receipts carry dozens of hashes, and
/// `hex::encode`'s char-by-char iteration showed up in the server's profile.
fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[(b >> 4) as usize];
        out[2 * i + 1] = DIGITS[(b & 0x0f) as usize];
    }
    out
}

fn hex32_string(bytes: &[u8; 32]) -> String {
    String::from_utf8(hex32(bytes).to_vec()).expect("hex digits are ASCII")
}

fn serialize_hex32<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    let buf = hex32(bytes);
    s.serialize_str(std::str::from_utf8(&buf).expect("hex digits are ASCII"))
}

/// Standard base64 (RFC 4648 §4), the encoding of every C2SP text format.
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A 32-byte SHA-256 value: a Merkle tree node, a leaf hash or a root.
///
/// Serialized as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// Size of a hash in bytes.
    pub const LEN: usize = 32;

    /// Builds a hash from a slice that must be exactly 32 bytes.
    ///
    /// # Errors
    /// [`Error::HashLength`] when the slice is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::HashLength(bytes.len()))?;
        Ok(Hash(arr))
    }

    /// Parses 64 hex characters (either case).
    ///
    /// # Errors
    /// [`Error::InvalidHex`] or [`Error::HashLength`].
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let bytes = hex::decode(s).map_err(|_| Error::InvalidHex)?;
        Self::from_slice(&bytes)
    }

    /// Parses standard base64 of exactly 32 bytes.
    ///
    /// # Errors
    /// [`Error::InvalidBase64`] or [`Error::HashLength`].
    pub fn from_base64(s: &str) -> Result<Self, Error> {
        let bytes = B64.decode(s).map_err(|_| Error::InvalidBase64)?;
        Self::from_slice(&bytes)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex32_string(&self.0)
    }

    /// Standard base64.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// SHA-256 of arbitrary bytes.
    pub fn digest(data: &[u8]) -> Self {
        Hash(Sha256Hasher::digest(data).into())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&hex32(&self.0)).expect("hex digits are ASCII"))
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_hex32(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// The SHA-256 digest of an artifact, as users write it: 64 hex characters.
///
/// Parsing accepts either case; display and serialization are lowercase.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// Parses exactly 64 hex characters, case-insensitive.
    ///
    /// # Errors
    /// [`Error::InvalidSha256`] for any other length or a non-hex character.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidSha256);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| Error::InvalidSha256)?;
        Ok(Sha256(out))
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Sha256(Sha256Hasher::digest(data).into())
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex32_string(&self.0)
    }
}

impl FromStr for Sha256 {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Sha256::parse(s)
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_hex32(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sha256::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `SHA256(0x00 || entry)`: the hash of a leaf (RFC 6962 §2.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256Hasher::new();
    h.update([0u8]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// `SHA256(0x01 || left || right)`: the hash of an interior node (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 1;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Hash(Sha256Hasher::digest(buf).into())
}

/// The root of the empty tree: `SHA256("")`.
pub fn empty_root() -> Hash {
    Hash::digest(b"")
}

/// The number of leaves in a tree, as the checkpoint states it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct TreeSize(pub u64);

/// The zero-based index of a leaf.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct LeafIndex(pub u64);

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for LeafIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_hex_matches_hex_crate() {
        for seed in 0u8..=255 {
            let h = Hash::digest(&[seed]);
            assert_eq!(h.to_hex(), hex::encode(h.0));
            assert_eq!(h.to_string(), hex::encode(h.0));
            assert_eq!(
                serde_json::to_string(&h).unwrap(),
                format!("\"{}\"", hex::encode(h.0))
            );
            let s = Sha256(h.0);
            assert_eq!(s.to_hex(), hex::encode(h.0));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", hex::encode(h.0))
            );
        }
    }
}

/// OpenAPI schemas of the hex-encoded digests, for the wire types of [`crate::api`].
#[cfg(feature = "openapi")]
mod openapi {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    fn hex64(description: &str) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9a-fA-F]{64}$"))
            .min_length(Some(64))
            .max_length(Some(64))
            .description(Some(description))
            .into()
    }

    impl utoipa::PartialSchema for super::Hash {
        fn schema() -> RefOr<Schema> {
            hex64("A SHA-256 tree hash, 64 lowercase hex characters.")
        }
    }
    impl utoipa::ToSchema for super::Hash {}

    impl utoipa::PartialSchema for super::Sha256 {
        fn schema() -> RefOr<Schema> {
            hex64("An artifact's SHA-256, 64 hex characters (either case).")
        }
    }
    impl utoipa::ToSchema for super::Sha256 {}
}
