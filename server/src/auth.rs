//! Who is calling: bearer credentials (the server admin token, a ledger's API keys) and how
//! they are looked up.
//!
//! Every API key of every ledger is held in memory by the SHA-256 of its secret, loaded when
//! the ledgers open and kept current by key creation and revocation, so an unknown token costs
//! one hash and one map lookup — never a storage query per ledger — before the rate limit
//! applies. Keys exist only as hashes; the secret is shown once, when created.
//!
//! With a database that several instances share (docs/postgresql.md), keys are created and
//! revoked through any of them: an unknown key is then looked up in its ledger before it is
//! refused, and a known one is checked there again when it was last checked more than
//! [`SHARED_KEY_RECHECK`] ago (`AppState::ledger_caller`), so that a revocation through another
//! instance takes effect here within that time.
//!
//! A bearer that is no known key or admin token and holds a `.` is presented as a CI token
//! ([`Presented::CiToken`]): the OIDC verifier ([`crate::oidc`]) checks it for the ledger a
//! request is for, and a verified one becomes [`Caller::Oidc`]. API keys never hold a dot.
//! Tokens may be longer than API keys (up to the verifier's `max_token_bytes`).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::Engine;
use notarium_core::api::Key;
use notarium_core::Role;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::oidc::OidcIdentity;

/// Longest API key or admin token accepted: a longer bearer can only be a CI token.
const MAX_KEY_BYTES: usize = 512;

/// On a shared database, how long a key checked against its ledger is trusted from memory.
pub const SHARED_KEY_RECHECK: Duration = Duration::from_secs(1);

/// An API key the server knows, by the hash of its secret.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    /// The ledger the key belongs to.
    pub ledger: String,
    /// The key id (the `signer` of its entries).
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Revoked.
    pub revoked: bool,
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// The server admin token.
    Admin,
    /// An API key.
    Key(KeyInfo),
    /// A CI's OIDC token, verified and granted a role on one ledger by a rule.
    Oidc(Box<OidcIdentity>),
}

/// What an `Authorization` header presents: a caller known from the credentials held here, or
/// a CI token still to be verified (for a ledger). Never printed: it may hold a token.
pub enum Presented<'a> {
    /// Anonymous, the admin token, or an API key.
    Caller(Caller),
    /// A bearer that is no known credential and may be a CI token.
    CiToken(&'a str),
}

/// The credentials of the server: the admin token's hash and every API key's.
#[derive(Debug)]
pub struct Credentials {
    admin: [u8; 32],
    metrics: Option<[u8; 32]>,
    keys: RwLock<HashMap<[u8; 32], KeyInfo>>,
    /// When each key was last checked against its ledger (shared databases only).
    checked: RwLock<HashMap<[u8; 32], Instant>>,
}

impl Credentials {
    /// Credentials with the admin token hashing to `admin` and no API keys yet.
    pub fn new(admin: [u8; 32]) -> Self {
        Credentials {
            admin,
            metrics: None,
            keys: RwLock::new(HashMap::new()),
            checked: RwLock::new(HashMap::new()),
        }
    }

    /// Makes `/metrics` require `token` (or the admin token).
    pub fn with_metrics_token(mut self, token: Option<&str>) -> Self {
        self.metrics = token.map(credential_hash);
        self
    }

    /// Whether a request with this `Authorization` value may read `/metrics`: anyone when no
    /// metrics token is configured, otherwise the metrics token or the admin token. API keys
    /// never: they belong to one ledger, metrics to the server.
    ///
    /// # Errors
    /// 401 without a credential or with another one.
    pub fn metrics_reader(&self, authorization: Option<&str>) -> ApiResult<()> {
        let Some(metrics) = &self.metrics else {
            return Ok(());
        };
        let refused = || {
            ApiError::Unauthorized(
                "/metrics needs the metrics token: Authorization: Bearer <metrics token>".into(),
            )
        };
        let token = authorization.and_then(bearer_token).ok_or_else(refused)?;
        let hash = credential_hash(token);
        if ct_eq(&hash, metrics) || ct_eq(&hash, &self.admin) {
            Ok(())
        } else {
            Err(refused())
        }
    }

