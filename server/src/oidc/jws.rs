//! Compact JWS (RFC 7515 §7.1) as OIDC ID tokens use it: parsing with every structural check,
//! public keys from a JWK Set (RFC 7517), and signature verification with ring.
//!
//! Only three algorithms exist here (RFC 7518 §3.3, §3.4; RFC 8037): RS256, ES256 and EdDSA
//! (Ed25519). `none` and the HMAC family are recognised only to be refused with their own
//! error; everything else is "unsupported". The algorithm a key may verify is decided by the
//! key's type (and its `alg`, when the JWK names one), never by the token alone, so a token
//! cannot make an RSA public key act as an HMAC secret.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::OidcError;

pub use super::alg::Algorithm;

/// Longest `kid` accepted; real ones are a few dozen characters.
const MAX_KID_BYTES: usize = 256;

/// A token whose structure is sound and whose signature is not checked yet. Nothing in it may
/// be believed, or echoed in an error, before [`PublicKey::verify`] succeeds.
pub(crate) struct UnverifiedToken<'a> {
    /// `BASE64URL(header) "." BASE64URL(payload)`: what the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
    /// The header's algorithm.
    pub alg: Algorithm,
    /// The header's key id.
    pub kid: Option<String>,
    /// The payload's claims.
    pub claims: Map<String, Value>,
}

/// True when `bearer` has the shape of a compact JWS (three base64url segments, a JSON header):
/// how a credential extractor tells an OIDC token from an API key without trying both.
pub fn looks_like_jwt(bearer: &str) -> bool {
    let mut parts = bearer.split('.');
    let header = parts.next().unwrap_or_default();
    bearer.bytes().filter(|b| *b == b'.').count() == 2
        // `{"` in base64url: every JSON header starts with it.
        && header.starts_with("eyJ")
        && bearer
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Parses a compact JWS. The order of the checks decides the error: size, segments, header
/// (and its algorithm), payload, signature encoding.
///
/// # Errors
/// [`OidcError::TooLarge`], [`OidcError::Malformed`], [`OidcError::AlgNone`],
/// [`OidcError::AlgHmac`], [`OidcError::AlgUnsupported`], [`OidcError::CritUnsupported`].
pub(crate) fn parse(token: &str, max_bytes: usize) -> Result<UnverifiedToken<'_>, OidcError> {
    if token.len() > max_bytes {
        return Err(OidcError::TooLarge { limit: max_bytes });
    }
    if token.is_empty() {
        return Err(OidcError::Malformed("empty"));
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(OidcError::Malformed("characters outside base64url"));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts[..] else {
        return Err(OidcError::Malformed(if parts.len() == 5 {
            "an encrypted JWT (JWE) is not a signed one"
        } else {
            "not three dot-separated segments"
        }));
    };
    let header = decode_object(header_b64, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(name)) => classify(name)?,
        Some(_) => return Err(OidcError::Malformed("the header's alg is not a string")),
        None => return Err(OidcError::Malformed("the header has no alg")),
    };
    if header.contains_key("crit") {
        return Err(OidcError::CritUnsupported);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Some(k.clone()),
        Some(_) => {
            return Err(OidcError::Malformed(
                "the header's kid is not a short non-empty string",
            ))
        }
    };
    let claims = decode_object(payload_b64, "payload")?;
    if signature_b64.is_empty() {
        return Err(OidcError::Malformed("no signature"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| OidcError::Malformed("the signature is not base64url"))?;
    Ok(UnverifiedToken {
        signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
        signature,
        alg,
        kid,
        claims,
    })
}

/// Sorts a header `alg` into refused kinds and the supported algorithms.
fn classify(name: &str) -> Result<Algorithm, OidcError> {
    if name.eq_ignore_ascii_case("none") {
        return Err(OidcError::AlgNone);
    }
    if matches!(name, "HS256" | "HS384" | "HS512") {
        return Err(OidcError::AlgHmac);
    }
    Algorithm::from_name(name).ok_or(OidcError::AlgUnsupported)
}

fn decode_object(b64: &str, what: &'static str) -> Result<Map<String, Value>, OidcError> {
    let bytes = URL_SAFE_NO_PAD.decode(b64).map_err(|_| {
        OidcError::Malformed(match what {
            "header" => "the header is not base64url",
            _ => "the payload is not base64url",
        })
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(OidcError::Malformed(match what {
            "header" => "the header is not a JSON object",
            _ => "the payload is not a JSON object",
        })),
    }
}

/// A public key from an issuer's JWK Set, checked and ready for ring.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// An uncompressed P-256 point, `04 || x || y`.
    P256(Vec<u8>),
    /// An Ed25519 public key.
    Ed25519([u8; 32]),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKey::Rsa { n, .. } => write!(f, "RSA-{}", n.len() * 8),
            PublicKey::P256(_) => f.write_str("P-256"),
            PublicKey::Ed25519(_) => f.write_str("Ed25519"),
        }
    }
}

