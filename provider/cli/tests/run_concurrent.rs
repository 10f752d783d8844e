//! Two `imageautomation run` processes on the same branch at once (issue #15 §2). The fault
//! proxy (`tests/src/faults.rs`) pauses both clones until both have reached it, so both
//! build on the same head and their pushes race: the loser's push is a non-fast-forward, and
//! it redoes its update on the winner's commit. Exactly one commit per bump, no lost update,
//! and each run's output says what it did.

mod common;

use std::time::Duration;

use common::{TOKEN, commits, fleet_behind_fault_proxy, run_in, yaml_files};
use imageautomation_tests::faults::{Fault, FaultProxy};
use imageautomation_tests::git_server::{git, seed_repo};

const CLONE_FETCH: &str = "POST /fleet-infra.git/git-upload-pack";

/// Both runs at once on `dirs`, their clones paused by `proxy` until both have cloned;
/// returns each one's exit code and output.
fn run_both(proxy: &FaultProxy, dirs: [std::path::PathBuf; 2]) -> Vec<(Option<i32>, String)> {
    proxy.arm(CLONE_FETCH, Fault::Pause, 2);
    let runs: Vec<_> = dirs
        .into_iter()
        .map(|dir| std::thread::spawn(move || run_in(&dir, &[], Some(TOKEN), None)))
        .collect();
    assert!(
        proxy.wait_for_held(2, Duration::from_secs(120)),
        "both runs reached their clone"
    );
    proxy.release();
    runs.into_iter()
        .map(|r| {
            let (out, stdout, stderr) = r.join().expect("run");
            (out.status.code(), format!("{stdout}{stderr}"))
        })
        .collect()
}

fn pushed(output: &str) -> bool {
    output.contains("pushed commit")
}

#[test]
fn two_runs_of_the_same_bump_push_it_once_and_the_other_says_there_is_nothing_to_do() {
    let (fleet, proxy) = fleet_behind_fault_proxy();
    let before = commits(&fleet);
    let runs = run_both(&proxy, [fleet.dir(), fleet.dir()]);
    assert_eq!(proxy.fired().len(), 2, "both clones were held: {runs:?}");
    for (code, output) in &runs {
        assert_eq!(*code, Some(0), "{output}");
    }
    assert_eq!(commits(&fleet), before + 1, "one commit: {runs:?}");
    assert!(fleet.deployment().contains(":5.0.3 #"));
    // Two runs in the same second build byte-identical commits (same parent, tree, author,
    // message and time): the same object, pushed once, which both name. Otherwise the loser
    // redoes its update on the winner's commit and finds nothing to do.
    let head = fleet.head();
    let named = format!("pushed commit {} to branch main", &head[..7]);
    let winners = runs.iter().filter(|(_, o)| pushed(o)).count();
    match winners {
        1 => {
            let loser = &runs.iter().find(|(_, o)| !pushed(o)).expect("a loser").1;
            assert!(
                loser.contains("no change: the markers are up to date"),
                "{loser}"
            );
        }
        2 => assert!(runs.iter().all(|(_, o)| o.contains(&named)), "{runs:?}"),
        _ => panic!("nobody pushed: {runs:?}"),
    }
}

#[test]
fn two_runs_of_different_bumps_on_one_branch_both_land_one_commit_each() {
    let (fleet, proxy) = fleet_behind_fault_proxy();
    // A second cluster in the same repository, with its own image, policy and automation
    // (update.path ./clusters/other-cluster), pushed to main.
    fleet
        .registry
        .storage()
        .seed_tags("team/webapp", &["5.0.0", "5.0.7"]);
    let webapp = fleet.registry.image("team/webapp");
    let mine = fleet.dir();
    let other: Vec<(String, String)> = yaml_files(&mine)
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .expect("read")
                .replace(&fleet.image, &webapp)
                .replace("podinfo", "webapp")
                .replace("./clusters/my-cluster", "./clusters/other-cluster");
            let rel = path.strip_prefix(&mine).expect("under the cluster");
            (format!("clusters/other-cluster/{}", rel.display()), text)
        })
        .collect();
    let files: Vec<(&str, &str)> = other
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    seed_repo(&fleet.bare, "main", &files, "Add the webapp cluster");
    // The checkout the user runs on has it too (files written as they are on main, with the
    // Git URL already through the proxy).
    for (path, text) in &other {
        let path = fleet.checkout.path().join(path);
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let before = commits(&fleet);

    let runs = run_both(
        &proxy,
        [mine, fleet.checkout.path().join("clusters/other-cluster")],
    );
    assert_eq!(proxy.fired().len(), 2, "both clones were held: {runs:?}");
    for (code, output) in &runs {
        assert_eq!(*code, Some(0), "{output}");
        assert!(pushed(output), "{output}");
    }
    assert_eq!(commits(&fleet), before + 2, "one commit per bump: {runs:?}");
    assert!(fleet.deployment().contains(":5.0.3 #"), "podinfo bumped");
    let webapp_deployment = git(
        &fleet.bare,
        &[
            "show",
            "main:clusters/other-cluster/podinfo-deployment.yaml",
        ],
    );
    assert!(webapp_deployment.contains(":5.0.7 #"), "webapp bumped too");
    // Each commit changes one cluster's file only.
    for rev in ["main", "main~1"] {
        let changed = git(&fleet.bare, &["show", "--name-only", "--format=", rev]);
        assert_eq!(changed.trim().lines().count(), 1, "{rev}: {changed}");
    }
}
