//! The exit codes of DESIGN.md §6, shared by `notarium` and `notarium-github` so that every
//! tool and plugin gives the same verdict the same number. [`HELP`] lists them in `--help`.

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
/// The server refused the credentials: no API key, an unknown or revoked one, or one whose
/// role or ledger does not allow the request (HTTP 401 or 403). Not a usage error: the command
/// was right, the key is not.
pub const UNAUTHORIZED: u8 = 7;
/// Usage error.
pub const USAGE: u8 = 64;

/// The exit codes as `notarium --help` and `notarium-github --help` list them.
pub const HELP: &str = "\
Exit codes (with several files the worst, i.e. highest, wins):
  0   trusted (authenticate), or done
  1   untrusted
  2   unknown: never notarized, or not by the signers asked for
  3   unsupported
  4   revoked: the signer's API key was revoked
  5   verification failed: tampering, a bad proof or signature, a rollback or fork
  6   server unreachable, failing (5xx) or rate limiting (429)
  7   unauthorized: no API key, an unknown or revoked one, or one without the role (401, 403)
  64  usage: a wrong flag, argument or request

With --output json the document says the same in exit_code and reason (trusted, untrusted,
unknown, unsupported, revoked, verification_failed, server_unreachable, unauthorized, usage).";

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

/// The code of a client failure. The server failing or refusing for now (5xx, 429) is 6; a
/// refused key (401, 403) is 7; other 4xx answers mean the request is wrong: a usage error.
pub fn for_error(e: &Error) -> u8 {
    match e {
        Error::Tampering(_) => TAMPERING,
        Error::Unreachable { .. } => UNREACHABLE,
        Error::Api { status, .. } if crate::api::is_server_error(*status) || *status == 429 => {
            UNREACHABLE
        }
        Error::Api {
            status: 401 | 403, ..
        } => UNAUTHORIZED,
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
        UNAUTHORIZED => "unauthorized",
        _ => "usage",
    }
}
