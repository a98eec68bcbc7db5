//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the signed statement of a log's
//! origin, size and root. A checkpoint read off the wire is an [`UnverifiedCheckpoint`] until
//! [`UnverifiedCheckpoint::verify`] turns it into a [`SignedCheckpoint`].
//!
//! A Notarium checkpoint also commits to the status index ([`crate::index`]) in one extension
//! line, `notarium-index/v1 <base64 root>` ([`INDEX_LINE_PREFIX`], `docs/status-index.md` §9);
//! verifiers that do not know it ignore it, as C2SP lets them.

use std::fmt;

use crate::hash::{Hash, TreeSize};
use crate::note::{Note, SignerKey, VerifierKey};
use crate::Error;

/// A log's origin line, e.g. `localhost/notarium/default`: non-empty, printable, no spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    /// Maximum origin length accepted.
    pub const MAX_LEN: usize = 256;

    /// Validates an origin.
    ///
    /// # Errors
    /// [`Error::InvalidOrigin`] when empty, too long, or holding whitespace, `+` or control
    /// characters (the origin doubles as the signed-note key name).
    pub fn new(s: &str) -> Result<Self, Error> {
        if s.is_empty()
            || s.len() > Self::MAX_LEN
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '+')
        {
            return Err(Error::InvalidOrigin(s.chars().take(80).collect()));
        }
        Ok(Origin(s.to_owned()))
    }

    /// The origin text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What starts the extension line that commits to the status index's root.
pub const INDEX_LINE_PREFIX: &str = "notarium-index/v1 ";

/// The extension line of an attested checkpoint (docs/status-index.md, "Fresh status"): the
/// ledger's signed statement that at this time (seconds since the Unix epoch, UTC) the tree of
/// the checkpoint was its latest.
pub const TIME_LINE_PREFIX: &str = "notarium-time/v1 ";

/// The body of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin.
    pub origin: Origin,
    /// The tree size.
    pub size: TreeSize,
    /// The root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Optional extension lines, kept verbatim.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: origin, decimal size, base64 root, extension lines, each ending in `\n`.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size.0,
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a checkpoint body (the signed text of the note).
    ///
    /// # Errors
    /// [`Error::MalformedCheckpoint`].
    pub fn parse_body(text: &str) -> Result<Self, Error> {
        let body = text.strip_suffix('\n').ok_or(Error::MalformedCheckpoint(
            "checkpoint body must end in a newline",
        ))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or("");
        let origin =
            Origin::new(origin).map_err(|_| Error::MalformedCheckpoint("bad origin line"))?;
        let size_s = lines
            .next()
            .ok_or(Error::MalformedCheckpoint("missing size line"))?;
        if size_s.is_empty()
            || !size_s.bytes().all(|b| b.is_ascii_digit())
            || (size_s.len() > 1 && size_s.starts_with('0'))
        {
            return Err(Error::MalformedCheckpoint(
                "size must be decimal without leading zeros",
            ));
        }
        let size = size_s
            .parse::<u64>()
            .map_err(|_| Error::MalformedCheckpoint("size does not fit 64 bits"))?;
        let root_s = lines
            .next()
            .ok_or(Error::MalformedCheckpoint("missing root line"))?;
        let root =
            Hash::from_base64(root_s).map_err(|_| Error::MalformedCheckpoint("bad root hash"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(Error::MalformedCheckpoint("empty extension line"));
        }
        Ok(Checkpoint {
            origin,
            size: TreeSize(size),
            root,
            extensions,
        })
    }

    /// The status-index root this checkpoint commits to: the one extension line that starts
    /// with [`INDEX_LINE_PREFIX`], followed by exactly 44 characters of standard base64 of 32
    /// bytes. `None` when no extension line starts with `notarium-index/`.
    ///
    /// # Errors
    /// [`Error::MalformedCheckpoint`] for a line that starts with `notarium-index/` but is not
    /// exactly one well-formed `notarium-index/v1` line (another version included: a
    /// checkpoint this code cannot read the index of is refused, not taken as having none),
    /// or for two such lines.
    pub fn index_root(&self) -> Result<Option<Hash>, Error> {
        let mut found = None;
        for line in &self.extensions {
            if !line.starts_with("notarium-index/") {
                continue;
            }
            if found.is_some() {
                return Err(Error::MalformedCheckpoint("more than one index line"));
            }
            let b64 = line
                .strip_prefix(INDEX_LINE_PREFIX)
                .ok_or(Error::MalformedCheckpoint("unknown index line version"))?;
            // Exactly the 44 characters `Hash::to_base64` writes: canonical padding included.
            let root = Hash::from_base64(b64)
                .ok()
                .filter(|h| h.to_base64() == b64)
                .ok_or(Error::MalformedCheckpoint("bad index root"))?;
            found = Some(root);
        }
        Ok(found)
    }

    /// Makes the checkpoint commit to the status-index `root`: removes every line that
    /// starts with `notarium-index/` and appends the `notarium-index/v1` line after the other
    /// extension lines.
    pub fn set_index_root(&mut self, root: &Hash) {
        self.extensions
            .retain(|l| !l.starts_with("notarium-index/"));
        self.extensions
            .push(format!("{INDEX_LINE_PREFIX}{}", root.to_base64()));
    }

    /// The time this checkpoint attests to be the latest at (its `notarium-time/v1` line), in
    /// seconds since the Unix epoch; `None` without such a line.
    ///
    /// # Errors
    /// [`Error::MalformedCheckpoint`] for a malformed or repeated time line, or another version.
    pub fn time(&self) -> Result<Option<u64>, Error> {
        let mut found = None;
        for line in &self.extensions {
            if !line.starts_with("notarium-time/") {
                continue;
            }
            if found.is_some() {
                return Err(Error::MalformedCheckpoint("more than one time line"));
            }
            let digits = line
                .strip_prefix(TIME_LINE_PREFIX)
                .ok_or(Error::MalformedCheckpoint("unknown time line version"))?;
            // Canonical decimal: no sign, no leading zero, at most 20 digits.
            let ok = !digits.is_empty()
                && digits.len() <= 20
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'));
            let t = ok
                .then(|| digits.parse::<u64>().ok())
                .flatten()
                .ok_or(Error::MalformedCheckpoint("bad time"))?;
            found = Some(t);
        }
        Ok(found)
    }

    /// Makes the checkpoint attest `seconds` (since the Unix epoch) as the time its tree was the
    /// latest: replaces any time line with one `notarium-time/v1` line, before the index line.
    pub fn set_time(&mut self, seconds: u64) {
        self.extensions.retain(|l| !l.starts_with("notarium-time/"));
        let at = self
            .extensions
            .iter()
            .position(|l| l.starts_with("notarium-index/"))
            .unwrap_or(self.extensions.len());
        self.extensions
            .insert(at, format!("{TIME_LINE_PREFIX}{seconds}"));
    }

    /// Signs the checkpoint with the log's key.
    ///
    /// # Errors
    /// [`Error::MalformedNote`] if the body is not a valid note (cannot happen for a parsed
    /// origin and extensions without newlines).
    pub fn sign(&self, key: &SignerKey) -> Result<SignedCheckpoint, Error> {
        let note = key.sign_note(&self.to_text())?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        })
    }
}

