//! The offline audit: recompute a ledger from its entries alone and compare every stored
//! tile, index row, key row and signed checkpoint against the recomputation.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use notarium_core::entry::KeyEntry;
use notarium_core::index::{root_of_sorted, tree, IndexKey, Value};
use notarium_core::merkle;
use notarium_core::{leaf_hash, Entry, KeyAction, LedgerName, TreeSize, UnverifiedCheckpoint};

use crate::entries::{key_row_mismatch, Columns};
use crate::store::{sqlite::Sqlite, Reader};
use crate::tiles::{EdgeChanges, StoredTiles, TileEdge, TileTree};
use crate::Postgres;
use crate::{signer, Error};

/// What part of the ledger a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    /// An entry's bytes no longer match what was logged, or an entry is missing.
    Entry,
    /// A stored tile hash disagrees with the entries.
    Tile,
    /// A secondary-index row disagrees with its entry.
    Index,
    /// A stored checkpoint is unsigned, badly signed, or inconsistent with the log.
    Checkpoint,
    /// The API key rows disagree with the key entries.
    Key,
    /// The status index disagrees with the entries it is built from.
    StatusIndex,
    /// SQLite's own integrity check failed, or a file is unreadable.
    Storage,
}

/// One disagreement.
#[derive(Clone, Debug, Serialize)]
pub struct AuditFinding {
    /// What is wrong.
    pub kind: FindingKind,
    /// The first entry index concerned, where one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// For humans.
    pub message: String,
}

/// The result of [`audit`]: what one ledger's recomputation found.
#[derive(Clone, Debug, Serialize)]
pub struct LedgerAudit {
    /// The ledger directory audited.
    pub dir: PathBuf,
    /// Entries read.
    pub entries: u64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
    /// Stored tiles compared.
    pub tiles: u64,
    /// The lowest entry index named by any finding.
    pub first_bad_index: Option<u64>,
    /// Findings, at most [`MAX_FINDINGS`] of them.
    pub findings: Vec<AuditFinding>,
    /// Findings beyond those listed.
    pub more_findings: u64,
}

impl LedgerAudit {
    /// True when nothing disagrees.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Most findings listed in a report.
pub const MAX_FINDINGS: usize = 1000;

struct Recorder {
    findings: Vec<AuditFinding>,
    more: u64,
}

impl Recorder {
    fn add(&mut self, kind: FindingKind, index: Option<u64>, message: String) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(AuditFinding {
                kind,
                index,
                message,
            });
        } else {
            self.more += 1;
        }
    }
}

/// Recomputes the ledger in `dir` from its entries and reports every disagreement.
/// `progress(done, total)` is called every 65,536 entries and at the end.
///
/// # Errors
/// Only when the database cannot be read at all; everything else is a finding.
pub fn audit(dir: &Path, progress: impl FnMut(u64, u64)) -> Result<LedgerAudit, Error> {
    let store = Sqlite::existing_reader(dir)?;
    audit_store(store.as_ref(), dir, progress)
}

