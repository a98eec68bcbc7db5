//! The verification flows every tool runs the same way (docs/verification.md): notarize many
//! artifacts, authenticate many hashes, read a hash's history, search, and audit the whole log
//! over its tiles. Each asks the server in chunks no larger than the server says it accepts,
//! and checks what comes back as a whole — the right number of answers, in the order asked,
//! each for what was asked, all proven against the one checkpoint of their batch — before it
//! checks each answer's proofs. Any failure is tampering and moves no state.

use std::collections::BTreeMap;

use notarium_core::api::{BatchAuthentication, Limits, Page};
use notarium_core::index::{root_of_sorted, IndexAnswer, IndexKey, Value};
use notarium_core::merkle::RightEdge;
use notarium_core::tiles::{decode_bundle, TileKind, TilePath};
use notarium_core::{
    leaf_hash, ArtifactRequest, Entry, Hash, Receipt, Sha256, SignedCheckpoint, VerifiedReceipt,
};

use crate::api::SearchParams;
use crate::status::StatusFile;
use crate::verify::{Verdict, Verifier};
use crate::Error;

/// A notarization: the receipt the server gave, and what verifying it established.
#[derive(Clone, Debug)]
pub struct Notarized {
    /// The receipt as received (to save next to the artifact).
    pub receipt: Receipt,
    /// The verified entry, index and checkpoint.
    pub verified: VerifiedReceipt,
}

/// A receipt of a history or search page with its verified entry.
#[derive(Clone, Debug)]
pub struct Found {
    /// The receipt as received.
    pub receipt: Receipt,
    /// The verified entry.
    pub entry: Entry,
}

/// The outcome of [`Verifier::audit`]: the whole log recomputed from its tiles.
#[derive(Clone, Debug)]
pub struct Audited {
    /// Entries recomputed.
    pub entries: u64,
    /// The verified checkpoint whose root they reproduce.
    pub checkpoint: SignedCheckpoint,
}

fn tamper(what: impl Into<String>) -> Error {
    Error::Tampering(what.into())
}

impl Verifier {
    /// What the server accepts per request, read once from its ledger description (a server
    /// before 0.2 does not say: the protocol's maxima then apply).
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn limits(&mut self) -> Result<Limits, Error> {
        if let Some(l) = self.limits {
            return Ok(l);
        }
        let l = self.client.ledger_info().await?.limits;
        let l = Limits {
            batch_max_entries: l.batch_max_entries.max(1),
            authenticate_max_hashes: l.authenticate_max_hashes.max(1),
            page_max: l.page_max.max(1),
        };
        self.limits = Some(l);
        Ok(l)
    }