    /// Adds the keys of ledger `ledger`, as stored: `(credential hash, key)`.
    pub fn load(&self, ledger: &str, keys: Vec<([u8; 32], Key)>) {
        let mut map = self.keys.write().unwrap_or_else(|e| e.into_inner());
        for (hash, key) in keys {
            map.insert(
                hash,
                KeyInfo {
                    ledger: ledger.to_owned(),
                    id: key.id,
                    role: key.role,
                    revoked: key.revoked_index.is_some(),
                },
            );
        }
    }

    /// Identifies the caller from an `Authorization` header value, without CI tokens: for
    /// routes that name no ledger (a token is granted per ledger).
    ///
    /// # Errors
    /// 401 for a malformed header, an unknown or a revoked key, or a CI token.
    pub fn caller(&self, authorization: Option<&str>) -> ApiResult<Caller> {
        match self.identify(authorization)? {
            Presented::Caller(c) => Ok(c),
            Presented::CiToken(_) => Err(ApiError::Unauthorized(
                "a CI token is a credential for a ledger's routes only; use an API key or the admin token here"
                    .into(),
            )),
        }
    }

    /// What an `Authorization` header value presents. The scheme `Bearer` is matched
    /// case-insensitively (RFC 9110 §11.1). Known credentials are looked up first, so that an
    /// admin token with dots stays the admin token.
    ///
    /// # Errors
    /// 401 for a malformed header, an unknown or a revoked key.
    pub fn identify<'a>(&self, authorization: Option<&'a str>) -> ApiResult<Presented<'a>> {
        let Some(value) = authorization else {
            return Ok(Presented::Caller(Caller::Anonymous));
        };
        let token = bearer_token(value).ok_or_else(|| {
            ApiError::Unauthorized("expected Authorization: Bearer <api key or CI token>".into())
        })?;
        if token.len() <= MAX_KEY_BYTES {
            let hash = credential_hash(token);
            if ct_eq(&hash, &self.admin) {
                return Ok(Presented::Caller(Caller::Admin));
            }
            let info = self
                .keys
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&hash)
                .cloned();
            if let Some(info) = info {
                if info.revoked {
                    return Err(ApiError::Unauthorized(
                        "this API key has been revoked".into(),
                    ));
                }
                return Ok(Presented::Caller(Caller::Key(info)));
            }
        }
        if token.contains('.') {
            return Ok(Presented::CiToken(token));
        }
        Err(ApiError::Unauthorized(if token.len() > MAX_KEY_BYTES {
            format!("unknown API key: API keys are at most {MAX_KEY_BYTES} bytes")
        } else {
            "unknown API key".into()
        }))
    }

    /// Remembers a key created by this process (after its entry has committed).
    pub fn add(&self, secret: &str, info: KeyInfo) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(credential_hash(secret), info);
    }

    /// Whether the key hashing to `hash` was checked against its ledger within
    /// [`SHARED_KEY_RECHECK`].
    pub fn checked_recently(&self, hash: &[u8; 32]) -> bool {
        self.checked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .is_some_and(|at| at.elapsed() < SHARED_KEY_RECHECK)
    }

    /// Records that the key hashing to `hash` was just checked against its ledger.
    pub fn mark_checked(&self, hash: [u8; 32]) {
        self.checked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash, Instant::now());
    }

    /// Makes a revocation take effect for every later request.
    pub fn revoke(&self, ledger: &str, id: &str) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        for info in keys.values_mut() {
            if info.ledger == ledger && info.id == id {
                info.revoked = true;
            }
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value, if well-formed. Its length is
/// bounded by the HTTP layer's header limit here, and by each credential's own limit after.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// The hash an `Authorization` value's bearer would have as an API key: `None` without a
/// bearer, or for one too long to be a key.
pub fn presented_key(authorization: Option<&str>) -> Option<[u8; 32]> {
    let token = bearer_token(authorization?)?;
    (token.len() <= MAX_KEY_BYTES).then(|| credential_hash(token))
}

/// SHA-256 of a bearer secret: how keys and the admin token are stored and looked up.
pub fn credential_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two hashes in constant time.
pub fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `N` random bytes from the operating system.
///
/// # Errors
/// When the OS has no randomness to give.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(b)
}

