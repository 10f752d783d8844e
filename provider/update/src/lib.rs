//! `imageautomation-update`: Flux's `$imagepolicy` setters, with a byte-preserving rewrite.
//!
//! [`apply_setters`] walks `update.path` inside a repository, finds every YAML scalar whose line
//! comment carries a marker such as `# {"$imagepolicy": "flux-system:podinfo:tag"}`, replaces
//! the value with the one the named ImagePolicy selected ([`LatestRef`]), and returns a typed
//! [`UpdateResult`] (files -> objects -> changes). Behaviour follows Flux
//! image-automation-controller `internal/update` (`setters.go`, `filereader.go`, `result.go`)
//! and kyaml `fieldmeta`; where Flux re-serialises whole files we change only the bytes of the
//! marked scalars, so comments, indentation, quoting, anchors, CRLF line endings and a missing
//! final newline all survive.
//!
//! The crate is pure and synchronous: it knows nothing of OCI registries, git, Pulumi or async
//! runtimes. Its inputs are a directory and the policies' `latestRef`s; its only side effect is
//! writing the changed files (atomically), and [`Mode::DryRun`] does not even do that.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod files;
#[cfg(test)]
mod proptests;
mod quote;
mod reference;
mod result;
mod scan;

use std::collections::BTreeMap;
use std::path::Path;

use imageautomation_policy::TagSelector;

pub use error::Error;
pub use reference::LatestRef;
pub use result::{
    Change, FileChanges, ObjectChanges, ObjectId, RefusedDowngrade, SkippedFile, UpdateResult,
};

/// The policies the setters may use: `"<namespace>:<name>"` -> the ImagePolicy's `latestRef`.
///
/// A marker naming a policy that is not in the map is ignored (Flux: policies that are absent or
/// not ready define no setter).
pub type Policies = BTreeMap<String, LatestRef>;

/// The policies with `downgrade: Deny`: `"<namespace>:<name>"` -> the compiled policy whose
/// ordering ([`TagSelector::compare`]) tells whether the selected tag ranks below the file's.
pub type DowngradeGuards = BTreeMap<String, TagSelector>;

/// The token a file must contain, quotes included, to be parsed at all (Flux IAC
/// `setters.go`: `fmt.Sprintf("%q", "$imagepolicy")`).
pub const TOKEN: &str = "\"$imagepolicy\"";

/// Whether [`apply_setters`] writes the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Rewrite changed files in place, atomically (temporary file in the same directory, then
    /// rename; the file's permissions are kept).
    #[default]
    Write,
    /// Write nothing; fill [`FileChanges::diff`] with the unified diff of what would change.
    DryRun,
}

/// Applies the `$imagepolicy` setters of `policies` to the YAML files under `root`/`path`.
///
/// - `root`: the repository root (a directory). `path`: `update.path`, relative to `root`
///   (`""`, `"."` or `"./clusters/prod"`); it may not escape `root`, lexically or through a
///   symbolic link.
/// - Files: `*.yaml`, `*.yml` and files named `Kustomization`, recursively, in byte order of
///   their paths; symlinked directories are not followed, dangling symlinks are skipped, and a
///   symlinked file is followed only to a target inside `root`. A file without the token
///   [`TOKEN`] is not parsed.
/// - Markers: the JSON object in a scalar's line comment (leading `#`s trimmed, other string keys
///   allowed), or the head comment of a block sequence item when it has no line comment:
///   `{"$imagepolicy": "<ns>:<name>"}` -> `name:tag[@digest]`, `<ns>:<name>:name` -> `name`,
///   `<ns>:<name>:tag` -> `tag`, `<ns>:<name>:digest` -> `digest` (may be empty). The name is
///   taken as written (`${ns:name}` names nothing). kyaml's older form
///   `{"$ref": "#/definitions/io.k8s.cli.setters.<ns>:<name>"}` marks a value too, as in Flux.
/// - Rewrite: only the marked scalars' bytes change. A plain value whose new text YAML 1.1 would
///   not read as a string (`1.20`, `yes`) is double-quoted, as Flux's `FormatNonStringStyle`
///   does; an empty new value is written `""`, as Flux does; quoted values keep their quote
///   style. A marked block scalar (`|`, `>`) gets the new value inline, written like a
///   plain one, in place of its indicator, and loses its content lines. No change is recorded
///   when the value is already right.
/// - A file that cannot be read (malformed YAML, a document that is not a mapping, not UTF-8) is
///   left untouched and listed in [`UpdateResult::skipped`].
///
/// Result paths are relative to `root`/`path` with `/` separators, sorted; objects are in
/// document order and changes in traversal order. All files are computed before the first is
/// written, and each write is atomic.
///
/// # Errors
/// [`Error::InvalidLatestRef`] before anything is read; [`Error::PathEscapesRoot`],
/// [`Error::NotADirectory`]; [`Error::Walk`] and [`Error::Io`] for I/O failures (files already
/// written stay complete).
pub fn apply_setters(
    root: &Path,
    path: &str,
    policies: &Policies,
    mode: Mode,
) -> Result<UpdateResult, Error> {
    apply_setters_guarded(root, path, policies, &DowngradeGuards::new(), mode)
}

