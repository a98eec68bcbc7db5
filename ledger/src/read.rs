//! Reads: entries, receipts, proofs, tiles, checkpoints, authentication, history, search and
//! keys. Each runs on a pooled read connection against one published snapshot, so that every
//! answer is covered by exactly one signed checkpoint.

use base64::Engine;

use notarium_core::api::{limits, Authentication, Key, Page, StatusProof};
use notarium_core::index::tree;
use notarium_core::index::{IndexKey, IndexProof};
use notarium_core::merkle::{self, NodeSource};
use notarium_core::{
    ArtifactStatus, Entry, Hash, LeafIndex, Receipt, Sha256, SignedCheckpoint, Status, Timestamp,
    TreeSize, UnverifiedCheckpoint,
};

use crate::entries::key_row_mismatch;
use crate::index::StoredIndex;
use crate::store::{Filter, Reader};
use crate::tiles::{locate, TileTree};
use crate::{Appended, Error, Ledger, Shared, Snapshot};

/// Filters for [`Ledger::search`]; all given filters must match.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// Exact artifact hash.
    pub sha256: Option<Sha256>,
    /// Exact artifact name.
    pub name: Option<String>,
    /// Exact signer key id.
    pub signer: Option<String>,
    /// Recorded status (`trusted`, `untrusted`, `unsupported`).
    pub status: Option<ArtifactStatus>,
    /// Attribute `key` equal to `value`.
    pub attr: Option<(String, String)>,
    /// Entries sequenced at or after this time.
    pub since: Option<Timestamp>,
    /// Entries sequenced before this time.
    pub until: Option<Timestamp>,
    /// Only entries with an index greater than this (the cursor).
    pub after: Option<u64>,
    /// Page size (1 to [`limits::PAGE_MAX`]; 0 means [`limits::PAGE_DEFAULT`]).
    pub limit: usize,
}

/// Node lookups for one snapshot: right-edge tiles from the snapshot, full tiles from the
/// cache or storage.
pub(crate) struct View<'a> {
    shared: &'a Shared,
    snap: &'a Snapshot,
    reader: &'a dyn Reader,
}

