//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile paths and entry bundles.
//!
//! A tile at level `L` holds up to 256 hashes of tree level `8·L`; the hash at level `L + 1`
//! is the root of a full tile at level `L`. The right-most tile of each level is partial and
//! is served as `.p/<width>`.

use crate::Error;

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;
/// Bytes in a full tile of hashes.
pub const TILE_BYTES: usize = 256 * 32;
/// Largest tile level a path may name (C2SP: at most 63).
pub const MAX_TILE_LEVEL: u8 = 63;

/// Which tile a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileKind {
    /// A tile of Merkle hashes at this tile level.
    Hashes(u8),
    /// An entry bundle (`tile/entries/...`).
    Entries,
}

/// A tile address: kind, index and width (1–256; 256 is a full tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TilePath {
    /// Hash tile level or entry bundle.
    pub kind: TileKind,
    /// The tile's index within its level.
    pub index: u64,
    /// Number of hashes or entries: 256 for a full tile, 1–255 for a partial one.
    pub width: u16,
}

/// Encodes a tile index in C2SP form: 3-digit groups, all but the last prefixed by `x`.
pub fn encode_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn decode_index(parts: &[&str]) -> Result<u64, Error> {
    let bad = || Error::InvalidTilePath("bad tile index");
    let (last, prefix) = parts.split_last().ok_or_else(bad)?;
    let mut n: u64 = 0;
    for (i, p) in prefix.iter().enumerate() {
        let digits = p.strip_prefix('x').ok_or_else(bad)?;
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if i == 0 && digits == "000" {
            return Err(bad());
        }
        n = n
            .checked_mul(1000)
            .and_then(|v| v.checked_add(digits.parse().ok()?))
            .ok_or_else(bad)?;
    }
    if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    n = n
        .checked_mul(1000)
        .and_then(|v| v.checked_add(last.parse().ok()?))
        .ok_or_else(bad)?;
    Ok(n)
}

impl TilePath {
    /// The path below the log prefix, e.g. `tile/0/x001/234.p/7` or `tile/entries/000`.
    pub fn to_path(&self) -> String {
        let kind = match self.kind {
            TileKind::Hashes(l) => l.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let mut s = format!("tile/{kind}/{}", encode_index(self.index));
        if self.width < 256 {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// Parses a path of the form `tile/<L|entries>/<N>[.p/<W>]`.
    ///
    /// # Errors
    /// [`Error::InvalidTilePath`] for anything else.
    pub fn parse(path: &str) -> Result<Self, Error> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or(Error::InvalidTilePath("must start with tile/"))?;
        let (kind_s, rest) = rest
            .split_once('/')
            .ok_or(Error::InvalidTilePath("missing tile index"))?;
        let kind = if kind_s == "entries" {
            TileKind::Entries
        } else {
            if kind_s.is_empty()
                || !kind_s.bytes().all(|b| b.is_ascii_digit())
                || (kind_s.len() > 1 && kind_s.starts_with('0'))
            {
                return Err(Error::InvalidTilePath("bad tile level"));
            }
            let l: u8 = kind_s
                .parse()
                .map_err(|_| Error::InvalidTilePath("bad tile level"))?;
            if l > MAX_TILE_LEVEL {
                return Err(Error::InvalidTilePath("tile level above 63"));
            }
            TileKind::Hashes(l)
        };
        let (index_s, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                if w.is_empty()
                    || !w.bytes().all(|b| b.is_ascii_digit())
                    || w.starts_with('0')
                    || w.len() > 3
                {
                    return Err(Error::InvalidTilePath("bad partial width"));
                }
                let w: u16 = w
                    .parse()
                    .map_err(|_| Error::InvalidTilePath("bad partial width"))?;
                if !(1..=255).contains(&w) {
                    return Err(Error::InvalidTilePath("partial width must be 1-255"));
                }
                (i, w)
            }
            None => (rest, 256),
        };
        let parts: Vec<&str> = index_s.split('/').collect();
        let index = decode_index(&parts)?;
        Ok(TilePath { kind, index, width })
    }
}

/// Encodes entries as a C2SP entry bundle: each entry as a big-endian `u16` length and bytes.
///
/// # Errors
/// [`Error::EntryTooLarge`] for an entry of 65,536 bytes or more.
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| Error::EntryTooLarge(e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Splits an entry bundle into its entries.
///
/// # Errors
/// [`Error::MalformedBundle`] when a length runs past the end.
pub fn decode_bundle(mut data: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < 2 {
            return Err(Error::MalformedBundle);
        }
        let len = u16::from_be_bytes([data[0], data[1]]) as usize;
        if data.len() < 2 + len {
            return Err(Error::MalformedBundle);
        }
        out.push(&data[2..2 + len]);
        data = &data[2 + len..];
    }
    Ok(out)
}

/// The tiles at `level` that make up a tree of `size` leaves: `(full tiles, partial width)`.
pub fn tiles_at_level(size: u64, level: u8) -> (u64, u16) {
    let shift = u32::from(level) * 8;
    let hashes = if shift >= 64 { 0 } else { size >> shift };
    (hashes / TILE_WIDTH, (hashes % TILE_WIDTH) as u16)
}
