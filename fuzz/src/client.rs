//! The CLI's own files: `dir://` manifests, status files (`--save-status`) and the state
//! directory's files (pinned key and latest checkpoint). Receipt files are in
//! [`crate::verified`] and [`crate::text`].

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use notarium_client::manifest::Manifest;
use notarium_client::status::{Offline, StatusFile};
use notarium_client::trust::{LedgerState, StateFile};
use notarium_client::{Client, Verifier};
use notarium_core::{Sha256, UnverifiedCheckpoint};

use crate::verified::resign_answer;
use crate::{signer_for, Input, Resigner};

/// A manifest file: what parses is exactly the text of the manifest it parses to; and a
/// manifest the CLI makes of a directory (paths as the file system gives them) is one that no
/// other directory makes: each file keeps its own line, and the text parses back to the same
/// files.
pub fn manifest(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = Manifest::parse(text) {
            // What is authenticated (the text's hash) is exactly the file given.
            assert_eq!(
                m.text(),
                text,
                "a manifest read in a form it is not written in"
            );
        }
    }
    let mut input = Input::new(data);
    let root = Path::new("/fuzz/dir");
    let mut files: Vec<(PathBuf, Sha256)> = Vec::new();
    for _ in 0..input.byte() % 6 {
        let len = usize::from(input.byte() % 24);
        let name: Vec<u8> = (0..len).map(|_| input.byte()).filter(|&b| b != 0).collect();
        let path = root.join(std::ffi::OsStr::from_bytes(&name));
        if path.parent().is_none() || path == root || !path.starts_with(root) {
            continue;
        }
        files.push((path, Sha256(input.array())));
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    if let Ok(m) = Manifest::of_dir(root, files.iter().cloned()) {
        assert_eq!(
            m.files.len(),
            files.len(),
            "two files of a directory share a manifest line: {files:?} → {m:?}"
        );
        assert_eq!(
            Manifest::parse(&m.text()).ok().as_ref(),
            Some(&m),
            "a directory's manifest reads back as another directory: {files:?}"
        );
    }
}

/// A status file (`authenticate --save-status`), its checkpoints re-signed: offline
/// verification never panics, and what it proves is what the answer says, at a signed time.
pub fn status_file(data: &[u8]) {
    let Ok(mut file) = serde_json::from_slice::<StatusFile>(data) else {
        return;
    };
    let mut signer = Resigner::default();
    for b in &mut file.batches {
        signer.fix(&mut b.checkpoint);
        for r in &mut b.results {
            resign_answer(&mut r.answer, &mut signer);
        }
    }
    let Some(origin) = file.batches.first().and_then(|b| {
        UnverifiedCheckpoint::parse(&b.checkpoint)
            .ok()
            .map(|c| c.claimed().origin.as_str().to_owned())
    }) else {
        return;
    };
    let Some(key) = signer_for(&origin) else {
        return;
    };
    let key = key.verifier();
    let shas: Vec<Sha256> = file
        .batches
        .iter()
        .flat_map(|b| b.results.iter().map(|r| r.sha256))
        .take(8)
        .collect();
    for sha in shas {
        let answer = file
            .batches
            .iter()
            .find_map(|b| b.results.iter().find(|r| r.sha256 == sha))
            .map(|r| r.answer.clone())
            .expect("taken from the file");
        let deciding = answer.receipt.as_ref().and_then(|r| r.verify(&key).ok());
        for receipt in [None, deciding.as_ref()] {
            let outcome = file.verify_offline(&key, &sha, &file.signers, receipt);
            if let Ok(Offline::Proven(p)) = outcome {
                assert_eq!(p.status, answer.status);
                assert_eq!(p.checkpoint.checkpoint().time(), Ok(Some(p.time)));
            }
        }
    }
}

/// The state directory, its server's client and the path of the ledger's state file.
struct StateDir {
    _dir: tempfile::TempDir,
    path: PathBuf,
    dir: PathBuf,
    client: Client,
    runtime: tokio::runtime::Runtime,
}

const STATE_ORIGIN: &str = "fuzz.example/notarium/default";

fn state_dir() -> &'static StateDir {
    static DIR: OnceLock<StateDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let client =
            Client::new("http://127.0.0.1:9/", "default", None).expect("a client for a URL");
        let path = StateFile::open(dir.path(), client.server().as_str(), "default")
            .expect("a fresh state directory")
            .path()
            .to_path_buf();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        StateDir {
            dir: dir.path().to_path_buf(),
            _dir: dir,
            path,
            client,
            runtime,
        }
    })
}

/// A state file, written where the client keeps it (its checkpoint re-signed when it parses):
/// opening the verifier on it gives an error or a state whose checkpoint verified.
pub fn state_file(data: &[u8]) {
    let s = state_dir();
    let mut bytes = data.to_vec();
    if let Ok(mut state) = serde_json::from_slice::<LedgerState>(data) {
        if let Some(c) = &mut state.checkpoint {
            Resigner::default().fix(c);
        }
        bytes = serde_json::to_vec(&state).expect("serialises");
        let again: LedgerState = serde_json::from_slice(&bytes).expect("parses");
        assert_eq!(again, state);
    }
    std::fs::write(&s.path, &bytes).expect("the state file is writable");
    let pinned = signer_for(STATE_ORIGIN).expect("a key name").verifier();
    let opened = s.runtime.block_on(Verifier::open(
        s.client.clone(),
        &s.dir,
        Some(pinned.clone()),
    ));
    if let Ok(v) = opened {
        if let Some(cp) = v.latest() {
            assert_eq!(cp.checkpoint().origin.as_str(), pinned.name());
        }
    }
}
