//! The few GitHub REST endpoints `notarium-github` uses, through octocrab: create a commit
//! status, get a release by tag, list its assets, and stream an asset's bytes. The base URL is
//! `GITHUB_API_URL`, so GitHub Enterprise Server (`https://HOST/api/v3`) works as github.com.
//!
//! Out of scope: anything about ledgers. The types here hold only the fields used; GitHub sends
//! more, and older Enterprise Server versions send fewer (`digest` is recent).

use std::time::Duration;

use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use notarium_core::Sha256;

/// The public GitHub API, when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// What can go wrong talking to GitHub, by what the user should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Missing or malformed settings (exit 64).
    #[error("{0}")]
    Config(String),
    /// GitHub answered with an error status.
    #[error("GitHub answered {status} to {what}: {message}")]
    Api {
        /// What was asked.
        what: String,
        /// HTTP status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// GitHub could not be reached, or its answer could not be read (exit 6).
    #[error("cannot reach GitHub at {url} ({what}): {cause}")]
    Unreachable {
        /// The API base URL.
        url: String,
        /// What was asked.
        what: String,
        /// Why.
        cause: String,
    },
    /// An asset's bytes disagree with what GitHub says of them (size or digest) (exit 6).
    #[error("asset {name}: {what}")]
    Inconsistent {
        /// The asset's name.
        name: String,
        /// The disagreement.
        what: String,
    },
}

impl Error {
    /// Whether the failure is GitHub's, for now (unreachable, 5xx, rate limited) rather than
    /// the caller's (bad token, no such release).
    pub fn is_server_side(&self) -> bool {
        match self {
            Error::Api { status, .. } => *status >= 500 || *status == 429,
            Error::Unreachable { .. } | Error::Inconsistent { .. } => true,
            Error::Config(_) => false,
        }
    }
}

/// A release, as far as it is used here.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Release {
    /// The release id.
    pub id: u64,
    /// Its tag.
    pub tag_name: String,
    /// Its title.
    #[serde(default)]
    pub name: Option<String>,
}

/// A release asset, as far as it is used here.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Asset {
    /// The asset id.
    pub id: u64,
    /// The file name.
    pub name: String,
    /// The size GitHub reports.
    pub size: u64,
    /// `sha256:<hex>`, computed by GitHub on upload (recent GitHub only).
    #[serde(default)]
    pub digest: Option<String>,
}

/// A commit status to create (`POST /repos/{owner}/{repo}/statuses/{sha}`).
#[derive(Clone, Debug, Serialize)]
pub struct NewStatus {
    /// `success`, `failure`, `error` or `pending`.
    pub state: String,
    /// At most 140 characters.
    pub description: String,
    /// The status's name on the commit.
    pub context: String,
    /// Where the details are (the workflow run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
}

/// An asset's bytes, hashed as they streamed by.
#[derive(Clone, Copy, Debug)]
pub struct Downloaded {
    /// SHA-256 of the bytes.
    pub sha256: Sha256,
    /// How many bytes.
    pub size: u64,
}

/// Assets per page when listing (GitHub's maximum).
const PER_PAGE: usize = 100;

/// A GitHub API client for one repository.
pub struct GitHub {
    crab: Octocrab,
    /// Follows asset redirects: no token, and no base path (octocrab 0.54 prepends the base
    /// URL's path, GHES's `/api/v3`, even to absolute URLs on other hosts).
    storage: Octocrab,
    api_url: String,
    owner: String,
    repo: String,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays inside octocrab (a SecretString); never print it.
        f.debug_struct("GitHub")
            .field("api_url", &self.api_url)
            .field("repository", &format_args!("{}/{}", self.owner, self.repo))
            .finish_non_exhaustive()
    }
}

