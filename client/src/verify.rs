//! Verification by clients (docs/verification.md): every answer that carries a checkpoint is checked —
//! signature by the pinned key, origin, consistency with the stored checkpoint, inclusion of
//! each entry, and the entry bytes against the question — before it is believed. A failure is
//! tampering, and the stored state does not move.

use notarium_core::merkle::verify_consistency;
use notarium_core::{
    ArtifactRequest, Entry, Receipt, Sha256, SignedCheckpoint, Status, UnverifiedCheckpoint,
    VerifiedReceipt, VerifierKey,
};

use notarium_core::api::{Authentication, Limits};
use notarium_core::status::verify_status;

use crate::api::Client;
use crate::trust::{LedgerState, StateFile};
use crate::Error;

/// How the ledger's key came to be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Given by flag or environment.
    Pinned,
    /// Remembered from an earlier run.
    Stored,
    /// Trusted on first use just now: the caller must tell the user loudly.
    FirstUse,
}

/// A verified answer to "what is the status of this hash?".
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The hash asked about.
    pub sha256: Sha256,
    /// The verified status.
    pub status: Status,
    /// The deciding entry, verified.
    pub receipt: Option<VerifiedReceipt>,
    /// The raw receipt (to save or print).
    pub raw: Option<Receipt>,
}

/// A client that verifies everything it is told, keeping its trust state locked while alive.
/// It owns the verification flows (notarize or authenticate many, history, search, audit over
/// tiles, in [`crate::flows`]) so that every tool runs the same checks.
#[derive(Debug)]
pub struct Verifier {
    pub(crate) client: Client,
    /// What the server accepts per request, learned from its ledger description on first need.
    pub(crate) limits: Option<Limits>,
    key: VerifierKey,
    key_source: KeySource,
    state: StateFile,
    /// The latest checkpoint verified in this session (not yet saved).
    latest: Option<SignedCheckpoint>,
    /// Checkpoints accepted in this session, by note text: a batch of receipts shares one.
    accepted: std::collections::HashMap<String, SignedCheckpoint>,
}

fn tamper(what: impl Into<String>) -> Error {
    Error::Tampering(what.into())
}

impl Verifier {
    /// Opens the trust state for the client's server and ledger. The key is `pinned` if given;
    /// else the stored one; else fetched from the server and trusted on first use.
    ///
    /// # Errors
    /// [`Error::Tampering`] when the stored state holds another key than `pinned` or does not
    /// verify; network errors while fetching a first-use key.
    pub async fn open(
        client: Client,
        state_dir: &std::path::Path,
        pinned: Option<VerifierKey>,
    ) -> Result<Self, Error> {
        let state = StateFile::open(state_dir, client.server().as_str(), client.ledger())?;
        let stored_key = state
            .state
            .verifier_key
            .as_deref()
            .map(VerifierKey::parse)
            .transpose()
            .map_err(|e| {
                Error::State(format!("{}: bad stored key: {e}", state.path().display()))
            })?;
        let (key, key_source) = match (pinned, stored_key) {
            (Some(p), Some(s)) if p != s => {
                return Err(tamper(format!(
                    "the pinned verifier key {p} differs from the key {s} this machine verified before (state in {}); \
                     if the ledger's key really changed, remove that file",
                    state.path().display()
                )))
            }
            (Some(p), _) => (p, KeySource::Pinned),
            (None, Some(s)) => (s, KeySource::Stored),
            (None, None) => {
                let info = client.ledger_info().await?;
                let key = VerifierKey::parse(&info.verifier_key)
                    .map_err(|e| tamper(format!("the server's verifier key is malformed: {e}")))?;
                (key, KeySource::FirstUse)
            }
        };
        let latest = match &state.state.checkpoint {
            Some(note) => Some(
                UnverifiedCheckpoint::parse(note)
                    .and_then(|c| c.verify(&key))
                    .map_err(|e| {
                        tamper(format!(
                            "the stored checkpoint in {} does not verify: {e}",
                            state.path().display()
                        ))
                    })?,
            ),
            None => None,
        };
        Ok(Verifier {
            client,
            limits: None,
            key,
            key_source,
            state,
            latest,
            accepted: Default::default(),
        })
    }

