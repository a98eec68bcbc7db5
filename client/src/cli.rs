//! The flags that say which ledger to talk to and how, shared by `notarium` and
//! `notarium-github` so both read the same `NOTARIUM_*` variables the same way (docs/cli.md).
//! The API key is read from a file or the environment, never from argv. An empty variable is
//! the same as an unset one, as CI templates write optional inputs that were not given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use notarium_core::VerifierKey;

use crate::api::{ClientOptions, RetryPolicy};
use crate::{ApiKey, Client, Error};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A readable table.
    Text,
    /// One JSON document.
    Json,
}

/// Server, ledger, output, key file, pinned verifier key and state directory.
#[derive(Args, Debug, Clone)]
pub struct LedgerArgs {
    /// Server URL.
    #[arg(
        long,
        global = true,
        env = "NOTARIUM_SERVER",
        default_value = DEFAULT_SERVER,
        value_parser = or_default(DEFAULT_SERVER)
    )]
    pub server: String,
    /// Ledger name.
    #[arg(
        long,
        global = true,
        env = "NOTARIUM_LEDGER",
        default_value = DEFAULT_LEDGER,
        value_parser = or_default(DEFAULT_LEDGER)
    )]
    pub ledger: String,
    /// Output format: text (a readable table) or json (one JSON document).
    #[arg(
        long,
        global = true,
        env = "NOTARIUM_OUTPUT",
        default_value = "text",
        value_parser = output()
    )]
    pub output: Output,
    /// File holding the API key (else NOTARIUM_API_KEY).
    #[arg(long, global = true, env = "NOTARIUM_API_KEY_FILE", value_parser = path_or_empty())]
    pub api_key_file: Option<PathBuf>,
    /// The ledger's verifier key to pin (else the stored one, else trust on first use).
    #[arg(long, global = true, env = "NOTARIUM_VERIFIER_KEY")]
    pub verifier_key: Option<String>,
    /// Where verified checkpoints are kept (default: $XDG_STATE_HOME/notarium).
    #[arg(long, global = true, env = "NOTARIUM_STATE_DIR", value_parser = path_or_empty())]
    pub state_dir: Option<PathBuf>,
    /// A PEM bundle of CA certificates trusted besides the system's roots, for a server whose
    /// certificate comes from an internal CA.
    #[arg(long, global = true, env = "NOTARIUM_CA_FILE", value_parser = path_or_empty())]
    pub ca_file: Option<PathBuf>,
}

/// The server a tool talks to when none is named.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7373";

/// The ledger a tool talks to when none is named.
pub const DEFAULT_LEDGER: &str = "default";

/// A value, or `default` for an empty one.
fn or_default(default: &'static str) -> impl clap::builder::TypedValueParser<Value = String> {
    use clap::builder::TypedValueParser as _;
    clap::builder::StringValueParser::new().map(move |v| {
        if v.trim().is_empty() {
            default.to_owned()
        } else {
            v
        }
    })
}

/// `text` (also for an empty value) or `json`.
fn output() -> impl clap::builder::TypedValueParser<Value = Output> {
    use clap::builder::TypedValueParser as _;
    clap::builder::StringValueParser::new().try_map(|v| match v.trim() {
        "" | "text" => Ok(Output::Text),
        "json" => Ok(Output::Json),
        other => Err(format!(
            "{other:?} is not an output format: use text or json"
        )),
    })
}

/// Paths as given, the empty one included (clap's path parser refuses it): an empty value is
/// then unset ([`given`]).
fn path_or_empty() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser as _;
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}

/// `Some` unless empty (or only whitespace).
fn given<T: AsRef<std::ffi::OsStr> + ?Sized>(v: Option<&T>) -> Option<&T> {
    v.filter(|v| !v.as_ref().to_string_lossy().trim().is_empty())
}

