//! `downgrade: Deny` in the setters: a guarded policy never writes a tag that ranks below the
//! file's, and leaves all of its markers in that file as they are.

use std::fs;

use imageautomation_policy::{ImagePolicySpec, PolicyChoice, SemVerPolicy, TagSelector};
use imageautomation_update::{
    DowngradeGuards, LatestRef, Mode, Policies, apply_setters, apply_setters_guarded,
};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn semver(range: &str) -> TagSelector {
    TagSelector::new(&ImagePolicySpec {
        policy: PolicyChoice {
            semver: Some(SemVerPolicy {
                range: range.into(),
            }),
            ..Default::default()
        },
        filter_tags: None,
    })
    .expect("valid")
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    // Ahead of the selection (someone pinned 5.1.0 by hand): a downgrade.
    fs::write(
        dir.path().join("ahead.yaml"),
        "kind: Deployment\nmetadata:\n  name: ahead\nspec:\n  image: ghcr.io/org/app:5.1.0 # {\"$imagepolicy\": \"flux-system:app\"}\n",
    )
    .expect("write");
    // Helm-style values: tag and digest markers of the same policy, ahead too.
    fs::write(
        dir.path().join("values.yaml"),
        "image:\n  tag: 5.1.0 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n  digest: sha256:0 # {\"$imagepolicy\": \"flux-system:app:digest\"}\n  other: 1.0.0 # {\"$imagepolicy\": \"flux-system:other:tag\"}\n",
    )
    .expect("write");
    // Behind the selection: an upgrade, written.
    fs::write(
        dir.path().join("behind.yaml"),
        "kind: Deployment\nmetadata:\n  name: behind\nspec:\n  image: ghcr.io/org/app:5.0.1 # {\"$imagepolicy\": \"flux-system:app\"}\n",
    )
    .expect("write");
    // A tag the policy cannot order: not a downgrade.
    fs::write(
        dir.path().join("latest.yaml"),
        "kind: Deployment\nmetadata:\n  name: latest\nspec:\n  image: ghcr.io/org/app:latest # {\"$imagepolicy\": \"flux-system:app\"}\n",
    )
    .expect("write");
    dir
}

fn policies() -> Policies {
    Policies::from([
        (
            "flux-system:app".to_owned(),
            LatestRef {
                name: "ghcr.io/org/app".into(),
                tag: "5.0.9".into(),
                digest: DIGEST.into(),
            },
        ),
        (
            "flux-system:other".to_owned(),
            LatestRef {
                name: "ghcr.io/org/other".into(),
                tag: "1.0.1".into(),
                digest: String::new(),
            },
        ),
    ])
}

#[test]
fn a_denied_downgrade_leaves_every_marker_of_its_policy_in_that_file() {
    let dir = fixture();
    let guards = DowngradeGuards::from([("flux-system:app".to_owned(), semver(">=5.0.0"))]);
    let result =
        apply_setters_guarded(dir.path(), ".", &policies(), &guards, Mode::Write).expect("setters");
    let refused: Vec<String> = result.refused.iter().map(ToString::to_string).collect();
    assert_eq!(
        refused,
        [
            "ahead.yaml: flux-system:app would downgrade 5.1.0 to 5.0.9 (downgrade: Deny); left as it is",
            "values.yaml: flux-system:app would downgrade 5.1.0 to 5.0.9 (downgrade: Deny); left as it is",
        ]
    );
    let changed: Vec<&str> = result.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(changed, ["behind.yaml", "latest.yaml", "values.yaml"]);
    let read = |name: &str| fs::read_to_string(dir.path().join(name)).expect("read");
    assert!(read("ahead.yaml").contains("app:5.1.0 #"));
    assert!(read("behind.yaml").contains(&format!("app:5.0.9@{DIGEST} #")));
    assert!(read("latest.yaml").contains("app:5.0.9@"));
    let values = read("values.yaml");
    assert!(values.contains("tag: 5.1.0 #"), "{values}");
    assert!(values.contains("digest: sha256:0 #"), "{values}");
    assert!(values.contains("other: 1.0.1 #"), "{values}");
    // The JSON contract gains `refused` only when there is something in it.
    let json = serde_json::to_value(&result).expect("json");
    assert_eq!(json["refused"][0]["currentTag"], "5.1.0");
    let unguarded = apply_setters(dir.path(), ".", &policies(), Mode::DryRun).expect("setters");
    assert!(
        serde_json::to_value(&unguarded)
            .expect("json")
            .get("refused")
            .is_none()
    );
    // Without the guard (Flux's behaviour), the downgrade is written.
    assert!(unguarded.files.iter().any(|f| f.path == "ahead.yaml"));
}
