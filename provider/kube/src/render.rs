//! Rendering: plain input structs (mirroring the provider's resource inputs)
//! to the Flux objects and Secrets that make Flux in the cluster do the same
//! automation. Pure functions: no I/O, no clock.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use regex::Regex;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use imageautomation_model::duration::{parse_flux_timeout, parse_go_duration};
pub use imageautomation_model::git::{CommitAuthor, GitCommit, GitPush};
use imageautomation_model::url_forms::ScpLike;
pub use imageautomation_model::{DigestReflectionPolicy, GitRef};

use crate::error::{Error, Result};
use crate::manifest::{Kind, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest, ObjectKey};

/// The label an `ImagePolicy` carries with its own name as value, and that an
/// `ImageUpdateAutomation`'s `spec.policySelector` selects on
/// (`matchExpressions: [{key, operator: In, values: [<policy names>]}]`).
pub const POLICY_LABEL: &str = "imageautomation.pulumi.com/policy";

/// Default `spec.interval` of a rendered `ImageRepository` (Pulumi input
/// default `5m`).
pub const DEFAULT_IMAGE_REPOSITORY_INTERVAL: &str = "5m";
/// Default `spec.interval` of a rendered `ImageUpdateAutomation` and its
/// `GitRepository` when the input gives none (Flux requires one).
pub const DEFAULT_AUTOMATION_INTERVAL: &str = "5m";

/// Whether Secrets are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsMode {
    /// Render the Secrets with their data (for applying to a cluster).
    Include,
    /// Leave the Secrets out; the Flux objects still reference them by name
    /// (`<name>-registry-auth`, ...) so a GitOps repository can provide them
    /// another way (SOPS, External Secrets). For `imageautomation render`.
    Omit,
}

/// A reference to a namespaced object by name (`spec.imageRepositoryRef`,
/// an `imagePolicyRef`, an existing `GitRepository`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The namespace; `None` means the referring object's own.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

/// Registry credentials of an `ImageRepository`, put into a
/// `kubernetes.io/dockerconfigjson` Secret (never `Opaque`: Flux ignores an
/// Opaque Secret silently and scans anonymously, flux-spec trap 11).
#[derive(Debug, Clone)]
pub enum RegistryCredentials {
    /// Pulumi `credentials {username, password}`: one `auths` entry for the
    /// image's registry (`https://index.docker.io/v1/` for Docker Hub).
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: SecretString,
    },
    /// Pulumi `dockerConfigJson`: a complete Docker config (`{"auths": {...}}`),
    /// stored as it is.
    DockerConfigJson(SecretString),
}

/// TLS settings of an `ImageRepository` (Pulumi `certificate`), put into the
/// Secret named by `spec.certSecretRef` with keys `ca.crt`, `tls.crt`,
/// `tls.key` (IRC `internal/registry/options.go`).
#[derive(Debug, Clone)]
pub struct TlsCertificate {
    /// PEM CA bundle, added to the system pool.
    pub ca_pem: Option<String>,
    /// PEM client certificate; needs `key_pem`.
    pub cert_pem: Option<String>,
    /// PEM client private key; needs `cert_pem`.
    pub key_pem: Option<SecretString>,
}

/// Inputs of a Flux `ImageRepository` (IRC `api/v1/imagerepository_types.go`).
#[derive(Debug, Clone)]
pub struct ImageRepositoryInput {
    /// Namespace of the object (the provider defaults it to `fluxNamespace`).
    pub namespace: String,
    /// `metadata.name` (the provider defaults it to the resource name).
    pub name: String,
    /// `spec.image`: `registry/repository` without tag or scheme.
    pub image: String,
    /// `spec.interval`, Go duration; default [`DEFAULT_IMAGE_REPOSITORY_INTERVAL`].
    pub interval: Option<String>,
    /// `spec.timeout`, Go duration without hours; Flux's default is the interval.
    pub timeout: Option<String>,
    /// `spec.exclusionList`; `None` keeps Flux's default `["^.*\\.sig$"]`.
    pub exclusion_list: Option<Vec<String>>,
    /// `spec.insecure`: plain-HTTP registry.
    pub insecure: bool,
    /// `spec.suspend`.
    pub suspend: bool,
    /// Registry credentials; rendered as a Secret referenced by `spec.secretRef`.
    pub credentials: Option<RegistryCredentials>,
    /// TLS settings; rendered as a Secret referenced by `spec.certSecretRef`.
    pub certificate: Option<TlsCertificate>,
}

