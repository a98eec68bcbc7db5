//! The GitHub Actions context of a run, read from the runner's documented variables through an
//! allow-list, as `notarium --ci` records it: never a token or a secret.

use std::collections::BTreeMap;

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The workflow run's URL, when the runner's variables give it.
pub fn run_url() -> Option<String> {
    match (
        env("GITHUB_SERVER_URL"),
        env("GITHUB_REPOSITORY"),
        env("GITHUB_RUN_ID"),
    ) {
        (Some(s), Some(r), Some(id)) => {
            Some(format!("{}/{r}/actions/runs/{id}", s.trim_end_matches('/')))
        }
        _ => None,
    }
}

/// The `ci` map of an entry: empty outside GitHub Actions.
pub fn context() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if env("GITHUB_ACTIONS").as_deref() != Some("true") {
        return m;
    }
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), v.chars().take(1024).collect());
        }
    };
    put("provider", Some("github".into()));
    put("repository", env("GITHUB_REPOSITORY"));
    put("commit", env("GITHUB_SHA"));
    put("ref", env("GITHUB_REF"));
    put("run_id", env("GITHUB_RUN_ID"));
    put("run_url", run_url());
    put("workflow", env("GITHUB_WORKFLOW"));
    put("job", env("GITHUB_JOB"));
    put("actor", env("GITHUB_ACTOR"));
    put("server_url", env("GITHUB_SERVER_URL"));
    m
}
