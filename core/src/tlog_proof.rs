//! C2SP tlog-proof (<https://c2sp.org/tlog-proof>): a self-contained, offline-verifiable
//! proof that an entry is in a log.

use base64::Engine;

use crate::hash::{Hash, LeafIndex, B64};
use crate::Error;

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A parsed tlog-proof. The checkpoint is still unverified text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// The entry's index.
    pub index: LeafIndex,
    /// The inclusion proof, leaf's sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// Renders the proof text.
    pub fn render(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        s.push_str(&format!("index {}\n", self.index.0));
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parses a proof text.
    ///
    /// # Errors
    /// [`Error::MalformedProof`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = Error::MalformedProof;
        let (head, checkpoint) = text.split_once("\n\n").ok_or(bad("missing blank line"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("first line must be c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or(bad("missing index line"))?;
        let mut extra = None;
        if let Some(e) = line.strip_prefix("extra ") {
            extra = Some(B64.decode(e).map_err(|_| bad("extra is not base64"))?);
            line = lines.next().ok_or(bad("missing index line"))?;
        }
        let idx = line
            .strip_prefix("index ")
            .ok_or(bad("missing index line"))?;
        if idx.is_empty()
            || !idx.bytes().all(|b| b.is_ascii_digit())
            || (idx.len() > 1 && idx.starts_with('0'))
        {
            return Err(bad("index must be decimal without leading zeros"));
        }
        let index = idx
            .parse::<u64>()
            .map_err(|_| bad("index does not fit 64 bits"))?;
        let proof = lines
            .map(|l| Hash::from_base64(l).map_err(|_| bad("proof line is not a base64 hash")))
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > 64 {
            return Err(bad("inclusion proof longer than 64 hashes"));
        }
        Ok(TlogProof {
            extra,
            index: LeafIndex(index),
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }
}
