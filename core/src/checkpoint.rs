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
