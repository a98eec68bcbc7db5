//! The exit codes of DESIGN.md §6, shared by `notarium` and `notarium-github` so that every
//! tool and plugin gives the same verdict the same number.

use notarium_core::Status;

use crate::Error;

/// All trusted / success.
pub const OK: u8 = 0;
/// Untrusted.
pub const UNTRUSTED: u8 = 1;
/// Unknown.
pub const UNKNOWN: u8 = 2;
/// Unsupported.
pub const UNSUPPORTED: u8 = 3;
/// Revoked signer.
pub const REVOKED: u8 = 4;
/// Verification failed: tampering, bad proof or signature, rollback.
pub const TAMPERING: u8 = 5;
/// Server unreachable or server error.
pub const UNREACHABLE: u8 = 6;
/// Usage error.
pub const USAGE: u8 = 64;

/// The code of a verified status.
pub fn for_status(s: Status) -> u8 {
    match s {
        Status::Trusted => OK,
        Status::Untrusted => UNTRUSTED,
        Status::Unknown => UNKNOWN,
        Status::Unsupported => UNSUPPORTED,
        Status::Revoked => REVOKED,
    }
}

/// The code of a client failure. The server failing or refusing for now (5xx, 429) is 6;
/// other 4xx answers mean the request or its key is wrong: a usage error.
pub fn for_error(e: &Error) -> u8 {
    match e {
        Error::Tampering(_) => TAMPERING,
        Error::Unreachable { .. } => UNREACHABLE,
        Error::Api { status, .. } if crate::api::is_server_error(*status) || *status == 429 => {
            UNREACHABLE
        }
        Error::Api { .. } | Error::State(_) | Error::Usage(_) => USAGE,
    }
}

/// The machine-readable reason printed with a code.
pub fn reason(code: u8) -> &'static str {
    match code {
        OK => "trusted",
        UNTRUSTED => "untrusted",
        UNKNOWN => "unknown",
        UNSUPPORTED => "unsupported",
        REVOKED => "revoked",
        TAMPERING => "verification_failed",
        UNREACHABLE => "server_unreachable",
        _ => "usage",
    }
}
