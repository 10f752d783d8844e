//! `imageautomation render DIR`: the Flux objects of a Pulumi YAML project
//! (`examples/podinfo`) and of a folder of Flux manifests, each validated
//! against the real Flux CRD schemas; never a Secret; bad input exits 2.

use std::path::Path;
use std::process::{Command, Output};

use imageautomation_tests::kube_schema;
use serde::Deserialize;
use serde_json::Value;

fn render(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imageautomation"))
        .arg("render")
        .arg(dir)
        .output()
        .expect("imageautomation runs")
}

/// The YAML documents of stdout, each checked against the CRD schemas.
fn validated(output: &Output) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Secrets are not rendered"), "{stderr}");
    let objects: Vec<Value> = serde_norway::Deserializer::from_str(&stdout)
        .map(|d| Value::deserialize(d).expect("a YAML document"))
        .collect();
    for o in &objects {
        assert_ne!(o["kind"], "Secret", "no Secret is rendered");
        if let Err(errors) = kube_schema::validate(o) {
            panic!("{} is invalid: {errors:?}", o["kind"]);
        }
        assert_eq!(
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "pulumi-imageautomation"
        );
    }
    objects
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name} in {objects:?}"))
}

#[test]
fn renders_the_podinfo_example_stack() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/podinfo");
    let objects = validated(&render(&dir));
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "GitRepository",
            "ImageRepository",
            "ImagePolicy",
            "ImageUpdateAutomation"
        ]
    );
    let policy = find(&objects, "ImagePolicy", "podinfo");
    assert_eq!(policy["spec"]["imageRepositoryRef"]["name"], "podinfo");
    assert_eq!(policy["spec"]["policy"]["semver"]["range"], "5.0.x");
    let automation = find(&objects, "ImageUpdateAutomation", "fleet-automation");
    assert_eq!(
        automation["spec"]["policySelector"]["matchExpressions"][0]["values"],
        serde_json::json!(["podinfo"])
    );
    // `${fleetRepository}` is the config default.
    let git = find(&objects, "GitRepository", "fleet-automation");
    assert_eq!(git["spec"]["url"], "https://github.com/example/fleet-infra");
}

const FLUX: &str = r#"apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  image: ghcr.io/stefanprodan/podinfo
  interval: 10m
  secretRef:
    name: ghcr-auth
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
  labels:
    team: web
spec:
  imageRepositoryRef:
    name: podinfo
  filterTags:
    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
    extract: '$ts'
  policy:
    numerical:
      order: asc
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: other
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 6.x
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: fleet
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/example/fleet
  ref:
    branch: main
  secretRef:
    name: fleet-token
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata:
  name: fleet
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: fleet
  git:
    commit:
      author:
        name: fluxcdbot
        email: fluxcdbot@example.com
    push:
      branch: main
  update:
    path: ./clusters/dev
    strategy: Setters
  policySelector:
    matchLabels:
      team: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ignored
"#;

#[test]
fn renders_a_folder_of_flux_manifests() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("clusters/dev")).expect("mkdir");
    std::fs::write(dir.path().join("clusters/dev/automation.yaml"), FLUX).expect("write");
    let objects = validated(&render(dir.path()));
    assert_eq!(objects.len(), 5, "{objects:?}");
    let repository = find(&objects, "ImageRepository", "podinfo");
    assert_eq!(repository["apiVersion"], "image.toolkit.fluxcd.io/v1");
    assert_eq!(repository["spec"]["interval"], "10m");
    assert!(
        repository["spec"]["secretRef"]["name"].is_string(),
        "credentials stay referenced: {repository}"
    );
    let policy = find(&objects, "ImagePolicy", "podinfo");
    assert_eq!(policy["spec"]["filterTags"]["extract"], "$ts");
    assert_eq!(policy["spec"]["policy"]["numerical"]["order"], "asc");
    // The automation selects exactly the policies its selector matched.
    let automation = find(&objects, "ImageUpdateAutomation", "fleet");
    assert_eq!(
        automation["spec"]["policySelector"]["matchExpressions"][0]["values"],
        serde_json::json!(["podinfo"])
    );
    let git = find(&objects, "GitRepository", "fleet");
    assert_eq!(git["spec"]["url"], "https://github.com/example/fleet");
    assert!(git["spec"]["secretRef"]["name"].is_string());
}

#[test]
fn a_stack_with_computed_values_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("Pulumi.yaml"),
        "name: x\nruntime: yaml\nresources:\n  repo:\n    type: imageautomation:index:ImageRepository\n    properties:\n      image: ${other.image}\n",
    )
    .expect("write");
    let output = render(dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("resources.repo.properties.image")
            && stderr.contains("${other.image}")
            && stderr.contains("literal value"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unknown_update_strategy_is_refused_as_run_refuses_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("flux.yaml"),
        FLUX.replace("strategy: Setters", "strategy: Merge"),
    )
    .expect("write");
    let output = render(dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("spec.update.strategy") && stderr.contains("\"Merge\" is not supported"),
        "{stderr}"
    );
}

/// Flux's ImageUpdateAutomation pushes every bump to one branch: `pullRequest.groupBy` has no
/// Flux form, so rendering it is refused rather than silently dropped.
#[test]
fn pull_request_groups_are_refused_as_cluster_mode_refuses_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("Pulumi.yaml"),
        "name: x\nruntime: yaml\nresources:\n  fleet:\n    type: imageautomation:index:UpdateAutomation\n    properties:\n      name: fleet\n      git:\n        url: https://github.com/org/fleet\n        commit: {author: {name: bot, email: bot@example.com}}\n        push: {branch: image-updates}\n      policies: [{namespace: flux-system, name: podinfo, latestRef: {name: ghcr.io/a/b, tag: \"1.0.0\"}}]\n      pullRequest: {groupBy: policy}\n",
    )
    .expect("write");
    let output = render(dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pullRequest.groupBy")
            && stderr.contains("pushes every bump to one branch"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    // The same program with groupBy none renders.
    let text = std::fs::read_to_string(dir.path().join("Pulumi.yaml")).expect("read");
    std::fs::write(
        dir.path().join("Pulumi.yaml"),
        text.replace("groupBy: policy", "groupBy: none"),
    )
    .expect("write");
    assert_eq!(render(dir.path()).status.code(), Some(0));
}

#[test]
fn a_policy_with_our_annotations_is_not_rendered() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("clusters/dev")).expect("mkdir");
    let annotated = FLUX.replacen(
        "kind: ImagePolicy\nmetadata:\n  name: podinfo\n  namespace: flux-system\n",
        "kind: ImagePolicy\nmetadata:\n  name: podinfo\n  namespace: flux-system\n  annotations:\n    imageautomation.pulumi.com/minimumAge: 24h\n",
        1,
    );
    assert_ne!(annotated, FLUX, "the fixture has the policy");
    std::fs::write(dir.path().join("clusters/dev/automation.yaml"), annotated).expect("write");
    let out = render(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("imageautomation.pulumi.com/minimumAge (and any other imageautomation.pulumi.com/<option> annotation) cannot be rendered"),
        "{stderr}"
    );
}
