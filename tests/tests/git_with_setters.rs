//! The whole write-back as the UpdateAutomation resource runs it: the real
//! `$imagepolicy` setters (imageautomation-update) as the update of
//! `commit_and_push`, over smart HTTP with a token, with the message template
//! of Flux's controller test (`TestImageUpdateAutomationReconciler_commitMessage`).

use imageautomation_git::{
    Auth, Change, ChangeSet, CheckoutRef, CommitAuthor, Credentials, NamespacedName, ObjectChanges,
    ObjectIdentifier, PUSH_RETRY, WriteBackSpec, commit_and_push,
};
use imageautomation_tests::git_server::{GitHttpServer, git, seed_repo};
use imageautomation_update::{LatestRef, Mode, Policies, UpdateResult, apply_setters};
use secrecy::SecretString;

const TOKEN: &str = "ghs_settersEndToEnd";

const TEMPLATE: &str = "Commit summary\n\nAutomation: {{ .AutomationObject }}\n\nFiles:\n{{ range $filename, $_ := .Changed.FileChanges -}}\n- {{ $filename }}\n{{ end -}}\n\nObjects:\n{{ range $resource, $_ := .Changed.Objects -}}\n{{ if eq $resource.Kind \"Deployment\" -}}\n- {{ $resource.Kind | lower }} {{ $resource.Name | lower }}\n{{ else -}}\n- {{ $resource.Kind }} {{ $resource.Name }}\n{{ end -}}\n{{ end -}}\n\nImages:\n{{ range .Changed.Changes -}}\n{{ if .Setter -}}\n- {{.NewValue}} ({{.Setter}})\n{{ end -}}\n{{ end -}}\n";

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: test\nspec:\n  template:\n    spec:\n      containers:\n      - name: hello\n        image: helloworld:1.0.0 # {\"$imagepolicy\": \"image-auto-test-abcde:policy-fghij\"}\n";

/// The engine's mapping from the setters' result to the template data.
fn change_set(result: UpdateResult) -> ChangeSet {
    let mut set = ChangeSet::default();
    for file in result.files {
        let objects = file
            .objects
            .into_iter()
            .map(|o| ObjectChanges {
                object: ObjectIdentifier {
                    api_version: o.object.api_version,
                    kind: o.object.kind,
                    name: o.object.name,
                    namespace: o.object.namespace,
                },
                changes: o
                    .changes
                    .into_iter()
                    .map(|c| Change {
                        old_value: c.old_value,
                        new_value: c.new_value,
                        setter: c.setter,
                    })
                    .collect(),
            })
            .collect();
        set.file_changes.insert(file.path, objects);
    }
    set
}

#[test]
fn setters_commit_and_push_with_fluxs_message() {
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    let before = seed_repo(
        &bare,
        "main",
        &[("deploy/deploy.yaml", DEPLOY), ("README.md", "untouched\n")],
        "initial",
    );
    let mut policies = Policies::new();
    policies.insert(
        "image-auto-test-abcde:policy-fghij".into(),
        LatestRef {
            name: "helloworld".into(),
            tag: "v1.0.0".into(),
            digest: String::new(),
        },
    );
    let spec = WriteBackSpec {
        url: server.url("fleet/apps"),
        auth: Auth {
            credentials: Credentials::Token(SecretString::from(TOKEN)),
            ..Auth::default()
        },
        checkout: CheckoutRef::Branch("main".into()),
        push_branch: None,
        push_refspec: None,
        push_options: Default::default(),
        author: CommitAuthor {
            name: "Flux B Ot".into(),
            email: "fluxbot@example.com".into(),
        },
        message_template: Some(TEMPLATE.into()),
        message_template_values: Default::default(),
        signing_key: None,
        automation_object: NamespacedName {
            namespace: "image-auto-test-abcde".into(),
            name: "update-test".into(),
        },
        retry: PUSH_RETRY,
        shallow: true,
        find_earlier_push: false,
    };
    let update = |root: &std::path::Path| {
        apply_setters(root, "./deploy", &policies, Mode::Write).map(change_set)
    };

    let result = commit_and_push(&spec, update).expect("write-back");
    let push = result.push.expect("pushed");
    // Flux's expected message for this template (message_template_cases.json,
    // controller-commit-message-result), with the path relative to update.path.
    assert_eq!(
        push.message,
        "Commit summary\n\nAutomation: image-auto-test-abcde/update-test\n\nFiles:\n- deploy.yaml\nObjects:\n- deployment test\nImages:\n- helloworld:v1.0.0 (image-auto-test-abcde:policy-fghij)\n"
    );
    assert_eq!(git(&bare, &["rev-parse", "main^"]).trim(), before);
    assert_eq!(
        git(&bare, &["show", "main:deploy/deploy.yaml"]),
        DEPLOY.replace("helloworld:1.0.0", "helloworld:v1.0.0"),
        "only the marked value changed"
    );
    assert_eq!(
        git(&bare, &["diff", "--name-only", "main^", "main"]).trim(),
        "deploy/deploy.yaml"
    );

    // A second run finds nothing to do: no commit.
    let again = commit_and_push(&spec, update).expect("second run");
    assert!(again.push.is_none());
    assert_eq!(again.checkout_commit, push.commit);
}
