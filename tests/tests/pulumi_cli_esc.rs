//! Pulumi ESC without Pulumi Cloud: the example environments evaluated with
//! the ESC evaluator the pulumi CLI links (`esc-eval`, `tools/pulumi/esc`), and
//! their `pulumiConfig` fed into a stack as the CLI does with an imported
//! environment (secret leaves become secret stack config). Then `pulumi
//! preview` of `examples/local` runs with that config, and the secret values
//! appear nowhere. Importing the environment itself (`environment:` in the
//! stack settings) needs Pulumi Cloud and is not run here.

use imageautomation_tests::fleet::{Fleet, repo_root};
use imageautomation_tests::pulumi::{EscLeaf, Project, esc_eval};
use serde_json::{Value, json};

const GIT_TOKEN: &str = "ghs_escGitToken0123456789abcdef";

fn leaf(key: &str, path: &str, value: &str, secret: bool) -> EscLeaf {
    EscLeaf {
        key: key.to_owned(),
        path: path.to_owned(),
        value: json!(value),
        secret,
    }
}

#[test]
fn example_environments_yield_secret_config() {
    let dev = esc_eval(&repo_root().join("examples/esc/imageautomation-dev.env.yaml"));
    assert_eq!(
        dev,
        vec![leaf(
            "imageautomation:githubToken",
            "",
            "ghp_replace_me",
            true
        )]
    );
    let cluster = esc_eval(&repo_root().join("examples/cluster/imageautomation-cluster.env.yaml"));
    let secret = |key: &str, path: &str| {
        cluster
            .iter()
            .find(|l| l.key == key && l.path == path)
            .unwrap_or_else(|| panic!("{key} {path} in {cluster:?}"))
            .secret
    };
    assert!(secret("imageautomation:githubToken", ""));
    assert!(secret("imageautomation:kubernetes", "kubeconfig"));
    assert!(!secret("imageautomation:kubernetes", "context"));
}

#[test]
fn environment_config_reaches_the_provider_as_secret() {
    let fleet = Fleet::start(&[GIT_TOKEN]);
    let project = Project::copy_of(&repo_root().join("examples/local"));
    project.ok(&["stack", "init", "dev", "--non-interactive"]);
    project.set("registry", &fleet.registry.host());
    project.set("gitUrl", &fleet.url());
    project.set_secret("gitToken", GIT_TOKEN);
    let env = esc_eval(&repo_root().join("examples/esc/imageautomation-dev.env.yaml"));
    for leaf in &env {
        let key = if leaf.path.is_empty() {
            leaf.key.clone()
        } else {
            format!("{}.{}", leaf.key, leaf.path)
        };
        let value = leaf.value.as_str().expect("a string leaf");
        let mut args = vec!["config", "set", "--path"];
        if leaf.secret {
            args.push("--secret");
        }
        args.push(&key);
        let run = project.run_with_stdin(&args, value);
        assert!(run.status.success(), "{run}");
    }
    let config: Value =
        serde_json::from_str(&project.ok(&["config", "--json"]).stdout).expect("config JSON");
    assert_eq!(
        config["imageautomation:githubToken"]["secret"], true,
        "{config}"
    );
    let preview = project.ok(&["preview", "--non-interactive"]);
    assert!(preview.stdout.contains("5.0.0 => 5.0.3"), "{preview}");
    for (place, text) in project.everything_written() {
        assert!(
            !text.contains("ghp_replace_me"),
            "the ESC secret appears in {place}"
        );
        assert!(
            !text.contains(GIT_TOKEN),
            "the Git token appears in {place}"
        );
    }
}
