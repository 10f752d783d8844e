//! The renderers' inputs: the Flux objects' fields, resolved (defaults applied, credentials
//! chosen) by `imageautomation-engine`'s `flux_objects` or by `imageautomation render`.

use super::*;

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
    /// `spec.provider`: `generic` (Flux's default, not rendered), `aws`, `azure`, `gcp`.
    pub provider: Option<String>,
    /// The proxy; rendered as a Secret `<name>-registry-proxy` referenced by
    /// `spec.proxySecretRef`.
    pub proxy: Option<Proxy>,
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
    pub(super) fn as_str(self) -> &'static str {
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
    /// The proxy; rendered as a Secret `<name>-git-proxy` referenced by the GitRepository's
    /// `spec.proxySecretRef`.
    pub proxy: Option<Proxy>,
    /// `git.checkout.ref`; `None` lets Flux default to branch `master`.
    pub checkout: Option<GitRef>,
    /// `git.commit`: the author (its email required by Flux), the message template and
    /// its values, and the signing key (rendered as the Secret `<name>-signing-key`).
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
