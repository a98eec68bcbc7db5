//! Image references, `oci://REGISTRY/REPO:TAG` and `oci://REGISTRY/REPO@sha256:…`, parsed by
//! docker's rules (distribution's `reference` package: `ParseNormalizedNamed`): a first path
//! component that has no `.` or `:` and is not `localhost` is not a registry, so the name is
//! on Docker Hub (`docker.io`), where one-component names live under `library/`; the tag
//! defaults to `latest`; repositories are lowercase.

use std::fmt;
use std::str::FromStr;

use notarium_core::Sha256;

use super::Error;

/// The prefix that marks a container image among subjects.
pub const SCHEME: &str = "oci://";

/// Docker Hub's registry name in references.
pub const DOCKER_HUB: &str = "docker.io";

/// The older spelling of Docker Hub that docker normalizes to [`DOCKER_HUB`].
const DOCKER_HUB_LEGACY: &str = "index.docker.io";

/// Where Docker Hub's distribution API is served.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// The tag of a reference that names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";

/// Docker's limit on `registry/repository`.
const NAME_TOTAL_MAX: usize = 255;

/// Docker's limit on a tag.
const TAG_MAX: usize = 128;

/// A manifest digest. Only `sha256` is supported: it is what registries serve and what the
/// ledger records, so the digest of an image *is* the artifact hash notarized for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(Sha256);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::of(bytes))
    }

    /// Parses `sha256:` followed by 64 lowercase hex digits (the OCI rule for sha256).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for another algorithm; [`Error::Reference`] for a malformed
    /// digest.
    pub fn parse(s: &str) -> Result<Digest, Error> {
        let bad = |reason: &str| Error::Reference {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(bad("a digest is ALGORITHM:HEX, e.g. sha256:…"));
        };
        if alg != "sha256" {
            if is_algorithm(alg) {
                return Err(Error::Unsupported(format!(
                    "digest algorithm {alg:?}: only sha256 digests are supported"
                )));
            }
            return Err(bad("a digest is ALGORITHM:HEX, e.g. sha256:…"));
        }
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("a sha256 digest has 64 lowercase hex digits"));
        }
        let sha =
            Sha256::parse(hex).map_err(|_| bad("a sha256 digest has 64 lowercase hex digits"))?;
        Ok(Digest(sha))
    }

    /// The SHA-256 itself: the artifact hash the ledger records for this manifest.
    pub fn sha256(&self) -> Sha256 {
        self.0
    }

    /// The 64 hex digits without the algorithm.
    pub fn hex(&self) -> String {
        self.0.to_hex()
    }
}

impl From<Sha256> for Digest {
    fn from(sha: Sha256) -> Digest {
        Digest(sha)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest(sha256:{})", self.0.to_hex())
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Digest, Error> {
        Digest::parse(s)
    }
}

/// A parsed, normalized image reference: registry, repository, and a tag, a digest or both.
///
/// With both (`REPO:TAG@sha256:…`, as docker allows), the digest is what is fetched and the
/// tag is only kept for display.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Whether a subject names a container image (starts with [`SCHEME`]), so that callers
    /// can route it here before anything else looks at it.
    pub fn is_subject(s: &str) -> bool {
        s.starts_with(SCHEME)
    }

    /// Parses a subject: [`SCHEME`] followed by a reference ([`Reference::parse`]).
    ///
    /// # Errors
    /// [`Error::Reference`] without the scheme or for a malformed reference;
    /// [`Error::Unsupported`] for a digest algorithm other than sha256.
    pub fn parse_subject(s: &str) -> Result<Reference, Error> {
        match s.strip_prefix(SCHEME) {
            Some(rest) => Reference::parse(rest),
            None => Err(Error::Reference {
                input: s.to_owned(),
                reason: format!("an image subject starts with {SCHEME}"),
            }),
        }
    }