impl View<'_> {
    /// A full tile, from the cache or storage.
    fn full_tile(&self, level: u8, index: u64) -> Result<std::sync::Arc<TileTree>, Error> {
        let cached = self
            .shared
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(level, index);
        if let Some(t) = cached {
            return Ok(t);
        }
        let bytes = self
            .reader
            .tile(level, index)?
            .ok_or_else(|| Error::Corrupt(format!("tile {level}/{index} is missing")))?;
        let tile = TileTree::from_bytes(level, index, &bytes)?;
        if !tile.is_full() {
            return Err(Error::Corrupt(format!(
                "tile {level}/{index} should be full but holds {} hashes",
                tile.width()
            )));
        }
        let tile = std::sync::Arc::new(tile);
        self.shared
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tile.clone());
        Ok(tile)
    }

    fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        self.reader
            .entry(index)?
            .ok_or_else(|| Error::Corrupt(format!("entry {index} is missing")))
    }

    /// Entries `start..end`, all of them, or [`Error::Corrupt`].
    fn entry_range(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
        let rows = self.reader.entries(start, end)?;
        if rows.len() as u64 != end - start {
            return Err(Error::Corrupt(format!(
                "entries {start}..{end} are incomplete"
            )));
        }
        rows.into_iter()
            .enumerate()
            .map(|(i, (idx, data))| {
                if idx == start + i as u64 {
                    Ok(data)
                } else {
                    Err(Error::Corrupt(format!(
                        "entry {} is missing",
                        start + i as u64
                    )))
                }
            })
            .collect()
    }

    /// The receipt of entry `index` proven against the view's checkpoint.
    fn receipt(&self, index: u64, leaf: &[u8]) -> Result<Receipt, Error> {
        self.receipt_in(index, leaf, &self.snap.checkpoint)
    }

    /// A receipt proven against `checkpoint`, which must not be larger than the view's.
    fn receipt_in(
        &self,
        index: u64,
        leaf: &[u8],
        checkpoint: &SignedCheckpoint,
    ) -> Result<Receipt, Error> {
        receipt(self.shared, self, index, leaf, checkpoint)
    }

    /// The status of `sha256`, decided by its latest entry (optionally only from `signers`),
    /// honouring key revocations, with the proof that the answer is complete when the ledger
    /// keeps the status index (docs/status-index.md).
    fn authenticate(&self, sha256: &Sha256, signers: &[String]) -> Result<Authentication, Error> {
        if signers.len() > limits::SIGNERS_MAX {
            return Err(notarium_core::Error::InvalidField(
                "signer",
                format!("at most {}", limits::SIGNERS_MAX),
            )
            .into());
        }
        let size = self.snap.size();
        let deciding = self.reader.latest_artifact(sha256, size, signers)?;
        let mut ans = Authentication {
            status: Status::Unknown,
            checkpoint: Some(self.snap.checkpoint.note().to_owned()),
            receipt: None,
            revocation: None,
            proof: None,
            signer_policy: None,
        };
        let mut signer = None;
        if let Some((idx, data, by)) = &deciding {
            let entry =
                Entry::from_bytes(data).map_err(|e| Error::Corrupt(format!("entry {idx}: {e}")))?;
            let Entry::Artifact(artifact) = entry else {
                return Err(Error::Corrupt(format!(
                    "entry {idx} is indexed as an artifact but is not one"
                )));
            };
            ans.receipt = Some(self.receipt(*idx, data)?);
            ans.status = artifact.status.into();
            if let Some(ridx) = self.reader.revocation(by, size)? {
                ans.status = Status::Revoked;
                ans.revocation = Some(self.receipt(ridx, &self.entry(ridx)?)?);
            }
            signer = Some(by.clone());
        }
        if self.snap.indexed() {
            ans.proof = Some(self.status_proof(sha256, deciding.map(|d| d.0), signer)?);
        }
        Ok(ans)
    }

    /// The proof of a status answer: the entries about the hash from the deciding one on (all
    /// of them when none decides), the later ones' receipts, and the deciding signer's latest
    /// key entry.
    fn status_proof(
        &self,
        sha256: &Sha256,
        deciding: Option<u64>,
        signer: Option<String>,
    ) -> Result<StatusProof, Error> {
        let size = self.snap.size();
        let key = IndexKey::artifact(sha256);
        let indices = self.reader.artifact_indices(sha256, size)?;
        let from = match deciding {
            Some(d) => indices
                .iter()
                .position(|i| *i == d)
                .ok_or_else(|| Error::Corrupt(format!("entry {d} is missing from its index")))?,
            None => 0,
        };
        let map = tree::prove(&StoredIndex(self.reader), self.snap.index_root, &key)?;
        let index = IndexProof::from_map(map, &key, &indices, (indices.len() - from) as u64)?;
        let skip_from = if deciding.is_some() { from + 1 } else { 0 };
        let skipped = indices[skip_from.min(indices.len())..]
            .iter()
            .map(|i| self.receipt(*i, &self.entry(*i)?))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut signer_proof, mut signer_created) = (None, None);
        if let Some(by) = signer {
            let skey = IndexKey::signer(&by);
            let mut key_entries = Vec::new();
            if let Some(k) = self.reader.key(&by)? {
                key_entries.extend(
                    [Some(k.created_index), k.revoked_index]
                        .into_iter()
                        .flatten()
                        .filter(|i| *i < size),
                );
            }
            let smap = tree::prove(&StoredIndex(self.reader), self.snap.index_root, &skey)?;
            signer_proof = Some(IndexProof::from_map(smap, &skey, &key_entries, 1)?);
            if let (Some(&latest), false) = (key_entries.last(), key_entries.len() > 1) {
                // The latest key entry is the creation: the signer is not revoked.
                signer_created = Some(self.receipt(latest, &self.entry(latest)?)?);
            }
        }
        Ok(StatusProof {
            index,
            skipped,
            signer: signer_proof,
            signer_created,
        })
    }

    /// Every entry about `sha256` up to the snapshot, proven complete (for a history).
    fn history_proof(&self, sha256: &Sha256) -> Result<IndexProof, Error> {
        let key = IndexKey::artifact(sha256);
        let indices = self.reader.artifact_indices(sha256, self.snap.size())?;
        let map = tree::prove(&StoredIndex(self.reader), self.snap.index_root, &key)?;
        Ok(IndexProof::from_map(map, &key, &indices, u64::MAX)?)
    }
}