    /// The server's URL.
    pub fn server(&self) -> &url::Url {
        self.client.server()
    }

    /// The ledger's name.
    pub fn ledger(&self) -> &str {
        self.client.ledger()
    }

    /// The key answers are verified with.
    pub fn key(&self) -> &VerifierKey {
        &self.key
    }

    /// Where the key came from.
    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }

    /// The loud notice a tool must print when the key was trusted on first use (else `None`),
    /// one line per element, each to be prefixed with the tool's name.
    pub fn first_use_notice(&self) -> Option<Vec<String>> {
        (self.key_source == KeySource::FirstUse).then(|| {
            vec![
                format!(
                    "NOTICE: no verifier key was pinned for ledger {:?} on {}.",
                    self.client.ledger(),
                    self.client.server()
                ),
                format!("NOTICE: trusting this key on first use: {}", self.key),
                format!(
                    "NOTICE: pin it with --verifier-key or NOTARIUM_VERIFIER_KEY; it is remembered in {}",
                    self.state.path().display()
                ),
            ]
        })
    }

    /// The latest verified checkpoint (stored or from this session).
    pub fn latest(&self) -> Option<&SignedCheckpoint> {
        self.latest.as_ref()
    }

    /// Checks a checkpoint: signature by the pinned key, origin, and consistency with the
    /// latest verified one. A smaller tree, or the same size with another root, is a rollback
    /// or a fork.
    ///
    /// # Errors
    /// [`Error::Tampering`]; network errors while fetching a consistency proof.
    pub async fn accept_checkpoint(&mut self, note: &str) -> Result<SignedCheckpoint, Error> {
        if let Some(cp) = self.accepted.get(note) {
            return Ok(cp.clone());
        }
        let cp = UnverifiedCheckpoint::parse(note)
            .map_err(|e| tamper(format!("malformed checkpoint: {e}")))?
            .verify(&self.key)
            .map_err(|e| tamper(format!("checkpoint rejected: {e}")))?;
        if let Some(prev) = &self.latest {
            let (m, n) = (prev.size().0, cp.size().0);
            if n < m {
                return Err(tamper(format!(
                    "rollback: the server shows a tree of {n} entries, but a tree of {m} was verified before"
                )));
            }
            if n == m && cp.root() != prev.root() {
                return Err(tamper(format!(
                    "fork: two different trees of {n} entries are both signed ({} and {})",
                    prev.root(),
                    cp.root()
                )));
            }
            // The same tree must commit to the same status index: two index lines for one
            // tree are equivocation (docs/status-index.md §9). A tree first signed without the
            // line and later with it is the one-time upgrade of a ledger written before it.
            if n == m {
                let index_of = |c: &SignedCheckpoint| {
                    c.checkpoint()
                        .index_root()
                        .map_err(|e| tamper(format!("checkpoint rejected: {e}")))
                };
                if let (Some(was), Some(now)) = (index_of(prev)?, index_of(&cp)?) {
                    if was != now {
                        return Err(tamper(format!(
                            "fork: the tree of {n} entries is signed with two different status indexes ({was} and {now})"
                        )));
                    }
                }
            }
            if n > m && m > 0 {
                let proof = self.client.consistency(m, n).await?;
                if proof.from != m || proof.to != n {
                    return Err(tamper(
                        "the consistency proof is for other sizes than asked",
                    ));
                }
                verify_consistency(prev.size(), cp.size(), &proof.proof, &prev.root(), &cp.root()).map_err(|e| {
                    tamper(format!("fork: the tree of {n} entries does not extend the verified tree of {m}: {e}"))
                })?;
            }
        }
        if self.latest.as_ref().is_none_or(|p| cp.size() > p.size()) {
            self.latest = Some(cp.clone());
        }
        self.accepted.insert(note.to_owned(), cp.clone());
        Ok(cp)
    }

    /// Verifies a receipt: its checkpoint (as above), its inclusion proof, its entry bytes.
    ///
    /// # Errors
    /// [`Error::Tampering`].
    pub async fn verify_receipt(&mut self, r: &Receipt) -> Result<VerifiedReceipt, Error> {
        self.accept_checkpoint(&r.checkpoint).await?;
        let v = r
            .verify(&self.key)
            .map_err(|e| tamper(format!("entry {}: {e}", r.index)))?;
        if r.ledger != self.client.ledger() {
            return Err(tamper(format!(
                "entry {} belongs to ledger {:?}",
                r.index, r.ledger
            )));
        }
        Ok(v)
    }

    /// Verifies a notarization's receipt against what was asked.
    ///
    /// # Errors
    /// [`Error::Tampering`] when the entry is not what was asked.
    pub async fn verify_notarization(
        &mut self,
        asked: &ArtifactRequest,
        r: &Receipt,
    ) -> Result<VerifiedReceipt, Error> {
        let v = self.verify_receipt(r).await?;
        let Entry::Artifact(a) = &v.entry else {
            return Err(tamper(format!(
                "entry {} is not an artifact entry",
                r.index
            )));
        };
        let status = asked.status.unwrap_or_default();
        if a.sha256 != asked.sha256
            || a.name != asked.name
            || a.status != status
            || a.attributes != asked.attributes
            || a.ci != asked.ci
            || a.size != asked.size
            || a.kind != asked.kind.as_deref().unwrap_or("file")
        {
            return Err(tamper(format!(
                "entry {} does not record what was notarized",
                r.index
            )));
        }
        Ok(v)
    }

    /// Verifies an authentication answer for `sha` (optionally restricted to `signers`),
    /// proven against the checkpoint `note` (the answer's own, or its batch's): the checkpoint
    /// as [`Verifier::accept_checkpoint`] does, then every receipt in it and the status proof
    /// (docs/status-index.md) — that the deciding entry is the latest, that its signer's
    /// latest key entry is the one shown, or that no entry exists at all.
    ///
    /// # Errors
    /// [`Error::Tampering`] when any part disagrees, when the proof is missing, or when the
    /// checkpoint commits to no status index.
    pub async fn verify_answer(
        &mut self,
        sha: &Sha256,
        signers: &[String],
        note: &str,
        ans: &Authentication,
    ) -> Result<Verdict, Error> {
        let checkpoint = self.accept_checkpoint(note).await?;
        let proof_receipts = ans
            .proof
            .iter()
            .flat_map(|p| p.skipped.iter().chain(p.signer_created.iter()));
        for r in [&ans.receipt, &ans.revocation]
            .into_iter()
            .flatten()
            .chain(proof_receipts)
        {
            // Every checkpoint an answer carries is held to what was verified before (a
            // replayed older receipt is a rollback), then to the answer's own.
            self.accept_checkpoint(&r.checkpoint).await?;
            if r.ledger != self.client.ledger() {
                return Err(tamper(format!(
                    "entry {} belongs to ledger {:?}",
                    r.index, r.ledger
                )));
            }
        }
        let v = verify_status(&checkpoint, sha, signers, ans)
            .map_err(|e| tamper(format!("the answer for {sha}: {e}")))?;
        Ok(Verdict {
            sha256: *sha,
            status: v.status,
            receipt: v.deciding,
            raw: ans.receipt.clone(),
        })
    }

    /// Fetches and verifies the latest checkpoint.
    ///
    /// # Errors
    /// [`Error::Tampering`], network errors.
    pub async fn refresh(&mut self) -> Result<SignedCheckpoint, Error> {
        let note = self.client.checkpoint().await?;
        self.accept_checkpoint(&note).await
    }

    /// Saves the key and the latest verified checkpoint. Call only when nothing failed
    /// verification in this session.
    ///
    /// # Errors
    /// [`Error::State`].
    pub fn commit(&mut self) -> Result<(), Error> {
        let state = LedgerState {
            server: self.client.server().to_string(),
            ledger: self.client.ledger().to_owned(),
            verifier_key: Some(self.key.to_string()),
            checkpoint: self.latest.as_ref().map(|c| c.note().to_owned()),
        };
        if state != self.state.state {
            self.state.save(state)?;
        }
        Ok(())
    }

    /// The state file's path.
    pub fn state_path(&self) -> &std::path::Path {
        self.state.path()
    }
}
