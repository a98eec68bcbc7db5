//! The job's OpenID Connect ID token, as GitHub Actions hands it to a job that has
//! `permissions: id-token: write`: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD` with
//! `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, the token in the answer's `value`
//! (what `@actions/core`'s `getIDToken` does). `notarium-github` sends it to the ledger instead
//! of `NOTARIUM_API_KEY` (docs/plugins.md), so that the server records the verified identity
//! of the workflow run (docs/oidc.md).
//!
//! Out of scope: checking the token (the server does) and keeping it (it lives minutes, so it
//! is requested just before the ledger is called). Neither the token nor the request token is
//! ever printed: errors name the URL and the status, never an answer's body.

use std::fmt;
use std::time::Duration;

use notarium_client::ApiKey;
use reqwest::Url;
use serde::Deserialize;

/// The variable GitHub sets to the token endpoint when the job may request a token.
pub const REQUEST_URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";

/// The variable GitHub sets to the bearer that the token endpoint requires.
pub const REQUEST_TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// The audience asked for when none is given: a service name, as PyPI's `pypi` or Sigstore's
/// `sigstore`. The server's `oidc.issuers[].audience` must be the same.
pub const DEFAULT_AUDIENCE: &str = "notarium";

/// Whether to use the job's ID token when GitHub offers one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The ID token when the job may request one, else the API key.
    Auto,
    /// The API key only.
    Off,
}

impl Mode {
    /// `true` (also for an empty value, as CI templates write unset inputs): [`Mode::Auto`];
    /// `false`: [`Mode::Off`]. The words of the action's `oidc` input.
    ///
    /// # Errors
    /// Any other word.
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s.trim() {
            "" | "true" => Ok(Mode::Auto),
            "false" => Ok(Mode::Off),
            other => Err(format!(
                "{other:?} is not an oidc setting: use true or false"
            )),
        }
    }
}

/// Why no token could be had, by what the user should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint refused (4xx) or answered no token: the job's permissions or the request
    /// are wrong (exit 7, as a refused key).
    #[error("cannot get the job's OIDC ID token: {0}")]
    Refused(String),
    /// The endpoint could not be reached or failed (5xx) (exit 6).
    #[error("cannot get the job's OIDC ID token: {0}")]
    Unreachable(String),
}

/// GitHub's token endpoint and the bearer it takes, as the job's environment names them.
pub struct TokenRequest {
    url: Url,
    bearer: String,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("url", &self.url.as_str())
            .field("bearer", &"<redacted>")
            .finish()
    }
}

impl TokenRequest {
    /// The endpoint the job's environment offers, if it offers one (both variables set and
    /// not empty).
    ///
    /// # Errors
    /// [`Error::Refused`] when the URL is not an http(s) URL.
    pub fn from_env() -> Result<Option<TokenRequest>, Error> {
        let var = |k| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let (Some(url), Some(bearer)) = (var(REQUEST_URL_VAR), var(REQUEST_TOKEN_VAR)) else {
            return Ok(None);
        };
        let url = Url::parse(url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| Error::Refused(format!("{REQUEST_URL_VAR} is not an http(s) URL")))?;
        Ok(Some(TokenRequest {
            url,
            bearer: bearer.trim().to_owned(),
        }))
    }

    /// The URL asked for `audience`: the endpoint's own query (`api-version`) kept, the
    /// audience appended, percent-encoded.
    pub fn url_for(&self, audience: &str) -> Url {
        let mut url = self.url.clone();
        url.query_pairs_mut().append_pair("audience", audience);
        url
    }

    /// Requests a token for `audience`.
    ///
    /// # Errors
    /// [`Error::Unreachable`] when the endpoint cannot be reached or fails (5xx);
    /// [`Error::Refused`] when it refuses (4xx) or its answer holds no token.
    pub async fn fetch(&self, audience: &str) -> Result<ApiKey, Error> {
        let url = self.url_for(audience);
        let shown = self.url.as_str();
        let http = reqwest::Client::builder()
            .user_agent(concat!("notarium-github/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Unreachable(format!("HTTP client: {e}")))?;
        let answer = http
            .get(url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("bearer {}", self.bearer),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Error::Unreachable(format!("{shown}: {}", e.without_url())))?;
        let status = answer.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(Error::Unreachable(format!("{shown} answered {status}")));
        }
        if !status.is_success() {
            return Err(Error::Refused(format!(
                "{shown} answered {status} (does the job have `permissions: id-token: write`?)"
            )));
        }
        let body = answer
            .bytes()
            .await
            .map_err(|e| Error::Unreachable(format!("{shown}: {}", e.without_url())))?;
        token_of(&body)
            .map(|t| ApiKey::new(&t))
            .ok_or_else(|| Error::Refused(format!("{shown} answered no token in `value`")))
    }
}

/// The token of an answer `{"value": "<jwt>"}`: three base64url segments, or nothing.
fn token_of(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Answer {
        value: String,
    }
    let value = serde_json::from_slice::<Answer>(body).ok()?.value;
    let segments: Vec<&str> = value.split('.').collect();
    let base64url = |s: &&str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (segments.len() == 3 && segments.iter().all(base64url)).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> TokenRequest {
        TokenRequest {
            url: Url::parse(url).expect("a URL"),
            bearer: "b".into(),
        }
    }

    #[test]
    fn the_audience_is_appended_encoded() {
        let r = request("https://pipelines.example/_apis/idtoken?api-version=2.0");
        assert_eq!(
            r.url_for("https://notarium.example.com/x y").as_str(),
            "https://pipelines.example/_apis/idtoken?api-version=2.0&audience=https%3A%2F%2Fnotarium.example.com%2Fx+y"
        );
        let r = request("https://pipelines.example/idtoken");
        assert_eq!(
            r.url_for("notarium").as_str(),
            "https://pipelines.example/idtoken?audience=notarium"
        );
    }

    #[test]
    fn only_a_compact_jws_is_a_token() {
        assert_eq!(
            token_of(br#"{"value":"eyJh.eyJi.c2ln","count":1}"#).as_deref(),
            Some("eyJh.eyJi.c2ln")
        );
        for bad in [
            &br#"{"value":""}"#[..],
            br#"{"value":"a.b"}"#,
            br#"{"value":"a..c"}"#,
            br#"{"value":"a.b.c d"}"#,
            br#"{"value":"a.b.c.d.e"}"#,
            br#"{"token":"a.b.c"}"#,
            b"a.b.c",
        ] {
            assert_eq!(token_of(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn modes() {
        assert_eq!(Mode::parse(""), Ok(Mode::Auto));
        assert_eq!(Mode::parse("true"), Ok(Mode::Auto));
        assert_eq!(Mode::parse(" false "), Ok(Mode::Off));
        assert!(Mode::parse("off").is_err());
    }

    #[test]
    fn the_bearer_is_not_in_debug() {
        let r = TokenRequest {
            url: Url::parse("https://x.example/t").expect("a URL"),
            bearer: "secret-request-token".into(),
        };
        assert!(!format!("{r:?}").contains("secret-request-token"));
    }
}
