//! Shared helpers of the `git_*` tests: a write-back spec and a stand-in
//! update that rewrites one marked image reference in `deploy.yaml`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use imageautomation_git::{
    Auth, Change, ChangeSet, CheckoutRef, CommitAuthor, NamespacedName, ObjectChanges,
    ObjectIdentifier, PUSH_RETRY, WriteBackSpec,
};

/// The marked file every test repository starts with.
pub const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n  namespace: apps\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/stefanprodan/podinfo:5.0.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n";

pub const OLD: &str = "ghcr.io/stefanprodan/podinfo:5.0.0";
pub const NEW: &str = "ghcr.io/stefanprodan/podinfo:5.0.3";

pub const TEMPLATE: &str = "Automated image update\n\nAutomation: {{ .AutomationObject }}\n{{ range .Changed.Changes }}\n- {{ .OldValue }} -> {{ .NewValue }} ({{ .Setter }})\n{{- end }}\n";

pub fn expected_message() -> String {
    format!(
        "Automated image update\n\nAutomation: flux-system/podinfo-auto\n\n- {OLD} -> {NEW} (flux-system:podinfo)\n"
    )
}

/// A spec for `url` checking out `main`, pushing to `push_branch`.
pub fn spec(url: &str, auth: Auth, push_branch: Option<&str>) -> WriteBackSpec {
    WriteBackSpec {
        url: url.to_string(),
        auth,
        checkout: CheckoutRef::Branch("main".into()),
        push_branch: push_branch.map(str::to_string),
        push_refspec: None,
        push_options: BTreeMap::new(),
        author: CommitAuthor {
            name: "Flux Bot".into(),
            email: "fluxbot@example.com".into(),
        },
        message_template: Some(TEMPLATE.into()),
        message_template_values: BTreeMap::new(),
        signing_key: None,
        automation_object: NamespacedName {
            namespace: "flux-system".into(),
            name: "podinfo-auto".into(),
        },
        retry: PUSH_RETRY
            .with_max_times(3)
            .with_min_delay(std::time::Duration::from_millis(20))
            .with_max_delay(std::time::Duration::from_millis(200)),
        shallow: true,
        find_earlier_push: false,
    }
}

/// Stand-in for the setters: replaces [`OLD`] by [`NEW`] in `deploy.yaml`
/// and reports the change; reports nothing when [`OLD`] is absent.
pub fn bump(root: &Path) -> Result<ChangeSet, std::io::Error> {
    let path = root.join("deploy.yaml");
    let text = std::fs::read_to_string(&path)?;
    let mut changes = ChangeSet::default();
    if text.contains(OLD) {
        std::fs::write(&path, text.replace(OLD, NEW))?;
        changes.file_changes.insert(
            "deploy.yaml".into(),
            vec![ObjectChanges {
                object: ObjectIdentifier {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    name: "podinfo".into(),
                    namespace: "apps".into(),
                },
                changes: vec![Change {
                    old_value: OLD.into(),
                    new_value: NEW.into(),
                    setter: "flux-system:podinfo".into(),
                }],
            }],
        );
    }
    Ok(changes)
}
