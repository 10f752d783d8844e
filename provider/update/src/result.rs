//! The typed result of a setters run: files -> objects -> changes (Flux IAC
//! `internal/update/result.go`, `ResultV2`), in a deterministic order.

use serde::Serialize;

/// What a setters run changed, and which files it could not read.
///
/// JSON shape (the `imageautomation update --output json` contract):
/// `{"files": [{"path", "objects": [{"apiVersion", "kind", "name", "namespace", "changes":
/// [{"oldValue", "newValue", "setter"}]}]}], "skipped": [{"path", "reason"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateResult {
    /// Files with at least one changed value, sorted by `path`. Empty when nothing changed.
    pub files: Vec<FileChanges>,
    /// Files that carry the `"$imagepolicy"` token but were left untouched because they could not
    /// be read (malformed YAML, not UTF-8, a document that is not a mapping), sorted by `path`.
    pub skipped: Vec<SkippedFile>,
    /// Values a `downgrade: Deny` policy did not write because the selected tag ranks below the
    /// one in the file, sorted by `path` then `policy`; the policy's markers in that file are
    /// left as they are. Omitted from JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedDowngrade>,
}

/// A downgrade that `downgrade: Deny` refused in one file (an imageautomation addition; Flux
/// writes whatever the policy selected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedDowngrade {
    /// Path relative to the scan root, with `/` separators.
    pub path: String,
    /// The policy, `<namespace>:<name>`.
    pub policy: String,
    /// The tag in the file.
    pub current_tag: String,
    /// The selected tag, which ranks below it.
    pub selected_tag: String,
}

impl std::fmt::Display for RefusedDowngrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} would downgrade {} to {} (downgrade: Deny); left as it is",
            self.path, self.policy, self.current_tag, self.selected_tag
        )
    }
}

/// The changes made to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChanges {
    /// Path relative to the scan root (`root` joined with `update.path`, as Flux keys
    /// `FileChanges`), with `/` separators.
    pub path: String,
    /// The changed objects in document order; documents with the same identity are merged.
    pub objects: Vec<ObjectChanges>,
    /// In [`Mode::DryRun`](crate::Mode::DryRun): the unified diff (`a/<path>`, `b/<path>`
    /// headers, 3 lines of context) between the file and what would be written. `None` when the
    /// file was written.
    #[serde(skip)]
    pub diff: Option<String>,
}

/// The changes made to one Kubernetes-style object (one YAML document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectChanges {
    /// The object the changes belong to.
    #[serde(flatten)]
    pub object: ObjectId,
    /// The changes in document traversal order.
    pub changes: Vec<Change>,
}

/// The identity of a YAML document: `apiVersion`, `kind`, `metadata.name`,
/// `metadata.namespace`, each empty when the document has none (a Kustomization has only
/// `apiVersion` and `kind`; a Helm values file has none). Flux IAC `ObjectIdentifier`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectId {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// One changed scalar (Flux IAC `update.Change`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The value before, as YAML reads it (quotes and escapes resolved).
    pub old_value: String,
    /// The value written.
    pub new_value: String,
    /// The setter that wrote it: `<namespace>:<name>` or `<namespace>:<name>:{name,tag,digest}`.
    pub setter: String,
}

/// A file that was left untouched because it could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// Path relative to the scan root, with `/` separators.
    pub path: String,
    /// What was wrong, where, and how to fix it.
    pub reason: String,
}

impl UpdateResult {
    /// `true` when no file changed.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every change once, in file and document order: Flux's `Result.Changes()` (which
    /// de-duplicates across files and objects), for commit message templates.
    pub fn changes(&self) -> Vec<&Change> {
        let mut seen = std::collections::HashSet::new();
        self.files
            .iter()
            .flat_map(|f| &f.objects)
            .flat_map(|o| &o.changes)
            .filter(|c| seen.insert(*c))
            .collect()
    }

    /// Every changed object once with its changes merged across files, in first-seen order:
    /// Flux's `Result.Objects()`, for commit message templates.
    pub fn objects(&self) -> Vec<(&ObjectId, Vec<&Change>)> {
        let mut out: Vec<(&ObjectId, Vec<&Change>)> = Vec::new();
        for o in self.files.iter().flat_map(|f| &f.objects) {
            match out.iter_mut().find(|(id, _)| *id == &o.object) {
                Some((_, changes)) => changes.extend(&o.changes),
                None => out.push((&o.object, o.changes.iter().collect())),
            }
        }
        out
    }
}