/// [`apply_setters`], except that a policy in `guards` (`downgrade: Deny`, an imageautomation
/// addition) never writes a tag that ranks below the one in a file under its own ordering
/// (semver, alphabetical, numerical, after `filterTags` extraction): in such a file none of
/// that policy's markers (image, name, tag, digest) change, and the refusal is listed in
/// [`UpdateResult::refused`]. The file's tag is read from `:tag` markers and from the tag of
/// full image references; a value the policy cannot order (`latest`, filtered out, no tag)
/// is not a downgrade.
///
/// # Errors
/// As [`apply_setters`].
pub fn apply_setters_guarded(
    root: &Path,
    path: &str,
    policies: &Policies,
    guards: &DowngradeGuards,
    mode: Mode,
) -> Result<UpdateResult, Error> {
    let setters = setter_values(policies)?;
    let guards = files::Guards { policies, guards };
    files::run(root, path, &setters, &guards, mode)
}

/// The four setters of every policy (Flux IAC `setters.go` `UpdateWithSetters`).
fn setter_values(policies: &Policies) -> Result<scan::SetterValues, Error> {
    let mut values = scan::SetterValues::with_capacity(policies.len() * 4);
    for (key, latest) in policies {
        latest.validate().map_err(|e| match e {
            Error::InvalidReference { reference, reason } => Error::InvalidLatestRef {
                policy: key.clone(),
                reference,
                reason,
            },
            other => other,
        })?;
        let value = [
            latest.full(),
            latest.name.clone(),
            latest.tag.clone(),
            latest.digest.clone(),
        ];
        for (suffix, value) in SETTER_SUFFIXES.into_iter().zip(value) {
            values.insert(format!("{key}{suffix}"), value);
        }
    }
    Ok(values)
}

/// What follows `<namespace>:<name>` in each of a policy's four setters: the whole reference,
/// `:name`, `:tag`, `:digest` (Flux IAC `setters.go`).
pub(crate) const SETTER_SUFFIXES: [&str; 4] = ["", ":name", ":tag", ":digest"];

/// Entry points for the fuzz targets (`fuzz/`), built only with `--cfg fuzzing`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// The setters on one file's text, as [`apply_setters`](crate::apply_setters) runs them:
    /// `Ok((new text, edits as (start, end, replacement)))`, or `Err` when the file would be
    /// skipped.
    pub fn set_text(
        text: &str,
        policies: &crate::Policies,
    ) -> Result<(String, Vec<(usize, usize, String)>), String> {
        let setters = crate::setter_values(policies).map_err(|e| e.to_string())?;
        let found = crate::scan::scan(text, &setters)?;
        let edits = found
            .edits
            .iter()
            .map(|e| (e.start, e.end, e.text.clone()))
            .collect();
        Ok((found.apply(text), edits))
    }
}