impl PublicKey {
    /// The one algorithm this key type verifies.
    fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Rsa { .. } => Algorithm::Rs256,
            PublicKey::P256(_) => Algorithm::Es256,
            PublicKey::Ed25519(_) => Algorithm::EdDsa,
        }
    }

    /// Checks `signature` over `message` for `alg`.
    ///
    /// # Errors
    /// [`OidcError::KeyMismatch`] when this key cannot verify `alg`; [`OidcError::BadSignature`]
    /// when the signature is wrong.
    pub fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> Result<(), OidcError> {
        if self.algorithm() != alg {
            return Err(OidcError::KeyMismatch { alg });
        }
        let ok = match self {
            PublicKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            PublicKey::P256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            PublicKey::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(OidcError::BadSignature)
        }
    }
}

/// One usable key of a JWK Set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Jwk {
    /// The algorithm the JWK restricts itself to, if it names one.
    pub alg: Option<Algorithm>,
    /// The key.
    pub key: PublicKey,
}

impl Jwk {
    /// Verifies a token's signature with this key.
    ///
    /// # Errors
    /// [`OidcError::KeyMismatch`], [`OidcError::BadSignature`].
    pub fn verify(&self, token: &UnverifiedToken<'_>) -> Result<(), OidcError> {
        if self.alg.is_some_and(|a| a != token.alg) {
            return Err(OidcError::KeyMismatch { alg: token.alg });
        }
        self.key
            .verify(token.alg, token.signing_input.as_bytes(), &token.signature)
    }
}

/// The usable keys of an issuer's JWK Set, by `kid`.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, Jwk>,
}

/// A JWK as published; every member optional so that one odd key does not spoil the set.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl KeySet {
    /// Reads a JWK Set document (`{"keys":[…]}`). Keys this verifier cannot use (encryption
    /// keys, other curves, RSA under 2048 bits, no `kid`) are left out, each with the reason;
    /// a set with none left is valid and verifies nothing.
    ///
    /// # Errors
    /// When the document is not a JSON object with a `keys` array.
    pub fn parse(doc: &[u8]) -> Result<(KeySet, Vec<String>), String> {
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<Value>,
        }
        let raw: RawSet = serde_json::from_slice(doc).map_err(|e| format!("not a JWK Set: {e}"))?;
        let mut set = KeySet::default();
        let mut skipped = Vec::new();
        for (i, v) in raw.keys.into_iter().enumerate() {
            match serde_json::from_value::<RawJwk>(v)
                .map_err(|e| e.to_string())
                .and_then(|k| {
                    let kid = k
                        .kid
                        .clone()
                        .filter(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES);
                    let kid = kid.ok_or("no usable kid")?;
                    Ok((kid, k.into_jwk()?))
                }) {
                Ok((kid, jwk)) => match set.keys.entry(kid) {
                    Entry::Occupied(e) => {
                        skipped.push(format!("key {i}: duplicate kid {:?}", e.key()));
                    }
                    Entry::Vacant(e) => {
                        e.insert(jwk);
                    }
                },
                Err(reason) => skipped.push(format!("key {i}: {reason}")),
            }
        }
        Ok((set, skipped))
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&Jwk> {
        self.keys.get(kid)
    }

    /// How many keys are usable.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

fn b64(field: &str, v: Option<&String>) -> Result<Vec<u8>, String> {
    let v = v.ok_or_else(|| format!("no {field}"))?;
    URL_SAFE_NO_PAD
        .decode(v)
        .map_err(|_| format!("{field} is not base64url"))
}

