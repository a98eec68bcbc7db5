//! Reads: entries, tiles, checkpoints, authentication, history and search. All run on reader
//! connections against one snapshot, so every answer is covered by one signed checkpoint.

use std::collections::BTreeMap;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde::Serialize;

use notarium_core::{
    Entry, Receipt, SignedCheckpoint, Status, Timestamp, UnverifiedCheckpoint, VerifierKey,
};

use crate::writer::parse_role;
use crate::{Error, KeyRecord, Ledger, View};

/// The secondary-index columns of an entry, derived from its bytes alone (the audit
/// recomputes them the same way).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct IndexColumns {
    pub kind: Option<&'static str>,
    pub sha256: Option<[u8; 32]>,
    pub name: Option<String>,
    pub signer: Option<String>,
    pub status: Option<&'static str>,
    pub time_us: Option<i64>,
    pub attributes: BTreeMap<String, String>,
}

pub(crate) fn index_columns(entry: &Entry) -> IndexColumns {
    index_columns_at(entry, Timestamp::parse(entry.time()).ok().map(|t| t.0))
}

/// [`index_columns`] when the entry's time is already known (the writer's case).
pub(crate) fn index_columns_at(entry: &Entry, time_us: Option<i64>) -> IndexColumns {
    match entry {
        Entry::Artifact(a) => IndexColumns {
            kind: Some("artifact"),
            sha256: Some(a.sha256.0),
            name: Some(a.name.clone()),
            signer: Some(a.signer.clone()),
            status: Some(a.status.as_str()),
            time_us,
            attributes: a.attributes.clone(),
        },
        Entry::Key(k) => IndexColumns {
            kind: Some("key"),
            signer: Some(k.signer.clone()),
            time_us,
            ..IndexColumns::default()
        },
    }
}

pub(crate) fn tile_bytes(
    conn: &Connection,
    level: u8,
    index: u64,
) -> Result<Option<Vec<u8>>, Error> {
    Ok(conn
        .prepare_cached("SELECT hashes FROM tiles WHERE level = ?1 AND idx = ?2")?
        .query_row(params![level, index], |r| r.get(0))
        .optional()?)
}

pub(crate) fn entry_bytes(conn: &Connection, index: u64) -> Result<Vec<u8>, Error> {
    conn.prepare_cached("SELECT data FROM entries WHERE idx = ?1")?
        .query_row([index], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::Corrupt(format!("entry {index} is missing")))
}

pub(crate) fn entry_range(conn: &Connection, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT idx, data FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
    )?;
    let rows = stmt.query_map([start, end], |r| {
        Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::with_capacity((end - start) as usize);
    for (i, row) in rows.enumerate() {
        let (idx, data) = row?;
        if idx != start + i as u64 {
            return Err(Error::Corrupt(format!(
                "entry {} is missing",
                start + i as u64
            )));
        }
        out.push(data);
    }
    if out.len() as u64 != end - start {
        return Err(Error::Corrupt(format!(
            "entries {start}..{end} are incomplete"
        )));
    }
    Ok(out)
}

/// The first index whose time is at or after `time_us` (by the `(time_us, idx)` index).
pub(crate) fn first_index_at(conn: &Connection, time_us: i64) -> Result<Option<u64>, Error> {
    Ok(conn
        .prepare_cached(
            "SELECT idx FROM entries WHERE time_us >= ?1 ORDER BY time_us, idx LIMIT 1",
        )?
        .query_row([time_us], |r| r.get(0))
        .optional()?)
}

pub(crate) fn checkpoint_at(
    conn: &Connection,
    key: &VerifierKey,
    size: u64,
) -> Result<Option<SignedCheckpoint>, Error> {
    let note: Option<String> = conn
        .prepare_cached("SELECT note FROM checkpoints WHERE size = ?1")?
        .query_row([size], |r| r.get(0))
        .optional()?;
    note.map(|n| {
        UnverifiedCheckpoint::parse(&n)
            .and_then(|c| c.verify(key))
            .map_err(|e| Error::Corrupt(format!("stored checkpoint {size}: {e}")))
    })
    .transpose()
}

/// The answer to "what is the status of this hash?".
#[derive(Clone, Debug, Serialize)]
pub struct Authentication {
    /// The decided status.
    pub status: Status,
    /// The entry that decided it (absent for `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// For `revoked`: the entry that revoked the deciding entry's signer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Receipt>,
}

/// Most signers accepted in one filter.
pub const MAX_SIGNERS: usize = 32;

pub(crate) fn authenticate(
    ledger: &Ledger,
    view: &View<'_>,
    sha256: &notarium_core::Sha256,
    signers: &[String],
) -> Result<Authentication, Error> {
    if signers.len() > MAX_SIGNERS {
        return Err(
            notarium_core::Error::InvalidField("signer", format!("at most {MAX_SIGNERS}")).into(),
        );
    }
    let size = view.snap.size();
    let mut sql = String::from(
        "SELECT idx, data, signer FROM entries WHERE sha256 = ?1 AND idx < ?2 AND type = 'artifact'",
    );
    if !signers.is_empty() {
        sql.push_str(" AND signer IN (");
        sql.push_str(&vec!["?"; signers.len()].join(","));
        sql.push(')');
    }
    sql.push_str(" ORDER BY idx DESC LIMIT 1");
    let mut args: Vec<rusqlite::types::Value> =
        vec![sha256.0.to_vec().into(), (size as i64).into()];
    args.extend(
        signers
            .iter()
            .map(|s| rusqlite::types::Value::from(s.clone())),
    );
    let found: Option<(u64, Vec<u8>, String)> = view
        .conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((idx, data, signer)) = found else {
        return Ok(Authentication {
            status: Status::Unknown,
            receipt: None,
            revocation: None,
        });
    };
    let entry =
        Entry::from_bytes(&data).map_err(|e| Error::Corrupt(format!("entry {idx}: {e}")))?;
    let Entry::Artifact(artifact) = entry else {
        return Err(Error::Corrupt(format!(
            "entry {idx} is indexed as an artifact but is not one"
        )));
    };
    let receipt = ledger.build_receipt(view, idx, &data)?;
    let revoked: Option<u64> = view
        .conn
        .prepare_cached("SELECT idx FROM revocations WHERE key_id = ?1 AND idx < ?2")?
        .query_row(params![signer, size], |r| r.get(0))
        .optional()?;
    if let Some(ridx) = revoked {
        let rdata = entry_bytes(view.conn, ridx)?;
        return Ok(Authentication {
            status: Status::Revoked,
            receipt: Some(receipt),
            revocation: Some(ledger.build_receipt(view, ridx, &rdata)?),
        });
    }
    Ok(Authentication {
        status: artifact.status.into(),
        receipt: Some(receipt),
        revocation: None,
    })
}

/// Filters for [`Ledger::search`]; all given filters must match.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// Exact artifact hash.
    pub sha256: Option<notarium_core::Sha256>,
    /// Exact artifact name.
    pub name: Option<String>,
    /// Exact signer key id.
    pub signer: Option<String>,
    /// Recorded status (`trusted`, `untrusted`, `unsupported`).
    pub status: Option<notarium_core::ArtifactStatus>,
    /// Attribute `key` equal to `value`.
    pub attr: Option<(String, String)>,
    /// Entries sequenced at or after this time.
    pub since: Option<Timestamp>,
    /// Entries sequenced before this time.
    pub until: Option<Timestamp>,
    /// Only entries with an index greater than this (the cursor).
    pub after: Option<u64>,
    /// Page size (1–1,000; 0 means 100).
    pub limit: usize,
}

