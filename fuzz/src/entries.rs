//! Entries and canonical JSON (docs/ledger.md), notarization requests, timestamps and ledger
//! names.

use notarium_core::entry::{canonical_bytes, ArtifactEntry, MAX_ENTRY_BYTES};
use notarium_core::{ArtifactRequest, ArtifactStatus, Entry, LedgerName, Timestamp};
use serde_json::Value;

/// Entry bytes as a client receives them, and requests as the server reads them:
/// - canonical JSON round-trips: the canonical bytes of any JSON value parse back to the same
///   value and are their own canonical form;
/// - an accepted entry writes canonical bytes (its own and its JSON value's are the same), and
///   those bytes parse back to it; canonical input is written back byte for byte;
/// - a request that validates makes an entry that round-trips;
/// - timestamps and ledger names render back to what parsed.
pub fn entry(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        if let Ok(c) = canonical_bytes(&v) {
            let back: Value = serde_json::from_slice(&c).expect("canonical bytes are JSON");
            assert_eq!(back, v, "canonical JSON changed the value");
            assert_eq!(canonical_bytes(&back).as_ref(), Ok(&c), "not idempotent");
        }
    }
    if let Ok(e) = Entry::from_bytes(data) {
        match e.to_bytes() {
            Ok(bytes) => {
                assert_eq!(Entry::from_bytes(&bytes).as_ref(), Ok(&e));
                let value = serde_json::to_value(&e).expect("an entry serialises");
                assert_eq!(canonical_bytes(&value).as_ref(), Ok(&bytes));
                let canonical = serde_json::from_slice::<Value>(data)
                    .ok()
                    .and_then(|v| canonical_bytes(&v).ok());
                if canonical.as_deref() == Some(data)
                    && value == serde_json::from_slice::<Value>(data).expect("JSON")
                {
                    assert_eq!(
                        bytes, data,
                        "canonical entry bytes written back differently"
                    );
                }
            }
            // Bytes within the limit can grow past it only by what parsing fills in.
            Err(_) => assert!(data.len() <= MAX_ENTRY_BYTES),
        }
    }
    if let Ok(r) = serde_json::from_slice::<ArtifactRequest>(data) {
        if r.validate().is_ok() {
            let e = Entry::Artifact(ArtifactEntry {
                v: 1,
                ledger: "default".into(),
                sha256: r.sha256,
                name: r.name.clone(),
                kind: r.kind.clone().unwrap_or_else(|| "file".into()),
                size: r.size,
                status: r.status.unwrap_or(ArtifactStatus::Trusted),
                attributes: r.attributes.clone(),
                ci: r.ci.clone(),
                identity: None,
                signer: "k_fuzz".into(),
                time: "2026-01-01T00:00:00.000000Z".into(),
            });
            if let Ok(bytes) = e.to_bytes() {
                assert_eq!(Entry::from_bytes(&bytes).as_ref(), Ok(&e));
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = Timestamp::parse(text) {
            let shown = t.to_string();
            assert_eq!(Timestamp::parse(&shown), Ok(t), "{shown}");
            if text.len() == shown.len() {
                assert_eq!(shown, text, "a full timestamp renders differently");
            }
        }
        if let Ok(n) = LedgerName::new(text) {
            assert_eq!(n.as_str(), text);
        }
    }
}
