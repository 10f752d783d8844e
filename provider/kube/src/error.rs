//! The crate's one error type.

/// Everything that can go wrong while rendering Flux objects or applying them
/// to a cluster. Messages say what failed, on which object, and how to fix it;
/// they never contain Secret data, tokens, passwords, private keys or
/// kubeconfig contents.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input cannot be turned into a valid Kubernetes object (an object
    /// name that is not a DNS subdomain, a policy in another namespace than
    /// the automation, a Git URL Flux cannot use, ...). Happens at render
    /// time, before anything is sent.
    #[error("invalid input for {object}: {field}: {reason}")]
    InvalidInput {
        /// The object being rendered, `Kind namespace/name`.
        object: String,
        /// The offending input, named as in the Pulumi schema (`git.url`).
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// No kubeconfig was given, `KUBECONFIG` is unset and `~/.kube/config`
    /// does not exist.
    #[error(
        "no kubeconfig: set the provider config `kubernetes.kubeconfig` (contents or a path), \
         or the KUBECONFIG environment variable, or create ~/.kube/config"
    )]
    NoKubeconfig,

    /// The kubeconfig could not be read or parsed, names a context it does
    /// not have, or its cluster, user or certificates are unusable.
    #[error("kubeconfig from {origin} is unusable: {reason}")]
    Kubeconfig {
        /// Where it came from: `"the provider config (contents)"`, a path, or
        /// `"KUBECONFIG or ~/.kube/config"`; never the contents.
        origin: String,
        /// kube-rs' reason, reduced so that it never quotes the kubeconfig
        /// (its YAML errors show the offending lines, which may hold tokens).
        reason: String,
    },

    /// The HTTP client for the API server could not be built (TLS setup).
    #[error("cannot build a Kubernetes client: {source}")]
    Client {
        /// kube-rs' reason.
        #[source]
        source: kube::Error,
    },

    /// Server-side apply found fields that another field manager owns with a
    /// different value (HTTP 409, reason `Conflict`). Nothing was changed;
    /// this crate never forces ownership.
    #[error(
        "{object}: server-side apply conflicts with field manager(s) {} on {}: another tool \
         changed these fields. To keep the declared values, revert that change or take the \
         fields back (`kubectl apply --server-side --force-conflicts \
         --field-manager=pulumi-imageautomation` with this object); to keep theirs, change the \
         declaration to match; then run again",
        quoted(managers), fields.join(", ")
    )]
    Conflict {
        /// The object, `Kind namespace/name`.
        object: String,
        /// The conflicting fields as the API server names them (`.spec.interval`).
        fields: Vec<String>,
        /// The other field managers (`kubectl-edit`, `kustomize-controller`).
        managers: Vec<String>,
    },

    /// The API server refused the request for good: invalid object (422),
    /// forbidden (403), unauthenticated (401), unknown kind (404 on the
    /// collection: the Flux CRDs are not installed), bad request (400).
    #[error("{object}: the API server refused the {verb} ({code} {reason}): {message}")]
    Rejected {
        /// The object, `Kind namespace/name`.
        object: String,
        /// `apply`, `get` or `delete`.
        verb: &'static str,
        /// HTTP status code.
        code: u16,
        /// The Status reason (`Invalid`, `Forbidden`, ...).
        reason: String,
        /// The Status message, which the API server never fills with Secret data.
        message: String,
    },

    /// An apply found no place for the object (HTTP 404 on apply): its
    /// namespace does not exist, or the cluster does not serve its kind
    /// (the Flux CRDs are not installed).
    #[error("{object}: {reason}")]
    NotServed {
        /// The object, `Kind namespace/name`.
        object: String,
        /// What is missing and how to fix it.
        reason: String,
    },

    /// The API server answered with a retryable failure: 429, 5xx, or a
    /// timeout reported by the server.
    #[error("{object}: the API server failed the {verb} ({code} {reason}): {message}; retry later")]
    Server {
        /// The object, `Kind namespace/name`.
        object: String,
        /// `apply`, `get` or `delete`.
        verb: &'static str,
        /// HTTP status code.
        code: u16,
        /// The Status reason.
        reason: String,
        /// The Status message.
        message: String,
    },

    /// The API server could not be reached or the connection broke.
    #[error("{object}: cannot reach the Kubernetes API server for {verb}: {source}")]
    Unreachable {
        /// The object, `Kind namespace/name`.
        object: String,
        /// `apply`, `get` or `delete`.
        verb: &'static str,
        /// The transport error.
        #[source]
        source: kube::Error,
    },

    /// The API server's answer could not be understood (not the object that
    /// was asked for, not JSON).
    #[error("{object}: unexpected answer from the API server for {verb}: {reason}")]
    UnexpectedResponse {
        /// The object, `Kind namespace/name`.
        object: String,
        /// `apply`, `get` or `delete`.
        verb: &'static str,
        /// What was wrong with it.
        reason: String,
    },
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|m| format!("{m:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// True when retrying the same request later may succeed (server down,
    /// overloaded or failing); false when the inputs, the kubeconfig or the
    /// cluster's state must change first (Flux: Stalled rather than
    /// Ready=False).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Server { .. } | Error::Unreachable { .. })
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
