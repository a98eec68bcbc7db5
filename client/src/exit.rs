//! The exit codes of docs/cli.md, shared by `notarium` and `notarium-github` so that every
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
/// The deciding entry's verified identity does not match the signer policy asked for
/// (`--signer-issuer`, `--signer-repository`, `--signer-workflow`, `--signer-ref`), or it has
/// none (an API-key entry). Its own outcome, not `unknown`: the artifact is notarized, but not
/// by the signer required.
pub const SIGNER_MISMATCH: u8 = 8;
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
  6   server unreachable, failing (5xx) or rate limiting (429); offline, a status proof older
      than --max-status-age or none (reason status_stale)
  7   unauthorized: no API key, an unknown or revoked one, or one without the role (401, 403)
  8   signer mismatch: the deciding entry's verified identity is not the --signer-* asked for
  64  usage: a wrong flag, argument or request

With --output json the document says the same in exit_code and reason (trusted, untrusted,
unknown, unsupported, revoked, verification_failed, server_unreachable, status_stale, unauthorized, signer_mismatch,
usage).";

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
        SIGNER_MISMATCH => "signer_mismatch",
        _ => "usage",
    }
}

/// A bad argument found by a tool (exit 64).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A usage error as an `anyhow::Error`.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// The exit code of a failure: that of its first cause that has one — a client error, a usage
/// error, or an error that `extra` recognises (a tool's own, e.g. a GitHub API error) — else
/// usage.
pub fn code_of(
    e: &anyhow::Error,
    extra: impl Fn(&(dyn std::error::Error + 'static)) -> Option<u8>,
) -> u8 {
    for cause in e.chain() {
        if let Some(ce) = cause.downcast_ref::<Error>() {
            return for_error(ce);
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return USAGE;
        }
        if let Some(c) = extra(cause) {
            return c;
        }
    }
    USAGE
}

/// Parses a tool's command line; a parse failure has printed clap's message and gives the
/// exit code to return (0 for `--help` and `--version`, else usage).
///
/// # Errors
/// The exit code, when the tool should stop.
pub fn parse_args<C: clap::Parser>() -> Result<C, std::process::ExitCode> {
    C::try_parse().map_err(|e| {
        let _ = e.print();
        use clap::error::ErrorKind;
        std::process::ExitCode::from(match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => OK,
            _ => USAGE,
        })
    })
}

/// Ends a tool's run in one place: the code of a success, or the failure printed on stderr
/// (and as `{exit_code, error, reason}` on stdout with `--output json`) with its code.
/// `hint` is printed after a usage error that is the tool's own (not the server's answer).
pub fn finish(
    program: &str,
    json: bool,
    hint: Option<&str>,
    result: anyhow::Result<u8>,
    extra: impl Fn(&(dyn std::error::Error + 'static)) -> Option<u8>,
) -> std::process::ExitCode {
    let e = match result {
        Ok(code) => return std::process::ExitCode::from(code),
        Err(e) => e,
    };
    let code = code_of(&e, extra);
    let what = match code {
        TAMPERING => "VERIFICATION FAILED",
        UNREACHABLE => "server error",
        UNAUTHORIZED => "unauthorized",
        _ => "error",
    };
    eprintln!("{program}: {what}: {e:#}");
    if let Some(hint) = hint {
        if code == USAGE && e.downcast_ref::<Error>().is_none() {
            eprintln!("{hint}");
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({ "exit_code": code, "error": format!("{e:#}"), "reason": reason(code) })
        );
    }
    std::process::ExitCode::from(code)
}
