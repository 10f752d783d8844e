//! Push-branch scenarios (flux-spec 5.2-5.4) against real repositories: the
//! same branch, a new automation branch, an existing automation branch with
//! history, a race with another pusher, no change, refspec and push options,
//! checkout by tag, and a failing update.

mod git_common;

use std::cell::Cell;

use git_common::{DEPLOY, NEW, OLD, bump, spec};
use imageautomation_git::{Auth, ChangeSet, CheckoutRef, Credentials, Error, commit_and_push};
use imageautomation_tests::git_server::{GitHttpServer, bare_repo, git, seed_repo};
use secrecy::SecretString;

const TOKEN: &str = "ghs_branchTests000111";

fn file_repo() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let bare = dir.path().join("apps.git");
    bare_repo(&bare);
    let url = format!("file://{}", bare.display());
    (dir, bare, url)
}

fn rev(bare: &std::path::Path, rev: &str) -> String {
    git(bare, &["rev-parse", rev]).trim().to_string()
}

#[test]
fn new_automation_branch_starts_from_the_checkout_commit() {
    let (_dir, bare, url) = file_repo();
    let main = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");

    let result = commit_and_push(&spec(&url, Auth::default(), Some("image-updates")), bump)
        .expect("push to a new branch");

    let push = result.push.expect("push");
    assert_eq!(push.branch, "image-updates");
    assert_eq!(rev(&bare, "main"), main, "the checkout branch is untouched");
    assert_eq!(rev(&bare, "image-updates"), push.commit);
    assert_eq!(rev(&bare, "image-updates^"), main);
    assert_eq!(result.checkout_commit, main);
}

#[test]
fn existing_automation_branch_with_history_is_built_upon_not_replaced() {
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    // The automation branch exists with a commit a person added to it.
    git(&bare, &["branch", "image-updates", "main"]);
    let human = seed_repo(
        &bare,
        "image-updates",
        &[("NOTES.md", "reviewed\n")],
        "review fix",
    );
    // main moves on independently.
    let main = seed_repo(&bare, "main", &[("README.md", "hello\n")], "docs");

    let auth = Auth {
        credentials: Credentials::Token(SecretString::from(TOKEN)),
        ..Auth::default()
    };
    let result = commit_and_push(
        &spec(&server.url("fleet/apps"), auth, Some("image-updates")),
        bump,
    )
    .expect("push onto the existing branch");

    let push = result.push.expect("push");
    assert_eq!(rev(&bare, "image-updates"), push.commit);
    assert_eq!(
        rev(&bare, "image-updates^"),
        human,
        "on top of the remote push branch"
    );
    assert_eq!(
        git(&bare, &["show", "image-updates:NOTES.md"]),
        "reviewed\n"
    );
    assert_eq!(rev(&bare, "main"), main);
    assert_eq!(result.checkout_commit, main);
}

#[test]
fn a_push_overtaken_by_another_commit_is_redone_on_the_new_head() {
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    let first = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let auth = Auth {
        credentials: Credentials::Token(SecretString::from(TOKEN)),
        ..Auth::default()
    };
    let calls = Cell::new(0);
    let other = Cell::new(String::new());
    let result = commit_and_push(&spec(&server.url("fleet/apps"), auth, None), |root| {
        calls.set(calls.get() + 1);
        if calls.get() == 1 {
            // Someone else pushes between our clone and our push.
            other.set(seed_repo(
                &bare,
                "main",
                &[("other.txt", "theirs\n")],
                "their change",
            ));
        }
        bump(root)
    })
    .expect("the retry succeeds");

    assert_eq!(calls.get(), 2, "the update was redone once");
    assert_eq!(result.push_attempts, 2);
    let push = result.push.expect("push");
    let history = git(&bare, &["rev-list", "main"]);
    let history: Vec<&str> = history.lines().collect();
    assert_eq!(
        history,
        vec![push.commit.as_str(), other.take().as_str(), first.as_str()]
    );
    assert_eq!(git(&bare, &["show", "main:other.txt"]), "theirs\n");
    assert!(git(&bare, &["show", "main:deploy.yaml"]).contains(NEW));
}

#[test]
fn a_race_with_someone_who_pushed_the_same_bump_ends_with_nothing_to_do() {
    let (_dir, bare, url) = file_repo();
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let theirs = Cell::new(String::new());
    let result = commit_and_push(&spec(&url, Auth::default(), None), |root| {
        if theirs.take().is_empty() {
            let bumped = DEPLOY.replace(OLD, NEW);
            theirs.set(seed_repo(
                &bare,
                "main",
                &[("deploy.yaml", &bumped)],
                "their bump",
            ));
        }
        bump(root)
    })
    .expect("nothing left to do");
    assert!(result.push.is_none());
    assert_eq!(result.push_attempts, 1);
    assert_eq!(
        result.checkout_commit,
        rev(&bare, "main"),
        "the refetched head"
    );
}

