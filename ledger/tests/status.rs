//! Status answers against a naive model: random sequences of notarize / untrust / unsupport /
//! key creation and revocation, in random batches. After every batch, every answer — for every
//! hash, with and without signer filters — verifies with `core::status::verify_status` and
//! gives exactly the status the model gives; every history proof holds exactly the model's
//! entries; and every mutated answer (a proof dropped or changed, an older entry shown, a
//! revocation hidden, an unknown claimed) is rejected. Both tests run on both stores.

mod common;

use std::collections::HashMap;

use notarium_core::api::Authentication;
use notarium_core::index::{IndexAnswer, IndexKey};
use notarium_core::status::verify_status;
use notarium_core::{
    ArtifactRequest, ArtifactStatus, Role, Sha256, SignedCheckpoint, Status, UnverifiedCheckpoint,
};
use notarium_ledger::{Ledger, NewEntry};

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Model {
    /// Per entry index: (hash, status, signer) for artifact entries.
    artifacts: Vec<(u64, Sha256, ArtifactStatus, String)>,
    revoked: HashMap<String, u64>,
}

impl Model {
    fn status(&self, sha: &Sha256, signers: &[String]) -> Status {
        let Some((_, _, status, signer)) = self
            .artifacts
            .iter()
            .rev()
            .find(|(_, h, _, s)| h == sha && (signers.is_empty() || signers.contains(s)))
        else {
            return Status::Unknown;
        };
        if self.revoked.contains_key(signer) {
            Status::Revoked
        } else {
            Status::from(*status)
        }
    }

    fn history(&self, sha: &Sha256) -> Vec<u64> {
        self.artifacts
            .iter()
            .filter(|(_, h, _, _)| h == sha)
            .map(|(i, _, _, _)| *i)
            .collect()
    }
}

fn checkpoint_of(ledger: &Ledger, ans: &Authentication) -> SignedCheckpoint {
    UnverifiedCheckpoint::parse(ans.checkpoint.as_deref().expect("a checkpoint"))
        .unwrap()
        .verify(ledger.verifier_key())
        .unwrap()
}

fn mutations(
    ans: &Authentication,
    older: Option<&notarium_core::Receipt>,
) -> Vec<(&'static str, Authentication)> {
    let mut out = Vec::new();
    let mut a = ans.clone();
    a.proof = None;
    out.push(("no proof", a));
    let mut a = ans.clone();
    if let Some(p) = &mut a.proof {
        if let Some(first) = p.index.siblings.first_mut() {
            first.0[0] ^= 1;
            out.push(("a sibling changed", a));
        }
    }
    if ans.status != Status::Unknown {
        let mut a = ans.clone();
        a.status = Status::Unknown;
        a.receipt = None;
        a.revocation = None;
        out.push(("unknown claimed", a));
    }
    if ans.status == Status::Revoked {
        let mut a = ans.clone();
        a.status = Status::Trusted;
        a.revocation = None;
        out.push(("revocation hidden", a));
    }
    // (With a signer filter the older entry may be the deciding one: then it is no lie.)
    if let Some(older) = older.filter(|o| ans.receipt.as_ref().is_none_or(|r| r.index != o.index)) {
        let mut a = ans.clone();
        a.receipt = Some(older.clone());
        out.push(("an older entry shown as the latest", a));
    }
    for s in [
        Status::Trusted,
        Status::Untrusted,
        Status::Unsupported,
        Status::Revoked,
    ] {
        if s != ans.status && ans.status != Status::Unknown {
            let mut a = ans.clone();
            a.status = s;
            out.push(("another status claimed", a));
        }
    }
    out
}

