//! The offline audit: recompute a ledger from its entries alone and compare every stored
//! tile, index row, key row and signed checkpoint against the recomputation.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use notarium_core::merkle::{self, NodeSource};
use notarium_core::{leaf_hash, Entry, Hash, KeyAction, SignerKey, TreeSize, UnverifiedCheckpoint};

use crate::read::{index_columns, tile_bytes, IndexColumns};
use crate::store;
use crate::tiles::{locate, TileTree};
use crate::Error;

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

/// The result of [`audit`].
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
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

impl AuditReport {
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

/// Stored tiles as a node source, to tell a changed entry from a changed tile.
struct StoredTiles<'a>(&'a Connection);

impl NodeSource for StoredTiles<'_> {
    type Error = Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let (tl, t, r, pos) = locate(level, index);
        let bytes = tile_bytes(self.0, tl, t)?.unwrap_or_default();
        TileTree::from_bytes(tl, t, &bytes)?
            .node(r, pos)
            .ok_or_else(|| {
                Error::Corrupt(format!("stored tile {tl}/{t} lacks node {level}/{index}"))
            })
    }
}

/// Recomputes the ledger in `dir` from its entries and reports every disagreement.
/// `progress(done, total)` is called every 65,536 entries and at the end.
///
/// # Errors
/// Only when the database cannot be read at all; everything else is a finding.
pub fn audit(dir: &Path, mut progress: impl FnMut(u64, u64)) -> Result<AuditReport, Error> {
    let db = dir.join(store::DB_FILE);
    if !db.exists() {
        return Err(Error::NotFound(format!(
            "no ledger database in {}",
            dir.display()
        )));
    }
    let conn = store::open_reader(&db)?;
    let mut rec = Recorder {
        findings: Vec::new(),
        more: 0,
    };

    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        rec.add(
            FindingKind::Storage,
            None,
            format!("SQLite integrity check: {check}"),
        );
    }
    let verifier = match std::fs::read_to_string(dir.join(store::KEY_FILE))
        .map_err(|e| e.to_string())
        .and_then(|t| SignerKey::parse(&t).map_err(|e| e.to_string()))
    {
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
    let total: u64 = conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))?;

    // Attribute rows by entry, to compare against each entry's attributes.
    let mut attrs: HashMap<u64, BTreeMap<String, String>> = HashMap::new();
    {
        let mut stmt = conn.prepare("SELECT key, value, idx FROM attributes")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u64>(2)?,
            ))
        })?;
        for row in rows {
            let (k, v, idx) = row?;
            attrs.entry(idx).or_default().insert(k, v);
        }
    }

    let mut checkpoints = {
        let mut stmt = conn.prepare("SELECT size, note FROM checkpoints ORDER BY size")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?)))?;
        rows.collect::<Result<Vec<_>, _>>()?.into_iter().peekable()
    };
    let mut checked_checkpoints = 0u64;
    let mut last_good: Option<u64> = None;
    let mut entry_tampered = false;
    let mut tiles_checked = 0u64;
    let mut right: Vec<TileTree> = Vec::new();
    let mut created: HashMap<String, u64> = HashMap::new();
    let mut revoked: HashMap<String, u64> = HashMap::new();
    let mut size = 0u64;

    let mut check_checkpoint = |rec: &mut Recorder,
                                size: u64,
                                note: &str,
                                right: &[TileTree],
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
        let edge: Vec<Arc<TileTree>> = right.iter().cloned().map(Arc::new).collect();
        let root = merkle::root(&Edge(&edge), TreeSize(size))?;
        if root == cp.root() {
            last_good = Some(size);
            return Ok(());
        }
        let tiles_root = merkle::root(&StoredTiles(&conn), TreeSize(size)).ok();
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
        check_checkpoint(&mut rec, s, &note, &right, false)?;
    }

    let mut stmt = conn.prepare(
        "SELECT idx, data, type, sha256, name, signer, status, time_us FROM entries ORDER BY idx",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let idx: u64 = row.get(0)?;
        if idx != size {
            rec.add(
                FindingKind::Entry,
                Some(size),
                format!("entries {size}..{idx} are missing"),
            );
            break;
        }
        let data: Vec<u8> = row.get(1)?;
        let stored = IndexColumns {
            kind: match row.get::<_, Option<String>>(2)?.as_deref() {
                Some("artifact") => Some("artifact"),
                Some("key") => Some("key"),
                None => None,
                Some(_) => Some("?"),
            },
            sha256: row
                .get::<_, Option<Vec<u8>>>(3)?
                .map(|v| v.try_into().unwrap_or([0xff; 32])),
            name: row.get(4)?,
            signer: row.get(5)?,
            status: match row.get::<_, Option<String>>(6)?.as_deref() {
                Some("trusted") => Some("trusted"),
                Some("untrusted") => Some("untrusted"),
                Some("unsupported") => Some("unsupported"),
                None => None,
                Some(_) => Some("?"),
            },
            time_us: row.get(7)?,
            attributes: attrs.remove(&idx).unwrap_or_default(),
        };
        let expected = match Entry::from_bytes(&data) {
            Ok(entry) => {
                if let Entry::Key(k) = &entry {
                    match k.action {
                        KeyAction::Created => created.insert(k.id.clone(), idx),
                        KeyAction::Revoked => revoked.insert(k.id.clone(), idx),
                    };
                }
                index_columns(&entry)
            }
            Err(_) => IndexColumns::default(),
        };
        if stored != expected {
            rec.add(
                FindingKind::Index,
                Some(idx),
                describe_index_mismatch(idx, &stored, &expected),
            );
        }
        // Rebuild tiles and compare each as it completes.
        let mut h = leaf_hash(&data);
        let mut level = 0u8;
        loop {
            if right.len() <= level as usize {
                right.push(TileTree::empty(level, 0));
            }
            let tile = &mut right[level as usize];
            tile.push(h);
            if !tile.is_full() {
                break;
            }
            tiles_checked += 1;
            if compare_tile(&conn, &mut rec, tile, &mut entry_tampered)? {
                // keep going: later tiles are compared against the recomputation
            }
            h = tile.root().expect("full");
            *tile = TileTree::empty(level, tile.index + 1);
            level += 1;
        }
        size += 1;
        while let Some((s, note)) = checkpoints.next_if(|(s, _)| *s == size) {
            check_checkpoint(&mut rec, s, &note, &right, entry_tampered)?;
        }
        if size.is_multiple_of(65_536) {
            progress(size, total);
        }
    }
    drop(rows);
    for tile in &right {
        if tile.width() > 0 {
            tiles_checked += 1;
            compare_tile(&conn, &mut rec, tile, &mut entry_tampered)?;
        }
    }
    for (s, _) in checkpoints {
        rec.add(
            FindingKind::Checkpoint,
            Some(size),
            format!("checkpoint at size {s} is beyond the {size} stored entries"),
        );
    }
    let expected_tiles: u64 = right
        .iter()
        .map(|t| t.index + u64::from(t.width() > 0))
        .sum();
    let stored_tiles: u64 = conn.query_row("SELECT COUNT(*) FROM tiles", [], |r| r.get(0))?;
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
    check_keys(&conn, &mut rec, &created, &revoked)?;
    progress(size, total);

    let first_bad_index = rec.findings.iter().filter_map(|f| f.index).min();
    Ok(AuditReport {
        dir: dir.to_owned(),
        entries: size,
        checkpoints: checked_checkpoints,
        tiles: tiles_checked,
        first_bad_index,
        findings: rec.findings,
        more_findings: rec.more,
    })
}