/// The tag selection policy (`spec.policy`, exactly one of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// `semver.range`: a Masterminds v3 constraint.
    Semver {
        /// The range, e.g. `">=1.0.0 <2.0.0"`.
        range: String,
    },
    /// `alphabetical.order`: `asc` (Flux default) or `desc`.
    Alphabetical {
        /// `None` leaves Flux's default.
        order: Option<Order>,
    },
    /// `numerical.order`: `asc` (Flux default) or `desc`.
    Numerical {
        /// `None` leaves Flux's default.
        order: Option<Order>,
    },
}

/// Sort order of alphabetical and numerical policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `asc`: the last in ascending order wins.
    Asc,
    /// `desc`: the first in ascending order wins.
    Desc,
}

impl Order {
    fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// Inputs of a Flux `ImagePolicy` (IRC `api/v1/imagepolicy_types.go`).
#[derive(Debug, Clone)]
pub struct ImagePolicyInput {
    /// Namespace of the object.
    pub namespace: String,
    /// `metadata.name`; at most 63 characters, as it is also the value of
    /// [`POLICY_LABEL`].
    pub name: String,
    /// `spec.imageRepositoryRef`: the `ImageRepository` object. A repository
    /// in another namespace must allow it in its `spec.accessFrom`.
    pub image_repository_ref: ObjectRef,
    /// `spec.policy`.
    pub policy: Policy,
    /// `spec.filterTags.pattern` (Go regexp), `None` for none.
    pub filter_tags_pattern: Option<String>,
    /// `spec.filterTags.extract` (`$name` template), `None` for none.
    pub filter_tags_extract: Option<String>,
    /// `spec.digestReflectionPolicy`; `Never` (Flux's default) is not written.
    pub digest_reflection_policy: DigestReflectionPolicy,
    /// `spec.interval`, Go duration: accepted by Flux only, and then required,
    /// with `digestReflectionPolicy: Always` (two CEL rules in the CRD).
    pub interval: Option<String>,
    /// `spec.suspend`.
    pub suspend: bool,
}

/// Git authentication of an automation (Pulumi `git.auth`), rendered into
/// the `GitRepository`'s `spec.secretRef` Secret (source-controller keys).
#[derive(Debug, Clone)]
pub enum GitAuth {
    /// A token (GitHub PAT, app token): keys `username: git`, `password`.
    Token(SecretString),
    /// Basic auth: keys `username`, `password`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// SSH: keys `identity` (PEM/OpenSSH private key), `known_hosts`, and
    /// `password` for a passphrase-protected key. Needs an `ssh://` URL (or
    /// scp-like `user@host:path`, converted).
    Ssh {
        /// The private key.
        private_key: SecretString,
        /// `known_hosts` lines for the server (required by source-controller).
        known_hosts: String,
        /// The key's passphrase, if any.
        passphrase: Option<SecretString>,
    },
}

/// Inputs of the Git side of an automation (Pulumi `git`).
#[derive(Debug, Clone)]
pub struct GitInput {
    /// The repository URL: `https://`, `http://`, `ssh://` or scp-like
    /// `user@host:path` (converted to `ssh://user@host/path`, as Flux only
    /// takes URLs). Must not carry a password.
    pub url: String,
    /// Authentication, if the repository needs it.
    pub auth: Option<GitAuth>,
    /// PEM CA bundle for HTTPS, key `ca.crt` of the auth Secret.
    pub ca_pem: Option<String>,
    /// `git.checkout.ref`; `None` lets Flux default to branch `master`.
    pub checkout: Option<GitRef>,
    /// `git.commit`: the author (its email required by Flux), the message template and
    /// its values; `signingKey` is not rendered.
    pub commit: GitCommit,
    /// `git.push`: branch (the checkout branch when `None`), refspec and options.
    pub push: GitPush,
}

/// Inputs of a Flux `ImageUpdateAutomation` (IAC `api/v1`).
#[derive(Debug, Clone)]
pub struct UpdateAutomationInput {
    /// Namespace of the object; Flux selects policies only in this namespace.
    pub namespace: String,
    /// `metadata.name`; also the name of the rendered `GitRepository` and
    /// the prefix of its Secret.
    pub name: String,
    /// `spec.interval`, Go duration; default [`DEFAULT_AUTOMATION_INTERVAL`].
    pub interval: Option<String>,
    /// An existing `GitRepository` to use as `spec.sourceRef`; `None`
    /// renders one for `git.url` (with its auth Secret).
    pub source_ref: Option<ObjectRef>,
    /// The Git settings.
    pub git: GitInput,
    /// `spec.update.path` (relative to the repository root); strategy is
    /// always `Setters`.
    pub update_path: Option<String>,
    /// The policies the automation applies (`policies` input): the
    /// `policySelector` matches exactly these. All must be in `namespace`.
    pub policies: Vec<ObjectRef>,
    /// `spec.suspend`.
    pub suspend: bool,
}

static DNS_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
        .expect("static regex")
});
static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("static regex"));

