//! The text formats of C2SP: signed notes, checkpoints (with their `notarium-index/v1` and
//! `notarium-time/v1` lines), verifier and signer keys, tile paths and entry bundles,
//! tlog-proofs.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use notarium_core::checkpoint::{Checkpoint, INDEX_LINE_PREFIX, TIME_LINE_PREFIX};
use notarium_core::note::{Note, SignerKey, VerifierKey};
use notarium_core::tiles::{decode_bundle, encode_bundle, tiles_at_level, TileKind, TilePath};
use notarium_core::tlog_proof::TlogProof;
use notarium_core::UnverifiedCheckpoint;

use crate::{signer_for, Input};

/// Keys whose seeds are public test vectors (`../shared/vectors/signed_note_vectors.json`, Go's
/// `sumdb/note` tests) and the vectors' own key: a note they verify must carry exactly the
/// signature they make (Ed25519 is deterministic), or a signature was forged or mauled.
const KNOWN_SIGNERS: &[&str] =
    &["PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"];

fn known_signers() -> Vec<SignerKey> {
    let mut keys: Vec<SignerKey> = KNOWN_SIGNERS
        .iter()
        .map(|t| SignerKey::parse(t).expect("the vectors' keys parse"))
        .collect();
    keys.extend(signer_for("vectors.example/notarium/default"));
    keys
}

/// A signed note: the parse is exact (re-serialising gives the input), its checkpoint body too,
/// and a signature that verifies under a key we hold is the one that key makes.
pub fn note(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(note) = Note::parse(text) else {
        return;
    };
    let mut again = note.text.clone();
    again.push('\n');
    for s in &note.signatures {
        let mut payload = s.id.to_be_bytes().to_vec();
        payload.extend_from_slice(&s.signature);
        again.push_str(&format!("\u{2014} {} {}\n", s.name, B64.encode(payload)));
    }
    assert_eq!(again, text, "a note re-serialises to other bytes");

    let signers = known_signers();
    let verifiers: Vec<VerifierKey> = signers.iter().map(SignerKey::verifier).collect();
    if let Ok(keys) = note.verify(&verifiers) {
        for k in keys {
            let signer = signers
                .iter()
                .find(|s| s.verifier() == *k)
                .expect("a verifier of ours");
            let line = signer.signature_line(&note.text);
            assert!(
                again.contains(&format!("{line}\n")),
                "{} verified a signature it did not make",
                k.name()
            );
        }
    }
    if let Ok(c) = Checkpoint::parse_body(&note.text) {
        assert_eq!(
            c.to_text(),
            note.text,
            "a checkpoint body re-renders differently"
        );
        let u = UnverifiedCheckpoint::parse(text).expect("note and body parse");
        assert_eq!(u.claimed(), &c);
    }
}

/// A checkpoint body, extension lines included: rendering gives the input; the index and time
/// lines are read only in their one canonical form and written back as read; signing the body
/// gives a note that parses and verifies to the same checkpoint.
pub fn checkpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Checkpoint::parse_body(text) else {
        return;
    };
    assert_eq!(
        c.to_text(),
        text,
        "a checkpoint body re-renders differently"
    );
    let index_lines: Vec<&String> = c
        .extensions
        .iter()
        .filter(|l| l.starts_with("notarium-index/"))
        .collect();
    if let Ok(Some(root)) = c.index_root() {
        assert_eq!(
            index_lines,
            [&format!("{INDEX_LINE_PREFIX}{}", root.to_base64())],
            "an index root read from a line that is not its canonical form"
        );
    }
    let time_lines: Vec<&String> = c
        .extensions
        .iter()
        .filter(|l| l.starts_with("notarium-time/"))
        .collect();
    if let Ok(Some(t)) = c.time() {
        assert_eq!(
            time_lines,
            [&format!("{TIME_LINE_PREFIX}{t}")],
            "a time read from a line that is not its canonical form"
        );
    }
    // Setting the lines makes them read back, whatever was there before.
    let mut set = c.clone();
    set.set_time(1_767_225_600);
    set.set_index_root(&c.root);
    assert_eq!(set.time(), Ok(Some(1_767_225_600)));
    assert_eq!(set.index_root(), Ok(Some(c.root)));
    assert_eq!(Checkpoint::parse_body(&set.to_text()).as_ref(), Ok(&set));

    let Some(key) = signer_for(c.origin.as_str()) else {
        return;
    };
    let Ok(signed) = c.sign(&key) else {
        // Only a body that no note can carry (a control character in an extension line).
        assert!(text.chars().any(|ch| ch != '\n' && ch.is_control()));
        return;
    };
    let verified = UnverifiedCheckpoint::parse(signed.note())
        .expect("a signed checkpoint parses")
        .verify(&key.verifier())
        .expect("a signed checkpoint verifies");
    assert_eq!(verified.checkpoint(), &c);
    assert_eq!(verified.note(), signed.note());
    // Any other key (another seed, same name) must refuse it.
    let other = SignerKey::from_seed(c.origin.as_str(), [8; 32]).expect("same name");
    assert!(UnverifiedCheckpoint::parse(signed.note())
        .expect("parses")
        .verify(&other.verifier())
        .is_err());
}

