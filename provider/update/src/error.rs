//! The crate's single error type.

use std::path::PathBuf;

/// Everything that stops [`apply_setters`](crate::apply_setters) as a whole.
///
/// A file that cannot be read as YAML is *not* an error: it is left untouched and reported in
/// [`UpdateResult::skipped`](crate::UpdateResult::skipped), and the run goes on (as Flux's
/// `ScreeningLocalReader` records it in `ProblemFiles`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `update.path` is absolute or climbs out of the repository root (`..`), directly or through
    /// a symbolic link. Flux resolves it with `securejoin`; we refuse it instead of silently
    /// clamping it to the root.
    #[error(
        "update path {path:?} escapes the repository root {root}: give a path relative to the root, without leading '/' or '..' that leaves it"
    )]
    PathEscapesRoot {
        /// The `update.path` as given.
        path: String,
        /// The repository root.
        root: PathBuf,
    },

    /// The repository root or `update.path` does not exist or is not a directory.
    #[error(
        "{path}: does not exist or is not a directory (the repository root and update.path must be existing directories)"
    )]
    NotADirectory {
        /// The offending directory.
        path: PathBuf,
    },

    /// A string is not a valid image reference `name:tag[@digest]`
    /// ([`LatestRef`](crate::LatestRef)'s `FromStr`).
    #[error("{reference:?} is not a valid image reference name:tag[@digest]: {reason}")]
    InvalidReference {
        /// The string as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A policy's `latestRef` is not a valid `name:tag[@digest]` image reference. Flux fails the
    /// whole update in this case too (`name.ParseReference`, IAC `internal/update/setters.go`).
    #[error("policy {policy}: latestRef {reference:?} is not a valid image reference: {reason}")]
    InvalidLatestRef {
        /// The policy key, `namespace:name`.
        policy: String,
        /// The reference as rendered from `latestRef`.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Walking the directory tree failed (permission denied, a directory vanished, ...).
    #[error("walking {path}: {source}")]
    Walk {
        /// The path being walked when it failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: walkdir::Error,
    },

    /// Writing a file's update failed: its temporary file could not be created, written or
    /// renamed over it (disk full, read-only file system, permissions). The file is left as
    /// it was, and no temporary file remains.
    #[error("could not write {path} (it is left as it was): {source}")]
    Write {
        /// The file that was to be updated.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Reading, writing or renaming a file failed. Writes go to a temporary file that is
    /// renamed over the original, so the original is intact when this happens.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done: "reading", "writing", "renaming", ...
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// `true` when retrying with backoff may help (I/O: a file system error, a directory that
    /// vanished during the walk); `false` when the run will fail again until the input changes
    /// (a bad `update.path` or `latestRef`): Flux's Ready=False versus Stalled.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Walk { .. } | Error::Io { .. } | Error::Write { .. } => true,
            Error::PathEscapesRoot { .. }
            | Error::NotADirectory { .. }
            | Error::InvalidReference { .. }
            | Error::InvalidLatestRef { .. } => false,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