/// Accumulates one object's checks and builds its pieces.
struct Ctx {
    object: String,
}

impl Ctx {
    fn new(kind: Kind, namespace: &str, name: &str) -> Self {
        Self {
            object: format!("{kind} {namespace}/{name}"),
        }
    }

    fn invalid(&self, field: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidInput {
            object: self.object.clone(),
            field,
            reason: reason.into(),
        }
    }

    fn check_names(&self, namespace: &str, name: &str) -> Result<()> {
        if namespace.len() > 63 || !DNS_LABEL.is_match(namespace) {
            return Err(self.invalid(
                "namespace",
                format!(
                    "{namespace:?} is not a Kubernetes namespace name (lowercase letters, digits \
                     and '-', at most 63 characters)"
                ),
            ));
        }
        self.check_object_name("name", name)
    }

    fn check_object_name(&self, field: &'static str, name: &str) -> Result<()> {
        if name.len() > 253 || !DNS_SUBDOMAIN.is_match(name) {
            return Err(self.invalid(
                field,
                format!(
                    "{name:?} is not a Kubernetes object name (lowercase letters, digits, '-' \
                     and '.', starting and ending with a letter or digit, at most 253 characters)"
                ),
            ));
        }
        Ok(())
    }

    fn check_duration(&self, field: &'static str, value: &str, hours: bool) -> Result<()> {
        let parsed = if hours {
            parse_go_duration(value)
        } else {
            parse_flux_timeout(value)
        };
        if parsed.is_err() {
            let units = if hours { "ms, s, m or h" } else { "ms, s or m" };
            return Err(self.invalid(
                field,
                format!("{value:?} is not a Go duration Flux accepts (e.g. \"5m\", \"1m30s\"; units {units})"),
            ));
        }
        Ok(())
    }
}

fn metadata(namespace: &str, name: &str, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = Map::new();
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
    for (k, v) in extra_labels {
        labels.insert((*k).into(), (*v).into());
    }
    json!({"name": name, "namespace": namespace, "labels": labels})
}

fn object(
    kind: Kind,
    namespace: &str,
    name: &str,
    meta: Value,
    rest: Map<String, Value>,
) -> Manifest {
    let mut body = Map::new();
    body.insert("apiVersion".into(), kind.api_version().into());
    body.insert("kind".into(), kind.as_str().into());
    body.insert("metadata".into(), meta);
    body.extend(rest);
    Manifest::new(
        ObjectKey {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        Value::Object(body),
    )
}

fn secret(namespace: &str, name: &str, type_: &str, data: BTreeMap<&str, &[u8]>) -> Manifest {
    let data: Map<String, Value> = data
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(BASE64.encode(v))))
        .collect();
    let mut rest = Map::new();
    rest.insert("type".into(), type_.into());
    rest.insert("data".into(), Value::Object(data));
    object(
        Kind::Secret,
        namespace,
        name,
        metadata(namespace, name, &[]),
        rest,
    )
}

fn put_opt(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.into(), v.into());
    }
}

fn put_true(map: &mut Map<String, Value>, key: &str, value: bool) {
    if value {
        map.insert(key.into(), true.into());
    }
}

/// The name of the Secret referenced by an `ImageRepository`'s `spec.secretRef`.
pub fn registry_auth_secret_name(repository_name: &str) -> String {
    format!("{repository_name}-registry-auth")
}

/// The name of the Secret referenced by an `ImageRepository`'s `spec.certSecretRef`.
pub fn registry_tls_secret_name(repository_name: &str) -> String {
    format!("{repository_name}-registry-tls")
}

/// The name of the Secret referenced by a rendered `GitRepository`'s `spec.secretRef`.
pub fn git_auth_secret_name(automation_name: &str) -> String {
    format!("{automation_name}-git-auth")
}

