//! The real `pulumi` CLI on `examples/local` with the ImagePolicy's `minimumAge` and `hold`:
//! the passed-over tag in the preview's diagnostics, a tag that comes of age picked up by the
//! next `up` with no change to the program or the tags (the refresh before the update records
//! it, the update selects it), and a `hold` set in the same `up` keeping the old tag.

use chrono::{Duration, Utc};
use imageautomation_tests::fleet::{Fleet, IMAGE_PATH, repo_root};
use imageautomation_tests::pulumi::Project;

const GIT_TOKEN: &str = "ghs_cliOptionsToken0123456789abcdef";

fn ago(d: Duration) -> String {
    (Utc::now() - d).to_rfc3339()
}

/// `examples/local` with `minimumAge: 24h` and `hold: ${hold}` on its ImagePolicy.
fn stack(fleet: &Fleet) -> Project {
    let project = Project::copy_of(&repo_root().join("examples/local"));
    let path = project.dir().join("Pulumi.yaml");
    let text = std::fs::read_to_string(&path).expect("read Pulumi.yaml");
    let text = text
        .replacen(
            "config:\n",
            "config:\n  hold:\n    type: boolean\n    default: false\n",
            1,
        )
        .replacen(
            "      policy:\n        semver:\n          range: ${range}\n",
            "      policy:\n        semver:\n          range: ${range}\n      minimumAge: 24h\n      hold: ${hold}\n",
            1,
        );
    assert!(text.contains("minimumAge: 24h"), "{text}");
    std::fs::write(&path, text).expect("write Pulumi.yaml");
    project.ok(&["stack", "init", "dev", "--non-interactive"]);
    project.set("registry", &fleet.registry.host());
    project.set("gitUrl", &fleet.url());
    project.set("interval", "1s");
    project.set_secret("gitToken", GIT_TOKEN);
    project
}

#[test]
fn minimum_age_and_hold_through_the_real_cli() {
    let fleet = Fleet::start(&[GIT_TOKEN]);
    let storage = fleet.registry.storage();
    storage.seed_dated(
        IMAGE_PATH,
        "5.0.1",
        "amd64",
        Some(&ago(Duration::days(5))),
        true,
    );
    storage.seed_dated(
        IMAGE_PATH,
        "5.0.3",
        "amd64",
        Some(&ago(Duration::hours(2))),
        true,
    );
    let project = stack(&fleet);

    let preview = project.ok(&["preview", "--non-interactive"]);
    assert!(
        preview
            .stdout
            .contains("passed over 5.0.3: younger than minimumAge 24h: created 2h ago"),
        "{preview}"
    );
    project.ok(&["up", "--yes", "--non-interactive"]);
    assert!(
        fleet.manifest().contains(":5.0.1 #"),
        "{}",
        fleet.manifest()
    );
    project.ok(&["up", "--yes", "--non-interactive", "--expect-no-changes"]);

    // 5.0.3 comes of age; a hold set in the same `up` keeps 5.0.1.
    storage.seed_dated(
        IMAGE_PATH,
        "5.0.3",
        "amd64",
        Some(&ago(Duration::days(2))),
        true,
    );
    project.set("hold", "true");
    let held = project.ok(&["up", "--yes", "--non-interactive"]);
    assert!(held.stdout.contains("held at 5.0.1 (hold: true)"), "{held}");
    assert!(
        fleet.manifest().contains(":5.0.1 #"),
        "{}",
        fleet.manifest()
    );

    // Released, with no other change to the program: the next `up` selects and pushes it.
    project.set("hold", "false");
    let pending = project.run(&["preview", "--non-interactive", "--expect-no-changes"]);
    assert!(!pending.status.success(), "{pending}");
    project.ok(&["up", "--yes", "--non-interactive"]);
    assert!(
        fleet.manifest().contains(":5.0.3 #"),
        "{}",
        fleet.manifest()
    );
    assert_eq!(
        project.outputs()["latestImage"],
        format!("{}:5.0.3", fleet.image)
    );

    // A young 5.0.4 changes nothing; once it comes of age, with the program and the tags
    // unchanged, the preview shows a pending change and `up` pushes it.
    storage.seed_dated(
        IMAGE_PATH,
        "5.0.4",
        "amd64",
        Some(&ago(Duration::hours(1))),
        true,
    );
    project.ok(&["up", "--yes", "--non-interactive"]);
    assert!(
        fleet.manifest().contains(":5.0.3 #"),
        "{}",
        fleet.manifest()
    );
    project.ok(&["preview", "--non-interactive", "--expect-no-changes"]);
    storage.seed_dated(
        IMAGE_PATH,
        "5.0.4",
        "amd64",
        Some(&ago(Duration::days(3))),
        true,
    );
    let pending = project.run(&["preview", "--non-interactive", "--expect-no-changes"]);
    assert!(!pending.status.success(), "{pending}");
    // Reported once, by the update; the refresh before it only says so in its status.
    let diagnostics = pending
        .stdout
        .split("Diagnostics:")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(
        diagnostics.matches("latest tag 5.0.3 => 5.0.4").count(),
        1,
        "{pending}"
    );
    project.ok(&["up", "--yes", "--non-interactive"]);
    assert!(
        fleet.manifest().contains(":5.0.4 #"),
        "{}",
        fleet.manifest()
    );
    project.ok(&["up", "--yes", "--non-interactive", "--expect-no-changes"]);
}
