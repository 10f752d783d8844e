//! Flux's commit message template cases (testdata/flux/message_template_cases.json,
//! provenance in testdata/flux/README.md) rendered case for case.

use std::collections::BTreeMap;

use imageautomation_git::{
    Change, ChangeSet, Error, MessageTemplate, NamespacedName, ObjectChanges, ObjectIdentifier,
    TemplateData,
};
use serde_json::Value;

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn template_data(data: &Value) -> TemplateData {
    let mut changed = ChangeSet::default();
    if let Some(files) = data["changed"]["fileChanges"].as_object() {
        for (file, objects) in files {
            let objects = objects
                .as_array()
                .expect("objects array")
                .iter()
                .map(|o| ObjectChanges {
                    object: ObjectIdentifier {
                        api_version: text(&o["object"], "apiVersion"),
                        kind: text(&o["object"], "kind"),
                        name: text(&o["object"], "name"),
                        namespace: text(&o["object"], "namespace"),
                    },
                    changes: o["changes"]
                        .as_array()
                        .expect("changes array")
                        .iter()
                        .map(|c| Change {
                            old_value: text(c, "oldValue"),
                            new_value: text(c, "newValue"),
                            setter: text(c, "setter"),
                        })
                        .collect(),
                })
                .collect();
            changed.file_changes.insert(file.clone(), objects);
        }
    }
    let values: BTreeMap<String, String> = data["values"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    TemplateData {
        automation_object: NamespacedName {
            namespace: text(&data["automationObject"], "namespace"),
            name: text(&data["automationObject"], "name"),
        },
        changed,
        values,
    }
}

#[test]
fn every_flux_message_template_case_renders_exactly() {
    let cases: Value =
        serde_json::from_str(include_str!("../testdata/flux/message_template_cases.json"))
            .expect("valid JSON");
    let cases = cases["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 7);
    for case in cases {
        let id = text(case, "id");
        let data = template_data(&case["data"]);
        let result = MessageTemplate::commit_message(Some(&text(case, "template")))
            .and_then(|t| t.render(&data));
        if case["expectError"].as_bool() == Some(true) {
            let err = result.expect_err(&id);
            if let Some(stalled) = case.get("expectStalled") {
                assert!(
                    matches!(err, Error::RemovedTemplateField { .. }),
                    "{id}: {err}"
                );
                assert!(!err.is_transient(), "{id}: a removed field stalls");
                let want = text(stalled, "messageContains");
                assert!(err.to_string().contains(&want), "{id}: {err}");
            }
            continue;
        }
        let got = result.unwrap_or_else(|e| panic!("{id}: {e}"));
        let exact = case
            .get("expect")
            .and_then(Value::as_str)
            .or_else(|| case.get("expectExactDerived").and_then(Value::as_str));
        if let Some(want) = exact {
            assert_eq!(got, want, "{id}");
        }
        for want in case["expectContains"].as_array().into_iter().flatten() {
            let want = want.as_str().expect("string");
            assert!(got.contains(want), "{id}: {got:?} lacks {want:?}");
        }
    }
}