/// The key under `auths` of a Docker config for the registry of `image`:
/// the first path component when it looks like a host (has `.` or `:`, or
/// is `localhost`, Docker's rule), else Docker Hub's `https://index.docker.io/v1/`.
pub fn docker_config_registry_key(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            if first == "docker.io" || first == "index.docker.io" {
                "https://index.docker.io/v1/".to_owned()
            } else {
                first.to_owned()
            }
        }
        _ => "https://index.docker.io/v1/".to_owned(),
    }
}

/// Renders a Flux `ImageRepository` and, with [`SecretsMode::Include`], its
/// Secrets: `<name>-registry-auth` (`kubernetes.io/dockerconfigjson`, key
/// `.dockerconfigjson`) when it has credentials, `<name>-registry-tls`
/// (`Opaque`, keys `ca.crt`/`tls.crt`/`tls.key`) when it has TLS settings.
/// Secrets come first (apply order).
///
/// # Errors
/// [`Error::InvalidInput`] for a namespace or name Kubernetes refuses, an
/// empty image or one with a scheme, an interval or timeout Flux's CRD
/// refuses, more than 25 exclusion patterns, a `dockerConfigJson` that is not
/// a JSON object with `auths`, or a client certificate without its key.
pub fn render_image_repository(
    input: &ImageRepositoryInput,
    mode: SecretsMode,
) -> Result<Vec<Manifest>> {
    let ns = input.namespace.as_str();
    let name = input.name.as_str();
    let cx = Ctx::new(Kind::ImageRepository, ns, name);
    cx.check_names(ns, name)?;
    if input.image.is_empty() || input.image.contains("://") {
        return Err(cx.invalid(
            "image",
            format!(
                "{:?} is not an image repository: give `registry/repository` without scheme or \
                 tag, e.g. \"ghcr.io/org/app\"",
                input.image
            ),
        ));
    }
    let interval = input
        .interval
        .as_deref()
        .unwrap_or(DEFAULT_IMAGE_REPOSITORY_INTERVAL);
    cx.check_duration("interval", interval, true)?;
    if let Some(t) = &input.timeout {
        cx.check_duration("timeout", t, false)?;
    }

    let mut out = Vec::new();
    let mut spec = Map::new();
    spec.insert("image".into(), input.image.clone().into());
    spec.insert("interval".into(), interval.into());
    put_opt(&mut spec, "timeout", input.timeout.as_deref());
    if let Some(list) = &input.exclusion_list {
        if list.len() > 25 {
            return Err(cx.invalid(
                "exclusionList",
                format!("has {} patterns; Flux accepts at most 25", list.len()),
            ));
        }
        spec.insert("exclusionList".into(), json!(list));
    }
    put_true(&mut spec, "insecure", input.insecure);
    put_true(&mut spec, "suspend", input.suspend);

    if let Some(creds) = &input.credentials {
        let secret_name = registry_auth_secret_name(name);
        cx.check_object_name("name", &secret_name)?;
        spec.insert("secretRef".into(), json!({"name": secret_name}));
        if mode == SecretsMode::Include {
            let config = match creds {
                RegistryCredentials::Basic { username, password } => {
                    let auth = BASE64.encode(format!("{username}:{}", password.expose_secret()));
                    let mut auths = Map::new();
                    auths.insert(
                        docker_config_registry_key(&input.image),
                        json!({"username": username, "password": password.expose_secret(), "auth": auth}),
                    );
                    serde_json::to_string(&json!({ "auths": auths }))
                        .expect("a JSON value serialises")
                }
                RegistryCredentials::DockerConfigJson(text) => {
                    let parsed: Value =
                        serde_json::from_str(text.expose_secret()).map_err(|e| {
                            // serde_json's message gives line and column, never content.
                            cx.invalid("dockerConfigJson", format!("is not JSON: {e}"))
                        })?;
                    if !parsed.get("auths").is_some_and(Value::is_object) {
                        return Err(cx.invalid(
                            "dockerConfigJson",
                            "has no `auths` object; give a Docker config such as \
                             {\"auths\": {\"ghcr.io\": {\"auth\": \"<base64 user:password>\"}}}",
                        ));
                    }
                    text.expose_secret().to_owned()
                }
            };
            out.push(secret(
                ns,
                &secret_name,
                "kubernetes.io/dockerconfigjson",
                BTreeMap::from([(".dockerconfigjson", config.as_bytes())]),
            ));
        }
    }

    if let Some(cert) = &input.certificate {
        if cert.cert_pem.is_some() != cert.key_pem.is_some() {
            return Err(cx.invalid(
                "certificate",
                "certPem and keyPem go together: give both for a client certificate, or neither",
            ));
        }
        if cert.ca_pem.is_some() || cert.cert_pem.is_some() {
            let secret_name = registry_tls_secret_name(name);
            cx.check_object_name("name", &secret_name)?;
            spec.insert("certSecretRef".into(), json!({"name": secret_name}));
            if mode == SecretsMode::Include {
                let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
                if let Some(ca) = &cert.ca_pem {
                    data.insert("ca.crt", ca.as_bytes());
                }
                if let (Some(c), Some(k)) = (&cert.cert_pem, &cert.key_pem) {
                    data.insert("tls.crt", c.as_bytes());
                    data.insert("tls.key", k.expose_secret().as_bytes());
                }
                out.push(secret(ns, &secret_name, "Opaque", data));
            }
        }
    }

    let mut rest = Map::new();
    rest.insert("spec".into(), Value::Object(spec));
    out.push(object(
        Kind::ImageRepository,
        ns,
        name,
        metadata(ns, name, &[]),
        rest,
    ));
    Ok(out)
}