/// A new bearer secret with a prefix: `<prefix>` + base64url of 256 random bits.
///
/// # Errors
/// When the OS has no randomness to give.
pub fn new_secret(prefix: &str) -> anyhow::Result<String> {
    let bytes = random_bytes::<32>()?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq() {
        let a = credential_hash("x");
        assert!(ct_eq(&a, &credential_hash("x")));
        assert!(!ct_eq(&a, &credential_hash("y")));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }

    #[test]
    fn long_or_dotted_bearers_are_ci_tokens_and_short_ones_keys() {
        let c = Credentials::new(credential_hash("admin.token.with.dots"));
        assert!(matches!(
            c.identify(Some("Bearer admin.token.with.dots")),
            Ok(Presented::Caller(Caller::Admin))
        ));
        let jwt = format!("eyJ{}.eyJ{}.sig", "a".repeat(600), "b".repeat(600));
        assert!(
            matches!(c.identify(Some(&format!("Bearer {jwt}"))), Ok(Presented::CiToken(t)) if t == jwt),
            "a token longer than an API key reaches the verifier"
        );
        let err = c.caller(Some(&format!("Bearer {jwt}"))).unwrap_err();
        assert!(
            matches!(&err, ApiError::Unauthorized(m) if m.contains("ledger")),
            "{err:?}"
        );
        assert!(matches!(
            c.identify(Some(&format!("Bearer {}", "a".repeat(513)))),
            Err(ApiError::Unauthorized(m)) if m.contains("512")
        ));
        assert!(matches!(
            c.identify(Some("Bearer nk_unknown")),
            Err(ApiError::Unauthorized(m)) if m == "unknown API key"
        ));
    }

    #[test]
    fn metrics_token() {
        let open = Credentials::new(credential_hash("admin-token-0123456789"));
        assert!(
            open.metrics_reader(None).is_ok(),
            "no token configured: open"
        );
        let c = Credentials::new(credential_hash("admin-token-0123456789"))
            .with_metrics_token(Some("metrics-token-0123456789"));
        assert!(c
            .metrics_reader(Some("Bearer metrics-token-0123456789"))
            .is_ok());
        assert!(c
            .metrics_reader(Some("bearer admin-token-0123456789"))
            .is_ok());
        for refused in [
            None,
            Some("Bearer nope"),
            Some("Basic metrics-token-0123456789"),
        ] {
            assert!(matches!(
                c.metrics_reader(refused),
                Err(ApiError::Unauthorized(_))
            ));
        }
    }

    #[test]
    fn unknown_and_revoked_keys_are_refused_without_storage() {
        let c = Credentials::new(credential_hash("admin-token-0123456789"));
        assert!(matches!(
            c.caller(Some("Bearer admin-token-0123456789")),
            Ok(Caller::Admin)
        ));
        assert!(matches!(
            c.caller(Some("Bearer nope")),
            Err(ApiError::Unauthorized(_))
        ));
        c.add(
            "nk_secret",
            KeyInfo {
                ledger: "default".into(),
                id: "k_1".into(),
                role: Role::Write,
                revoked: false,
            },
        );
        assert!(matches!(c.caller(Some("Bearer nk_secret")), Ok(Caller::Key(k)) if k.id == "k_1"));
        c.revoke("default", "k_1");
        assert!(matches!(
            c.caller(Some("Bearer nk_secret")),
            Err(ApiError::Unauthorized(_))
        ));
    }
}
