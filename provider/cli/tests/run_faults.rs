//! Git faults during `imageautomation run` (issue #15 §2): the example fleet on Git over smart
//! HTTP behind the fault-injecting proxy (`tests/src/faults.rs`), which breaks the connection
//! during the clone, during the fetch that follows a lost push race, and during the push
//! (before and after the server has taken the pack); and the run itself killed with SIGKILL.
//! In every case no partial commit reaches the branch, a push that landed is recognised
//! (in the same run, or by the next one, which then finds nothing to do), and one that did
//! not land is redone by the next run: exactly one commit for the bump.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Fleet, TOKEN, commits, fleet_behind_fault_proxy, run_in};
use imageautomation_tests::faults::{Fault, FaultProxy};
use imageautomation_tests::git_server::{git, seed_repo};

const REPO: &str = "/fleet-infra.git failed: ";
const CLONE_FETCH: &str = "POST /fleet-infra.git/git-upload-pack";
const PUSH: &str = "POST /fleet-infra.git/git-receive-pack";
const BUMPED: &str = ":5.0.3 #";

/// Runs `imageautomation run` and returns (exit code, stdout + stderr).
fn run(fleet: &Fleet) -> (Option<i32>, String) {
    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    (out.status.code(), format!("{stdout}{stderr}"))
}

/// The run after a fault: pushes the bump as the only new commit, or finds it done.
fn assert_next_run_completes(fleet: &Fleet, proxy: &FaultProxy, commits_before: usize) {
    proxy.disarm();
    let (code, output) = run(fleet);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(commits(fleet), commits_before + 1, "one commit: {output}");
    assert!(fleet.deployment().contains(BUMPED));
    let (code, output) = run(fleet);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("no change: the markers are up to date"),
        "{output}"
    );
    assert_eq!(commits(fleet), commits_before + 1);
}

#[test]
fn a_connection_dropped_during_the_clone_fails_cleanly_and_the_next_run_pushes_once() {
    let (fleet, proxy) = fleet_behind_fault_proxy();
    let before = (fleet.head(), commits(&fleet));
    // The ref advertisement, then the pack, each cut part-way.
    for (marker, fault) in [
        (
            "GET /fleet-infra.git/info/refs?service=git-upload-pack",
            Fault::ResetResponse { body_bytes: 40 },
        ),
        (CLONE_FETCH, Fault::TruncateResponse { body_bytes: 300 }),
    ] {
        proxy.arm(marker, fault, 1);
        let (code, output) = run(&fleet);
        assert_eq!(code, Some(1), "{output}");
        assert!(
            output.contains(&format!("git clone with http://{}{REPO}", proxy.host())),
            "names the operation and the remote: {output}"
        );
        assert!(
            output.contains("the connection broke before the server's answer was complete"),
            "{output}"
        );
        assert!(!output.contains("pushed commit"), "{output}");
        assert_eq!(fleet.head(), before.0, "nothing reached the branch");
    }
    assert_eq!(proxy.fired().len(), 2);
    assert_next_run_completes(&fleet, &proxy, before.1);
}

#[test]
fn a_push_cut_before_the_server_has_the_pack_is_retried_and_never_doubled() {
    // Once: the run tries the push again and it lands, one commit.
    let (fleet, proxy) = fleet_behind_fault_proxy();
    let before = commits(&fleet);
    proxy.arm(PUSH, Fault::CutRequest { bytes: 200 }, 1);
    let (code, output) = run(&fleet);
    assert_eq!(proxy.fired().len(), 1, "{output}");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("pushed commit"), "{output}");
    assert_eq!(commits(&fleet), before + 1, "one commit: {output}");
    git(&fleet.bare, &["fsck", "--no-dangling"]);

    // Every time: the retries run out, the branch is as it was, the next run pushes once.
    let (fleet, proxy) = fleet_behind_fault_proxy();
    let before = (fleet.head(), commits(&fleet));
    proxy.arm(PUSH, Fault::CutRequest { bytes: 200 }, usize::MAX);
    let (code, output) = run(&fleet);
    assert_eq!(
        proxy.fired().len(),
        5,
        "the first push and 4 retries: {output}"
    );
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains(&format!("git push with http://{}{REPO}", proxy.host())),
        "{output}"
    );
    assert_eq!(fleet.head(), before.0, "no partial commit on the branch");
    git(&fleet.bare, &["fsck", "--no-dangling"]);
    assert_next_run_completes(&fleet, &proxy, before.1);
}