/// Renders a Flux `ImagePolicy` labelled [`POLICY_LABEL`]`: <name>` so that an
/// automation can select exactly it.
///
/// # Errors
/// [`Error::InvalidInput`] for a bad namespace or name (names longer than 63
/// characters cannot be label values), an empty semver range, or an
/// `interval` without `digestReflectionPolicy: Always` (or the reverse),
/// which the CRD's CEL rules refuse.
pub fn render_image_policy(input: &ImagePolicyInput) -> Result<Manifest> {
    let ns = input.namespace.as_str();
    let name = input.name.as_str();
    let cx = Ctx::new(Kind::ImagePolicy, ns, name);
    cx.check_names(ns, name)?;
    if name.len() > 63 {
        return Err(cx.invalid(
            "name",
            "is longer than 63 characters, so it cannot be the label value an \
             ImageUpdateAutomation selects it by; choose a shorter name",
        ));
    }
    cx.check_object_name("imageRepositoryRef.name", &input.image_repository_ref.name)?;
    let mut repo_ref = Map::new();
    repo_ref.insert(
        "name".into(),
        input.image_repository_ref.name.clone().into(),
    );
    put_opt(
        &mut repo_ref,
        "namespace",
        input.image_repository_ref.namespace.as_deref(),
    );
    let policy = match &input.policy {
        Policy::Semver { range } => {
            if range.trim().is_empty() {
                return Err(cx.invalid(
                    "policy.semver.range",
                    "is empty; give a range such as \">=1.0.0\"",
                ));
            }
            json!({"semver": {"range": range}})
        }
        Policy::Alphabetical { order } => {
            json!({"alphabetical": order.map(|o| json!({"order": o.as_str()})).unwrap_or_else(|| json!({}))})
        }
        Policy::Numerical { order } => {
            json!({"numerical": order.map(|o| json!({"order": o.as_str()})).unwrap_or_else(|| json!({}))})
        }
    };
    let always = input.digest_reflection_policy == DigestReflectionPolicy::Always;
    match (&input.interval, always) {
        (Some(i), true) => cx.check_duration("interval", i, true)?,
        (Some(_), false) => {
            return Err(cx.invalid(
                "interval",
                "is only accepted when digestReflectionPolicy is set to 'Always' (Flux CRD rule); \
                 remove it or set digestReflectionPolicy: Always",
            ));
        }
        (None, true) => {
            return Err(cx.invalid(
                "interval",
                "must be set when digestReflectionPolicy is set to 'Always' (Flux CRD rule)",
            ));
        }
        (None, false) => {}
    }
    let mut spec = Map::new();
    spec.insert("imageRepositoryRef".into(), Value::Object(repo_ref));
    spec.insert("policy".into(), policy);
    if input.filter_tags_pattern.is_some() || input.filter_tags_extract.is_some() {
        let mut ft = Map::new();
        put_opt(&mut ft, "pattern", input.filter_tags_pattern.as_deref());
        put_opt(&mut ft, "extract", input.filter_tags_extract.as_deref());
        spec.insert("filterTags".into(), Value::Object(ft));
    }
    if input.digest_reflection_policy != DigestReflectionPolicy::Never {
        spec.insert(
            "digestReflectionPolicy".into(),
            input.digest_reflection_policy.as_str().into(),
        );
    }
    put_opt(&mut spec, "interval", input.interval.as_deref());
    put_true(&mut spec, "suspend", input.suspend);
    let mut rest = Map::new();
    rest.insert("spec".into(), Value::Object(spec));
    Ok(object(
        Kind::ImagePolicy,
        ns,
        name,
        metadata(ns, name, &[(POLICY_LABEL, name)]),
        rest,
    ))
}