/// A checkpoint as received: parsed, signatures not yet checked.
#[derive(Clone, Debug)]
pub struct UnverifiedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
    text: String,
}

impl UnverifiedCheckpoint {
    /// Parses a signed checkpoint note.
    ///
    /// # Errors
    /// [`Error::MalformedNote`] or [`Error::MalformedCheckpoint`].
    pub fn parse(signed: &str) -> Result<Self, Error> {
        let note = Note::parse(signed)?;
        let checkpoint = Checkpoint::parse_body(&note.text)?;
        Ok(UnverifiedCheckpoint {
            checkpoint,
            note,
            text: signed.to_owned(),
        })
    }

    /// The claimed body, for diagnostics only: nothing in it is authenticated.
    pub fn claimed(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Checks the origin against the key's name and the log's signature (cosignatures by
    /// other keys are ignored).
    ///
    /// # Errors
    /// [`Error::WrongOrigin`], [`Error::BadSignature`] or [`Error::UnknownSigner`].
    pub fn verify(self, key: &VerifierKey) -> Result<SignedCheckpoint, Error> {
        if self.checkpoint.origin.as_str() != key.name() {
            return Err(Error::WrongOrigin {
                expected: key.name().to_owned(),
                found: self.checkpoint.origin.as_str().to_owned(),
            });
        }
        self.note.verify(std::slice::from_ref(key))?;
        Ok(SignedCheckpoint {
            checkpoint: self.checkpoint,
            note: self.text,
        })
    }
}

/// A checkpoint whose log signature has been made or checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
}

impl SignedCheckpoint {
    /// The checkpoint body.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The whole signed note, byte-exact as signed or received.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// The tree size.
    pub fn size(&self) -> TreeSize {
        self.checkpoint.size
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.checkpoint.root
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn time_lines_are_canonical() {
        let mut c = Checkpoint {
            origin: Origin::new("example.com/log").unwrap(),
            size: TreeSize(3),
            root: Hash([1; 32]),
            extensions: vec![],
        };
        assert_eq!(c.time().unwrap(), None);
        c.set_index_root(&Hash([2; 32]));
        c.set_time(1_790_000_000);
        assert_eq!(c.time().unwrap(), Some(1_790_000_000));
        assert!(
            c.extensions[0].starts_with(TIME_LINE_PREFIX),
            "{:?}",
            c.extensions
        );
        c.set_time(5);
        assert_eq!(c.time().unwrap(), Some(5));
        assert_eq!(c.extensions.len(), 2);
        for bad in [
            "notarium-time/v1 ",
            "notarium-time/v1 01",
            "notarium-time/v1 -1",
            "notarium-time/v1 1e3",
            "notarium-time/v2 1",
        ] {
            c.extensions = vec![bad.to_owned()];
            assert!(c.time().is_err(), "{bad}");
        }
        c.extensions = vec!["notarium-time/v1 1".into(), "notarium-time/v1 2".into()];
        assert!(c.time().is_err());
    }
}
