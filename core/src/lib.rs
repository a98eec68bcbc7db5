//! Notarium's core: the verifiable-ledger primitives shared by the server and the client.
//!
//! In scope: RFC 6962 hashing and Merkle proofs ([`merkle`], RFC 6962 §2.1, RFC 9162 §2.1.3–4);
//! C2SP signed notes with Ed25519 ([`note`]); C2SP tlog-checkpoint ([`checkpoint`]); C2SP
//! tlog-tiles paths and entry bundles ([`tiles`]); C2SP tlog-proof ([`tlog_proof`]); the entry
//! types of docs/ledger.md with canonical JSON ([`entry`]); receipts ([`receipt`]); audit reports
//! ([`report`]); the status index, a verifiable map from each artifact and signer to the entries
//! about it, committed to by every checkpoint ([`index`], `docs/status-index.md`).
//!
//! Out of scope, on purpose: any I/O (files, network, clocks, randomness), storage and HTTP.
//! Both `notariumd` and `notarium` verify with this crate, and `../shared/vectors` pins it.

#![forbid(unsafe_code)]

pub mod api;
pub mod checkpoint;
pub mod entry;
pub mod hash;
pub mod index;
pub mod merkle;
pub mod name;
pub mod note;
pub mod policy;
pub mod receipt;
pub mod report;
pub mod status;
pub mod tiles;
pub mod time;
pub mod tlog_proof;

pub use checkpoint::{Checkpoint, Origin, SignedCheckpoint, UnverifiedCheckpoint};
pub use entry::{
    ArtifactRequest, ArtifactStatus, Entry, EntryTemplate, KeyAction, LeafPrefix, Role, Status,
    VerifiedIdentity,
};
pub use hash::{leaf_hash, node_hash, Hash, LeafIndex, Sha256, TreeSize};
pub use name::LedgerName;
pub use note::{SignerKey, VerifierKey};
pub use policy::SignerPolicy;
pub use receipt::{Receipt, VerifiedReceipt};
pub use report::{AuditReport, ReportRange, ReportSummary, VerifiedReport};
pub use time::Timestamp;

/// Everything that can go wrong in `core`. No variant carries I/O: callers add their own.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A hash was not exactly 32 bytes.
    #[error("a hash must be 32 bytes, got {0}")]
    HashLength(usize),
    /// Not hexadecimal.
    #[error("not a hex string")]
    InvalidHex,
    /// Not standard base64.
    #[error("not standard base64")]
    InvalidBase64,
    /// An artifact SHA-256 that is not 64 hex characters.
    #[error("sha256 must be 64 hex characters")]
    InvalidSha256,
    /// A leaf index at or past the tree size.
    #[error("index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof asked from a larger to a smaller tree.
    #[error("size1 ({size1}) must not exceed size2 ({size2})")]
    InvalidSizes {
        /// First size.
        size1: u64,
        /// Second size.
        size2: u64,
    },
    /// A Merkle proof that does not verify.
    #[error("invalid proof: {0}")]
    InvalidProof(&'static str),
    /// A malformed key text or name.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A malformed signed note.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A signature by a known key that does not verify.
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    /// No signature by any known key.
    #[error("no signature by a known key")]
    UnknownSigner,
    /// A malformed checkpoint body.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A checkpoint from another log.
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    WrongOrigin {
        /// The pinned origin.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// An invalid origin string.
    #[error("invalid origin {0:?}")]
    InvalidOrigin(String),
    /// A malformed tile path.
    #[error("invalid tile path: {0}")]
    InvalidTilePath(&'static str),
    /// A truncated entry bundle.
    #[error("malformed entry bundle")]
    MalformedBundle,
    /// A malformed tlog-proof.
    #[error("malformed tlog-proof: {0}")]
    MalformedProof(&'static str),
    /// An entry over the size limit.
    #[error("entry of {0} bytes exceeds the limit")]
    EntryTooLarge(usize),
    /// Entry bytes that are not a valid entry.
    #[error("malformed entry: {0}")]
    MalformedEntry(String),
    /// A request field outside its limits.
    #[error("invalid {0}: {1}")]
    InvalidField(&'static str, String),
    /// A malformed timestamp.
    #[error("invalid time {0:?}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.ffffff]Z")]
    InvalidTime(String),
    /// Parts of a receipt that do not agree with each other.
    #[error("receipt does not verify: {0}")]
    ReceiptMismatch(&'static str),
    /// An audit report whose parts do not agree with each other.
    #[error("audit report does not verify: {0}")]
    InvalidReport(String),
    /// A status answer whose proofs do not give the status it claims.
    #[error("status answer does not verify: {0}")]
    InvalidStatus(String),
    /// A status-index proof that is malformed, not canonical, or does not verify.
    #[error("invalid index proof: {0}")]
    InvalidIndexProof(&'static str),
    /// A checkpoint that carries no `notarium-index/v1` line where one is required.
    #[error("the checkpoint commits to no status index")]
    NoIndexCommitment,
    /// Stored index nodes that are missing, malformed, or break the index's invariants.
    #[error("corrupt status index: {0}")]
    CorruptIndex(&'static str),
    /// A batch of index updates that the index refuses.
    #[error("invalid index update: {0}")]
    InvalidIndexUpdate(&'static str),
}
