//! Faults under the real `pulumi` CLI (issue #15 §2), on `examples/local` with the fleet of
//! `tests/src/fleet.rs` behind the fault-injecting proxy (`tests/src/faults.rs`):
//!
//! - the plugin killed with SIGKILL during `pulumi up`, before the push (its clone held),
//!   during it (the push request held) and after it (the server took the push, its answer
//!   held): the next `pulumi up` completes, the bump is pushed once, and the stack ends as an
//!   uninterrupted run would;
//! - a registry that cuts every tag list: `up` completes with a warning that says so, and the
//!   outputs keep the last good scan until the registry is back.

use std::time::Duration;

use imageautomation_tests::faults::{Fault, FaultProxy};
use imageautomation_tests::fleet::{Fleet, IMAGE_PATH, repo_root};
use imageautomation_tests::pulumi::{Project, plugin_processes};

const GIT_TOKEN: &str = "ghs_faultsGitToken0123456789abcdef";
const CLONE_FETCH: &str = "POST /fluxcd/fleet-infra.git/git-upload-pack";
const PUSH: &str = "POST /fluxcd/fleet-infra.git/git-receive-pack";

/// A stack `dev` of `examples/local` for `fleet`, with its registry and Git URL as given.
fn stack(registry: &str, git_url: &str) -> Project {
    let project = Project::copy_of(&repo_root().join("examples/local"));
    project.ok(&["stack", "init", "dev", "--non-interactive"]);
    project.set("registry", registry);
    project.set("gitUrl", git_url);
    project.set("interval", "1s");
    project.set_secret("gitToken", GIT_TOKEN);
    project
}

/// The end state of an uninterrupted `up` of a new stack: one commit with the bump, the
/// outputs naming it, nothing pending.
fn assert_as_if_uninterrupted(project: &Project, fleet: &Fleet, stage: &str) {
    assert_eq!(fleet.commits(), 2, "{stage}: one commit for the bump");
    assert!(fleet.manifest().contains(":5.0.3 #"), "{stage}");
    let outputs = project.outputs();
    assert_eq!(
        outputs["lastPushCommit"],
        fleet.head().as_str(),
        "{stage}: {outputs}"
    );
    assert_eq!(outputs["latestImage"], format!("{}:5.0.3", fleet.image));
    project.ok(&["preview", "--non-interactive", "--expect-no-changes"]);
    let export = project.export();
    let pending = &export["deployment"]["pending_operations"];
    assert!(
        pending.as_array().is_none_or(Vec::is_empty),
        "{stage}: pending operations left: {pending}"
    );
}

#[test]
fn the_plugin_killed_during_up_is_completed_by_the_next_up_with_one_push() {
    for (stage, marker, fault) in [
        ("before the push", CLONE_FETCH, Fault::Stall),
        ("during the push", PUSH, Fault::Stall),
        ("after the push", PUSH, Fault::HoldResponse),
    ] {
        let fleet = Fleet::start(&[GIT_TOKEN]);
        // http://127.0.0.1:PORT/fluxcd/fleet-infra.git, through the proxy.
        let git_host = fleet.url().split('/').nth(2).expect("host:port").to_owned();
        let proxy = FaultProxy::start(&git_host);
        let url = fleet.url().replace(&git_host, &proxy.host());
        let project = stack(&fleet.registry.host(), &url);
        proxy.arm(marker, fault, 1);
        let home = project.pulumi_home();
        let up = std::thread::scope(|s| {
            let killer = s.spawn(|| {
                assert!(
                    proxy.wait_for_held(1, Duration::from_secs(120)),
                    "{stage}: the plugin reached the fault"
                );
                let pids = plugin_processes(&home);
                for pid in &pids {
                    let status = std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status()
                        .expect("kill");
                    assert!(status.success());
                }
                pids.len()
            });
            let up = project.run(&["up", "--yes", "--non-interactive"]);
            let killed = killer.join().expect("killer");
            assert!(killed >= 1, "{stage}: a plugin was killed; {up}");
            up
        });
        assert!(!up.status.success(), "{stage}: {up}");
        let landed = fault == Fault::HoldResponse;
        assert_eq!(fleet.commits(), if landed { 2 } else { 1 }, "{stage}: {up}");
        proxy.disarm();
        proxy.release();
        let next = project.run(&["up", "--yes", "--non-interactive"]);
        assert!(next.status.success(), "{stage}: {next}");
        assert_as_if_uninterrupted(&project, &fleet, stage);
    }
}

#[test]
fn a_registry_that_cuts_every_tag_list_gives_a_warning_and_keeps_the_last_good_scan() {
    let fleet = Fleet::start(&[GIT_TOKEN]);
    let proxy = FaultProxy::start(&fleet.registry.host());
    let project = stack(&proxy.host(), &fleet.url());
    project.ok(&["up", "--yes", "--non-interactive"]);
    let good = project.outputs();
    let image = format!("{}/{IMAGE_PATH}", proxy.host());
    assert_eq!(good["latestImage"], format!("{image}:5.0.3"), "{good}");
    let pushed = fleet.head();

    // A new tag, and a registry that cuts every tag list part-way.
    fleet.registry.storage().seed_tags(IMAGE_PATH, &["5.0.4"]);
    proxy.arm(
        "/tags/list",
        Fault::TruncateResponse { body_bytes: 20 },
        usize::MAX,
    );
    // The scan fails cleanly: `up` completes with a warning that says what happened, and
    // the ImageRepository keeps its last good scan.
    let up = project.ok(&["up", "--yes", "--non-interactive"]);
    for part in [
        format!("warning: kept the last scan, the registry failed: scan of {image} failed after"),
        format!(
            "the connection to registry {} broke while reading its answer",
            proxy.host()
        ),
    ] {
        assert!(up.stdout.contains(&part), "{part:?} in {up}");
    }
    assert!(
        !up.output().lines().any(|l| l.trim().starts_with("error:")),
        "{up}"
    );
    assert_eq!(project.outputs(), good, "the last good scan stays");
    assert_eq!(fleet.head(), pushed, "nothing pushed from a partial list");

    // The registry is back: the new tag is pushed.
    proxy.disarm();
    project.ok(&["up", "--yes", "--non-interactive"]);
    assert_eq!(project.outputs()["latestImage"], format!("{image}:5.0.4"));
    assert!(fleet.manifest().contains(":5.0.4 #"));
}
