//! Where registry credentials come from, in this order (docs/oci.md):
//!
//! 1. `NOTARIUM_OCI_USERNAME` + `NOTARIUM_OCI_PASSWORD`, for the registry named by
//!    `NOTARIUM_OCI_REGISTRY` or, when that is unset, for every registry;
//! 2. docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//!    `credHelpers[registry]`, then `auths[registry]` (`auth` = base64 `user:password`, or
//!    `username` + `password`), then `credsStore`. Helpers are run as docker runs them:
//!    `docker-credential-NAME get`, the server address on stdin, JSON on stdout;
//! 3. none: anonymous.
//!
//! Identity tokens (OAuth2 refresh tokens, `identitytoken` or a helper's `<token>` user) are
//! refused with a clear error rather than sent as a password.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;

use super::reference::DOCKER_HUB;
use super::Error;

/// The server address docker stores Docker Hub's credentials under.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// A user name and password (or access token) for a registry. The password never shows in
/// `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Basic {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Basic({:?}, <redacted>)", self.username)
    }
}

impl Basic {
    /// The `Authorization` header value.
    pub(crate) fn header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Credentials given in the environment, and the registry they are for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvCredentials {
    /// The registry they are for (as in references: `ghcr.io`, `127.0.0.1:5000`,
    /// `docker.io`); `None` for every registry.
    pub registry: Option<String>,
    /// The credentials.
    pub basic: Basic,
}

/// Where to look for credentials; built by [`super::Options::from_env`] or by hand.
#[derive(Clone, Debug, Default)]
pub struct CredentialSources {
    /// Explicit credentials (from `NOTARIUM_OCI_USERNAME`/`_PASSWORD`), tried first.
    pub env: Option<EnvCredentials>,
    /// docker's `config.json`; a missing file means none.
    pub docker_config: Option<PathBuf>,
}

impl CredentialSources {
    /// The credentials for `registry` (as in references), or `None` for anonymous access.
    /// Runs a credential helper when docker's config names one for it.
    ///
    /// # Errors
    /// [`Error::Config`] for an unreadable or malformed `config.json`, a helper that is
    /// missing or fails, or an identity token.
    pub fn lookup(&self, registry: &str) -> Result<Option<Basic>, Error> {
        if let Some(env) = &self.env {
            if env
                .registry
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case(registry))
            {
                return Ok(Some(env.basic.clone()));
            }
        }
        let Some(path) = &self.docker_config else {
            return Ok(None);
        };
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Config(format!("reading {}: {e}", path.display()))),
        };
        let config: DockerConfig = serde_json::from_slice(&text).map_err(|e| {
            Error::Config(format!("{}: not a docker config.json: {e}", path.display()))
        })?;
        config.lookup(registry, path)
    }
}

/// The parts of docker's `config.json` that hold credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// What `docker-credential-NAME get` prints.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

impl DockerConfig {
    fn lookup(&self, registry: &str, path: &Path) -> Result<Option<Basic>, Error> {
        let server = server_address(registry);
        if let Some(helper) = self
            .cred_helpers
            .get(registry)
            .or_else(|| self.cred_helpers.get(&server))
        {
            return run_helper(helper, &server, "credHelpers");
        }
        for (key, entry) in &self.auths {
            if !auth_key_matches(key, registry) {
                continue;
            }
            if entry
                .identitytoken
                .as_deref()
                .is_some_and(|t| !t.is_empty())
            {
                return Err(Error::Config(format!(
                    "{}: auths[{key:?}] holds an identity token (OAuth2 refresh token), which is \
                     not supported; log in with a password or an access token, or set \
                     NOTARIUM_OCI_USERNAME and NOTARIUM_OCI_PASSWORD",
                    path.display()
                )));
            }
            if let Some(b) = entry.basic(key, path)? {
                return Ok(Some(b));
            }
        }
        match &self.creds_store {
            Some(store) if !store.is_empty() => run_helper(store, &server, "credsStore"),
            _ => Ok(None),
        }
    }
}

impl AuthEntry {
    fn basic(&self, key: &str, path: &Path) -> Result<Option<Basic>, Error> {
        let bad = |why: &str| Error::Config(format!("{}: auths[{key:?}]: {why}", path.display()));
        if let Some(auth) = self.auth.as_deref().filter(|a| !a.is_empty()) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad("\"auth\" is not base64"))?;
            let text = String::from_utf8(raw).map_err(|_| bad("\"auth\" is not UTF-8"))?;
            let (user, pass) = text
                .split_once(':')
                .ok_or_else(|| bad("\"auth\" is not base64 of USER:PASSWORD"))?;
            return Ok(Some(Basic {
                username: user.to_owned(),
                password: pass.to_owned(),
            }));
        }
        match (&self.username, &self.password) {
            (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Basic {
                username: u.clone(),
                password: p.clone(),
            })),
            _ => Ok(None),
        }
    }
}

