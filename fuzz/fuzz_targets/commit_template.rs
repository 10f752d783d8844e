//! Commit message templates (Go `text/template` with sprig) over Flux's data, with arbitrary
//! template text and values: parsing and rendering fail cleanly or succeed.
#![no_main]

use std::collections::BTreeMap;

use imageautomation_git::{
    Change, ChangeSet, MessageTemplate, NamespacedName, ObjectChanges, ObjectIdentifier,
    TemplateData,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Template, then values separated by NUL: old, new, setter, name, namespace, a value.
    let mut parts = text.split('\0');
    let template = parts.next().unwrap_or_default();
    let mut next = || parts.next().unwrap_or("x").to_owned();
    let Ok(message) = MessageTemplate::commit_message(Some(template)) else {
        return;
    };
    let (old_value, new_value, setter, name, namespace, value) =
        (next(), next(), next(), next(), next(), next());
    let mut changed = ChangeSet::default();
    changed.file_changes.insert(
        "clusters/app.yaml".to_owned(),
        vec![ObjectChanges {
            object: ObjectIdentifier {
                api_version: "apps/v1".to_owned(),
                kind: "Deployment".to_owned(),
                name: name.clone(),
                namespace: namespace.clone(),
            },
            changes: vec![Change {
                old_value,
                new_value,
                setter,
            }],
        }],
    );
    let _ = message.render(&TemplateData {
        automation_object: NamespacedName { namespace, name },
        changed,
        values: BTreeMap::from([("env".to_owned(), value)]),
    });
});
