//! Helpers shared by the ledger's integration tests.
#![allow(dead_code)]

use std::path::Path;

use notarium_core::{ArtifactRequest, LedgerName, Origin, Sha256};
use notarium_ledger::{Ledger, LedgerOptions, NewEntry};

pub fn options(name: &str) -> LedgerOptions {
    LedgerOptions::new(
        LedgerName::new(name).unwrap(),
        Origin::new(&format!("localhost/notarium/{name}")).unwrap(),
    )
}

pub fn open(dir: &Path) -> Ledger {
    Ledger::open(dir, options("default")).unwrap()
}

pub fn artifact(i: u64, signer: &str) -> NewEntry {
    NewEntry::Artifact {
        request: ArtifactRequest {
            sha256: Sha256::of(&i.to_be_bytes()),
            name: format!("artifact-{i}.tar.gz"),
            size: Some(i),
            kind: None,
            status: None,
            attributes: [("build".to_string(), format!("{}", i % 7))].into(),
            ci: Default::default(),
        },
        signer: signer.to_string(),
        identity: None,
    }
}

pub fn vectors(name: &str) -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/");
    let text = std::fs::read_to_string(format!("{path}{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}
