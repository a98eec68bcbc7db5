//! Interoperability: appending the 15 entries of Tessera's test log with its published test
//! key and origin reproduces its checkpoints, level-0 tile and entry bundle byte for byte.

mod common;

use notarium_core::{LedgerName, Origin, SignerKey};
use notarium_ledger::{Ledger, LedgerOptions, NewEntry};

#[test]
fn reproduces_tessera_log_byte_for_byte() {
    let v = common::vectors("tessera_tiled_log_15_entries.json");
    let key = SignerKey::parse(v["signer_key_skey_TEST_ONLY"].as_str().unwrap()).unwrap();
    let mut opts = LedgerOptions::new(
        LedgerName::new("testdata").unwrap(),
        Origin::new(v["log_origin"].as_str().unwrap()).unwrap(),
    );
    opts.signer = Some(key);
    // A plain C2SP log, as Tessera's: no status index line in its checkpoints.
    opts.status_index = false;
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), opts).unwrap();
    assert_eq!(
        ledger.verifier_key().to_string(),
        v["verifier_key_vkey"].as_str().unwrap()
    );

    let checkpoints = v["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), 16);
    assert_eq!(
        ledger.checkpoint().note(),
        checkpoints[0]["signed_note"].as_str().unwrap()
    );
    let entries = v["entries_ascii"].as_array().unwrap();
    assert_eq!(entries.len(), 15);
    for (i, word) in entries.iter().enumerate() {
        let size = i + 1;
        ledger
            .append(vec![NewEntry::Opaque(
                word.as_str().unwrap().as_bytes().to_vec(),
            )])
            .unwrap();
        assert_eq!(
            ledger.checkpoint().note(),
            checkpoints[size]["signed_note"].as_str().unwrap(),
            "checkpoint {size}"
        );
        let tile = ledger.tile(0, 0, size as u16).unwrap();
        assert_eq!(
            hex::encode(tile),
            v["level0_partial_tiles_hex"][format!("tile/0/000.p/{size}")]
                .as_str()
                .unwrap(),
            "tile at size {size}"
        );
        let bundle = ledger.entry_bundle(0, size as u16).unwrap();
        assert_eq!(
            hex::encode(bundle),
            v["entry_bundles_hex"][format!("tile/entries/000.p/{size}")]
                .as_str()
                .unwrap(),
            "bundle at size {size}"
        );
    }
    // Partial tiles stay available for every size that has a checkpoint.
    for size in 1..=15u16 {
        let tile = ledger.tile(0, 0, size).unwrap();
        assert_eq!(
            hex::encode(tile),
            v["level0_partial_tiles_hex"][format!("tile/0/000.p/{size}")]
                .as_str()
                .unwrap()
        );
        assert!(ledger.checkpoint_at(u64::from(size)).unwrap().is_some());
    }
}