    /// Parses `[REGISTRY/]REPO[:TAG][@sha256:HEX]` by docker's rules.
    ///
    /// # Errors
    /// [`Error::Reference`] for a malformed reference, saying what is wrong with it;
    /// [`Error::Unsupported`] for a digest algorithm other than sha256.
    pub fn parse(s: &str) -> Result<Reference, Error> {
        let bad = |reason: String| Error::Reference {
            input: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(bad("empty image reference".into()));
        }
        if looks_like_image_id(s) {
            return Err(bad(format!(
                "this is a bare digest or a local image ID, not an image in a registry; name the \
                 image by its registry digest: {SCHEME}REGISTRY/REPO@sha256:… (`docker inspect \
                 --format '{{{{index .RepoDigests 0}}}}' IMAGE` prints it)"
            )));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d)?)),
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/': `localhost:5000/app` has none.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(t) = tag {
            check_tag(t).map_err(bad)?;
        }
        let (registry, path) = split_registry(name);
        let mut registry = registry.to_ascii_lowercase();
        check_registry(&registry).map_err(bad)?;
        check_path(path).map_err(bad)?;
        let mut repository = path.to_owned();
        if registry == DOCKER_HUB_LEGACY {
            registry = DOCKER_HUB.to_owned();
        }
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        if registry.len() + 1 + repository.len() > NAME_TOTAL_MAX {
            return Err(bad(format!(
                "the name {registry}/{repository} is longer than {NAME_TOTAL_MAX} characters"
            )));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_owned()),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry as written in references (`docker.io`, `ghcr.io`, `127.0.0.1:5000`),
    /// lowercased; credentials are looked up under it.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository, e.g. `library/alpine`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// `REGISTRY/REPOSITORY`, as docker's `reference.Name()`: `docker.io/library/alpine`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name an image is notarized under: `oci://REGISTRY/REPOSITORY:TAG`, or
    /// `oci://REGISTRY/REPOSITORY` for a reference by digest alone. Never the digest: that is
    /// the artifact hash itself, and leaving it out puts every digest a tag ever named under
    /// one name, which is how a tag that moved is found again.
    pub fn name(&self) -> String {
        match &self.tag {
            Some(t) => format!("{SCHEME}{}:{t}", self.full_name()),
            None => format!("{SCHEME}{}", self.full_name()),
        }
    }

    /// The tag; `None` only for a reference by digest alone.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, when the reference pins one.
    pub fn digest(&self) -> Option<Digest> {
        self.digest
    }

    /// The same image pinned to `digest` (the tag, if any, kept for display).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository at `tag`, without a digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, Error> {
        check_tag(tag).map_err(|reason| Error::Reference {
            input: tag.to_owned(),
            reason,
        })?;
        Ok(Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// What goes after `/manifests/` in the distribution API: the digest when there is one,
    /// else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// The host (and port) serving the distribution API: Docker Hub's API lives on
    /// `registry-1.docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }
}

impl fmt::Display for Reference {
    /// The normalized subject: `oci://docker.io/library/alpine:latest`,
    /// `oci://ghcr.io/org/app@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = Error;
    /// Accepts a reference with or without [`SCHEME`].
    fn from_str(s: &str) -> Result<Reference, Error> {
        Reference::parse(s.strip_prefix(SCHEME).unwrap_or(s))
    }
}

/// docker's `splitDockerDomain`: the first component is a registry when it has a `.` or a
/// `:`, is `localhost`, or has an uppercase letter (repositories cannot).
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, name),
    }
}

/// A registry: a host name (dot-separated labels of letters, digits and inner hyphens), an
/// IPv4 address, or a bracketed IPv6 address, then an optional `:PORT`.
fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(format!(
                "registry {registry:?}: unclosed '[' of an IPv6 address"
            ));
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "registry {registry:?}: {v6:?} is not an IPv6 address"
            ));
        }
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (v6, Some(p)),
                None => {
                    return Err(format!(
                        "registry {registry:?}: text after the IPv6 address"
                    ))
                }
            },
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return Err(format!(
                "registry {registry:?}: the port must be a number up to 65535"
            ));
        }
    }
    if registry.starts_with('[') {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || !host.split('.').all(label_ok) {
        return Err(format!(
            "registry {registry:?}: a host name is dot-separated labels of letters, digits and inner hyphens"
        ));
    }
    Ok(())
}

