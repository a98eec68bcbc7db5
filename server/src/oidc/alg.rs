//! The JWS signature algorithms Notarium verifies (RFC 7518 §3.3, §3.4; RFC 8037), apart from
//! the parsing and verification in `jws` so that errors can name them without importing it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The signature algorithms Notarium verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048–8192 bits (GitHub, GitLab, Jenkins).
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256, signatures as the 64-byte `r || s`.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name, exactly as registered (names are case-sensitive).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "RS256" => Some(Algorithm::Rs256),
            "ES256" => Some(Algorithm::Es256),
            "EdDSA" => Some(Algorithm::EdDsa),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