impl RawJwk {
    fn into_jwk(self) -> Result<Jwk, String> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err("not a signing key (use)".into());
        }
        if self
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
        {
            return Err("not a verification key (key_ops)".into());
        }
        let alg = match self.alg.as_deref() {
            None => None,
            Some(name) => Some(
                Algorithm::from_name(name).ok_or_else(|| format!("algorithm {name:?} unused"))?,
            ),
        };
        let key = match (self.kty.as_deref(), self.crv.as_deref()) {
            (Some("RSA"), _) => {
                let n = strip_zeros(b64("n", self.n.as_ref())?);
                let e = strip_zeros(b64("e", self.e.as_ref())?);
                if n.len() < 256 {
                    return Err(format!(
                        "RSA key of {} bits; 2048 or more needed",
                        n.len() * 8
                    ));
                }
                if n.len() > 1024 || e.is_empty() || e.len() > 8 {
                    return Err("RSA key outside 2048-8192 bits or odd exponent".into());
                }
                PublicKey::Rsa { n, e }
            }
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (b64("x", self.x.as_ref())?, b64("y", self.y.as_ref())?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("P-256 coordinates are not 32 bytes".into());
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicKey::P256(point)
            }
            (Some("OKP"), Some("Ed25519")) => {
                let x: [u8; 32] = b64("x", self.x.as_ref())?
                    .try_into()
                    .map_err(|_| "Ed25519 key is not 32 bytes".to_owned())?;
                PublicKey::Ed25519(x)
            }
            (kty, crv) => return Err(format!("key type {kty:?}/{crv:?} unused")),
        };
        if alg.is_some_and(|a| a != key.algorithm()) {
            return Err("alg does not fit the key type".into());
        }
        Ok(Jwk { alg, key })
    }
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn shape() {
        let h = enc(&serde_json::json!({"alg":"RS256","kid":"k"}));
        let p = enc(&serde_json::json!({"iss":"x"}));
        let t = format!("{h}.{p}.AAAA");
        assert!(looks_like_jwt(&t));
        let u = parse(&t, 8192).map_err(|e| e.code()).unwrap();
        assert_eq!((u.alg, u.kid.as_deref()), (Algorithm::Rs256, Some("k")));
        assert_eq!(u.signing_input, format!("{h}.{p}"));
        assert!(!looks_like_jwt("nk_abcdef"));
        assert!(!looks_like_jwt("eyJ.a"));
    }

    #[test]
    fn refusals() {
        let p = enc(&serde_json::json!({}));
        for (header, code) in [
            (serde_json::json!({"alg":"none"}), "token_alg_none"),
            (serde_json::json!({"alg":"nOnE"}), "token_alg_none"),
            (serde_json::json!({"alg":"HS256"}), "token_alg_hmac"),
            (serde_json::json!({"alg":"PS256"}), "token_alg_unsupported"),
            (serde_json::json!({"alg":"rs256"}), "token_alg_unsupported"),
            (
                serde_json::json!({"alg":"RS256","crit":["b64"]}),
                "token_crit_unsupported",
            ),
            (serde_json::json!({"alg":7}), "token_malformed"),
            (
                serde_json::json!({"alg":"RS256","kid":""}),
                "token_malformed",
            ),
        ] {
            let t = format!("{}.{p}.AAAA", enc(&header));
            assert_eq!(
                parse(&t, 8192).err().map(|e| e.code()),
                Some(code),
                "{header}"
            );
        }
        // Padding and non-canonical trailing bits are not base64url.
        let h = enc(&serde_json::json!({"alg":"RS256"}));
        assert_eq!(
            parse(&format!("{h}.{p}.AAA="), 8192)
                .err()
                .map(|e| e.code()),
            Some("token_malformed")
        );
        assert_eq!(
            parse(&format!("{h}.{p}.AB"), 8192).err().map(|e| e.code()),
            Some("token_malformed")
        );
    }

    #[test]
    fn jwks() {
        let doc = serde_json::json!({"keys":[
            {"kty":"RSA","kid":"small","n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]),"e":"AQAB"},
            {"kty":"RSA","kid":"enc","use":"enc","n": URL_SAFE_NO_PAD.encode([0xc5u8; 256]),"e":"AQAB"},
            {"kty":"RSA","kid":"ok","alg":"RS256","n": URL_SAFE_NO_PAD.encode([0xc5u8; 256]),"e":"AQAB"},
            {"kty":"EC","kid":"p384","crv":"P-384","x":"AA","y":"AA"},
            {"kty":"EC","kid":"wrongalg","alg":"RS256","crv":"P-256","x": URL_SAFE_NO_PAD.encode([1u8; 32]),"y": URL_SAFE_NO_PAD.encode([1u8; 32])},
            {"kty":"OKP","kid":"ed","crv":"Ed25519","x": URL_SAFE_NO_PAD.encode([1u8; 32])},
            {"kty":"OKP","crv":"Ed25519","x": URL_SAFE_NO_PAD.encode([1u8; 32])},
            "not an object"
        ]});
        let (set, skipped) = KeySet::parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 2, "{skipped:?}");
        assert!(set.get("ok").is_some() && set.get("ed").is_some());
        assert_eq!(skipped.len(), 6);
        assert!(KeySet::parse(b"[]").is_err());
    }
}