/// A repository path: components of lowercase letters and digits joined by `.`, `_`, `__` or
/// runs of `-`, separated by `/`.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the repository name is missing".into());
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "repository {path:?}: repository names must be lowercase"
        ));
    }
    for component in path.split('/') {
        if !path_component_ok(component) {
            return Err(format!(
                "repository {path:?}: each '/'-separated component is lowercase letters and digits, \
                 joined by '.', '_', '__' or '-' (component {component:?})"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn path_component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    if b.is_empty() {
        return Err("the tag after ':' is empty".into());
    }
    if b.len() > TAG_MAX {
        return Err(format!("tag {tag:?}: longer than {TAG_MAX} characters"));
    }
    if !word(b[0]) || !b.iter().all(|&x| word(x) || x == b'.' || x == b'-') {
        return Err(format!(
            "tag {tag:?}: a tag is letters, digits, '_', '.' and '-', not starting with '.' or '-'"
        ));
    }
    Ok(())
}

/// An algorithm name as the OCI digest grammar has it: `[a-z0-9]+([+._-][a-z0-9]+)*`.
fn is_algorithm(alg: &str) -> bool {
    !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// 64 hex digits, bare or after `sha256:`: what `docker images --no-trunc` and `docker
/// inspect --format '{{.Id}}'` print, which is the config digest, not a registry's manifest.
fn looks_like_image_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// Registry, repository, tag, digest.
    type Parts = (String, String, Option<String>, Option<String>);
    /// The same, as a table writes it.
    type Want<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

    fn parts(s: &str) -> Parts {
        let r = Reference::parse_subject(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (
            r.registry().to_owned(),
            r.repository().to_owned(),
            r.tag().map(str::to_owned),
            r.digest().map(|d| d.to_string()),
        )
    }

    #[test]
    fn normalizes_like_docker() {
        let d = format!("sha256:{HEX}");
        let cases: &[(&str, Want)] = &[
            (
                "oci://alpine",
                ("docker.io", "library/alpine", Some("latest"), None),
            ),
            (
                "oci://alpine:3.19",
                ("docker.io", "library/alpine", Some("3.19"), None),
            ),
            (
                "oci://docker.io/alpine",
                ("docker.io", "library/alpine", Some("latest"), None),
            ),
            (
                "oci://index.docker.io/alpine",
                ("docker.io", "library/alpine", Some("latest"), None),
            ),
            (
                "oci://user/app:v1",
                ("docker.io", "user/app", Some("v1"), None),
            ),
            (
                "oci://ghcr.io/org/app:v1.2.3",
                ("ghcr.io", "org/app", Some("v1.2.3"), None),
            ),
            (
                "oci://Registry.Example.COM/a/b/c",
                ("registry.example.com", "a/b/c", Some("latest"), None),
            ),
            (
                "oci://localhost/app",
                ("localhost", "app", Some("latest"), None),
            ),
            (
                "oci://localhost:5000/app:dev",
                ("localhost:5000", "app", Some("dev"), None),
            ),
            (
                "oci://127.0.0.1:5000/team/app",
                ("127.0.0.1:5000", "team/app", Some("latest"), None),
            ),
            (
                "oci://[::1]:5000/app:x",
                ("[::1]:5000", "app", Some("x"), None),
            ),
            (
                "oci://r.io/a__b/c-d/e.f/g---h:T_1.x-y",
                ("r.io", "a__b/c-d/e.f/g---h", Some("T_1.x-y"), None),
            ),
        ];
        for (input, (reg, repo, tag, digest)) in cases {
            let got = parts(input);
            let want = (
                reg.to_string(),
                repo.to_string(),
                tag.map(str::to_owned),
                digest.map(str::to_owned),
            );
            assert_eq!(got, want, "{input}");
        }
        let by_digest = format!("oci://r.io/app@{d}");
        assert_eq!(
            parts(&by_digest),
            ("r.io".into(), "app".into(), None, Some(d.clone()))
        );
        let both = format!("oci://r.io:443/app:v1@{d}");
        assert_eq!(
            parts(&both),
            (
                "r.io:443".into(),
                "app".into(),
                Some("v1".into()),
                Some(d.clone())
            )
        );
        let r = Reference::parse_subject(&both).unwrap();
        assert_eq!(r.manifest_ref(), d);
        assert_eq!(r.to_string(), both);
        assert_eq!(r.name(), "oci://r.io:443/app:v1");
        assert_eq!(r.full_name(), "r.io:443/app");
        let r = Reference::parse_subject(&by_digest).unwrap();
        assert_eq!(r.name(), "oci://r.io/app");
        let r = Reference::parse_subject("oci://alpine").unwrap();
        assert_eq!(r.name(), "oci://docker.io/library/alpine:latest");
    }

    #[test]
    fn display_is_the_normalized_subject_and_parses_back() {
        for s in [
            "oci://alpine",
            "oci://localhost:5000/a/b:c",
            "oci://docker.io/x/y:z",
        ] {
            let r = Reference::parse_subject(s).unwrap();
            let again: Reference = r.to_string().parse().unwrap();
            assert_eq!(again, r);
        }
        let r = Reference::parse_subject("oci://alpine").unwrap();
        assert_eq!(r.to_string(), "oci://docker.io/library/alpine:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.manifest_ref(), "latest");
    }

    #[test]
    fn refuses_malformed_references_with_reasons() {
        let cases: &[(&str, &str)] = &[
            ("alpine", "starts with oci://"),
            ("oci://", "empty"),
            ("oci://r.io/App", "lowercase"),
            ("oci://r.io/", "missing"),
            ("oci://r.io//a", "component"),
            ("oci://r.io/a/", "component"),
            ("oci://r.io/-a", "component"),
            ("oci://r.io/a..b", "component"),
            ("oci://r.io/a_-b", "component"),
            ("oci://r.io/a:", "tag"),
            ("oci://r.io/a:.x", "tag"),
            ("oci://r.io/a:x y", "tag"),
            ("oci://r.io:99999/a", "port"),
            ("oci://r.io:/a", "port"),
            ("oci://r_x.io/a", "host name"),
            ("oci://-r.io/a", "host name"),
            ("oci://[::1/a", "unclosed"),
            ("oci://[zz::1]:5/a", "IPv6"),
            ("oci://r.io/a@sha256:abc", "64 lowercase hex"),
            ("oci://r.io/a@sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "64 lowercase hex"),
            ("oci://r.io/a@latest", "ALGORITHM:HEX"),
            ("oci://r.io/a@sha256:0@sha256:1", "64 lowercase hex"),
        ];
        for (input, needle) in cases {
            let e = Reference::parse_subject(input)
                .expect_err(input)
                .to_string();
            assert!(e.contains(needle), "{input}: {e:?} lacks {needle:?}");
        }
        let long_tag = format!("oci://r.io/a:{}", "t".repeat(129));
        assert!(Reference::parse_subject(&long_tag)
            .unwrap_err()
            .to_string()
            .contains("longer"));
        let long_name = format!("oci://r.io/{}", "a".repeat(251));
        assert!(Reference::parse_subject(&long_name)
            .unwrap_err()
            .to_string()
            .contains("longer"));
    }

    #[test]
    fn other_digest_algorithms_are_unsupported_not_malformed() {
        let s = format!("oci://r.io/a@sha512:{HEX}{HEX}");
        assert!(matches!(
            Reference::parse_subject(&s),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn a_local_image_id_is_named_as_such() {
        for s in [format!("oci://{HEX}"), format!("oci://sha256:{HEX}")] {
            let e = Reference::parse_subject(&s).unwrap_err().to_string();
            assert!(e.contains("local image ID"), "{e}");
            assert!(e.contains("RepoDigests"), "{e}");
        }
    }

    #[test]
    fn digests_parse_and_print() {
        let d = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(d.to_string(), format!("sha256:{HEX}"));
        assert_eq!(d.hex(), HEX);
        assert_eq!(
            Digest::of(b"{}").to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert!(Digest::parse(HEX).is_err());
        assert!(Digest::parse("sha256:").is_err());
    }
}