impl GitHub {
    /// A client for `repository` (`owner/name`) at `api_url`, authenticated with `token`.
    ///
    /// # Errors
    /// [`Error::Config`] for a malformed repository, URL or token.
    pub fn new(api_url: &str, repository: &str, token: &str) -> Result<Self, Error> {
        let (owner, repo) = repository
            .split_once('/')
            .filter(|(o, r)| valid_name(o) && valid_name(r))
            .ok_or_else(|| {
                Error::Config(format!(
                    "repository {repository:?} is not OWNER/NAME (set GITHUB_REPOSITORY or --repo)"
                ))
            })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::Config(
                "no GitHub token: set GITHUB_TOKEN (in Actions: env: GITHUB_TOKEN: ${{ github.token }})"
                    .into(),
            ));
        }
        let api_url = api_url.trim_end_matches('/').to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(Error::Config(format!(
                "GITHUB_API_URL {api_url:?} is not an http(s) URL"
            )));
        }
        let crab = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|e| Error::Config(format!("GITHUB_API_URL {api_url:?}: {e}")))?
            .personal_token(token.to_owned())
            .set_connect_timeout(Some(Duration::from_secs(15)))
            .set_read_timeout(Some(Duration::from_secs(120)))
            .build()
            .map_err(|e| Error::Config(format!("GitHub client: {e}")))?;
        let storage = Octocrab::builder()
            .set_connect_timeout(Some(Duration::from_secs(15)))
            .set_read_timeout(Some(Duration::from_secs(120)))
            .build()
            .map_err(|e| Error::Config(format!("GitHub client: {e}")))?;
        Ok(GitHub {
            crab,
            storage,
            api_url,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        })
    }

    /// `owner/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    fn route(&self, rest: &str) -> String {
        format!(
            "/repos/{}/{}/{rest}",
            path_segment(&self.owner),
            path_segment(&self.repo)
        )
    }

    fn error(&self, what: &str, e: octocrab::Error) -> Error {
        match e {
            octocrab::Error::GitHub { source, .. } => Error::Api {
                what: what.to_owned(),
                status: source.status_code.as_u16(),
                message: source.message,
            },
            other => Error::Unreachable {
                url: self.api_url.clone(),
                what: what.to_owned(),
                cause: error_chain(&other),
            },
        }
    }

    /// Creates a commit status on `sha`.
    ///
    /// # Errors
    /// [`Error::Api`] (e.g. 404 for an unknown commit, 403 without `statuses: write`),
    /// [`Error::Unreachable`].
    pub async fn create_status(&self, sha: &str, status: &NewStatus) -> Result<(), Error> {
        let what = format!("the status of commit {sha}");
        let route = self.route(&format!("statuses/{}", path_segment(sha)));
        let _: serde_json::Value = self
            .crab
            .post(route, Some(status))
            .await
            .map_err(|e| self.error(&what, e))?;
        Ok(())
    }

    /// The release tagged `tag` (drafts are not found by tag).
    ///
    /// # Errors
    /// [`Error::Api`] 404 when there is no such release, [`Error::Unreachable`].
    pub async fn release_by_tag(&self, tag: &str) -> Result<Release, Error> {
        let what = format!("the release tagged {tag:?}");
        let route = self.route(&format!("releases/tags/{}", path_segment(tag)));
        self.crab
            .get(route, None::<&()>)
            .await
            .map_err(|e| self.error(&what, e))
    }

    /// Every asset of a release, page by page.
    ///
    /// # Errors
    /// [`Error::Api`], [`Error::Unreachable`].
    pub async fn assets(&self, release: &Release) -> Result<Vec<Asset>, Error> {
        let what = format!("the assets of release {}", release.tag_name);
        let mut all = Vec::new();
        for page in 1.. {
            let route = self.route(&format!(
                "releases/{}/assets?per_page={PER_PAGE}&page={page}",
                release.id
            ));
            let got: Vec<Asset> = self
                .crab
                .get(route, None::<&()>)
                .await
                .map_err(|e| self.error(&what, e))?;
            let last = got.len() < PER_PAGE;
            all.extend(got);
            if last {
                break;
            }
        }
        Ok(all)
    }

    /// Downloads an asset's bytes and hashes them as they stream by, following GitHub's
    /// redirect to its storage without the token (the redirect URL is signed; the token only
    /// ever goes to the API).
    /// The size, and GitHub's own digest where it has one, must match the bytes.
    ///
    /// # Errors
    /// [`Error::Api`], [`Error::Unreachable`], [`Error::Inconsistent`].
    pub async fn download(&self, asset: &Asset) -> Result<Downloaded, Error> {
        let what = format!("asset {} ({})", asset.name, asset.id);
        let route = self.route(&format!("releases/assets/{}", asset.id));
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/octet-stream"),
        );
        let first = self
            .crab
            ._get_with_headers(route, Some(headers))
            .await
            .map_err(|e| self.error(&what, e))?;
        let response = match first.headers().get(http::header::LOCATION) {
            Some(location) if first.status().is_redirection() => {
                let location = location.to_str().map_err(|_| Error::Inconsistent {
                    name: asset.name.clone(),
                    what: "GitHub redirected to a URL that is not text".into(),
                })?;
                let url = if location.starts_with('/') {
                    format!("{}{location}", origin(&self.api_url))
                } else {
                    location.to_owned()
                };
                self.storage
                    ._get(url.as_str())
                    .await
                    .map_err(|e| self.error(&what, e))?
            }
            _ => first,
        };
        let response = octocrab::map_github_error(response)
            .await
            .map_err(|e| self.error(&what, e))?;
        let mut body = response.into_body();
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| self.error(&what, e))?;
            if let Ok(data) = frame.into_data() {
                hasher.update(&data);
                size += data.len() as u64;
            }
        }
        let sha256 = Sha256(hasher.finalize().into());
        if size != asset.size {
            return Err(Error::Inconsistent {
                name: asset.name.clone(),
                what: format!("GitHub lists {} bytes but served {size}", asset.size),
            });
        }
        if let Some(d) = asset
            .digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
        {
            if !d.eq_ignore_ascii_case(&sha256.to_hex()) {
                return Err(Error::Inconsistent {
                    name: asset.name.clone(),
                    what: format!("GitHub's digest is sha256:{d} but the bytes hash to {sha256}"),
                });
            }
        }
        Ok(Downloaded { sha256, size })
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// GitHub owner and repository names: letters, digits, `-`, `_`, `.`.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Percent-encodes one path segment (tags may hold `/`, `+`, `#`, …).
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An error and its causes on one line (octocrab's transport errors hide the useful part in
/// their sources).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("v1.2.3"), "v1.2.3");
        assert_eq!(path_segment("release/2026 #1"), "release%2F2026%20%231");
        assert_eq!(path_segment("a+b"), "a%2Bb");
    }

    #[test]
    fn origins() {
        assert_eq!(origin("https://ghe.example/api/v3"), "https://ghe.example");
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn repository_must_be_owner_slash_name() {
        for bad in ["", "owner", "owner/", "/name", "a/b/c", "o/..", "o/n?x"] {
            let e = GitHub::new(DEFAULT_API_URL, bad, "t").expect_err(bad);
            assert!(matches!(e, Error::Config(_)), "{bad}: {e}");
        }
        assert!(matches!(
            GitHub::new(DEFAULT_API_URL, "o/n", " ").expect_err("empty token"),
            Error::Config(_)
        ));
        assert!(matches!(
            GitHub::new("ftp://x", "o/n", "t").expect_err("bad URL"),
            Error::Config(_)
        ));
    }

    #[test]
    fn server_side_errors() {
        let api = |status| Error::Api {
            what: "x".into(),
            status,
            message: "m".into(),
        };
        assert!(api(502).is_server_side());
        assert!(api(429).is_server_side());
        assert!(!api(404).is_server_side());
        assert!(!api(401).is_server_side());
    }
}
