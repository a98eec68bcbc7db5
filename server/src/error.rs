//! The one error type of the HTTP API and its one mapping to responses (docs/http-api.md):
//! `{"error":{"code":"<snake_case>","message":"<for humans>"}}` with a fitting status. A 5xx
//! never carries internal text: the real error is logged here, once.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use notarium_core::api::{ErrorBody, ErrorDetail};

use crate::oidc::{ErrorClass, OidcError};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed input (`code` says which kind).
    #[error("{message}")]
    BadRequest {
        /// Code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// 401: no key, an unknown key or a revoked key.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the key's role or ledger does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 414: the request target is longer than the server reads.
    #[error("the request URI is longer than {0} bytes")]
    UriTooLong(usize),
    /// 431: the request head is larger than the server reads.
    #[error("the request headers are larger than the server accepts")]
    HeadersTooLarge,
    /// 413: the body exceeds the configured limit.
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    /// 415: not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422: well-formed JSON whose values break a rule.
    #[error("{0}")]
    Invalid(String),
    /// 422: a report over a range holding more entries than a report may.
    #[error("{0}")]
    RangeTooLarge(String),
    /// 429: over the key's rate; retry after this many seconds.
    #[error("rate limit exceeded")]
    RateLimited(u64),
    /// 503: not ready, shutting down, overloaded or timed out (`code` says which).
    #[error("{message}")]
    Unavailable {
        /// Code.
        code: &'static str,
        /// Message.
        message: &'static str,
    },
    /// A CI token refused (401: it authenticates no one; 403: no rule grants the ledger) or
    /// that cannot be checked now (503: its issuer's keys cannot be fetched; retry after
    /// `retry_after` seconds). The code is the verifier's; the message never holds the token.
    #[error("{error}")]
    Oidc {
        /// Why.
        error: OidcError,
        /// Seconds before the issuer's keys may be fetched again (503 only).
        retry_after: u64,
    },
    /// 503: the ledger cannot write or read its storage; the detail is logged only.
    #[error("storage: {0}")]
    Storage(String),
    /// 500: a bug; the detail is logged only.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(_) | ApiError::RangeTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } | ApiError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Oidc { error, .. } => match error.class() {
                ErrorClass::Unauthenticated => StatusCode::UNAUTHORIZED,
                ErrorClass::Forbidden => StatusCode::FORBIDDEN,
                ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            },
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } | ApiError::Unavailable { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "body_too_large",
            ApiError::UriTooLong(_) => "uri_too_long",
            ApiError::HeadersTooLarge => "headers_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Invalid(_) => "invalid_field",
            ApiError::RangeTooLarge(_) => "range_too_large",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Storage(_) => "storage_unavailable",
            ApiError::Oidc { error, .. } => error.code(),
            ApiError::Internal(_) => "internal",
        }
    }

    fn public_message(&self) -> String {
        match self {
            ApiError::Storage(_) => {
                "the ledger's storage is failing; nothing was changed, retry later".into()
            }
            ApiError::Internal(_) => "internal error; see the server log".into(),
            other => other.to_string(),
        }
    }
}