impl View<'_> {
    /// One page of a search against this view's checkpoint.
    fn search(&self, q: &SearchQuery) -> Result<Page, Error> {
        let limit = match q.limit {
            0 => limits::PAGE_DEFAULT,
            n => n.min(limits::PAGE_MAX),
        };
        let filter = Filter {
            sha256: q.sha256.as_ref(),
            name: q.name.as_deref(),
            signer: q.signer.as_deref(),
            status: q.status,
            attr: q.attr.as_ref().map(|(k, v)| (k.as_str(), v.as_str())),
            since: q.since,
            until: q.until,
        };
        let from = q.after.map_or(0, |a| a.saturating_add(1));
        let rows = self
            .reader
            .search(&filter, from, self.snap.size(), limit + 1)?;
        let more = rows.len() > limit;
        let entries = rows
            .into_iter()
            .take(limit)
            .map(|(idx, data)| self.receipt(idx, &data))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more {
            entries.last().map(|r| r.index)
        } else {
            None
        };
        Ok(Page {
            checkpoint: self.snap.checkpoint.note().to_owned(),
            entries,
            next,
            index_proof: None,
        })
    }
}

impl NodeSource for View<'_> {
    type Error = Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let missing = || Error::Corrupt(format!("tree node {level}/{index} is not in its tile"));
        edge_or_full_tile(self.snap, level, index, missing, |tl, t| {
            self.full_tile(tl, t).map(Some)
        })
    }
}

/// Node `level`/`index` from `snap`'s right-edge tiles, else from the full tile that `full`
/// gives (`None`: not there): the one lookup both node sources share. `missing` is the error
/// of a node that is in neither, or past the right edge.
fn edge_or_full_tile(
    snap: &Snapshot,
    level: u8,
    index: u64,
    missing: impl Fn() -> Error,
    full: impl FnOnce(u8, u64) -> Result<Option<std::sync::Arc<TileTree>>, Error>,
) -> Result<Hash, Error> {
    let (tl, t, r, pos) = locate(level, index);
    if let Some(right) = snap.edge.tile(tl) {
        if right.index == t {
            return right.node(r, pos).ok_or_else(missing);
        }
        if t > right.index {
            return Err(missing());
        }
    }
    full(tl, t)?
        .and_then(|tile| tile.node(r, pos))
        .ok_or_else(missing)
}

/// The receipt of entry `index` (whose canonical bytes are `leaf`), with its inclusion proof
/// from `nodes` against `checkpoint`.
fn receipt<S: NodeSource<Error = Error>>(
    shared: &Shared,
    nodes: &S,
    index: u64,
    leaf: &[u8],
    checkpoint: &SignedCheckpoint,
) -> Result<Receipt, Error> {
    let proof = merkle::inclusion_proof(nodes, LeafIndex(index), checkpoint.size())?;
    Ok(Receipt {
        ledger: shared.name.to_string(),
        index,
        entry: serde_json::from_slice(leaf).unwrap_or(serde_json::Value::Null),
        leaf: base64::engine::general_purpose::STANDARD.encode(leaf),
        leaf_hash: notarium_core::leaf_hash(leaf),
        checkpoint: checkpoint.note().to_owned(),
        inclusion_proof: proof,
        verifier_key: shared.verifier_text.clone(),
    })
}

/// Node lookups from memory alone: the snapshot's right-edge tiles and the cache of full
/// tiles. Every node of the inclusion proof of an entry in the snapshot's last batch is there
/// (its tiles are right-edge tiles, or full tiles published with the batch), so its receipt
/// needs no read connection. A node that is not there is [`Error::NotFound`].
struct Memory<'a> {
    shared: &'a Shared,
    snap: &'a Snapshot,
}

impl NodeSource for Memory<'_> {
    type Error = Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let missing = || Error::NotFound(format!("tree node {level}/{index} is not in memory"));
        edge_or_full_tile(self.snap, level, index, missing, |tl, t| {
            Ok(self
                .shared
                .cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(tl, t))
        })
    }
}

