//! The real `pulumi` CLI (built from its Go modules, `tests/src/pulumi.rs`) on
//! `examples/local`, against the real `docker-registry` and Git over smart HTTP
//! (`tests/src/fleet.rs`): preview of a new stack, up, no-op, a new tag, a
//! reverted manifest, refresh, destroy; the secret grep over everything the CLI
//! printed and stored; and the failures a user meets (wrong token, unreachable
//! registry, invalid range), each followed by an `up` with the fix.

use imageautomation_tests::fleet::{Fleet, IMAGE_PATH, MANIFEST, repo_root};
use imageautomation_tests::git_server::git;
use imageautomation_tests::pulumi::{PASSPHRASE, Project, Run};

/// The Git server's token, set as the secret `gitToken`.
const GIT_TOKEN: &str = "ghs_cliGitToken0123456789abcdef";
/// A GitHub token in `imageautomation:githubToken`: the fleet is not on github.com, so it
/// must go nowhere, and appear nowhere.
const GITHUB_TOKEN: &str = "ghp_cliGithubToken0123456789abcdef";
/// A wrong Git token, also set as a secret.
const WRONG_TOKEN: &str = "ghs_cliWrongToken0123456789abcdef";

/// A stack `dev` of `examples/local` configured for `fleet`.
fn stack(fleet: &Fleet, registry: &str, git_token: &str) -> Project {
    let project = Project::copy_of(&repo_root().join("examples/local"));
    project.ok(&["stack", "init", "dev", "--non-interactive"]);
    project.set("registry", registry);
    project.set("gitUrl", &fleet.url());
    // Every scan is due: each CLI command takes longer than the interval.
    project.set("interval", "1s");
    project.set_secret("gitToken", git_token);
    project.set_secret("imageautomation:githubToken", GITHUB_TOKEN);
    project
}

/// No secret in anything the CLI printed or stored, in `stack export`, in the Git server's
/// log of request lines or in the fleet repository's remote configuration.
fn assert_no_secret(project: &Project, fleet: &Fleet) {
    let mut places = project.everything_written();
    places.push((
        "stack export".to_owned(),
        serde_json::to_string(&project.export()).expect("json"),
    ));
    places.push(("Git server access log".to_owned(), fleet.git.access_log()));
    places.push((
        "Git config of the fleet repository".to_owned(),
        git(&fleet.bare, &["config", "--list"]),
    ));
    let state_files = places.iter().filter(|(p, _)| p.contains("/state/")).count();
    assert!(state_files >= 2, "the grep covers the state: {places:?}");
    for (place, text) in &places {
        for secret in [GIT_TOKEN, GITHUB_TOKEN, WRONG_TOKEN, PASSPHRASE] {
            assert!(!text.contains(secret), "a secret appears in {place}");
        }
    }
}

/// The run's diagnostics hold exactly one error from a resource, and it says `what`
/// (besides the CLI's own "preview failed" or "update failed" on the stack).
fn assert_one_error(run: &Run, what: &str) {
    let output = run.output();
    let errors: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("error: "))
        .filter(|l| !matches!(*l, "error: preview failed" | "error: update failed"))
        .collect();
    assert_eq!(errors.len(), 1, "{run}");
    assert!(errors[0].contains(what), "{what:?} not in {run}");
}