impl From<notarium_ledger::Error> for ApiError {
    fn from(e: notarium_ledger::Error) -> Self {
        use notarium_core::Error as C;
        use notarium_ledger::Error as L;
        match e {
            L::Invalid(c @ (C::InvalidField(..) | C::EntryTooLarge(_) | C::InvalidTime(_))) => {
                ApiError::Invalid(c.to_string())
            }
            L::Invalid(c) => ApiError::bad_request("invalid_request", c.to_string()),
            L::InvalidEntry { position, source } => {
                ApiError::Invalid(format!("entries[{position}]: {source}"))
            }
            L::NotFound(what) => ApiError::NotFound(format!("not found: {what}")),
            L::Conflict(what) => ApiError::Conflict(what),
            e @ (L::Storage(_) | L::Database(_) | L::Io(_) | L::Unavailable(_) | L::Corrupt(_)) => {
                ApiError::Storage(e.to_string())
            }
            e @ L::Config(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<notarium_core::Error> for ApiError {
    fn from(e: notarium_core::Error) -> Self {
        notarium_ledger::Error::Invalid(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Storage(detail) => tracing::error!(error = %detail, "storage failure"),
            ApiError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            _ => {}
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.public_message(),
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        match self {
            ApiError::RateLimited(secs) => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            ApiError::Unavailable { .. } | ApiError::Storage(_) => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            ApiError::Unauthorized(_) => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Oidc { error, retry_after } => match error.class() {
                // RFC 6750 §3.1.
                ErrorClass::Unauthenticated => {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer error=\"invalid_token\""),
                    );
                }
                ErrorClass::Unavailable => {
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
                }
                ErrorClass::Forbidden => {}
            },
            _ => {}
        }
        resp
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

/// The whole HTTP/1.1 answer (head and JSON body) for an error that arises outside any
/// request: the connection is closed after it.
fn raw_answer(e: &ApiError) -> Vec<u8> {
    let status = e.status();
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code: e.code().to_owned(),
            message: e.public_message(),
        },
    })
    .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if matches!(e, ApiError::Unavailable { .. }) {
        out.push_str("retry-after: 1\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    out
}

/// The JSON answer that replaces `head` when `head` is hyper's own answer to a request it
/// could not parse (400 malformed, 414 URI too long, 431 head too large), which carries no
/// body; `None` for anything else. See [`crate::connections::Watched`].
pub fn protocol_answer(head: &[u8]) -> Option<Vec<u8>> {
    let error = if head.starts_with(b"HTTP/1.1 400 ") {
        ApiError::bad_request(
            "malformed_request",
            "the request could not be parsed as HTTP/1.1",
        )
    } else if head.starts_with(b"HTTP/1.1 414 ") {
        ApiError::UriTooLong(crate::config::MAX_URI_BYTES)
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        ApiError::HeadersTooLarge
    } else {
        return None;
    };
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != head.len() {
        return None;
    }
    let empty = head[..end]
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .any(|line| line.eq_ignore_ascii_case(b"content-length: 0"));
    empty.then(|| raw_answer(&error))
}

/// The answer to a connection refused because every connection slot is busy.
pub fn connection_refused() -> Vec<u8> {
    raw_answer(&ApiError::Unavailable {
        code: "too_many_connections",
        message: "too many connections are busy; retry",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every verifier code maps to the status docs/oidc.md gives it, in the error schema.
    #[tokio::test]
    async fn oidc_errors_map_to_401_403_503_with_the_error_schema() {
        use crate::oidc::jws::Algorithm;
        let issuer = || "https://issuer.example".to_owned();
        let errors = [
            OidcError::TooLarge { limit: 8192 },
            OidcError::Malformed("three segments"),
            OidcError::AlgNone,
            OidcError::AlgHmac,
            OidcError::AlgUnsupported,
            OidcError::AlgNotAllowed {
                alg: Algorithm::Es256,
                issuer: issuer(),
            },
            OidcError::CritUnsupported,
            OidcError::UntrustedIssuer,
            OidcError::MissingKid,
            OidcError::UnknownKid { issuer: issuer() },
            OidcError::KeyMismatch {
                alg: Algorithm::Rs256,
            },
            OidcError::BadSignature,
            OidcError::MissingClaim("exp"),
            OidcError::InvalidClaim {
                claim: "aud",
                reason: "not a string",
            },
            OidcError::Expired,
            OidcError::NotYetValid,
            OidcError::WrongAudience {
                expected: "notarium".into(),
            },
            OidcError::NoRuleMatches {
                issuer: issuer(),
                ledger: "release".into(),
            },
            OidcError::IssuerUnavailable { issuer: issuer() },
        ];
        assert_eq!(errors.len(), crate::oidc::error::CODES.len());
        for error in errors {
            let code = error.code();
            let want = match code {
                "oidc_no_rule_matches" => 403,
                "oidc_issuer_unavailable" => 503,
                _ => 401,
            };
            let resp = ApiError::Oidc {
                error,
                retry_after: 30,
            }
            .into_response();
            assert_eq!(resp.status().as_u16(), want, "{code}");
            let headers = resp.headers().clone();
            match want {
                401 => assert_eq!(
                    headers[header::WWW_AUTHENTICATE],
                    "Bearer error=\"invalid_token\""
                ),
                503 => assert_eq!(headers[header::RETRY_AFTER], "30"),
                _ => assert!(headers.get(header::RETRY_AFTER).is_none()),
            }
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: ErrorBody = serde_json::from_slice(&body).unwrap();
            assert_eq!(body.error.code, code);
            assert!(!body.error.message.is_empty());
        }
    }

    #[test]
    fn hypers_bodyless_protocol_errors_are_replaced_and_nothing_else() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(protocol_answer(hyper_431).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "headers_too_large");
        for (head, code) in [
            (
                &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"[..],
                "malformed_request",
            ),
            (
                b"HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\n\r\n",
                "uri_too_long",
            ),
        ] {
            let a = String::from_utf8(protocol_answer(head).unwrap()).unwrap();
            assert!(a.contains(code), "{a}");
        }
        for other in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 57\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nextra",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"{\"body\": \"HTTP/1.1 400 \"}",
        ] {
            assert!(protocol_answer(other).is_none());
        }
    }
}
