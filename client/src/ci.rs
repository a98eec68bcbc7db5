//! `--ci`: the CI context of GitHub Actions, GitLab CI and Jenkins, read from their documented
//! environment variables through an allow-list. Tokens and secrets are never read; URLs are
//! stripped of any credentials they carry.

use std::collections::BTreeMap;

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Removes `user:password@` from a URL (Jenkins' GIT_URL may hold a token).
pub fn strip_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        // scp-like git URLs (git@host:repo) have no secret beyond the user name.
        Err(_) => url.to_owned(),
    }
}

/// The GitHub Actions run's URL, when the runner's variables give it.
pub fn github_run_url() -> Option<String> {
    match (
        env("GITHUB_SERVER_URL"),
        env("GITHUB_REPOSITORY"),
        env("GITHUB_RUN_ID"),
    ) {
        (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
        _ => None,
    }
}

/// The CI context of the current environment, or an empty map outside CI.
pub fn context() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(
                k.to_owned(),
                strip_credentials(&v).chars().take(1024).collect(),
            );
        }
    };
    if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        let server = env("GITHUB_SERVER_URL");
        let run_url = github_run_url();
        put("provider", Some("github".into()));
        put("repository", env("GITHUB_REPOSITORY"));
        put("commit", env("GITHUB_SHA"));
        put("ref", env("GITHUB_REF"));
        put("run_id", env("GITHUB_RUN_ID"));
        put("run_url", run_url);
        put("workflow", env("GITHUB_WORKFLOW"));
        put("job", env("GITHUB_JOB"));
        put("actor", env("GITHUB_ACTOR"));
        put("server_url", server);
    } else if env("GITLAB_CI").as_deref() == Some("true") {
        put("provider", Some("gitlab".into()));
        put("repository", env("CI_PROJECT_PATH"));
        put("commit", env("CI_COMMIT_SHA"));
        put("ref", env("CI_COMMIT_REF_NAME"));
        put("pipeline_id", env("CI_PIPELINE_ID"));
        put("pipeline_url", env("CI_PIPELINE_URL"));
        put("run_id", env("CI_JOB_ID"));
        put("run_url", env("CI_JOB_URL"));
        put("job", env("CI_JOB_NAME"));
        put("actor", env("GITLAB_USER_LOGIN"));
        put("server_url", env("CI_SERVER_URL"));
    } else if env("JENKINS_URL").is_some() {
        put("provider", Some("jenkins".into()));
        put("repository", env("GIT_URL"));
        put("commit", env("GIT_COMMIT"));
        put("ref", env("GIT_BRANCH"));
        put("run_id", env("BUILD_NUMBER"));
        put("run_url", env("BUILD_URL"));
        put("job", env("JOB_NAME"));
        put("server_url", env("JENKINS_URL"));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials() {
        assert_eq!(
            strip_credentials("https://user:tok@git.example/r.git"),
            "https://git.example/r.git"
        );
        assert_eq!(
            strip_credentials("https://git.example/r.git"),
            "https://git.example/r.git"
        );
        assert_eq!(strip_credentials("git@host:r.git"), "git@host:r.git");
    }
}