    /// Notarizes `requests` (one request alone, more in batches of the server's size) and
    /// verifies each receipt against what was asked. `progress` is told how many were done.
    ///
    /// # Errors
    /// [`Error::Tampering`] when an answer is missing, extra, out of order, for something
    /// else, or proven against more than one checkpoint per batch; network and API errors.
    pub async fn notarize_many(
        &mut self,
        requests: &[ArtifactRequest],
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<Notarized>, Error> {
        let mut out = Vec::with_capacity(requests.len());
        if let [one] = requests {
            let receipt = self.client.notarize(one).await?;
            let verified = self.verify_notarization(one, &receipt).await?;
            progress(1);
            out.push(Notarized { receipt, verified });
            return Ok(out);
        }
        let size = self.limits().await?.batch_max_entries;
        for chunk in requests.chunks(size) {
            let receipts = self.client.notarize_batch(chunk).await?;
            check_batch(chunk.len(), &receipts)?;
            for (req, receipt) in chunk.iter().zip(receipts) {
                let verified = self.verify_notarization(req, &receipt).await?;
                out.push(Notarized { receipt, verified });
            }
            progress(chunk.len());
        }
        Ok(out)
    }

    /// Authenticates one hash.
    ///
    /// # Errors
    /// [`Error::Tampering`]; network and API errors.
    pub async fn authenticate(
        &mut self,
        sha256: &Sha256,
        signers: &[String],
    ) -> Result<Verdict, Error> {
        let ans = self.client.authenticate(sha256, signers).await?;
        let note = ans.checkpoint.clone().ok_or_else(|| {
            tamper(format!(
                "the answer for {sha256} names no checkpoint to prove it against"
            ))
        })?;
        self.verify_answer(sha256, signers, &note, &ans).await
    }

    /// Authenticates `hashes` (one alone, more in batches of the server's size, each batch
    /// against one checkpoint), returning a verdict per hash in order.
    ///
    /// # Errors
    /// [`Error::Tampering`] when an answer is missing, extra, out of order, for another hash,
    /// or proven against another checkpoint than its batch's; network and API errors.
    pub async fn authenticate_many(
        &mut self,
        hashes: &[Sha256],
        signers: &[String],
        progress: impl FnMut(usize),
    ) -> Result<Vec<Verdict>, Error> {
        if let [one] = hashes {
            let mut progress = progress;
            let v = self.authenticate(one, signers).await?;
            progress(1);
            return Ok(vec![v]);
        }
        Ok(self.batches(hashes, signers, false, progress).await?.0)
    }

    /// Authenticates `hashes` against fresh attestations of the latest tree (each batch's
    /// checkpoint signed again with the current time) and returns the verdicts with the
    /// verified answers as a status file to keep next to receipts, for
    /// [`StatusFile::verify_offline`] later (docs/status-index.md, "Fresh status").
    ///
    /// # Errors
    /// As [`Verifier::authenticate_many`]; [`Error::Tampering`] as well when a checkpoint comes
    /// without its time.
    pub async fn fresh_status(
        &mut self,
        hashes: &[Sha256],
        signers: &[String],
        progress: impl FnMut(usize),
    ) -> Result<(Vec<Verdict>, StatusFile), Error> {
        let (verdicts, batches) = self.batches(hashes, signers, true, progress).await?;
        for b in &batches {
            let cp = self.accept_checkpoint(&b.checkpoint).await?;
            if cp.checkpoint().time().ok().flatten().is_none() {
                return Err(tamper(
                    "the server's fresh status names no time (a server before 0.2?)",
                ));
            }
        }
        let file = StatusFile {
            format: crate::status::FORMAT.to_owned(),
            server: self.client.server().to_string(),
            ledger: self.client.ledger().to_owned(),
            signers: signers.to_vec(),
            batches,
        };
        Ok((verdicts, file))
    }

    async fn batches(
        &mut self,
        hashes: &[Sha256],
        signers: &[String],
        fresh: bool,
        mut progress: impl FnMut(usize),
    ) -> Result<(Vec<Verdict>, Vec<BatchAuthentication>), Error> {
        let size = self.limits().await?.authenticate_max_hashes;
        let mut out = Vec::with_capacity(hashes.len());
        let mut batches = Vec::new();
        for chunk in hashes.chunks(size) {
            let ans = self.client.authenticate_many(chunk, signers, fresh).await?;
            let cp = self.accept_checkpoint(&ans.checkpoint).await?;
            if ans.results.iter().any(|r| {
                r.answer
                    .checkpoint
                    .as_deref()
                    .is_some_and(|c| c != cp.note())
            }) {
                return Err(tamper("a result names another checkpoint than the batch's"));
            }
            if ans.results.len() != chunk.len() {
                return Err(tamper(format!(
                    "asked about {} hashes, got {} answers",
                    chunk.len(),
                    ans.results.len()
                )));
            }
            for (h, res) in chunk.iter().zip(&ans.results) {
                if res.sha256 != *h {
                    return Err(tamper(format!(
                        "the answer for {} came in the place of {h}",
                        res.sha256
                    )));
                }
                let proven = [&res.answer.receipt, &res.answer.revocation];
                if proven
                    .iter()
                    .any(|r| r.as_ref().is_some_and(|r| r.checkpoint != cp.note()))
                {
                    return Err(tamper(
                        "a result is proven against another checkpoint than the batch's",
                    ));
                }
                out.push(
                    self.verify_answer(h, signers, &ans.checkpoint, &res.answer)
                        .await?,
                );
            }
            progress(chunk.len());
            if fresh {
                batches.push(ans);
            }
        }
        Ok((out, batches))
    }

    /// Every entry about `sha256`, oldest first, all pages, verified — and proven complete:
    /// each page carries the proof of every entry about the hash up to its checkpoint, and
    /// the pages must hold exactly those entries.
    ///
    /// # Errors
    /// [`Error::Tampering`] when an entry is about something else, out of order, missing or
    /// extra, or a page comes without its proof; network and API errors.
    pub async fn history(&mut self, sha256: &Sha256) -> Result<Vec<Found>, Error> {
        let key = IndexKey::artifact(sha256);
        let mut out: Vec<Found> = Vec::new();
        let mut after = None;
        loop {
            let page = self.client.history(sha256, after).await?;
            let checkpoint = self.accept_checkpoint(&page.checkpoint).await?;
            let proof = page.index_proof.as_ref().ok_or_else(|| {
                tamper(format!(
                    "the history of {sha256} comes without its completeness proof"
                ))
            })?;
            let all = match proof
                .verify_in(&key, &checkpoint)
                .map_err(|e| tamper(format!("the history of {sha256}: {e}")))?
            {
                IndexAnswer::Absent => Vec::new(),
                IndexAnswer::Present {
                    from: 1, indices, ..
                } => indices,
                IndexAnswer::Present { .. } => {
                    return Err(tamper(format!(
                        "the history of {sha256} does not reveal every entry"
                    )))
                }
            };
            // This page must be the next entries of `all` after the cursor.
            let expected: Vec<u64> = all
                .iter()
                .copied()
                .filter(|i| after.is_none_or(|a| *i > a))
                .take(page.entries.len())
                .collect();
            let got: Vec<u64> = page.entries.iter().map(|r| r.index).collect();
            if got != expected {
                return Err(tamper(format!(
                    "the history of {sha256} shows entries {got:?} where the index proves {expected:?}"
                )));
            }
            let found = self.verify_page(&page).await?;
            for f in found {
                match &f.entry {
                    Entry::Artifact(e) if e.sha256 == *sha256 => {}
                    _ => {
                        return Err(tamper(format!(
                            "history of {sha256} holds entry {} for something else",
                            f.receipt.index
                        )))
                    }
                }
                after = Some(f.receipt.index);
                out.push(f);
            }
            let done = page.next.is_none() || page.entries.is_empty();
            if done {
                let shown: Vec<u64> = out.iter().map(|f| f.receipt.index).collect();
                if shown != all {
                    return Err(tamper(format!(
                        "the history of {sha256} shows {} entries; the index proves {}",
                        shown.len(),
                        all.len()
                    )));
                }
                return Ok(out);
            }
        }
    }

    /// One page of a search, verified; with the cursor of the next page.
    ///
    /// # Errors
    /// [`Error::Tampering`]; network and API errors.
    pub async fn search(
        &mut self,
        params: &SearchParams,
    ) -> Result<(Vec<Found>, Option<u64>), Error> {
        let page = self.client.search(params).await?;
        let found = self.verify_page(&page).await?;
        if found
            .windows(2)
            .any(|w| w[0].receipt.index >= w[1].receipt.index)
        {
            return Err(tamper("search results are not in index order"));
        }
        Ok((found, page.next))
    }

    async fn verify_page(&mut self, page: &Page) -> Result<Vec<Found>, Error> {
        self.accept_checkpoint(&page.checkpoint).await?;
        let mut out = Vec::with_capacity(page.entries.len());
        for r in &page.entries {
            if r.checkpoint != page.checkpoint {
                return Err(tamper(
                    "an entry of the page is proven against another checkpoint than the page's",
                ));
            }
            let v = self.verify_receipt(r).await?;
            out.push(Found {
                receipt: r.clone(),
                entry: v.entry,
            });
        }
        Ok(out)
    }

    /// Downloads the whole log through its C2SP tiles and entry bundles, recomputes every leaf
    /// hash, the root and the status index (docs/status-index.md), and checks them against the
    /// latest checkpoint (verified and consistent with this machine's earlier view) and the
    /// index root it commits to. `progress` is told how many entries were done.
    ///
    /// # Errors
    /// [`Error::Tampering`] when a tile disagrees with its entries or the root with the
    /// signed checkpoint; network and API errors.
    pub async fn audit(&mut self, mut progress: impl FnMut(usize)) -> Result<Audited, Error> {
        let cp = self.refresh().await?;
        let size = cp.size().0;
        let mut edge = RightEdge::new();
        let mut level0: Vec<Hash> = Vec::with_capacity(256);
        let mut bundle_index = 0u64;
        // The status index, rebuilt from the entries, to hold against the checkpoint's line.
        let mut index: BTreeMap<IndexKey, Value> = BTreeMap::new();
        while edge.size().0 < size {
            let width = (size - bundle_index * 256).min(256) as u16;
            let bundle_path = TilePath {
                kind: TileKind::Entries,
                index: bundle_index,
                width,
            }
            .to_path();
            let bundle = self.client.log_file(&bundle_path).await?;
            let leaves =
                decode_bundle(&bundle).map_err(|e| tamper(format!("{bundle_path}: {e}")))?;
            if leaves.len() != width as usize {
                return Err(tamper(format!(
                    "{bundle_path} holds {} entries, not {width}",
                    leaves.len()
                )));
            }
            let tile_path = TilePath {
                kind: TileKind::Hashes(0),
                index: bundle_index,
                width,
            }
            .to_path();
            let tile = self.client.log_file(&tile_path).await?;
            level0.clear();
            for leaf in leaves {
                if let Ok(entry) = Entry::from_bytes(leaf) {
                    let v = index
                        .entry(IndexKey::of_entry(&entry))
                        .or_insert(Value::NONE);
                    *v = v.push(edge.size().0);
                }
                let h = leaf_hash(leaf);
                level0.push(h);
                edge.push(h, |_, _, _| {});
            }
            let expect: Vec<u8> = level0.iter().flat_map(|h| h.0).collect();
            if tile != expect {
                return Err(tamper(format!(
                    "{tile_path} disagrees with the entries of {bundle_path}"
                )));
            }
            progress(usize::from(width));
            bundle_index += 1;
        }
        if edge.root() != cp.root() {
            return Err(tamper(format!(
                "the {size} entries give root {} but the signed checkpoint says {}",
                edge.root().to_base64(),
                cp.root().to_base64()
            )));
        }
        let committed = cp
            .checkpoint()
            .index_root()
            .map_err(|e| tamper(format!("checkpoint {size}: {e}")))?
            .ok_or_else(|| tamper(format!("checkpoint {size} commits to no status index")))?;
        let rebuilt = root_of_sorted(index)
            .map_err(|e| tamper(format!("rebuilding the status index: {e}")))?;
        if rebuilt != committed {
            return Err(tamper(format!(
                "the {size} entries give status index root {rebuilt}, the signed checkpoint \
                 commits to {committed}"
            )));
        }
        Ok(Audited {
            entries: size,
            checkpoint: cp,
        })
    }
}

/// A batch's receipts as a whole: one per request, all proven against one checkpoint, at
/// consecutive indexes in request order (the batch was appended all-or-nothing in one
/// transaction). Each receipt is then checked against its own request.
fn check_batch(asked: usize, receipts: &[Receipt]) -> Result<(), Error> {
    if receipts.len() != asked {
        return Err(tamper(format!(
            "asked for {asked} receipts, got {}",
            receipts.len()
        )));
    }
    for w in receipts.windows(2) {
        if w[0].checkpoint != w[1].checkpoint {
            return Err(tamper(
                "the receipts of one batch are proven against different checkpoints",
            ));
        }
        if w[0].index.checked_add(1) != Some(w[1].index) {
            return Err(tamper(format!(
                "the receipts of one batch are not at consecutive indexes in request order \
                 ({} then {})",
                w[0].index, w[1].index
            )));
        }
    }
    Ok(())
}