fn check_size(snap: &Snapshot, size: u64) -> Result<(), Error> {
    if size > snap.size() {
        return Err(Error::NotFound(format!(
            "tree size {size} (the ledger has {} entries)",
            snap.size()
        )));
    }
    Ok(())
}

impl Ledger {
    /// Runs `f` against `snap` with a pooled read connection.
    fn read_in<T>(
        &self,
        snap: &Snapshot,
        f: impl FnOnce(&View<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.shared.with_reader(|reader| {
            f(&View {
                shared: &self.shared,
                snap,
                reader,
            })
        })
    }

    /// Runs `f` against the latest snapshot with a pooled read connection.
    fn read<T>(&self, f: impl FnOnce(&View<'_>) -> Result<T, Error>) -> Result<T, Error> {
        self.read_in(&self.shared.snapshot(), f)
    }

    /// Receipts for appended entries, with inclusion proofs in their batch's checkpoint.
    ///
    /// # Errors
    /// Storage errors while reading tiles.
    pub fn receipts(&self, appended: &Appended) -> Result<Vec<Receipt>, Error> {
        self.read_in(&appended.snapshot, |view| {
            appended
                .leaves
                .iter()
                .enumerate()
                .map(|(i, leaf)| view.receipt(appended.first_index + i as u64, leaf))
                .collect()
        })
    }

    /// The receipts of [`Ledger::receipts`] built from memory alone, without a read
    /// connection: the nodes of a just-appended entry's proof are in the batch's right-edge
    /// tiles and the tiles it completed. `None` when a node is not in memory (the tile cache
    /// evicted it): then read them with [`Ledger::receipts`].
    pub fn receipts_from_memory(&self, appended: &Appended) -> Option<Vec<Receipt>> {
        let nodes = Memory {
            shared: &self.shared,
            snap: &appended.snapshot,
        };
        appended
            .leaves
            .iter()
            .enumerate()
            .map(|(i, leaf)| {
                let index = appended.first_index + i as u64;
                receipt(
                    &self.shared,
                    &nodes,
                    index,
                    leaf,
                    &appended.snapshot.checkpoint,
                )
                .ok()
            })
            .collect()
    }

    /// The receipt of entry `index` in the latest checkpoint.
    ///
    /// # Errors
    /// [`Error::NotFound`] past the end of the tree.
    pub fn get(&self, index: u64) -> Result<Receipt, Error> {
        self.read(|view| {
            if index >= view.snap.size() {
                return Err(Error::NotFound(format!(
                    "entry {index} (the ledger has {} entries)",
                    view.snap.size()
                )));
            }
            view.receipt(index, &view.entry(index)?)
        })
    }

    /// The inclusion proof of `index` in the tree of `size` leaves (`size` ≤ current size).
    ///
    /// # Errors
    /// [`Error::NotFound`] when `size` exceeds the tree; [`Error::Invalid`] when
    /// `index >= size`.
    pub fn prove_inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        self.read(|view| {
            check_size(view.snap, size)?;
            merkle::inclusion_proof(view, LeafIndex(index), TreeSize(size))
        })
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `to` exceeds the tree; [`Error::Invalid`] when `from > to`.
    pub fn prove_consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, Error> {
        self.read(|view| {
            check_size(view.snap, to)?;
            merkle::consistency_proof(view, TreeSize(from), TreeSize(to))
        })
    }

    /// The root of the tree of `size` leaves.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `size` exceeds the tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, Error> {
        self.read(|view| {
            check_size(view.snap, size)?;
            merkle::root(view, TreeSize(size))
        })
    }

    /// The signed checkpoint of exactly `size`, if the ledger signed one.
    ///
    /// # Errors
    /// Storage errors.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<SignedCheckpoint>, Error> {
        if size > self.size() {
            return Ok(None);
        }
        let note = self.shared.with_reader(|r| r.checkpoint(size))?;
        note.map(|n| {
            UnverifiedCheckpoint::parse(&n)
                .and_then(|c| c.verify(&self.shared.verifier))
                .map_err(|e| Error::Corrupt(format!("stored checkpoint {size}: {e}")))
        })
        .transpose()
    }

