//! The client's memory of each ledger: its pinned verifier key and the latest checkpoint it
//! verified, one JSON file per server and ledger in the state directory. Writes are atomic
//! (temporary file, fsync, rename) and a lock file keeps concurrent runs apart.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// What is remembered about one ledger.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerState {
    /// The server URL the state belongs to.
    pub server: String,
    /// The ledger name.
    pub ledger: String,
    /// The verifier key text pinned for this ledger.
    pub verifier_key: Option<String>,
    /// The latest verified signed checkpoint.
    pub checkpoint: Option<String>,
}

/// The state file of one server+ledger, locked for as long as this value lives.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    _lock: File,
    /// The state as read.
    pub state: LedgerState,
}

/// The default state directory: `$NOTARIUM_STATE_DIR`, else `$XDG_STATE_HOME/notarium`, else
/// `~/.local/state/notarium`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("NOTARIUM_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("notarium");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/state/notarium")
}

/// A file-system-safe name for a server URL: `http://127.0.0.1:7373/` → `http_127.0.0.1_7373`.
fn server_dir_name(server: &str) -> String {
    let s: String = server
        .trim_end_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.replace("___", "_")
}

impl StateFile {
    /// Opens (creating if needed) and locks the state of `server`/`ledger` under `dir`.
    ///
    /// # Errors
    /// [`Error::State`] when the directory or file cannot be used or parsed.
    pub fn open(dir: &Path, server: &str, ledger: &str) -> Result<Self, Error> {
        let sub = dir.join(server_dir_name(server));
        fs::create_dir_all(&sub).map_err(|e| Error::State(format!("{}: {e}", sub.display())))?;
        let path = sub.join(format!("{ledger}.json"));
        let lock_path = sub.join(format!("{ledger}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::State(format!("{}: {e}", lock_path.display())))?;
        lock.lock()
            .map_err(|e| Error::State(format!("locking {}: {e}", lock_path.display())))?;
        let state = match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                Error::State(format!(
                    "{} is not a Notarium state file: {e}",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LedgerState {
                server: server.to_owned(),
                ledger: ledger.to_owned(),
                ..LedgerState::default()
            },
            Err(e) => return Err(Error::State(format!("{}: {e}", path.display()))),
        };
        Ok(StateFile {
            path,
            _lock: lock,
            state,
        })
    }

    /// Where the state lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Atomically replaces the stored state.
    ///
    /// # Errors
    /// [`Error::State`] on any file-system failure (the old state is then intact).
    pub fn save(&mut self, state: LedgerState) -> Result<(), Error> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&state).expect("state serializes");
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            if let Some(parent) = self.path.parent() {
                File::open(parent)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| Error::State(format!("saving {}: {e}", self.path.display())))?;
        self.state = state;
        Ok(())
    }
}
