//! The changes an update made, in the shape Flux's commit message templates see
//! (`update.Result` in Flux IAC `internal/update/result.go`).

use std::collections::BTreeMap;
use std::fmt;

/// Identifies a Kubernetes object inside a YAML file, as Flux's
/// `update.ObjectIdentifier` (kyaml `ResourceIdentifier`): each field is empty
/// when the document has none.
///
/// Ordering compares `api_version`, `kind`, `name`, `namespace` in that order,
/// which is how Go's `text/template` orders struct map keys in `range`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectIdentifier {
    /// `apiVersion`, e.g. `"apps/v1"`.
    pub api_version: String,
    /// `kind`, e.g. `"Deployment"`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// One value rewritten by a setter, as Flux's `update.Change`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// The value before, e.g. `"podinfo:5.0.0"`.
    pub old_value: String,
    /// The value written, e.g. `"podinfo:5.0.3"`.
    pub new_value: String,
    /// The marker that asked for it: `"<namespace>:<name>[:tag|:name|:digest]"`.
    pub setter: String,
}

/// The changes made to one object of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectChanges {
    /// The object.
    pub object: ObjectIdentifier,
    /// Its changes, in file order.
    pub changes: Vec<Change>,
}

/// What an update changed: Flux's `update.Result` (`.Changed` in a message
/// template).
///
/// `file_changes` maps a file path, relative to the `update.path` root with `/`
/// separators, to the objects changed in that file (in document order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// File path -> objects -> changes (`.Changed.FileChanges`).
    pub file_changes: BTreeMap<String, Vec<ObjectChanges>>,
}

impl ChangeSet {
    /// True when no change was recorded.
    pub fn is_empty(&self) -> bool {
        self.file_changes
            .values()
            .all(|objects| objects.iter().all(|o| o.changes.is_empty()))
    }

    /// All changes over all files and objects, de-duplicated, in file then
    /// document order (`.Changed.Changes`; Flux's order is Go map order, i.e.
    /// unspecified, so any deterministic order is faithful).
    pub fn changes(&self) -> Vec<Change> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for objects in self.file_changes.values() {
            for object in objects {
                for change in &object.changes {
                    if seen.insert(change.clone()) {
                        out.push(change.clone());
                    }
                }
            }
        }
        out
    }

    /// Changes merged per object over all files (`.Changed.Objects`): changes
    /// to the same object in several files are concatenated in file order.
    pub fn objects(&self) -> BTreeMap<ObjectIdentifier, Vec<Change>> {
        let mut out: BTreeMap<ObjectIdentifier, Vec<Change>> = BTreeMap::new();
        for objects in self.file_changes.values() {
            for object in objects {
                out.entry(object.object.clone())
                    .or_default()
                    .extend(object.changes.iter().cloned());
            }
        }
        out
    }
}

/// A Kubernetes namespaced name; displays as `namespace/name` like Go's
/// `types.NamespacedName` (`.AutomationObject` in a message template).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespacedName {
    /// The namespace, e.g. `"flux-system"`.
    pub namespace: String,
    /// The name, e.g. `"podinfo"`.
    pub name: String,
}

impl fmt::Display for NamespacedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}