/// Recomputes ledger `name` of the PostgreSQL database `db` from its entries, on one snapshot
/// of the database (appends made meanwhile are not seen), with the signing key in `dir` (its
/// directory in a data directory), and reports every disagreement.
///
/// # Errors
/// [`Error::NotFound`] when the database holds no such ledger; when it cannot be read at all.
pub fn audit_postgres(
    db: &Postgres,
    name: &LedgerName,
    dir: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<LedgerAudit, Error> {
    db.read_snapshot(name.as_str(), |store| audit_store(store, dir, progress))
}

/// Recomputes the ledger in `store`, whose signing key is in `dir`.
fn audit_store(
    store: &dyn Reader,
    dir: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<LedgerAudit, Error> {
    let mut rec = Recorder {
        findings: Vec::new(),
        more: 0,
    };

    if let Some(problem) = store.integrity_problem()? {
        rec.add(
            FindingKind::Storage,
            None,
            format!("the store's integrity check: {problem}"),
        );
    }
    let verifier = match signer::read(dir) {
        Ok(k) => Some(k.verifier()),
        Err(e) => {
            rec.add(
                FindingKind::Storage,
                None,
                format!("signing key unreadable: {e}"),
            );
            None
        }
    };
    let total = store.count_entries()?;

    // Attribute rows by entry, to compare against each entry's attributes.
    let mut attrs: HashMap<u64, BTreeMap<String, String>> = HashMap::new();
    for (k, v, idx) in store.attribute_rows()? {
        attrs.entry(idx).or_default().insert(k, v);
    }

    let stored_checkpoints = store.checkpoints()?;
    // Every commit stores the checkpoint it signed, and the entries of one commit share one
    // time: where the time changes, a commit ended, and its checkpoint must be there.
    let signed_sizes: std::collections::HashSet<u64> =
        stored_checkpoints.iter().map(|(s, _)| *s).collect();
    let mut previous_time: Option<i64> = None;
    let mut checkpoints = stored_checkpoints.into_iter().peekable();
    let mut checked_checkpoints = 0u64;
    let mut last_good: Option<u64> = None;
    let mut entry_tampered = false;
    let mut tiles_checked = 0u64;
    let mut edge = TileEdge::default();
    let mut created: HashMap<String, (u64, KeyEntry)> = HashMap::new();
    // The status index, rebuilt from the entries: each key's value and its entries.
    let mut rebuilt: BTreeMap<IndexKey, Rebuilt> = BTreeMap::new();
    let mut revoked: HashMap<String, u64> = HashMap::new();

    let mut check_checkpoint = |rec: &mut Recorder,
                                size: u64,
                                note: &str,
                                edge: &TileEdge,
                                entry_tampered: bool|
     -> Result<(), Error> {
        checked_checkpoints += 1;
        let Some(key) = &verifier else { return Ok(()) };
        let cp = match UnverifiedCheckpoint::parse(note).and_then(|c| c.verify(key)) {
            Ok(cp) => cp,
            Err(e) => {
                rec.add(
                    FindingKind::Checkpoint,
                    Some(size.saturating_sub(1)),
                    format!("checkpoint at size {size}: {e}"),
                );
                return Ok(());
            }
        };
        if cp.size().0 != size {
            rec.add(
                FindingKind::Checkpoint,
                Some(size.saturating_sub(1)),
                format!(
                    "checkpoint row {size} holds a checkpoint of size {}",
                    cp.size()
                ),
            );
            return Ok(());
        }
        let root = edge.root()?;
        if root == cp.root() {
            last_good = Some(size);
            return Ok(());
        }
        let tiles_root = merkle::root(&StoredTiles(store), TreeSize(size)).ok();
        if entry_tampered && tiles_root == Some(cp.root()) {
            // The entries changed after they were logged; the entry findings name them.
            return Ok(());
        }
        let with = last_good.map_or(String::new(), |g| {
            format!("; it is validly signed yet inconsistent with the checkpoint at size {g}")
        });
        rec.add(
            FindingKind::Checkpoint,
            Some(size.saturating_sub(1)),
            format!(
                "checkpoint at size {size} has root {} but the entries give {root}{with}",
                cp.root()
            ),
        );
        Ok(())
    };

    while let Some((s, note)) = checkpoints.next_if(|(s, _)| *s == 0) {
        check_checkpoint(&mut rec, s, &note, &edge, false)?;
    }

    let mut gap = false;
    store.scan_entries(&mut |row| {
        let size = edge.size();
        if gap {
            return Ok(());
        }
        if row.index != size {
            rec.add(
                FindingKind::Entry,
                Some(size),
                format!("entries {size}..{} are missing", row.index),
            );
            gap = true;
            return Ok(());
        }
        let stored = Columns {
            kind: known(row.kind.as_deref(), &["artifact", "key"]),
            sha256: row.sha256.map(|v| v.try_into().unwrap_or([0xff; 32])),
            name: row.name,
            signer: row.signer,
            status: known(
                row.status.as_deref(),
                &["trusted", "untrusted", "unsupported"],
            ),
            time_us: row.time_us,
            attributes: attrs.remove(&row.index).unwrap_or_default(),
        };
        let expected = match Entry::from_bytes(&row.data) {
            Ok(entry) => {
                let key = IndexKey::of_entry(&entry);
                let slot = rebuilt.entry(key).or_insert_with(|| Rebuilt {
                    value: Value::NONE,
                    indices: Vec::new(),
                    about: match &entry {
                        Entry::Artifact(a) => format!("artifact {}", a.sha256),
                        Entry::Key(k) => format!("signer {}", k.id),
                    },
                });
                slot.value = slot.value.push(row.index);
                slot.indices.push(row.index);
                if let Entry::Key(k) = &entry {
                    match k.action {
                        KeyAction::Created => {
                            created.insert(k.id.clone(), (row.index, k.clone()));
                        }
                        KeyAction::Revoked => {
                            revoked.insert(k.id.clone(), row.index);
                        }
                    };
                }
                Columns::of(&entry)
            }
            Err(_) => Columns::default(),
        };
        if let (Some(prev), Some(now)) = (previous_time, expected.time_us) {
            if now != prev && !signed_sizes.contains(&row.index) {
                rec.add(
                    FindingKind::Checkpoint,
                    Some(row.index),
                    format!(
                        "the checkpoint of size {} is missing: entries {} and {} were \
                         sequenced in different commits, and every commit stores its checkpoint",
                        row.index,
                        row.index - 1,
                        row.index
                    ),
                );
            }
        }
        previous_time = expected.time_us.or(previous_time);
        if stored != expected {
            rec.add(
                FindingKind::Index,
                Some(row.index),
                describe_index_mismatch(row.index, &stored, &expected),
            );
        }
        // Rebuild the tiles and compare each as it completes.
        let mut changes = EdgeChanges::default();
        edge.push(leaf_hash(&row.data), &mut changes);
        for tile in &changes.completed {
            tiles_checked += 1;
            compare_tile(store, &mut rec, tile, &mut entry_tampered)?;
        }
        let size = edge.size();
        while let Some((s, note)) = checkpoints.next_if(|(s, _)| *s == size) {
            check_checkpoint(&mut rec, s, &note, &edge, entry_tampered)?;
        }
        if size.is_multiple_of(65_536) {
            progress(size, total);
        }
        Ok(())
    })?;
    let size = edge.size();
    for level in 0u8.. {
        let Some(tile) = edge.tile(level) else { break };
        if tile.width() > 0 {
            tiles_checked += 1;
            compare_tile(store, &mut rec, tile, &mut entry_tampered)?;
        }
    }
    for (s, _) in checkpoints {
        rec.add(
            FindingKind::Checkpoint,
            Some(size),
            format!("checkpoint at size {s} is beyond the {size} stored entries"),
        );
    }
    let expected_tiles: u64 = (0u8..)
        .map_while(|level| edge.tile(level))
        .map(|t| t.index + u64::from(t.width() > 0))
        .sum();
    let stored_tiles = store.count_tiles()?;
    if stored_tiles != expected_tiles {
        rec.add(
            FindingKind::Tile,
            None,
            format!("{stored_tiles} tiles stored, the entries need {expected_tiles}"),
        );
    }
    let mut leftover: Vec<u64> = attrs.into_keys().collect();
    leftover.sort_unstable();
    for idx in leftover {
        rec.add(
            FindingKind::Index,
            Some(idx),
            format!("attribute rows for entry {idx}, which has no such attributes"),
        );
    }
    check_keys(store, &mut rec, &created, &revoked)?;
    check_index(store, &mut rec, rebuilt)?;
    check_index_nodes(store, &mut rec)?;
    progress(size, total);

    let first_bad_index = rec.findings.iter().filter_map(|f| f.index).min();
    Ok(LedgerAudit {
        dir: dir.to_owned(),
        entries: size,
        checkpoints: checked_checkpoints,
        tiles: tiles_checked,
        first_bad_index,
        findings: rec.findings,
        more_findings: rec.more,
    })
}

/// A key of the status index as the entries give it.
struct Rebuilt {
    value: Value,
    indices: Vec<u64>,
    /// What the key is, for findings.
    about: String,
}

/// Holds the status index against its rebuild from the entries: the root the latest
/// checkpoint commits to, the stored nodes behind it, and — where they differ — the first key
/// whose stored value disagrees, and the first of its entries concerned.
fn check_index(
    store: &dyn Reader,
    rec: &mut Recorder,
    rebuilt: BTreeMap<IndexKey, Rebuilt>,
) -> Result<(), Error> {
    let Some((size, note)) = store.latest_checkpoint()? else {
        return Ok(());
    };
    let Ok(claimed) = UnverifiedCheckpoint::parse(&note) else {
        return Ok(()); // the checkpoint findings name it
    };
    let committed = match claimed.claimed().index_root() {
        Ok(Some(root)) => root,
        // A ledger written before the index (or a plain C2SP log): nothing to hold it to.
        Ok(None) => return Ok(()),
        Err(e) => {
            rec.add(
                FindingKind::StatusIndex,
                Some(size.saturating_sub(1)),
                format!("checkpoint {size}: {e}"),
            );
            return Ok(());
        }
    };
    let expected = root_of_sorted(rebuilt.iter().map(|(k, r)| (*k, r.value)))?;
    let version = store.index_version(size)?;
    let stored = crate::index::root_hash(store, version);
    if expected == committed && stored.as_ref().ok() == Some(&committed) {
        return Ok(());
    }
    // Which key disagrees, and from which of its entries on.
    let mut first: Option<(u64, String)> = None;
    for (key, r) in &rebuilt {
        let held = match tree::prove(&crate::index::StoredIndex(store), version, key) {
            Ok(map) => map.leaf.filter(|l| l.key == *key).map(|l| l.value),
            Err(_) => None,
        };
        if held == Some(r.value) {
            continue;
        }
        let count = held.map_or(0, |v| v.count);
        let at = if count < r.value.count {
            r.indices[count as usize]
        } else {
            r.indices[0]
        };
        let why = format!(
            "the status index holds {count} entries for {}, the entries give {} (first concerned: entry {at})",
            r.about, r.value.count
        );
        if first.as_ref().is_none_or(|(i, _)| at < *i) {
            first = Some((at, why));
        }
    }
    let (index, message) = first.unwrap_or_else(|| {
        (
            size.saturating_sub(1),
            format!(
                "the status index root is {}, the entries give {expected}, and checkpoint {size} commits to {committed}",
                stored.map_or_else(|e| e.to_string(), |h| h.to_string())
            ),
        )
    });
    rec.add(FindingKind::StatusIndex, Some(index), message);
    Ok(())
}

/// Holds every stored node of the status index to what refers to it: a root to the checkpoint
/// that commits to it, every other node to its parent written in the same commit (a commit
/// writes the whole path from each key it touches to the root, so each node has one). A row
/// changed anywhere — under the latest root or an older one — breaks one of these.
fn check_index_nodes(store: &dyn Reader, rec: &mut Recorder) -> Result<(), Error> {
    // The root each version's checkpoint commits to (a root is written at the checkpoint of
    // the commit that wrote it).
    let mut committed: HashMap<u64, Option<notarium_core::Hash>> = HashMap::new();
    for (size, version) in store.index_versions()? {
        if version == Some(size) {
            let root = store
                .checkpoint(size)?
                .and_then(|n| UnverifiedCheckpoint::parse(&n).ok())
                .and_then(|c| c.claimed().index_root().ok().flatten());
            committed.insert(size, root);
        }
    }
    let mut bad: Option<(u64, String)> = None;
    let mut note = |version: u64, why: String| {
        let at = version.saturating_sub(1);
        if bad.as_ref().is_none_or(|(i, _)| at < *i) {
            bad = Some((at, why));
        }
    };
    store.scan_index_nodes(&mut |key_bytes, node_bytes| {
        let key = match tree::NodeKey::from_bytes(key_bytes) {
            Ok(k) => k,
            Err(e) => {
                note(0, format!("a status index row has a malformed key: {e}"));
                return Ok(());
            }
        };
        let node = match tree::Node::decode(node_bytes) {
            Ok(n) => n,
            Err(e) => {
                note(key.version, format!("status index node {key:?} does not decode: {e}"));
                return Ok(());
            }
        };
        if key.path.is_empty() {
            match committed.get(&key.version) {
                Some(Some(root)) if *root == node.hash() => {}
                Some(_) => note(
                    key.version,
                    format!(
                        "the status index root written at {} is not the one its checkpoint commits to",
                        key.version
                    ),
                ),
                None => note(
                    key.version,
                    format!("a status index root at {} has no checkpoint", key.version),
                ),
            }
        }
        if let tree::Node::Internal(n) = &node {
            for (slot, child) in n.children().iter().enumerate() {
                let Some(c) = child else { continue };
                let at = tree::NodeKey {
                    version: c.version,
                    path: key.path.child(slot as u8),
                };
                match store.index_node(&at) {
                    Ok(Some(found)) if found.hash() == c.hash => {}
                    Ok(_) | Err(_) => note(
                        c.version,
                        format!(
                            "status index node {at:?} is missing or not what its parent {key:?} records"
                        ),
                    ),
                }
            }
        }
        Ok(())
    })?;
    if let Some((at, why)) = bad {
        rec.add(FindingKind::StatusIndex, Some(at), why);
    }
    Ok(())
}

/// A stored column value as one of `known` values, `?` for anything else.
fn known(stored: Option<&str>, known: &[&'static str]) -> Option<&'static str> {
    stored.map(|s| known.iter().copied().find(|k| *k == s).unwrap_or("?"))
}

/// Compares a recomputed tile with the stored one, hash by hash. Returns true if they differ.
fn compare_tile(
    store: &dyn Reader,
    rec: &mut Recorder,
    tile: &TileTree,
    entry_tampered: &mut bool,
) -> Result<bool, Error> {
    let (level, index) = (tile.level, tile.index);
    let first_leaf = |pos: u64| ((index << 8) + pos).checked_shl(8 * u32::from(level));
    let Some(stored) = store.tile(level, index)? else {
        rec.add(
            FindingKind::Tile,
            first_leaf(0),
            format!("tile {level}/{index} is missing"),
        );
        return Ok(true);
    };
    if stored.len() != tile.width() * 32 {
        rec.add(
            FindingKind::Tile,
            first_leaf(0),
            format!(
                "tile {level}/{index} holds {} bytes, the entries give {}",
                stored.len(),
                tile.width() * 32
            ),
        );
    }
    let mut differs = false;
    for (pos, chunk) in stored.chunks(32).enumerate().take(tile.width()) {
        let want = tile.stored(pos).expect("pos < width");
        if chunk != want.0 {
            differs = true;
            let idx = first_leaf(pos as u64);
            if level > 0 && stored_hash_matches_stored_tile_below(store, level, index, pos)? {
                // The stored tiles agree with each other: the difference comes from a changed
                // entry below, which its own finding names.
                continue;
            }
            if level == 0 {
                // Tell a changed entry (tiles still match the signed tree) from a changed tile.
                let still_signed = stored_chain_is_signed(store, index)?;
                if still_signed {
                    *entry_tampered = true;
                    rec.add(
                        FindingKind::Entry,
                        idx,
                        format!(
                            "entry {} was changed after it was logged: its bytes hash to {want}, the signed tree holds {}",
                            idx.unwrap_or(0),
                            hex::encode(chunk)
                        ),
                    );
                    continue;
                }
            }
            rec.add(
                FindingKind::Tile,
                idx,
                format!(
                    "tile {level}/{index} hash {pos} is {} but the entries give {want}",
                    hex::encode(chunk)
                ),
            );
        }
    }
    Ok(differs)
}

/// Whether hash `pos` of stored tile `level/index` is the root of the stored tile below it.
fn stored_hash_matches_stored_tile_below(
    store: &dyn Reader,
    level: u8,
    index: u64,
    pos: usize,
) -> Result<bool, Error> {
    let (Some(upper), Some(lower)) = (
        store.tile(level, index)?,
        store.tile(level - 1, index * 256 + pos as u64)?,
    ) else {
        return Ok(false);
    };
    let below = TileTree::from_bytes(level - 1, index * 256 + pos as u64, &lower)?;
    Ok(
        below.root().map(|h| h.0.to_vec())
            == upper.get(pos * 32..pos * 32 + 32).map(<[u8]>::to_vec),
    )
}

/// Whether stored level-0 tile `index` hashes, through the stored tiles above it, into the
/// root of the latest signed checkpoint: then it is what was logged.
fn stored_chain_is_signed(store: &dyn Reader, index: u64) -> Result<bool, Error> {
    let (mut level, mut t) = (0u8, index);
    loop {
        let Some(bytes) = store.tile(level, t)? else {
            return Ok(false);
        };
        if bytes.len() < notarium_core::tiles::TILE_BYTES {
            // The right-most tile: the signed root covers all of it.
            return signed_root_matches_tiles(store);
        }
        if !stored_hash_matches_stored_tile_below(store, level + 1, t / 256, (t % 256) as usize)? {
            return Ok(false);
        }
        level += 1;
        t /= 256;
        let upper_full = store
            .tile(level, t)?
            .is_some_and(|b| b.len() == notarium_core::tiles::TILE_BYTES);
        if !upper_full {
            return signed_root_matches_tiles(store);
        }
    }
}

/// Whether the stored tiles reproduce the root of the latest stored checkpoint.
fn signed_root_matches_tiles(store: &dyn Reader) -> Result<bool, Error> {
    let Some((_, note)) = store.latest_checkpoint()? else {
        return Ok(false);
    };
    let Ok(cp) = UnverifiedCheckpoint::parse(&note) else {
        return Ok(false);
    };
    let claimed = cp.claimed();
    Ok(merkle::root(&StoredTiles(store), claimed.size).ok() == Some(claimed.root))
}

fn describe_index_mismatch(idx: u64, stored: &Columns, want: &Columns) -> String {
    let mut cols = Vec::new();
    if stored.kind != want.kind {
        cols.push("type");
    }
    if stored.sha256 != want.sha256 {
        cols.push("sha256");
    }
    if stored.name != want.name {
        cols.push("name");
    }
    if stored.signer != want.signer {
        cols.push("signer");
    }
    if stored.status != want.status {
        cols.push("status");
    }
    if stored.time_us != want.time_us {
        cols.push("time");
    }
    if stored.attributes != want.attributes {
        cols.push("attributes");
    }
    format!(
        "index row of entry {idx} disagrees with the entry in: {}",
        cols.join(", ")
    )
}

fn check_keys(
    store: &dyn Reader,
    rec: &mut Recorder,
    created: &HashMap<String, (u64, KeyEntry)>,
    revoked: &HashMap<String, u64>,
) -> Result<(), Error> {
    let rows = store.credentials()?;
    for (credential, key) in &rows {
        let (id, c, r) = (&key.id, key.created_index, key.revoked_index);
        match created.get(id) {
            Some((at, entry)) if *at == c => {
                if let Some(why) = key_row_mismatch(key, credential, entry) {
                    rec.add(FindingKind::Key, Some(c), why);
                }
            }
            _ => rec.add(
                FindingKind::Key,
                Some(c),
                format!("api key {id} has no matching created entry at {c}"),
            ),
        }
        if revoked.get(id) != r.as_ref() {
            rec.add(
                FindingKind::Key,
                r.or(Some(c)),
                format!("api key {id}: revocation row disagrees with the entries"),
            );
        }
    }
    if rows.len() != created.len() {
        rec.add(
            FindingKind::Key,
            None,
            format!("{} api key rows, {} key entries", rows.len(), created.len()),
        );
    }
    let revs = store.revocation_rows()?;
    for (id, idx) in &revs {
        if revoked.get(id) != Some(idx) {
            rec.add(
                FindingKind::Key,
                Some(*idx),
                format!("revocation of {id} at {idx} has no revocation entry"),
            );
        }
    }
    if revs.len() != revoked.len() {
        rec.add(
            FindingKind::Key,
            None,
            format!(
                "{} revocation rows, {} revocation entries",
                revs.len(),
                revoked.len()
            ),
        );
    }
    Ok(())
}
