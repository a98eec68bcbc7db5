//! The flags that say which ledger to talk to and how, shared by `notarium` and
//! `notarium-github` so both read the same `NOTARIUM_*` variables the same way (docs/cli.md).
//! The API key is read from a file or the environment, never from argv.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use notarium_core::VerifierKey;

use crate::{ApiKey, Client, Error};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
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
        default_value = "http://127.0.0.1:7373"
    )]
    pub server: String,
    /// Ledger name.
    #[arg(
        long,
        global = true,
        env = "NOTARIUM_LEDGER",
        default_value = "default"
    )]
    pub ledger: String,
    /// Output format.
    #[arg(
        long,
        global = true,
        env = "NOTARIUM_OUTPUT",
        value_enum,
        default_value = "text"
    )]
    pub output: Output,
    /// File holding the API key (else NOTARIUM_API_KEY).
    #[arg(long, global = true, env = "NOTARIUM_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// The ledger's verifier key to pin (else the stored one, else trust on first use).
    #[arg(long, global = true, env = "NOTARIUM_VERIFIER_KEY")]
    pub verifier_key: Option<String>,
    /// Where verified checkpoints are kept (default: $XDG_STATE_HOME/notarium).
    #[arg(long, global = true, env = "NOTARIUM_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

impl LedgerArgs {
    /// The API key: from `--api-key-file`, else `NOTARIUM_API_KEY`, else none.
    ///
    /// # Errors
    /// [`Error::Usage`] when the key file cannot be read.
    pub fn api_key(&self) -> Result<Option<ApiKey>, Error> {
        if let Some(f) = &self.api_key_file {
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

    /// The HTTP client for the ledger.
    ///
    /// # Errors
    /// [`Error::Usage`] for a bad URL, ledger name or key file.
    pub fn client(&self) -> Result<Client, Error> {
        Client::new(&self.server, &self.ledger, self.api_key()?)
    }

    /// The pinned verifier key, if one was given.
    ///
    /// # Errors
    /// [`Error::Usage`] for a malformed key.
    pub fn pinned_key(&self) -> Result<Option<VerifierKey>, Error> {
        self.verifier_key
            .as_deref()
            .map(|k| {
                VerifierKey::parse(k).map_err(|e| Error::Usage(format!("--verifier-key: {e}")))
            })
            .transpose()
    }

    /// The trust state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(crate::trust::default_state_dir)
    }

    /// Whether to print one JSON document.
    pub fn json(&self) -> bool {
        self.output == Output::Json
    }
}