/// Turns a Git URL into one Flux's `GitRepository` accepts
/// (`^(http|https|ssh)://`): scp-like `user@host:path` becomes
/// `ssh://user@host/path`.
///
/// # Errors
/// Returns the reason as a message when the URL has another scheme or
/// carries a password.
pub fn flux_git_url(url: &str) -> std::result::Result<String, String> {
    if let Some(scp) = ScpLike::parse(url) {
        return Ok(scp.to_ssh_url());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(
            "is neither a URL (https://, http://, ssh://) nor scp-like user@host:path".into(),
        );
    };
    if !matches!(scheme, "http" | "https" | "ssh") {
        return Err(format!(
            "has scheme {scheme:?}; Flux's GitRepository takes http, https or ssh"
        ));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && userinfo.contains(':')
    {
        return Err("carries a password in the URL; remove it and use git.auth instead".into());
    }
    Ok(url.to_owned())
}

fn git_ref_json(r: &GitRef) -> Value {
    let mut m = Map::new();
    put_opt(&mut m, "branch", r.branch.as_deref());
    put_opt(&mut m, "tag", r.tag.as_deref());
    put_opt(&mut m, "semver", r.semver.as_deref());
    put_opt(&mut m, "name", r.name.as_deref());
    put_opt(&mut m, "commit", r.commit.as_deref());
    Value::Object(m)
}

/// Renders a Flux `ImageUpdateAutomation` whose `policySelector` matches
/// exactly `input.policies` (by [`POLICY_LABEL`]), and, unless
/// `input.source_ref` names an existing one, the `GitRepository` for
/// `git.url` (same name as the automation) and, with
/// [`SecretsMode::Include`] and auth or a CA, its Secret `<name>-git-auth`
/// (`Opaque`; `username`/`password` for a token or basic auth,
/// `identity`/`known_hosts` (and `password` for a passphrase) for SSH, `ca.crt`). Order: Secret,
/// GitRepository, ImageUpdateAutomation.
///
/// # Errors
/// [`Error::InvalidInput`] for bad names or durations, a Git URL Flux cannot
/// use, SSH auth with an HTTP URL or a token with an SSH URL, no policies, a
/// policy in another namespace (Flux only selects policies in the
/// automation's namespace), or a policy name that cannot be a label value.
pub fn render_update_automation(
    input: &UpdateAutomationInput,
    mode: SecretsMode,
) -> Result<Vec<Manifest>> {
    let ns = input.namespace.as_str();
    let name = input.name.as_str();
    let cx = Ctx::new(Kind::ImageUpdateAutomation, ns, name);
    cx.check_names(ns, name)?;
    let interval = input
        .interval
        .as_deref()
        .unwrap_or(DEFAULT_AUTOMATION_INTERVAL);
    cx.check_duration("interval", interval, true)?;

    if input.policies.is_empty() {
        return Err(cx.invalid(
            "policies",
            "is empty; Flux would select every ImagePolicy in the namespace, so give the \
             policies this automation applies",
        ));
    }
    let mut policy_names = Vec::new();
    for p in &input.policies {
        if let Some(pns) = &p.namespace
            && pns != ns
        {
            return Err(cx.invalid(
                "policies",
                format!(
                    "ImagePolicy {pns}/{} is in another namespace; Flux's ImageUpdateAutomation \
                     only selects policies in its own namespace {ns:?}: put both in one namespace",
                    p.name
                ),
            ));
        }
        if p.name.len() > 63 {
            return Err(cx.invalid(
                "policies",
                format!("ImagePolicy name {:?} is longer than 63 characters", p.name),
            ));
        }
        cx.check_object_name("policies", &p.name)?;
        policy_names.push(p.name.clone());
    }
    policy_names.sort();
    policy_names.dedup();

    let git = &input.git;
    if git.commit.author.email.trim().is_empty() {
        return Err(cx.invalid(
            "git.commit.author.email",
            "is required by Flux; give the commit author's email",
        ));
    }
    let mut out = Vec::new();
    let source_ref = match &input.source_ref {
        Some(existing) => {
            cx.check_object_name("sourceRef.name", &existing.name)?;
            let mut r = Map::new();
            r.insert("kind".into(), "GitRepository".into());
            r.insert("name".into(), existing.name.clone().into());
            put_opt(&mut r, "namespace", existing.namespace.as_deref());
            Value::Object(r)
        }
        None => {
            out.extend(render_git_repository(input, interval, mode, &cx)?);
            json!({"kind": "GitRepository", "name": name})
        }
    };

    let mut checkout = Map::new();
    if let Some(r) = &git.checkout
        && !r.is_empty()
    {
        checkout.insert("ref".into(), git_ref_json(r));
    }
    let mut author = Map::new();
    if !git.commit.author.name.is_empty() {
        author.insert("name".into(), git.commit.author.name.clone().into());
    }
    author.insert("email".into(), git.commit.author.email.clone().into());
    let mut commit = Map::new();
    commit.insert("author".into(), Value::Object(author));
    put_opt(
        &mut commit,
        "messageTemplate",
        git.commit.message_template.as_deref(),
    );
    if !git.commit.message_template_values.is_empty() {
        commit.insert(
            "messageTemplateValues".into(),
            json!(git.commit.message_template_values),
        );
    }
    let mut git_spec = Map::new();
    if !checkout.is_empty() {
        git_spec.insert("checkout".into(), Value::Object(checkout));
    }
    git_spec.insert("commit".into(), Value::Object(commit));
    // The CRD's rule (`pattern: ^$|^[^+:]`, image-automation-controller v1.2.4): no force
    // refspec and no deletion refspec.
    if let Some(refspec) = &git.push.refspec
        && (refspec.starts_with('+') || refspec.starts_with(':'))
    {
        return Err(cx.invalid(
            "git.push.refspec",
            format!(
                "{refspec:?}: Flux refuses force ('+') and deletion (':<dst>') refspecs; \
                 use refs/heads/<src>:refs/heads/<dst>"
            ),
        ));
    }
    let mut push = Map::new();
    put_opt(&mut push, "branch", git.push.branch.as_deref());
    put_opt(&mut push, "refspec", git.push.refspec.as_deref());
    if !git.push.options.is_empty() {
        push.insert("options".into(), json!(git.push.options));
    }
    if !push.is_empty() {
        git_spec.insert("push".into(), Value::Object(push));
    }
    let mut update = Map::new();
    put_opt(&mut update, "path", input.update_path.as_deref());
    update.insert("strategy".into(), "Setters".into());

    let mut spec = Map::new();
    spec.insert("interval".into(), interval.into());
    spec.insert("sourceRef".into(), source_ref);
    spec.insert("git".into(), Value::Object(git_spec));
    spec.insert("update".into(), Value::Object(update));
    spec.insert(
        "policySelector".into(),
        json!({"matchExpressions": [{"key": POLICY_LABEL, "operator": "In", "values": policy_names}]}),
    );
    put_true(&mut spec, "suspend", input.suspend);
    let mut rest = Map::new();
    rest.insert("spec".into(), Value::Object(spec));
    out.push(object(
        Kind::ImageUpdateAutomation,
        ns,
        name,
        metadata(ns, name, &[]),
        rest,
    ));
    Ok(out)
}

fn render_git_repository(
    input: &UpdateAutomationInput,
    interval: &str,
    mode: SecretsMode,
    cx: &Ctx,
) -> Result<Vec<Manifest>> {
    let ns = input.namespace.as_str();
    let name = input.name.as_str();
    let git = &input.git;
    let url = flux_git_url(&git.url)
        .map_err(|reason| cx.invalid("git.url", format!("{}: {reason}", redact_url(&git.url))))?;
    let is_ssh = url.starts_with("ssh://");
    match (&git.auth, is_ssh) {
        (Some(GitAuth::Ssh { .. }), false) => {
            return Err(cx.invalid(
                "git.auth",
                "sshPrivateKey needs an ssh:// (or user@host:path) git.url",
            ));
        }
        (Some(GitAuth::Token(_) | GitAuth::Basic { .. }), true) => {
            return Err(cx.invalid(
                "git.auth",
                "a token or password needs an https:// git.url; use sshPrivateKey for ssh://",
            ));
        }
        _ => {}
    }
    let mut out = Vec::new();
    let mut spec = Map::new();
    spec.insert("url".into(), url.into());
    spec.insert("interval".into(), interval.into());
    if let Some(r) = &git.checkout
        && !r.is_empty()
    {
        spec.insert("ref".into(), git_ref_json(r));
    }
    if git.auth.is_some() || git.ca_pem.is_some() {
        let secret_name = git_auth_secret_name(name);
        cx.check_object_name("name", &secret_name)?;
        spec.insert("secretRef".into(), json!({"name": secret_name}));
        if mode == SecretsMode::Include {
            let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
            match &git.auth {
                Some(GitAuth::Token(token)) => {
                    data.insert("username", b"git");
                    data.insert("password", token.expose_secret().as_bytes());
                }
                Some(GitAuth::Basic { username, password }) => {
                    data.insert("username", username.as_bytes());
                    data.insert("password", password.expose_secret().as_bytes());
                }
                Some(GitAuth::Ssh {
                    private_key,
                    known_hosts,
                    passphrase,
                }) => {
                    data.insert("identity", private_key.expose_secret().as_bytes());
                    data.insert("known_hosts", known_hosts.as_bytes());
                    if let Some(p) = passphrase {
                        data.insert("password", p.expose_secret().as_bytes());
                    }
                }
                None => {}
            }
            if let Some(ca) = &git.ca_pem {
                data.insert("ca.crt", ca.as_bytes());
            }
            out.push(secret(ns, &secret_name, "Opaque", data));
        }
    }
    let mut rest = Map::new();
    rest.insert("spec".into(), Value::Object(spec));
    out.push(object(
        Kind::GitRepository,
        ns,
        name,
        metadata(ns, name, &[]),
        rest,
    ));
    Ok(out)
}

/// Writes manifests as one multi-document YAML stream (`---` between
/// objects), as a GitOps repository holds them; for `imageautomation render`
/// with [`SecretsMode::Omit`]. Secret data would be written as it is, so do
/// not pass Secrets unless the output is itself secret.
pub fn to_yaml_documents(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n");
        out.push_str(
            &serde_norway::to_string(m.expose_body()).expect("a JSON value serialises as YAML"),
        );
    }
    out
}