    /// The receipts of entries `start..end`, proven against `checkpoint` (an older signed
    /// checkpoint of this ledger, e.g. from [`Ledger::checkpoint_at`]) instead of the latest.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `checkpoint` is larger than the tree; [`Error::Invalid`] unless
    /// `start <= end <= checkpoint size`.
    pub fn receipts_in(
        &self,
        start: u64,
        end: u64,
        checkpoint: &SignedCheckpoint,
    ) -> Result<Vec<Receipt>, Error> {
        self.read(|view| {
            let size = checkpoint.size().0;
            check_size(view.snap, size)?;
            if start > end || end > size {
                return Err(notarium_core::Error::IndexOutOfRange { index: end, size }.into());
            }
            view.entry_range(start, end)?
                .iter()
                .enumerate()
                .map(|(i, leaf)| view.receipt_in(start + i as u64, leaf, checkpoint))
                .collect()
        })
    }

    /// The index of the first entry sequenced at or after `time`, or the tree size when there
    /// is none. Entry times never decrease with the index (the sequencer's clock is monotone
    /// and a batch shares one time), so the entries sequenced in `[t1, t2)` are exactly the
    /// indexes `index_at(t1)..index_at(t2)`, and both ends are sizes with a signed checkpoint.
    ///
    /// # Errors
    /// Storage errors.
    pub fn index_at(&self, time: Timestamp) -> Result<u64, Error> {
        self.read(|view| {
            let size = view.snap.size();
            let found = view.reader.first_index_at(time.0)?;
            Ok(found.map_or(size, |i| i.min(size)))
        })
    }

    /// A C2SP hash tile (`width` 1–256), byte-exact. Partial widths are served for any
    /// width the right-most tile has reached; full tiles only once full.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the tree has no such tile.
    pub fn tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>, Error> {
        self.read(|view| {
            let (full, partial) = notarium_core::tiles::tiles_at_level(view.snap.size(), level);
            let available = if index < full {
                256
            } else if index == full {
                partial
            } else {
                0
            };
            if width == 0 || width > available {
                return Err(Error::NotFound(format!(
                    "tile {level}/{index} of width {width}"
                )));
            }
            if let Some(right) = view.snap.edge.tile(level) {
                if right.index == index {
                    return Ok(right.bytes(width as usize));
                }
            }
            Ok(view.full_tile(level, index)?.bytes(width as usize))
        })
    }

