//! Why a token was refused: one variant per reason, each with a stable code and a message that
//! never contains the token, nor any text taken from a token whose signature was not verified.

use super::alg::Algorithm;

/// How the HTTP layer should answer an [`OidcError`]; this module knows no status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The token does not authenticate anyone (401).
    Unauthenticated,
    /// The token is genuine but grants nothing here (403).
    Forbidden,
    /// The token could not be checked now; retrying later may succeed (503). API keys keep
    /// working meanwhile.
    Unavailable,
}

/// A token refused, or one that could not be checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// Longer than the configured `max_token_bytes`.
    #[error("the token is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Not a compact JWS: segments, base64url or JSON are wrong.
    #[error("the token is not a signed JWT: {0}")]
    Malformed(&'static str),
    /// `alg: none`, in any spelling.
    #[error("unsigned tokens (alg none) are refused")]
    AlgNone,
    /// HS256/HS384/HS512: a shared secret, which an issuer's public keys cannot check.
    #[error("HMAC-signed tokens are refused: only an issuer's published public keys are trusted")]
    AlgHmac,
    /// An algorithm Notarium does not verify (only RS256, ES256 and EdDSA are).
    #[error("the token's signature algorithm is not supported (RS256, ES256 and EdDSA are)")]
    AlgUnsupported,
    /// A supported algorithm the issuer's configuration does not allow.
    #[error("{alg} tokens are not accepted from issuer {issuer}")]
    AlgNotAllowed {
        /// The token's algorithm.
        alg: Algorithm,
        /// The configured issuer.
        issuer: String,
    },
    /// A `crit` header: extensions this verifier does not implement (RFC 7515 §4.1.11).
    #[error("the token names critical header extensions this server does not implement")]
    CritUnsupported,
    /// The `iss` claim names no configured issuer.
    #[error("the token's issuer is not one this server trusts")]
    UntrustedIssuer,
    /// No `kid` header: the key cannot be chosen.
    #[error("the token's header has no key id (kid)")]
    MissingKid,
    /// No published key has the token's `kid`, even after refreshing the issuer's keys.
    #[error("issuer {issuer} publishes no key with the token's key id")]
    UnknownKid {
        /// The configured issuer.
        issuer: String,
    },
    /// The named key is of another type, or published for another algorithm.
    #[error("the key the token names cannot verify {alg} signatures")]
    KeyMismatch {
        /// The token's algorithm.
        alg: Algorithm,
    },
    /// The signature does not verify with the named key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// A required claim is absent.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type, or a value that cannot be recorded (control characters,
    /// longer than an entry allows).
    #[error("the token's {claim} claim is invalid: {reason}")]
    InvalidClaim {
        /// The claim.
        claim: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// `exp` (plus the leeway) is past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` (minus the leeway) is still in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` does not hold the configured audience.
    #[error("the token's audience does not include {expected}")]
    WrongAudience {
        /// The configured audience.
        expected: String,
    },
    /// The token is genuine, but no rule of its issuer grants the asked-for ledger.
    #[error("no rule for issuer {issuer} grants ledger {ledger} to this token")]
    NoRuleMatches {
        /// The configured issuer.
        issuer: String,
        /// The ledger asked for.
        ledger: String,
    },
    /// The issuer's keys could not be fetched, and no fresh copy is cached: fail closed.
    #[error("issuer {issuer} cannot be reached to check the token; retry later")]
    IssuerUnavailable {
        /// The configured issuer.
        issuer: String,
    },
}

impl OidcError {
    /// The stable snake_case code of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::TooLarge { .. } => "token_too_large",
            OidcError::Malformed(_) => "token_malformed",
            OidcError::AlgNone => "token_alg_none",
            OidcError::AlgHmac => "token_alg_hmac",
            OidcError::AlgUnsupported => "token_alg_unsupported",
            OidcError::AlgNotAllowed { .. } => "token_alg_not_allowed",
            OidcError::CritUnsupported => "token_crit_unsupported",
            OidcError::UntrustedIssuer => "token_issuer_untrusted",
            OidcError::MissingKid => "token_kid_missing",
            OidcError::UnknownKid { .. } => "token_kid_unknown",
            OidcError::KeyMismatch { .. } => "token_key_mismatch",
            OidcError::BadSignature => "token_signature_invalid",
            OidcError::MissingClaim(_) => "token_claim_missing",
            OidcError::InvalidClaim { .. } => "token_claim_invalid",
            OidcError::Expired => "token_expired",
            OidcError::NotYetValid => "token_not_yet_valid",
            OidcError::WrongAudience { .. } => "token_audience_mismatch",
            OidcError::NoRuleMatches { .. } => "oidc_no_rule_matches",
            OidcError::IssuerUnavailable { .. } => "oidc_issuer_unavailable",
        }
    }

    /// How the HTTP layer should answer.
    pub fn class(&self) -> ErrorClass {
        match self {
            OidcError::NoRuleMatches { .. } => ErrorClass::Forbidden,
            OidcError::IssuerUnavailable { .. } => ErrorClass::Unavailable,
            _ => ErrorClass::Unauthenticated,
        }
    }
}

/// Every code [`OidcError::code`] can return, for documentation and tests.
pub const CODES: &[&str] = &[
    "token_too_large",
    "token_malformed",
    "token_alg_none",
    "token_alg_hmac",
    "token_alg_unsupported",
    "token_alg_not_allowed",
    "token_crit_unsupported",
    "token_issuer_untrusted",
    "token_kid_missing",
    "token_kid_unknown",
    "token_key_mismatch",
    "token_signature_invalid",
    "token_claim_missing",
    "token_claim_invalid",
    "token_expired",
    "token_not_yet_valid",
    "token_audience_mismatch",
    "oidc_no_rule_matches",
    "oidc_issuer_unavailable",
];