#[test]
fn a_race_lost_every_time_gives_up_with_a_transient_error() {
    let (_dir, bare, url) = file_repo();
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let mut s = spec(&url, Auth::default(), None);
    s.retry = s.retry.with_max_times(1);
    let mut n = 0;
    let err = commit_and_push(&s, |root| {
        n += 1;
        seed_repo(
            &bare,
            "main",
            &[("other.txt", &format!("{n}\n"))],
            "their change",
        );
        bump(root)
    })
    .expect_err("always overtaken");
    assert!(
        matches!(err, Error::PushRaceLost { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(
        git(&bare, &["show", "main:deploy.yaml"]).contains(OLD),
        "never force-pushed"
    );
}

#[test]
fn no_change_means_no_commit_and_no_push() {
    let (_dir, bare, url) = file_repo();
    let main = seed_repo(
        &bare,
        "main",
        &[("deploy.yaml", &DEPLOY.replace(OLD, NEW))],
        "initial",
    );

    for push_branch in [None, Some("image-updates")] {
        let result = commit_and_push(&spec(&url, Auth::default(), push_branch), bump)
            .expect("nothing to do");
        assert!(result.push.is_none());
        assert!(result.changes.is_empty());
        assert_eq!(result.checkout_commit, main);
    }
    assert_eq!(rev(&bare, "main"), main);
    assert!(
        git(&bare, &["branch", "--list", "image-updates"])
            .trim()
            .is_empty()
    );
}

#[test]
fn refspec_and_push_options_are_pushed_after_the_branch() {
    // libgit2's local transport has no push options: use smart HTTP.
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    let url = server.url("fleet/apps");
    let dir = tempfile::TempDir::new().expect("tempdir");
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    // A hook records the push options the server received.
    let options_log = dir.path().join("push-options.log");
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ni=0\nwhile [ \"$i\" -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\" >> {}; i=$((i+1)); done\ncat >/dev/null\n",
            options_log.display()
        ),
    )
    .expect("hook");
    std::process::Command::new("chmod")
        .args(["755"])
        .arg(&hook)
        .status()
        .expect("chmod");

    let auth = Auth {
        credentials: Credentials::Token(SecretString::from(TOKEN)),
        ..Auth::default()
    };
    let mut s = spec(&url, auth, Some("auto"));
    s.push_refspec = Some("refs/heads/auto:refs/heads/mirror/auto".into());
    s.push_options.insert("ci.skip".into(), String::new());
    s.push_options
        .insert("merge_request.target".into(), "main".into());
    let result = commit_and_push(&s, bump).expect("push");
    let push = result.push.expect("push");
    assert_eq!(
        push.refspecs,
        vec!["refs/heads/auto:refs/heads/mirror/auto".to_string()]
    );
    assert_eq!(rev(&bare, "mirror/auto"), push.commit);
    assert!(
        push.summary()
            .contains(" and refspecs 'refs/heads/auto:refs/heads/mirror/auto'\n")
    );
    let options = std::fs::read_to_string(&options_log).expect("options log");
    assert!(options.lines().any(|l| l == "ci.skip"), "{options}");
    assert!(
        options.lines().any(|l| l == "merge_request.target=main"),
        "{options}"
    );
}

#[test]
fn checkout_by_tag_pushes_to_the_push_branch() {
    let (_dir, bare, url) = file_repo();
    let tagged = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    git(&bare, &["tag", "-a", "-m", "release", "v1.0.0", &tagged]);
    seed_repo(&bare, "main", &[("README.md", "later\n")], "later");

    let mut s = spec(&url, Auth::default(), None);
    s.checkout = CheckoutRef::Tag("v1.0.0".into());
    let err = commit_and_push(&s, bump).expect_err("no push branch");
    assert!(
        matches!(
            err,
            Error::InvalidSpec {
                field: "git.push.branch",
                ..
            }
        ),
        "{err:?}"
    );

    s.push_branch = Some("from-tag".into());
    let result = commit_and_push(&s, bump).expect("push");
    assert_eq!(result.checkout_commit, tagged);
    assert_eq!(rev(&bare, "from-tag^"), tagged);

    s.checkout = CheckoutRef::Tag("v9.9.9".into());
    let err = commit_and_push(&s, bump).expect_err("missing tag");
    assert!(
        matches!(err, Error::RefNotFound { kind: "tag", .. }),
        "{err:?}"
    );
}

#[test]
fn checkout_by_commit() {
    let (_dir, bare, url) = file_repo();
    let first = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    seed_repo(&bare, "main", &[("README.md", "later\n")], "later");
    let mut s = spec(&url, Auth::default(), Some("pinned"));
    s.checkout = CheckoutRef::Commit(first.clone());
    let result = commit_and_push(&s, bump).expect("push");
    assert_eq!(result.checkout_commit, first);
    assert_eq!(rev(&bare, "pinned^"), first);
}

#[test]
fn a_failing_update_or_template_commits_nothing() {
    let (_dir, bare, url) = file_repo();
    let main = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");

    let err = commit_and_push(&spec(&url, Auth::default(), None), |_root| {
        Err::<ChangeSet, _>(std::io::Error::other("setters exploded"))
    })
    .expect_err("update fails");
    assert!(matches!(err, Error::Update { .. }));
    assert!(err.to_string().contains("setters exploded"));

    let mut s = spec(&url, Auth::default(), None);
    s.message_template = Some("{{ range .Changed.FileChanges }".into());
    let err = commit_and_push(&s, bump).expect_err("template does not parse");
    assert!(matches!(err, Error::TemplateParse { .. }), "{err:?}");
    assert!(err.to_string().contains("commit message"), "{err}");

    s.message_template = Some("{{ range .Updated.Images }}{{ . }}{{ end }}".into());
    let err = commit_and_push(&s, bump).expect_err("removed field");
    assert!(matches!(err, Error::RemovedTemplateField { .. }), "{err:?}");

    s.message_template = Some("{{ range .AutomationObject }}x{{ end }}".into());
    let err = commit_and_push(&s, bump).expect_err("template fails to run");
    assert!(matches!(err, Error::TemplateExecute { .. }), "{err:?}");

    assert_eq!(rev(&bare, "main"), main);
}

#[test]
fn a_missing_checkout_branch_is_reported() {
    let (_dir, bare, url) = file_repo();
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let mut s = spec(&url, Auth::default(), None);
    s.checkout = CheckoutRef::Branch("develop".into());
    let err = commit_and_push(&s, bump).expect_err("no such branch");
    assert!(
        matches!(err, Error::RefNotFound { kind: "branch", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("develop"));
}