#[test]
fn preview_up_noop_new_tag_revert_refresh_destroy() {
    let fleet = Fleet::start(&[GIT_TOKEN]);
    let initial = fleet.head();
    let project = stack(&fleet, &fleet.registry.host(), GIT_TOKEN);

    // Preview of a new stack: the pending bump in the CLI's own output (the diagnostics
    // section), nothing pushed.
    let preview = project.ok(&["preview", "--non-interactive"]);
    let bump = format!("{MANIFEST}: {} 5.0.0 => 5.0.3", fleet.image);
    assert!(preview.stdout.contains(&bump), "{preview}");
    assert_eq!(fleet.head(), initial, "a preview pushes nothing");
    // `--diff` prints the diagnostics on stderr (Pulumi's display/diff.go).
    let preview = project.ok(&["preview", "--non-interactive", "--diff"]);
    assert!(preview.stderr.contains(&bump), "{preview}");
    assert_eq!(fleet.head(), initial, "a preview pushes nothing");

    // Up: one commit with the bump.
    let up = project.ok(&["up", "--yes", "--non-interactive"]);
    assert_eq!(fleet.commits(), 2, "{up}");
    assert!(
        fleet
            .manifest()
            .contains(&format!("{}:5.0.3 #", fleet.image))
    );
    let pushed = fleet.head();
    let outputs = project.outputs();
    assert_eq!(outputs["lastPushCommit"], pushed.as_str(), "{outputs}");
    assert_eq!(outputs["latestImage"], format!("{}:5.0.3", fleet.image));

    // Nothing pending: the CLI's own no-change checks pass, and nothing is pushed. The
    // branch has not moved since the push, so the refresh asks for its head and skips the
    // clone, as Flux does with `observedSourceRevision`.
    let noop = project.ok(&["preview", "--non-interactive", "--expect-no-changes"]);
    assert!(
        noop.stdout.contains(&format!(
            "unchanged since the last run (main@sha1:{pushed})"
        )),
        "{noop}"
    );
    project.ok(&["up", "--yes", "--non-interactive", "--expect-no-changes"]);
    assert_eq!(fleet.head(), pushed);

    // A new tag: the no-change check fails and shows the bump; up pushes it.
    fleet.registry.storage().seed_tags(IMAGE_PATH, &["5.0.4"]);
    let pending = project.run(&[
        "preview",
        "--non-interactive",
        "--diff",
        "--expect-no-changes",
    ]);
    assert!(!pending.status.success(), "{pending}");
    assert!(
        pending.stdout.contains(r#"tag: "5.0.3" => "5.0.4""#),
        "{pending}"
    );
    assert_eq!(fleet.head(), pushed);
    project.ok(&["up", "--yes", "--non-interactive"]);
    assert_eq!(fleet.commits(), 3);
    assert!(fleet.manifest().contains(":5.0.4 #"));

    // Someone reverts the manifest by hand: pending again.
    fleet.edit_manifest(
        &fleet.manifest().replace(":5.0.4 #", ":5.0.0 #"),
        "revert podinfo",
    );
    let pending = project.run(&[
        "preview",
        "--non-interactive",
        "--diff",
        "--expect-no-changes",
    ]);
    assert!(!pending.status.success(), "{pending}");
    assert!(
        pending.stdout.contains(r#"tag: "5.0.0" => "5.0.4""#),
        "{pending}"
    );

    // Refresh reads the reverted state; up puts the bump back.
    project.ok(&["refresh", "--yes", "--non-interactive"]);
    project.ok(&["up", "--yes", "--non-interactive"]);
    assert_eq!(fleet.commits(), 5);
    assert!(fleet.manifest().contains(":5.0.4 #"));
    let last = fleet.head();

    // Destroy forgets the resources and leaves Git alone.
    project.ok(&["destroy", "--yes", "--non-interactive"]);
    assert_eq!(fleet.head(), last);
    let export = project.export();
    let resources = export["deployment"]["resources"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(resources, 0, "{export}");

    assert_no_secret(&project, &fleet);
}

#[test]
fn failures_give_one_clear_message_and_the_fix_works() {
    let fleet = Fleet::start(&[GIT_TOKEN]);
    let project = stack(&fleet, &fleet.registry.host(), WRONG_TOKEN);

    // A wrong token: refused by the Git server already in the preview part of `up`;
    // nothing reaches the branch.
    let up = project.run(&["up", "--yes", "--non-interactive"]);
    assert!(!up.status.success(), "{up}");
    assert_one_error(
        &up,
        &format!(
            "authentication to {} failed during clone: the server rejected the credentials",
            fleet.url()
        ),
    );
    assert_eq!(fleet.commits(), 1);
    project.set_secret("gitToken", GIT_TOKEN);
    project.ok(&["up", "--yes", "--non-interactive"]);
    assert_eq!(fleet.commits(), 2);

    // An unreachable registry.
    let dead = format!("127.0.0.1:{}", imageautomation_tests::free_port());
    project.set("registry", &dead);
    let up = project.run(&["up", "--yes", "--non-interactive"]);
    assert!(!up.status.success(), "{up}");
    assert_one_error(&up, &format!("registry {dead} is unreachable"));
    project.set("registry", &fleet.registry.host());
    project.ok(&["up", "--yes", "--non-interactive"]);

    // An invalid range: a Check failure on the property, before anything runs.
    project.set("range", "5.0.x ||| >=");
    let preview = project.run(&["preview", "--non-interactive"]);
    assert!(!preview.status.success(), "{preview}");
    assert_one_error(
        &preview,
        "property policy.semver.range value {<nil>} has a problem: invalid range \"5.0.x ||| >=\"",
    );
    project.set("range", "5.0.x");
    project.ok(&["up", "--yes", "--non-interactive"]);
    project.ok(&["preview", "--non-interactive", "--expect-no-changes"]);
    assert_eq!(fleet.commits(), 2);

    assert_no_secret(&project, &fleet);
}
