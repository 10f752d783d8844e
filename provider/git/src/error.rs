//! The crate's one error type.

/// Everything that can go wrong while writing back to Git or opening a pull
/// request. Messages say what failed, where, and how to fix it; they never
/// contain a token, password or private key (remote URLs are shown without
/// their user info, and server answers are redacted).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Git URL is not a URL this crate can use (unknown scheme, a
    /// password in the URL, unparsable).
    #[error("invalid Git URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, without user info.
        url: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The spec is inconsistent: no push branch can be inferred, a refspec or
    /// branch name is invalid, a credential does not fit the URL's scheme.
    #[error("invalid Git settings: {field}: {reason}")]
    InvalidSpec {
        /// The offending field, named as in Flux (`git.push.branch`, ...).
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The message template does not parse (Flux: "unable to create commit
    /// message template from spec").
    #[error("unable to create {template} template from spec: {message}")]
    TemplateParse {
        /// The template's name (`"commit message"`, `"pull request title"`, ...).
        template: String,
        /// The parser's message with line and column.
        message: String,
    },

    /// Rendering the template failed (Flux: "failed to run template from spec").
    #[error("failed to run {template} template from spec: {message}")]
    TemplateExecute {
        /// The template's name.
        template: String,
        /// What went wrong.
        message: String,
    },

    /// The template uses a field Flux removed (`.Updated`,
    /// `.Changed.ImageResult`); nothing is committed (Flux: Stalled,
    /// `RemovedTemplateField`).
    #[error("{message}")]
    RemovedTemplateField {
        /// The removed field, e.g. `.Updated`.
        field: &'static str,
        /// Flux's message, pointing at the replacement.
        message: &'static str,
    },

    /// The server refused the credentials (HTTP 401/403, SSH public key
    /// refused).
    #[error(
        "authentication to {url} failed during {operation}: {reason}; check the credentials (token, username/password or SSH key) and their access to the repository"
    )]
    Authentication {
        /// The remote URL, without user info.
        url: String,
        /// `"clone"`, `"fetch"` or `"push"`.
        operation: &'static str,
        /// The transport's message, redacted.
        reason: String,
    },

    /// The SSH server's host key is not in `known_hosts`, or differs from it.
    #[error(
        "SSH host key of {host} is {problem} the configured known_hosts ({key_type} key); add the server's key to known_hosts (ssh-keyscan -p PORT HOST) after checking its fingerprint"
    )]
    HostKey {
        /// `host` or `[host]:port`.
        host: String,
        /// `"not in"` or `"different from the key in"`.
        problem: &'static str,
        /// The offered key's type, e.g. `ssh-ed25519`.
        key_type: String,
    },

    /// The server's TLS certificate could not be verified against the
    /// configured CA bundle.
    #[error(
        "TLS certificate of {host} could not be verified with the configured CA bundle: {reason}"
    )]
    Certificate {
        /// The host.
        host: String,
        /// Why verification failed.
        reason: String,
    },

    /// The configured CA bundle or known_hosts cannot be read or parsed.
    #[error("invalid {what}: {reason}")]
    InvalidTrust {
        /// `"CA bundle"`, `"known_hosts"`, `"SSH private key"`.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The checkout ref (`git.checkout.ref`) does not exist on the remote.
    #[error("{kind} {name:?} (git.checkout.ref) not found in {url}; check the name, or create it")]
    RefNotFound {
        /// `"branch"`, `"tag"` or `"commit"`.
        kind: &'static str,
        /// The branch, tag or commit.
        name: String,
        /// The remote URL, without user info.
        url: String,
    },

    /// The server says the repository does not exist (HTTP 404, "does not
    /// appear to be a git repository"); hosts like GitHub also answer so when
    /// the credentials may not read it.
    #[error(
        "repository {url} not found during {operation}, or the credentials have no access to it; check the URL and the repository's access settings"
    )]
    RepositoryNotFound {
        /// The remote URL, without user info.
        url: String,
        /// `"clone"`, `"fetch"` or `"push"`.
        operation: &'static str,
    },

    /// A network or server error talking to the remote (connection refused,
    /// HTTP 5xx, timeout, protocol error).
    #[error("git {operation} with {url} failed: {reason}")]
    Transport {
        /// `"clone"`, `"fetch"` or `"push"`.
        operation: &'static str,
        /// The remote URL, without user info.
        url: String,
        /// The transport's message, redacted.
        reason: String,
    },

    /// The remote rejected the push of a ref for a reason other than a
    /// concurrent update (a hook, a protected branch, a missing permission).
    #[error("push of {refspec} to {url} was rejected: {reason}")]
    PushRejected {
        /// The refspec pushed.
        refspec: String,
        /// The remote URL, without user info.
        url: String,
        /// The server's message, redacted.
        reason: String,
    },

    /// Every attempt to push was overtaken by another push to the branch.
    #[error(
        "push to branch {branch:?} of {url} was overtaken by other pushes {attempts} times in a row; will retry later"
    )]
    PushRaceLost {
        /// The push branch.
        branch: String,
        /// The remote URL, without user info.
        url: String,
        /// How many pushes were tried.
        attempts: u32,
    },

    /// A local Git operation failed (repository init, checkout, index,
    /// commit).
    #[error("git {operation} failed in the local clone: {source}")]
    Local {
        /// What was being done.
        operation: &'static str,
        /// The libgit2 error.
        #[source]
        source: git2::Error,
    },

    /// A local file system operation failed (temporary directory).
    #[error("{operation} {path}: {source}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The path involved.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The caller's update (the setters) failed; nothing was committed.
    #[error("update of the work tree failed: {source}")]
    Update {
        /// The caller's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// The GitHub API answered a pull request call with an error status.
    #[error("GitHub API {operation} returned HTTP {status}: {message}")]
    PullRequestApi {
        /// E.g. `"list pull requests"`, `"create pull request"`.
        operation: &'static str,
        /// The HTTP status code.
        status: u16,
        /// GitHub's `message`, redacted.
        message: String,
    },

    /// The GitHub API could not be reached or answered something unreadable.
    #[error("GitHub API {operation} failed: {reason}")]
    PullRequestTransport {
        /// What was being done.
        operation: &'static str,
        /// Why, redacted.
        reason: String,
    },
}

impl Error {
    /// True for failures that may go away by themselves (network, server
    /// errors, lost push races, GitHub 5xx/429): retry with backoff, Flux's
    /// Ready=False. False for failures that need a change of input
    /// (credentials, template, settings, host key, missing ref): Flux's
    /// Stalled.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::PushRaceLost { .. } => true,
            Error::PullRequestTransport { .. } => true,
            Error::PullRequestApi { status, .. } => *status >= 500 || *status == 429,
            Error::Io { .. } => true,
            Error::Local { source, .. } => {
                matches!(source.class(), git2::ErrorClass::Os | git2::ErrorClass::Net)
            }
            Error::InvalidUrl { .. }
            | Error::InvalidSpec { .. }
            | Error::TemplateParse { .. }
            | Error::TemplateExecute { .. }
            | Error::RemovedTemplateField { .. }
            | Error::Authentication { .. }
            | Error::HostKey { .. }
            | Error::Certificate { .. }
            | Error::InvalidTrust { .. }
            | Error::RefNotFound { .. }
            | Error::RepositoryNotFound { .. }
            | Error::PushRejected { .. }
            | Error::Update { .. } => false,
        }
    }
}