/// Verifier and signer key texts: an accepted key renders to the input (up to the case of its
/// hex id and surrounding whitespace) and parses back to itself; a signer key signs what its
/// verifier accepts.
pub fn keys(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = VerifierKey::parse(text) {
        let shown = k.to_string();
        assert_eq!(VerifierKey::parse(&shown).as_ref(), Ok(&k));
        let given: Vec<&str> = text.trim().splitn(3, '+').collect();
        let rendered: Vec<&str> = shown.splitn(3, '+').collect();
        assert_eq!(given[0], rendered[0], "name");
        assert_eq!(given[1].to_ascii_lowercase(), rendered[1], "key id");
        assert_eq!(given[2], rendered[2], "key bytes are not canonical base64");
    }
    if let Ok(s) = SignerKey::parse(text) {
        let shown = s.to_text();
        let again = SignerKey::parse(&shown).expect("a rendered signer key parses");
        assert_eq!(again.verifier(), s.verifier());
        let given = text.trim().strip_prefix("PRIVATE+KEY+").expect("prefix");
        let rendered = shown.strip_prefix("PRIVATE+KEY+").expect("prefix");
        let (g, r): (Vec<&str>, Vec<&str>) = (
            given.splitn(3, '+').collect(),
            rendered.splitn(3, '+').collect(),
        );
        assert_eq!(g[0], r[0], "name");
        assert_eq!(g[1].to_ascii_lowercase(), r[1], "key id");
        assert_eq!(g[2], r[2], "seed is not canonical base64");
        let signed = s.sign_note("a note\n").expect("a valid note text");
        let note = Note::parse(&signed).expect("a signed note parses");
        assert_eq!(note.verify(&[s.verifier()]).map(|v| v.len()), Ok(1));
    }
}

/// Tile paths and entry bundles: parse ∘ render = id on what parses, render ∘ parse = id on
/// every tile address; a decoded bundle encodes back to its bytes.
pub fn tiles(data: &[u8]) {
    if let Ok(path) = std::str::from_utf8(data) {
        if let Ok(t) = TilePath::parse(path) {
            assert_eq!(t.to_path(), path, "a tile path re-renders differently");
        }
    }
    let mut input = Input::new(data);
    let level = input.byte();
    let t = TilePath {
        kind: if level & 0x80 != 0 {
            TileKind::Entries
        } else {
            TileKind::Hashes(level % 64)
        },
        index: input.u64(),
        width: input.u16() % 256 + 1,
    };
    assert_eq!(TilePath::parse(&t.to_path()), Ok(t), "{}", t.to_path());
    let size = input.u64();
    let (full, partial) = tiles_at_level(size, level % 64);
    let hashes = size.checked_shr(8 * u32::from(level % 64)).unwrap_or(0);
    assert_eq!(full * 256 + u64::from(partial), hashes);

    if let Ok(entries) = decode_bundle(data) {
        assert_eq!(encode_bundle(entries.iter().copied()).as_deref(), Ok(data));
    }
}

/// A C2SP tlog-proof: parse ∘ render = id, render ∘ parse = id; as a receipt file (the CLI's
/// `.tlog-proof`), its proof must verify as a receipt does.
pub fn tlog_proof(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = TlogProof::parse(text) else {
        return;
    };
    let rendered = p.render();
    assert_eq!(rendered, text, "a tlog-proof re-renders differently");
    assert_eq!(TlogProof::parse(&rendered).as_ref(), Ok(&p));
    if let Ok(r) = notarium_client::receipts::parse_receipt(text) {
        crate::verified::check_receipt(r);
    }
}