/// Largest page.
pub const MAX_PAGE: usize = 1000;

/// One page of entries, each with a receipt in the page's checkpoint.
#[derive(Clone, Debug, Serialize)]
pub struct Page {
    /// The checkpoint every receipt is proven against.
    pub checkpoint: String,
    /// The entries, oldest first.
    pub entries: Vec<Receipt>,
    /// The cursor for the next page (`after=`), if there may be more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

pub(crate) fn search(ledger: &Ledger, view: &View<'_>, q: &SearchQuery) -> Result<Page, Error> {
    let limit = match q.limit {
        0 => 100,
        n => n.min(MAX_PAGE),
    };
    let size = view.snap.size();
    let mut sql = String::from("SELECT e.idx, e.data FROM entries e");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some((k, v)) = &q.attr {
        sql.push_str(" JOIN attributes a ON a.idx = e.idx AND a.key = ? AND a.value = ?");
        args.push(k.clone().into());
        args.push(v.clone().into());
    }
    sql.push_str(" WHERE e.idx < ? AND e.idx >= ?");
    args.push((size as i64).into());
    let start = match q.after {
        Some(a) => a.saturating_add(1),
        None => 0,
    };
    args.push((start.min(i64::MAX as u64) as i64).into());
    if let Some(h) = &q.sha256 {
        sql.push_str(" AND e.sha256 = ?");
        args.push(h.0.to_vec().into());
    }
    if let Some(n) = &q.name {
        sql.push_str(" AND e.name = ?");
        args.push(n.clone().into());
    }
    if let Some(s) = &q.signer {
        sql.push_str(" AND e.signer = ?");
        args.push(s.clone().into());
    }
    if let Some(s) = &q.status {
        sql.push_str(" AND e.status = ?");
        args.push(s.as_str().to_owned().into());
    }
    if let Some(t) = &q.since {
        sql.push_str(" AND e.time_us >= ?");
        args.push(t.0.into());
    }
    if let Some(t) = &q.until {
        sql.push_str(" AND e.time_us < ?");
        args.push(t.0.into());
    }
    sql.push_str(" ORDER BY e.idx LIMIT ?");
    args.push(((limit + 1) as i64).into());
    let mut stmt = view.conn.prepare_cached(&sql)?;
    let rows: Vec<(u64, Vec<u8>)> = stmt
        .query_map(params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let more = rows.len() > limit;
    let mut entries = Vec::with_capacity(rows.len().min(limit));
    for (idx, data) in rows.into_iter().take(limit) {
        entries.push(ledger.build_receipt(view, idx, &data)?);
    }
    let next = if more {
        entries.last().map(|r| r.index)
    } else {
        None
    };
    Ok(Page {
        checkpoint: view.snap.checkpoint.note().to_owned(),
        entries,
        next,
    })
}

fn key_record(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, u64, Option<u64>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_record(row: (String, String, String, u64, Option<u64>)) -> Result<KeyRecord, Error> {
    Ok(KeyRecord {
        id: row.0,
        name: row.1,
        role: parse_role(&row.2)?,
        created_index: row.3,
        revoked_index: row.4,
    })
}

pub(crate) fn find_credential(
    conn: &Connection,
    credential: &[u8; 32],
) -> Result<Option<KeyRecord>, Error> {
    conn.prepare_cached(
        "SELECT id, name, role, created_idx, revoked_idx FROM api_keys WHERE credential = ?1",
    )?
    .query_row([&credential[..]], key_record)
    .optional()?
    .map(to_record)
    .transpose()
}

pub(crate) fn keys(conn: &Connection) -> Result<Vec<KeyRecord>, Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, role, created_idx, revoked_idx FROM api_keys ORDER BY created_idx",
    )?;
    let rows = stmt
        .query_map([], key_record)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(to_record).collect()
}