/// A URL for messages: user info removed.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.rsplit_once('@').map_or(url, |(_, h)| h).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_like_urls_become_ssh_urls() {
        assert_eq!(
            flux_git_url("git@github.com:org/repo.git").as_deref(),
            Ok("ssh://git@github.com/org/repo.git")
        );
        assert_eq!(
            flux_git_url("https://github.com/org/repo").as_deref(),
            Ok("https://github.com/org/repo")
        );
        assert!(flux_git_url("ftp://x/y").is_err());
        let err = flux_git_url("https://u:hunter2@github.com/o/r").expect_err("password in URL");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn redact_url_drops_user_info() {
        assert_eq!(redact_url("https://u:pw@host/p"), "https://host/p");
        assert_eq!(redact_url("ftp://x:pw@h"), "ftp://h");
    }

    #[test]
    fn docker_hub_and_registry_hosts() {
        assert_eq!(
            docker_config_registry_key("alpine"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(
            docker_config_registry_key("library/alpine"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(
            docker_config_registry_key("docker.io/library/alpine"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(docker_config_registry_key("ghcr.io/org/app"), "ghcr.io");
        assert_eq!(
            docker_config_registry_key("127.0.0.1:5000/x"),
            "127.0.0.1:5000"
        );
        assert_eq!(docker_config_registry_key("localhost/x"), "localhost");
    }

    #[test]
    fn bad_docker_config_error_has_no_content() {
        let input = ImageRepositoryInput {
            namespace: "flux-system".into(),
            name: "app".into(),
            image: "ghcr.io/org/app".into(),
            interval: None,
            timeout: None,
            exclusion_list: None,
            insecure: false,
            suspend: false,
            credentials: Some(RegistryCredentials::DockerConfigJson(SecretString::from(
                "{\"auths\": {\"x\": \"supersecret\"",
            ))),
            certificate: None,
        };
        let err = render_image_repository(&input, SecretsMode::Include)
            .expect_err("invalid JSON")
            .to_string();
        assert!(err.contains("dockerConfigJson"), "{err}");
        assert!(!err.contains("supersecret"), "{err}");
        // Without Secrets the content is not even parsed.
        assert!(render_image_repository(&input, SecretsMode::Omit).is_ok());
    }
}