#[test]
fn a_push_whose_answer_is_lost_is_recognised_as_landed_in_the_same_run() {
    let (fleet, proxy) = fleet_behind_fault_proxy();
    let before = commits(&fleet);
    proxy.arm(PUSH, Fault::DropResponse, 1);
    let (code, output) = run(&fleet);
    assert_eq!(proxy.fired().len(), 1, "{output}");
    assert_eq!(code, Some(0), "{output}");
    let head = fleet.head();
    assert!(
        output.contains(&format!("pushed commit {} to branch main", &head[..7])),
        "{output}"
    );
    assert_eq!(commits(&fleet), before + 1);
    let (code, output) = run(&fleet);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("no change"), "{output}");
    assert_eq!(fleet.head(), head, "not pushed twice");
}

#[test]
fn a_fetch_cut_after_a_lost_push_race_leaves_the_other_commit_and_is_redone_once() {
    let (fleet, proxy) = fleet_behind_fault_proxy();
    let before = commits(&fleet);
    // The clone's pack is held back while someone else pushes; our push is then a
    // non-fast-forward, and the fetch of the new head (the second upload-pack) is cut.
    proxy.arm(CLONE_FETCH, Fault::Pause, 1);
    proxy.arm(CLONE_FETCH, Fault::ResetResponse { body_bytes: 100 }, 1);
    let child = std::thread::spawn({
        let dir = fleet.dir();
        move || run_in(&dir, &[], Some(TOKEN), None)
    });
    assert!(proxy.wait_for_held(1, Duration::from_secs(60)));
    seed_repo(
        &fleet.bare,
        "main",
        &[("README.md", "someone else's change\n")],
        "Someone else's commit",
    );
    let other = fleet.head();
    proxy.release();
    let (out, stdout, stderr) = child.join().expect("run");
    let output = format!("{stdout}{stderr}");
    assert_eq!(proxy.fired().len(), 2, "{output}");
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(
        output.contains(&format!("git fetch with http://{}{REPO}", proxy.host())),
        "{output}"
    );
    assert_eq!(
        fleet.head(),
        other,
        "the other commit stays, nothing of ours"
    );
    assert_next_run_completes(&fleet, &proxy, before + 1);
    assert_eq!(
        git(&fleet.bare, &["rev-parse", "main~1"]).trim(),
        other,
        "built on the other commit"
    );
}

#[test]
fn a_run_killed_before_during_or_after_the_push_is_completed_by_the_next_run() {
    // Held: the clone's pack (before the push), the push request (during), the push's
    // answer after the server took it (after).
    for (stage, marker, fault, landed) in [
        ("before", CLONE_FETCH, Fault::Stall, false),
        ("during", PUSH, Fault::Stall, false),
        ("after", PUSH, Fault::HoldResponse, true),
    ] {
        let (fleet, proxy) = fleet_behind_fault_proxy();
        let before = (fleet.head(), commits(&fleet));
        proxy.arm(marker, fault, 1);
        let mut child = Command::new(env!("CARGO_BIN_EXE_imageautomation"))
            .arg("run")
            .arg(fleet.dir())
            .arg("--git-token-stdin")
            .env_remove("GITHUB_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("stdin");
            writeln!(stdin, "{TOKEN}").expect("token");
        }
        assert!(
            proxy.wait_for_held(1, Duration::from_secs(60)),
            "{stage}: the run reached the fault"
        );
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        if landed {
            assert_eq!(commits(&fleet), before.1 + 1, "{stage}: the push landed");
            let pushed = fleet.head();
            proxy.disarm();
            let (code, output) = run(&fleet);
            assert_eq!(code, Some(0), "{stage}: {output}");
            assert!(
                output.contains(&format!(
                    "no change: the markers are up to date (at commit {}, this automation's update pushed by an earlier run)",
                    &pushed[..7]
                )),
                "{stage}: {output}"
            );
            assert_eq!(fleet.head(), pushed, "{stage}: not pushed twice");
        } else {
            assert_eq!(
                fleet.head(),
                before.0,
                "{stage}: nothing reached the branch"
            );
            assert_next_run_completes(&fleet, &proxy, before.1);
        }
        git(&fleet.bare, &["fsck", "--no-dangling"]);
    }
}