    /// A C2SP entry bundle of `width` entries (1–256) starting at entry `index · 256`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the tree has fewer entries.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Vec<u8>, Error> {
        self.read(|view| {
            let size = view.snap.size();
            let start = index
                .checked_mul(256)
                .ok_or_else(|| Error::NotFound("bundle".into()))?;
            let end = start + u64::from(width);
            if width == 0 || end > size {
                return Err(Error::NotFound(format!(
                    "entry bundle {index} of width {width}"
                )));
            }
            let leaves = view.entry_range(start, end)?;
            Ok(notarium_core::tiles::encode_bundle(
                leaves.iter().map(Vec::as_slice),
            )?)
        })
    }

    /// Authenticates `sha256`: the status decided by its latest entry (optionally only from
    /// `signers`), honouring key revocations, with receipts.
    ///
    /// # Errors
    /// Storage errors; [`Error::Invalid`] for too many signers.
    pub fn authenticate(
        &self,
        sha256: &Sha256,
        signers: &[String],
    ) -> Result<Authentication, Error> {
        self.read(|view| view.authenticate(sha256, signers))
    }

    /// Authenticates many hashes against one checkpoint.
    ///
    /// # Errors
    /// Storage errors; [`Error::Invalid`] for too many signers.
    pub fn authenticate_many(
        &self,
        hashes: &[Sha256],
        signers: &[String],
    ) -> Result<(SignedCheckpoint, Vec<Authentication>), Error> {
        self.read(|view| {
            let answers = hashes
                .iter()
                .map(|h| view.authenticate(h, signers))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((view.snap.checkpoint.clone(), answers))
        })
    }

    /// Authenticates many hashes against a fresh attestation of the latest tree: its checkpoint
    /// signed again with the current time (`notarium-time/v1`), every receipt and proof against
    /// that note. A status proof that says how fresh it is, for clients that verify offline
    /// later (docs/status-index.md, "Fresh status").
    ///
    /// # Errors
    /// Storage errors; [`Error::Unavailable`] when the writer stopped.
    pub fn authenticate_attested(
        &self,
        hashes: &[Sha256],
        signers: &[String],
    ) -> Result<(SignedCheckpoint, Vec<Authentication>), Error> {
        let (attested, snap) = self.attest()?;
        let note = attested.note().to_owned();
        let mut answers = self.read_in(&snap, |view| {
            hashes
                .iter()
                .map(|h| view.authenticate(h, signers))
                .collect::<Result<Vec<_>, _>>()
        })?;
        // The same tree: every inclusion proof holds for the attested note too.
        for a in &mut answers {
            a.checkpoint = None;
            let proof_receipts = a
                .proof
                .iter_mut()
                .flat_map(|p| p.skipped.iter_mut().chain(p.signer_created.iter_mut()));
            for r in [&mut a.receipt, &mut a.revocation]
                .into_iter()
                .flatten()
                .chain(proof_receipts)
            {
                r.checkpoint.clone_from(&note);
            }
        }
        Ok((attested, answers))
    }

    /// Every entry for `sha256`, oldest first, after index `after`, at most `limit`, with the
    /// proof that the entries about the hash up to the page's checkpoint are exactly those the
    /// pages hold (when the ledger keeps the status index).
    ///
    /// # Errors
    /// Storage errors.
    pub fn history(
        &self,
        sha256: &Sha256,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page, Error> {
        let query = SearchQuery {
            sha256: Some(*sha256),
            after,
            limit,
            ..SearchQuery::default()
        };
        self.read(|view| {
            let mut page = view.search(&query)?;
            if view.snap.indexed() {
                page.index_proof = Some(view.history_proof(sha256)?);
            }
            Ok(page)
        })
    }

    /// Searches entries by the query's filters, oldest first, paginated by index.
    ///
    /// # Errors
    /// Storage errors.
    pub fn search(&self, q: &SearchQuery) -> Result<Page, Error> {
        self.read(|view| view.search(q))
    }

    /// The API key whose secret hashes to `credential`, held against the `created` entry that
    /// records it as [`Ledger::credentials`] holds every key.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] for a key row changed in storage.
    pub fn find_credential(&self, credential: &[u8; 32]) -> Result<Option<Key>, Error> {
        self.shared.with_reader(|r| {
            let Some(key) = r.credential(credential)? else {
                return Ok(None);
            };
            self.check_key_row(r, credential, &key)?;
            Ok(Some(key))
        })
    }

    /// Every API key of this ledger with the SHA-256 of its secret, oldest first: what a
    /// server needs to recognise its callers without a query per request.
    ///
    /// # Errors
    /// Storage errors; [`Error::Corrupt`] for a malformed credential row.
    /// Each row is held against the `created` entry that records the key (id, name, role and,
    /// for keys created since 0.2, the credential): a row rewritten in storage — a role raised,
    /// a credential swapped — is refused, never trusted.
    pub fn credentials(&self) -> Result<Vec<([u8; 32], Key)>, Error> {
        self.shared.with_reader(|r| {
            let rows = r.credentials()?;
            for (credential, key) in &rows {
                self.check_key_row(r, credential, key)?;
            }
            Ok(rows)
        })
    }

    /// Refuses a key row that disagrees with its `created` entry.
    fn check_key_row(&self, r: &dyn Reader, credential: &[u8; 32], key: &Key) -> Result<(), Error> {
        let bytes = r.entry(key.created_index)?.unwrap_or_default();
        let mismatch = match Entry::from_bytes(&bytes) {
            Ok(Entry::Key(created)) => key_row_mismatch(key, credential, &created),
            _ => Some(format!(
                "api key {} names entry {} as its creation, which is not a key entry",
                key.id, key.created_index
            )),
        };
        match mismatch {
            Some(why) => Err(Error::Corrupt(format!(
                "{why}: the API keys of ledger {} were changed in storage; run \
                 `notariumd audit` and restore the ledger from a backup",
                self.shared.name
            ))),
            None => Ok(()),
        }
    }

    /// Every API key of this ledger, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub fn keys(&self) -> Result<Vec<Key>, Error> {
        self.shared.with_reader(|r| r.keys())
    }
}
