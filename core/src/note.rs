//! C2SP signed-note with Ed25519 (<https://c2sp.org/signed-note>), compatible with Go's
//! `golang.org/x/mod/sumdb/note`: key ids, verifier-key and signer-key texts, signing, and
//! verifying notes that carry several signatures.

use std::fmt;

use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256 as Sha256Hasher};

use crate::hash::B64;
use crate::Error;

/// Signature type byte of Ed25519 in signed-note key ids.
pub const ALG_ED25519: u8 = 0x01;

/// The em dash and space that start a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Checks a key name: non-empty, no whitespace, no `+` (signed-note §Keys).
fn check_key_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(Error::InvalidKey(
            "key name must be non-empty, without spaces or '+'",
        ));
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || alg || pubkey)[:4]`, as a big-endian `u32`.
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256Hasher::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A public Ed25519 note-verifier key with its name: `<name>+<hex id>+<base64(0x01‖pubkey)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parses the verifier-key text and checks that its id matches its key.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for any malformed part or an id that does not match.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::InvalidKey(
                "verifier key must be <name>+<hex id>+<base64 key>",
            ));
        };
        check_key_name(name)?;
        if id_hex.len() != 8 {
            return Err(Error::InvalidKey("key id must be 8 hex characters"));
        }
        let id =
            u32::from_str_radix(id_hex, 16).map_err(|_| Error::InvalidKey("key id is not hex"))?;
        let raw = B64
            .decode(key_b64)
            .map_err(|_| Error::InvalidKey("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(Error::InvalidKey(
                "only Ed25519 keys (type 0x01, 32 bytes) are supported",
            ));
        }
        let bytes: [u8; 32] = raw[1..].try_into().expect("length checked");
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| Error::InvalidKey("not a valid Ed25519 public key"))?;
        if key_id(name, ALG_ED25519, &bytes) != id {
            return Err(Error::InvalidKey("key id does not match the key"));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key's name (for a ledger: its origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Checks one signature over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify(msg, &sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

/// A private Ed25519 note-signer key. Its text form is Go's
/// `PRIVATE+KEY+<name>+<hex id>+<base64(0x01‖seed)>`; `Debug` never shows the secret.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    id: u32,
    key: SigningKey,
}

impl SignerKey {
    /// A signer from a 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a bad name.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, Error> {
        check_key_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, ALG_ED25519, key.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01‖seed)>`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for any malformed part or an id that does not match.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(Error::InvalidKey("signer key must start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::InvalidKey(
                "signer key must be PRIVATE+KEY+<name>+<id>+<key>",
            ));
        };
        let id =
            u32::from_str_radix(id_hex, 16).map_err(|_| Error::InvalidKey("key id is not hex"))?;
        let raw = B64
            .decode(key_b64)
            .map_err(|_| Error::InvalidKey("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(Error::InvalidKey(
                "only Ed25519 keys (type 0x01, 32-byte seed) are supported",
            ));
        }
        let seed: [u8; 32] = raw[1..].try_into().expect("length checked");
        let signer = SignerKey::from_seed(name, seed)?;
        if signer.id != id || id_hex.len() != 8 {
            return Err(Error::InvalidKey("key id does not match the key"));
        }
        Ok(signer)
    }

    /// The Go-compatible private key text. Keep it secret.
    pub fn to_text(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(raw)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline) and returns the whole signed note.
    ///
    /// # Errors
    /// [`Error::MalformedNote`] when the text is not a valid note body.
    pub fn sign_note(&self, text: &str) -> Result<String, Error> {
        check_note_text(text)?;
        Ok(format!("{text}\n{}\n", self.signature_line(text)))
    }

    /// The signature line (without trailing newline) for `text`.
    pub fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut payload = Vec::with_capacity(68);
        payload.extend_from_slice(&self.id.to_be_bytes());
        payload.extend_from_slice(&sig.to_bytes());
        format!("{SIG_PREFIX}{} {}", self.name, B64.encode(payload))
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignerKey({}+{:08x}, secret redacted)",
            self.name, self.id
        )
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id (first 4 bytes of the payload).
    pub id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
}

/// A signed note split into its text and signatures; nothing is verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signatures, in order.
    pub signatures: Vec<NoteSignature>,
}

fn check_note_text(text: &str) -> Result<(), Error> {
    if !text.ends_with('\n') {
        return Err(Error::MalformedNote("note text must end in a newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(Error::MalformedNote(
            "note text must not contain blank lines",
        ));
    }
    if text.chars().any(|c| c != '\n' && c.is_control()) {
        return Err(Error::MalformedNote(
            "note text must not contain control characters",
        ));
    }
    Ok(())
}

/// Largest note accepted by [`Note::parse`]; checkpoints are far smaller.
pub const MAX_NOTE_LEN: usize = 1 << 20;
/// Most signature lines accepted (as Go's `note` package).
pub const MAX_SIGNATURES: usize = 100;

impl Note {
    /// Splits a signed note into text and signature lines.
    ///
    /// # Errors
    /// [`Error::MalformedNote`] when the layout is wrong.
    pub fn parse(signed: &str) -> Result<Note, Error> {
        if signed.len() > MAX_NOTE_LEN {
            return Err(Error::MalformedNote("note is too large"));
        }
        if !signed.ends_with('\n') {
            return Err(Error::MalformedNote("signed note must end in a newline"));
        }
        let split = signed.rfind("\n\n").ok_or(Error::MalformedNote(
            "signed note has no blank line before its signatures",
        ))?;
        let text = &signed[..split + 1];
        check_note_text(text)?;
        let mut signatures = Vec::new();
        for line in signed[split + 2..]
            .strip_suffix('\n')
            .unwrap_or("")
            .split('\n')
        {
            let rest = line.strip_prefix(SIG_PREFIX).ok_or(Error::MalformedNote(
                "signature line must start with an em dash",
            ))?;
            let (name, b64) = rest.split_once(' ').ok_or(Error::MalformedNote(
                "signature line must be '— <name> <base64>'",
            ))?;
            check_key_name(name).map_err(|_| Error::MalformedNote("bad key name in signature"))?;
            let payload = B64
                .decode(b64)
                .map_err(|_| Error::MalformedNote("signature is not base64"))?;
            if payload.len() < 5 {
                return Err(Error::MalformedNote("signature is too short"));
            }
            if signatures.len() == MAX_SIGNATURES {
                return Err(Error::MalformedNote("more than 100 signatures"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                id: u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]),
                signature: payload[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(Error::MalformedNote("signed note has no signatures"));
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the note against `known` keys: signatures by unknown keys are ignored, a
    /// signature by a known key that does not verify rejects the note, and at least one known
    /// key must have signed. Returns the keys that verified.
    ///
    /// # Errors
    /// [`Error::BadSignature`] or [`Error::UnknownSigner`].
    pub fn verify<'k>(&self, known: &'k [VerifierKey]) -> Result<Vec<&'k VerifierKey>, Error> {
        let mut ok = Vec::new();
        for sig in &self.signatures {
            for key in known
                .iter()
                .filter(|k| k.name == sig.name && k.id == sig.id)
            {
                if !key.verify(self.text.as_bytes(), &sig.signature) {
                    return Err(Error::BadSignature(key.name.clone()));
                }
                if !ok.iter().any(|k: &&VerifierKey| std::ptr::eq(*k, key)) {
                    ok.push(key);
                }
            }
        }
        if ok.is_empty() {
            return Err(Error::UnknownSigner);
        }
        Ok(ok)
    }
}