/// The address docker files a registry's credentials under, and passes to helpers.
fn server_address(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_AUTH_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// docker's `ConvertToHostname`: an `auths` key may be `host`, `https://host`, `http://host`
/// or carry a path (`https://index.docker.io/v1/`).
fn auth_key_matches(key: &str, registry: &str) -> bool {
    let host = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = host.split('/').next().unwrap_or(host);
    if registry == DOCKER_HUB {
        matches!(
            host,
            "index.docker.io" | "docker.io" | "registry-1.docker.io"
        )
    } else {
        host.eq_ignore_ascii_case(registry)
    }
}

/// Runs `docker-credential-NAME get` with `server` on stdin. A helper that knows no
/// credentials for the server (docker's "credentials not found") means anonymous access.
fn run_helper(name: &str, server: &str, field: &str) -> Result<Option<Basic>, Error> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Error::Config(format!(
            "docker config {field}: {name:?} is not a helper name"
        )));
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Config(format!(
                "docker config {field} names the credential helper {program}, which cannot be run ({e}); \
                 install it, or set NOTARIUM_OCI_USERNAME and NOTARIUM_OCI_PASSWORD"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin makes this fail; its exit status says more.
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Config(format!("{program} get: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let said = format!(
            "{}{}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if said.contains("credentials not found") {
            return Ok(None);
        }
        let said: String = said.chars().filter(|c| !c.is_control()).take(300).collect();
        return Err(Error::Config(format!(
            "{program} get for {server} failed ({}): {said}",
            out.status
        )));
    }
    let answer: HelperAnswer = serde_json::from_str(stdout.trim()).map_err(|e| {
        Error::Config(format!(
            "{program} get: not the helper protocol's JSON: {e}"
        ))
    })?;
    if answer.username == "<token>" {
        return Err(Error::Config(format!(
            "{program} returned an identity token (OAuth2 refresh token) for {server}, which is not \
             supported; set NOTARIUM_OCI_USERNAME and NOTARIUM_OCI_PASSWORD"
        )));
    }
    Ok(Some(Basic {
        username: answer.username,
        password: answer.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(config: &str) -> (tempfile::TempDir, CredentialSources) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, config).unwrap();
        (
            dir,
            CredentialSources {
                env: None,
                docker_config: Some(path),
            },
        )
    }

    fn basic(u: &str, p: &str) -> Option<Basic> {
        Some(Basic {
            username: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn auths_match_docker_keys() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let config = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "https://registry.example.com": {{"auth": "{}"}},
                "localhost:5000": {{"username": "u3", "password": "p:3"}},
                "empty.example.com": {{}}
            }}}}"#,
            b64("hub:pw"),
            b64("u2:p2:with:colons")
        );
        let (_d, s) = sources(&config);
        assert_eq!(s.lookup("docker.io").unwrap(), basic("hub", "pw"));
        assert_eq!(
            s.lookup("registry.example.com").unwrap(),
            basic("u2", "p2:with:colons")
        );
        assert_eq!(s.lookup("localhost:5000").unwrap(), basic("u3", "p:3"));
        assert_eq!(s.lookup("empty.example.com").unwrap(), None);
        assert_eq!(s.lookup("other.example.com").unwrap(), None);
    }

    #[test]
    fn environment_wins_and_can_be_scoped() {
        let (_d, mut s) = sources(r#"{"auths":{"r.io":{"username":"file","password":"f"}}}"#);
        s.env = Some(EnvCredentials {
            registry: Some("other.io".into()),
            basic: Basic {
                username: "env".into(),
                password: "e".into(),
            },
        });
        assert_eq!(s.lookup("r.io").unwrap(), basic("file", "f"));
        assert_eq!(s.lookup("other.io").unwrap(), basic("env", "e"));
        s.env.as_mut().unwrap().registry = None;
        assert_eq!(s.lookup("r.io").unwrap(), basic("env", "e"));
    }

    #[test]
    fn bad_configs_are_clear_errors() {
        let cases = [
            (r#"{"auths":{"r.io":{"auth":"%%%"}}}"#, "not base64"),
            (
                r#"{"auths":{"r.io":{"auth":"bm9jb2xvbg=="}}}"#,
                "USER:PASSWORD",
            ),
            (
                r#"{"auths":{"r.io":{"identitytoken":"abc"}}}"#,
                "identity token",
            ),
            (
                r#"{"credHelpers":{"r.io":"notarium-test-missing"}}"#,
                "docker-credential-notarium-test-missing",
            ),
            (r#"{"credsStore":"notarium-test-missing"}"#, "cannot be run"),
            (r#"{"credsStore":"../evil"}"#, "not a helper name"),
            ("not json", "not a docker config.json"),
        ];
        for (config, needle) in cases {
            let (_d, s) = sources(config);
            let e = s.lookup("r.io").expect_err(config).to_string();
            assert!(e.contains(needle), "{config}: {e}");
        }
    }

    #[test]
    fn a_missing_config_is_anonymous() {
        let s = CredentialSources {
            env: None,
            docker_config: Some(PathBuf::from("/nonexistent/notarium/config.json")),
        };
        assert_eq!(s.lookup("r.io").unwrap(), None);
    }

    #[test]
    fn passwords_stay_out_of_debug() {
        let b = Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{b:?}").contains("hunter2"));
        assert_eq!(b.header(), "Basic dTpodW50ZXIy");
    }
}
