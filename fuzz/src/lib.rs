//! The checks behind Notarium's fuzz targets (`docs/fuzzing.md`): one function per parser that
//! reads what an attacker can write, each taking arbitrary bytes and panicking only when a
//! property breaks. `fuzz/targets/fuzz_targets/*.rs` hand them to libFuzzer; `tests/replay.rs` runs
//! them on every committed corpus and regression input in the ordinary `cargo test`, so a fixed
//! finding stays fixed without a fuzzer installed.
//!
//! What is checked is not only "no panic" but what a verifier promises:
//! - re-serialising an accepted note, checkpoint, key, tile path, tlog-proof, index proof or
//!   entry gives the same bytes (parse ∘ render = id), and rendering then parsing gives the
//!   same value (render ∘ parse = id);
//! - an accepted inclusion or consistency proof recomputes the signed roots with the naive
//!   RFC 6962 reference (`core/tests/common/rfc6962.rs`), and core and the reference accept
//!   exactly the same mutated proofs;
//! - an accepted status-index proof says what the naive map (`core/tests/common/mod.rs`) holds
//!   for its key, whatever the proof was mutated into;
//! - the server's router answers any request without a 5xx or a panic, in the error schema.
//!
//! Where a target needs a signed checkpoint it plays a server that holds the signing key: it
//! re-signs every checkpoint body it finds with [`signer_for`] (Ed25519 is deterministic, so
//! the committed vectors, signed by the same key, re-sign to the same bytes). The fuzzer then
//! explores what a compromised or impersonated server could send, beyond the signature.
//!
//! Out of scope: the HTTP client and TLS (their parsers are reqwest's and rustls'), the
//! dashboard's JavaScript (held to these corpora by `tests/verify_js.rs`).

mod client;
mod entries;
mod proofs;
mod server;
mod text;
mod verified;

#[path = "../../core/tests/common/mod.rs"]
mod index_reference;
#[path = "../../core/tests/common/rfc6962.rs"]
mod rfc6962;

use std::collections::HashMap;

use notarium_core::checkpoint::Checkpoint;
use notarium_core::note::Note;
use notarium_core::SignerKey;

pub use client::{manifest, state_file, status_file};
pub use entries::entry;
pub use proofs::{index_map, index_proof, merkle};
pub use server::server_request;
pub use text::{checkpoint, keys, note, tiles, tlog_proof};
pub use verified::{receipt, report, status_answer, status_outcome};

/// A fuzz target's check: any bytes in, a panic only when a property breaks.
pub type Check = fn(&[u8]);

/// Every target by name, as `fuzz/targets/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` call it.
pub const TARGETS: &[(&str, Check)] = &[
    ("note", note),
    ("checkpoint", checkpoint),
    ("keys", keys),
    ("tiles", tiles),
    ("tlog_proof", tlog_proof),
    ("receipt", receipt),
    ("merkle", merkle),
    ("index_proof", index_proof),
    ("index_map", index_map),
    ("status_answer", status_answer),
    ("entry", entry),
    ("report", report),
    ("manifest", manifest),
    ("status_file", status_file),
    ("state_file", state_file),
    ("server_request", server_request),
];

/// The seed of every key a target signs with: the status answer vectors' key
/// (`server/tests/status_answers.rs`), so that their checkpoints re-sign to the same bytes.
pub const SEED: [u8; 32] = [7; 32];

/// The key a server of `origin` signs with in these targets, if `origin` can name a key.
pub fn signer_for(origin: &str) -> Option<SignerKey> {
    SignerKey::from_seed(origin, SEED).ok()
}

/// `note` with its checkpoint body signed again by [`signer_for`] its origin, or `None` when
/// it is not a signed checkpoint note (then it stays as it is, and cannot verify).
pub fn resign(note: &str) -> Option<String> {
    let parsed = Note::parse(note).ok()?;
    let body = Checkpoint::parse_body(&parsed.text).ok()?;
    signer_for(body.origin.as_str())?
        .sign_note(&parsed.text)
        .ok()
}

/// Re-signs notes, each distinct note once (a status answer repeats its checkpoint in every
/// receipt).
#[derive(Default)]
pub struct Resigner(HashMap<String, Option<String>>);

impl Resigner {
    /// Replaces `note` with its re-signed form, when it has one.
    pub fn fix(&mut self, note: &mut String) {
        let signed = self
            .0
            .entry(note.clone())
            .or_insert_with(|| resign(note))
            .clone();
        if let Some(s) = signed {
            *note = s;
        }
    }
}

/// A cursor over fuzz input for the structured targets: reads past the end give zeros, so
/// every input means something.
pub struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input(data)
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `N` bytes, zero-filled past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.byte())
    }

    /// The next two bytes as a big-endian number.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }

    /// The next eight bytes as a big-endian number.
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}