fn every_status_answer_is_proven_and_every_mutation_rejected(store: &common::Store) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = store.open(dir.path());
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut model = Model::default();
    let hashes: Vec<Sha256> = (0..8u64).map(|i| Sha256::of(&i.to_le_bytes())).collect();
    let keys: Vec<String> = (0..4).map(|i| format!("k_{i}")).collect();
    for (i, id) in keys.iter().enumerate() {
        ledger
            .append(vec![NewEntry::KeyCreated {
                id: id.clone(),
                name: id.clone(),
                role: Role::Write,
                signer: "admin".into(),
                credential: [i as u8 + 1; 32],
            }])
            .unwrap();
    }
    let mut size = ledger.size();
    let mut checked = 0usize;
    let mut rejected = 0usize;
    for round in 0..40 {
        let batch = 1 + rng.below(6) as usize;
        let mut entries = Vec::new();
        let mut pending = Vec::new();
        for _ in 0..batch {
            if rng.below(12) == 0 {
                let live: Vec<&String> = keys
                    .iter()
                    .filter(|k| !model.revoked.contains_key(*k))
                    .collect();
                if live.len() > 1 && !pending.iter().any(|p: &(Option<String>, _)| p.0.is_some()) {
                    let id = live[rng.below(live.len() as u64) as usize].clone();
                    entries.push(NewEntry::KeyRevoked {
                        id: id.clone(),
                        signer: "admin".into(),
                    });
                    pending.push((Some(id), None));
                    continue;
                }
            }
            let sha = hashes[rng.below(hashes.len() as u64) as usize];
            let status = [
                ArtifactStatus::Trusted,
                ArtifactStatus::Trusted,
                ArtifactStatus::Untrusted,
                ArtifactStatus::Unsupported,
            ][rng.below(4) as usize];
            let live: Vec<&String> = keys
                .iter()
                .filter(|k| !model.revoked.contains_key(*k))
                .collect();
            let signer = if rng.below(5) == 0 {
                "admin".to_owned()
            } else {
                live[rng.below(live.len() as u64) as usize].clone()
            };
            entries.push(NewEntry::Artifact {
                request: ArtifactRequest {
                    sha256: sha,
                    name: format!("artifact-{round}"),
                    size: None,
                    kind: None,
                    status: Some(status),
                    attributes: Default::default(),
                    ci: Default::default(),
                },
                signer: signer.clone(),
                identity: None,
            });
            pending.push((None, Some((sha, status, signer))));
        }
        ledger.append(entries).unwrap();
        for (offset, (revoked, artifact)) in pending.into_iter().enumerate() {
            let index = size + offset as u64;
            if let Some(id) = revoked {
                model.revoked.insert(id, index);
            }
            if let Some((sha, status, signer)) = artifact {
                model.artifacts.push((index, sha, status, signer));
            }
        }
        size = ledger.size();

        for sha in &hashes {
            for signers in [
                vec![],
                vec![keys[0].clone()],
                vec![keys[1].clone(), keys[2].clone()],
                vec!["admin".to_owned()],
            ] {
                let ans = ledger.authenticate(sha, &signers).unwrap();
                let cp = checkpoint_of(&ledger, &ans);
                let v = verify_status(&cp, sha, &signers, &ans)
                    .unwrap_or_else(|e| panic!("round {round} {sha} {signers:?}: {e}"));
                assert_eq!(
                    v.status,
                    model.status(sha, &signers),
                    "round {round} {sha} {signers:?}"
                );
                assert_eq!(v.status, ans.status);
                checked += 1;
                // An older genuine entry about the hash, to show in place of the latest.
                let history = model.history(sha);
                let older =
                    (history.len() > 1).then(|| ledger.get(history[history.len() - 2]).unwrap());
                for (what, bad) in mutations(&ans, older.as_ref()) {
                    assert!(
                        verify_status(&cp, sha, &signers, &bad).is_err(),
                        "round {round} {sha} {signers:?}: {what} was accepted"
                    );
                    rejected += 1;
                }
            }
            // The history's proof holds exactly the model's entries.
            let page = ledger.history(sha, None, 1000).unwrap();
            let cp = UnverifiedCheckpoint::parse(&page.checkpoint)
                .unwrap()
                .verify(ledger.verifier_key())
                .unwrap();
            let proven = match page
                .index_proof
                .as_ref()
                .unwrap()
                .verify_in(&IndexKey::artifact(sha), &cp)
                .unwrap()
            {
                IndexAnswer::Absent => vec![],
                IndexAnswer::Present { indices, from, .. } => {
                    assert_eq!(from, 1);
                    indices
                }
            };
            assert_eq!(proven, model.history(sha));
            assert_eq!(
                page.entries.iter().map(|r| r.index).collect::<Vec<_>>(),
                proven
            );
        }
    }
    assert!(
        checked > 1000 && rejected > 3 * checked / 2,
        "{checked} {rejected}"
    );
}

/// Attested answers (fresh status): while appenders write, each attestation re-signs the tree
/// of a committed checkpoint with the time, covers every append that returned before it was
/// asked, and every answer verifies against it.
fn attested_answers_name_the_time_and_cover_every_earlier_append(store: &common::Store) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = std::sync::Arc::new(store.open(dir.path()));
    // An empty ledger attests its empty tree.
    let none = Sha256::of(b"never");
    let (cp, answers) = ledger.authenticate_attested(&[none], &[]).unwrap();
    assert_eq!(cp.size().0, 0);
    assert_eq!(answers[0].status, Status::Unknown);
    verify_status(&cp, &none, &[], &answers[0]).unwrap();

    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    ledger
                        .append(vec![common::artifact(t * 1000 + i, "k_w")])
                        .unwrap();
                }
            })
        })
        .collect();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut last = 0;
    for round in 0..60u64 {
        let mine = 9_000 + round;
        ledger.append(vec![common::artifact(mine, "k_r")]).unwrap();
        let sha = Sha256::of(&mine.to_be_bytes());
        let (cp, answers) = ledger.authenticate_attested(&[sha, none], &[]).unwrap();
        let t = cp.checkpoint().time().unwrap().expect("a time line");
        assert!(t >= start && t <= start + 120, "time {t}");
        assert!(cp.checkpoint().index_root().unwrap().is_some());
        assert!(cp.size().0 >= last, "attested trees never shrink");
        last = cp.size().0;
        // The append returned before the attestation was asked: it is covered.
        assert_eq!(answers[0].status, Status::Trusted, "round {round}");
        assert_eq!(answers[1].status, Status::Unknown);
        for (h, a) in [sha, none].iter().zip(&answers) {
            assert!(a.checkpoint.is_none());
            verify_status(&cp, h, &[], a).unwrap();
        }
    }
    for w in writers {
        w.join().unwrap();
    }
    // The attested tree is one the ledger signed: same root as its checkpoint of that size.
    let (cp, _) = ledger.authenticate_attested(&[none], &[]).unwrap();
    let latest = ledger.checkpoint();
    assert_eq!((cp.size(), cp.root()), (latest.size(), latest.root()));
}

on_both_stores!(
    every_status_answer_is_proven_and_every_mutation_rejected,
    attested_answers_name_the_time_and_cover_every_earlier_append,
);