struct Edge<'a>(&'a [Arc<TileTree>]);

impl NodeSource for Edge<'_> {
    type Error = Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let (tl, t, r, pos) = locate(level, index);
        self.0
            .get(tl as usize)
            .filter(|tile| tile.index == t)
            .and_then(|tile| tile.node(r, pos))
            .ok_or_else(|| Error::Corrupt(format!("node {level}/{index} is not on the right edge")))
    }
}

/// Compares a recomputed tile with the stored one, hash by hash. Returns true if they differ.
fn compare_tile(
    conn: &Connection,
    rec: &mut Recorder,
    tile: &TileTree,
    entry_tampered: &mut bool,
) -> Result<bool, Error> {
    let (level, index) = (tile.level, tile.index);
    let first_leaf = |pos: u64| ((index << 8) + pos).checked_shl(8 * u32::from(level));
    let Some(stored) = tile_bytes(conn, level, index)? else {
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
            if level > 0 && stored_hash_matches_stored_tile_below(conn, level, index, pos)? {
                // The stored tiles agree with each other: the difference comes from a changed
                // entry below, which its own finding names.
                continue;
            }
            if level == 0 {
                // Tell a changed entry (tiles still match the signed tree) from a changed tile.
                let still_signed = stored_chain_is_signed(conn, index)?;
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
    conn: &Connection,
    level: u8,
    index: u64,
    pos: usize,
) -> Result<bool, Error> {
    let (Some(upper), Some(lower)) = (
        tile_bytes(conn, level, index)?,
        tile_bytes(conn, level - 1, index * 256 + pos as u64)?,
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
fn stored_chain_is_signed(conn: &Connection, index: u64) -> Result<bool, Error> {
    let (mut level, mut t) = (0u8, index);
    loop {
        let Some(bytes) = tile_bytes(conn, level, t)? else {
            return Ok(false);
        };
        if bytes.len() < notarium_core::tiles::TILE_BYTES {
            // The right-most tile: the signed root covers all of it.
            return signed_root_matches_tiles(conn);
        }
        if !stored_hash_matches_stored_tile_below(conn, level + 1, t / 256, (t % 256) as usize)? {
            return Ok(false);
        }
        level += 1;
        t /= 256;
        let upper_full = tile_bytes(conn, level, t)?
            .is_some_and(|b| b.len() == notarium_core::tiles::TILE_BYTES);
        if !upper_full {
            return signed_root_matches_tiles(conn);
        }
    }
}

/// Whether the stored tiles reproduce the root of the latest stored checkpoint.
fn signed_root_matches_tiles(conn: &Connection) -> Result<bool, Error> {
    let latest: Option<String> = conn
        .query_row(
            "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(note) = latest else { return Ok(false) };
    let Ok(cp) = UnverifiedCheckpoint::parse(&note) else {
        return Ok(false);
    };
    let claimed = cp.claimed();
    Ok(merkle::root(&StoredTiles(conn), claimed.size).ok() == Some(claimed.root))
}

fn describe_index_mismatch(idx: u64, stored: &IndexColumns, want: &IndexColumns) -> String {
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
    conn: &Connection,
    rec: &mut Recorder,
    created: &HashMap<String, u64>,
    revoked: &HashMap<String, u64>,
) -> Result<(), Error> {
    let mut stmt = conn.prepare("SELECT id, created_idx, revoked_idx FROM api_keys")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u64>(1)?,
                r.get::<_, Option<u64>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, c, r) in &rows {
        if created.get(id) != Some(c) {
            rec.add(
                FindingKind::Key,
                Some(*c),
                format!("api key {id} has no matching created entry at {c}"),
            );
        }
        if revoked.get(id) != r.as_ref() {
            rec.add(
                FindingKind::Key,
                r.or(Some(*c)),
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
    let mut stmt = conn.prepare("SELECT key_id, idx FROM revocations")?;
    let revs = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
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
