//! Notarium's client: a typed HTTP client for the API of docs/http-api.md ([`api::Client`]) and a
//! [`verify::Verifier`] that trusts nothing the server says without a proof (docs/verification.md),
//! remembering the latest verified checkpoint per ledger ([`trust`]).
//!
//! Out of scope: the CLI's presentation (in `src/bin/notarium`), and anything a proof cannot
//! show — a server can still refuse to answer or claim `unknown`; it cannot make a client
//! believe a rewritten, forked or rolled-back ledger.

#![forbid(unsafe_code)]

pub mod api;
pub mod ci;
pub mod cli;
pub mod exit;
pub mod flows;
pub mod identity;
pub mod images;
pub mod manifest;
pub mod oci;
pub mod receipts;
pub mod results;
pub mod status;
pub mod trust;
pub mod verify;

pub use api::{ApiKey, Client};
pub use flows::{Audited, Found, Notarized};
pub use verify::{KeySource, Verdict, Verifier};

/// What can go wrong, by what the user should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server's answers do not verify: a rewritten, forked or rolled-back ledger, a bad
    /// proof or signature, or an entry that is not what was asked (exit 5).
    #[error("verification failed: {0}")]
    Tampering(String),
    /// The server could not be reached (exit 6).
    #[error("cannot reach {url}: {cause}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// Why.
        cause: String,
    },
    /// The server answered with an error.
    #[error("{url}: {status} {code}: {message}")]
    Api {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The local trust state cannot be used.
    #[error("state: {0}")]
    State(String),
    /// A bad argument (exit 64).
    #[error("{0}")]
    Usage(String),
}