impl LedgerArgs {
    /// The API key: from `--api-key-file`, else `NOTARIUM_API_KEY`, else none.
    ///
    /// # Errors
    /// [`Error::Usage`] when the key file cannot be read.
    pub fn api_key(&self) -> Result<Option<ApiKey>, Error> {
        if let Some(f) = given(self.api_key_file.as_deref()) {
            let s = std::fs::read_to_string(f).map_err(|e| {
                Error::Usage(format!("reading the API key file {}: {e}", f.display()))
            })?;
            return Ok(Some(ApiKey::new(&s)));
        }
        Ok(std::env::var("NOTARIUM_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|k| ApiKey::new(&k)))
    }

    /// The HTTP client for the ledger: the CA bundle of `--ca-file`, the default
    /// [`RetryPolicy`], and each retry said on stderr, prefixed with the tool's name.
    ///
    /// # Errors
    /// [`Error::Usage`] for a bad URL, ledger name, key file or CA bundle.
    pub fn client(&self) -> Result<Client, Error> {
        Client::with_options(&self.server, &self.ledger, self.api_key()?, self.options()?)
    }

    /// How the client connects: the CA bundle, retries told on stderr.
    ///
    /// # Errors
    /// [`Error::Usage`] when the CA bundle cannot be read.
    pub fn options(&self) -> Result<ClientOptions, Error> {
        let ca_pem = given(self.ca_file.as_deref())
            .map(|f| {
                std::fs::read(f)
                    .map_err(|e| Error::Usage(format!("--ca-file {}: {e}", f.display())))
            })
            .transpose()?;
        let program = program_name();
        Ok(ClientOptions {
            ca_pem,
            retry: RetryPolicy::default(),
            on_retry: Some(Arc::new(move |line: &str| eprintln!("{program}: {line}"))),
        })
    }

    /// The pinned verifier key, if one was given.
    ///
    /// # Errors
    /// [`Error::Usage`] for a malformed key.
    pub fn pinned_key(&self) -> Result<Option<VerifierKey>, Error> {
        given(self.verifier_key.as_deref())
            .map(|k| {
                VerifierKey::parse(k.trim())
                    .map_err(|e| Error::Usage(format!("--verifier-key: {e}")))
            })
            .transpose()
    }

    /// The trust state directory.
    pub fn state_dir(&self) -> PathBuf {
        given(self.state_dir.as_deref())
            .map(Path::to_path_buf)
            .unwrap_or_else(crate::trust::default_state_dir)
    }

    /// Whether to print one JSON document.
    pub fn json(&self) -> bool {
        self.output == Output::Json
    }
}

/// The running tool's name (`notarium`, `notarium-github`), for messages.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "notarium".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Tool {
        #[command(flatten)]
        args: LedgerArgs,
    }

    fn parse(argv: &[&str]) -> LedgerArgs {
        Tool::try_parse_from(std::iter::once("tool").chain(argv.iter().copied()))
            .expect("parses")
            .args
    }

    #[test]
    fn empty_values_count_as_unset() {
        let a = parse(&["--server", "", "--ledger", " ", "--output", ""]);
        assert_eq!(
            (a.server.as_str(), a.ledger.as_str(), a.output),
            (DEFAULT_SERVER, DEFAULT_LEDGER, Output::Text)
        );
        let a = parse(&["--output", "json", "--ledger", "releases"]);
        assert_eq!((a.output, a.ledger.as_str()), (Output::Json, "releases"));
        assert!(Tool::try_parse_from(["tool", "--output", "xml"]).is_err());
        let a = parse(&[
            "--verifier-key",
            "",
            "--api-key-file",
            " ",
            "--state-dir",
            "",
            "--ca-file",
            "",
        ]);
        assert_eq!(a.pinned_key().unwrap(), None);
        assert!(a.options().unwrap().ca_pem.is_none());
        assert_eq!(a.state_dir(), crate::trust::default_state_dir());
        // The key file is skipped; NOTARIUM_API_KEY may still give one.
        assert!(a.api_key().is_ok());
    }

    #[test]
    fn a_bad_ca_file_or_key_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let a = parse(&["--ca-file", missing.to_str().unwrap()]);
        assert!(matches!(a.options(), Err(Error::Usage(m)) if m.contains("missing.pem")));
        let a = parse(&["--verifier-key", "not a key"]);
        assert!(matches!(a.pinned_key(), Err(Error::Usage(_))));
        let pem = dir.path().join("ca.pem");
        std::fs::write(&pem, "no certificate here\n").unwrap();
        let a = parse(&["--ca-file", pem.to_str().unwrap()]);
        assert!(matches!(a.client(), Err(Error::Usage(m)) if m.contains("no PEM certificate")));
    }
}
