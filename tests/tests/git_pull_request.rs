//! The pull request flow: push to an automation branch of a real repository,
//! then open (and on the next run update, never duplicate) a pull request
//! through the GitHub REST API, here an in-process FAKE of GitHub
//! (`imageautomation_tests::github_fake`) that validates every request.

mod git_common;

use git_common::{DEPLOY, NEW, bump, spec};
use imageautomation_git::{
    Auth, Error, PullRequestClient, PullRequestSpec, TemplateData, commit_and_push,
    pull_request_branches, repository_from_url,
};
use imageautomation_tests::git_server::{bare_repo, git, seed_repo};
use imageautomation_tests::github_fake::FakeGitHub;
use secrecy::SecretString;

const GH_TOKEN: &str = "ghs_pullRequestToken42";

fn pr_spec(api: &str) -> PullRequestSpec {
    PullRequestSpec {
        title_template: Some("chore: update images for {{ .AutomationObject }}".into()),
        body_template: Some(
            "{{ range .Changed.Changes }}- {{ .OldValue }} -> {{ .NewValue }}\n{{ end }}".into(),
        ),
        labels: vec!["automated".into(), "images".into()],
        api_base_url: Some(api.into()),
        repository: None,
        group: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_then_updates_one_pull_request_for_the_automation_branch() {
    let dir = tempfile::TempDir::new().expect("tempdir");
    // The path ends in owner/repo like a GitHub URL.
    let bare = dir.path().join("fleet-org/apps.git");
    bare_repo(&bare);
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let url = format!("file://{}", bare.display());
    let repository = repository_from_url(&url).expect("owner/repo");
    assert_eq!(repository, "fleet-org/apps");
    let fake = FakeGitHub::start(GH_TOKEN, "fleet-org", "apps", "/api/v3").await;
    let pr = pr_spec(&fake.api_base_url);
    let client = PullRequestClient::new(
        pr.api_base_url.as_deref(),
        SecretString::from(GH_TOKEN),
        None,
    )
    .expect("client");

    // First run: push to the automation branch, open the pull request.
    let s = spec(&url, Auth::default(), Some("image-updates"));
    let run = {
        let s = s.clone();
        tokio::task::spawn_blocking(move || commit_and_push(&s, bump))
            .await
            .expect("join")
            .expect("push")
    };
    let opened = pr
        .ensure_after_push(&client, &s, &run)
        .await
        .expect("open pull request")
        .expect("a pull request is due");
    let (head, base) = pull_request_branches(&s, &run).expect("push branch differs");
    assert_eq!((head.as_str(), base.as_str()), ("image-updates", "main"));
    assert!(opened.created);
    assert_eq!(opened.number, 1);
    assert!(
        opened.html_url.ends_with("/fleet-org/apps/pull/1"),
        "{}",
        opened.html_url
    );

    // Second run: a newer image on the same branch updates the same pull request.
    let newer = "ghcr.io/stefanprodan/podinfo:5.1.0";
    let s2 = s.clone();
    let run2 = tokio::task::spawn_blocking(move || {
        commit_and_push(&s2, |root: &std::path::Path| {
            let path = root.join("deploy.yaml");
            let text = std::fs::read_to_string(&path)?;
            assert!(
                text.contains(NEW),
                "built on the existing automation branch"
            );
            std::fs::write(&path, text.replace(NEW, newer))?;
            let mut changes = imageautomation_git::ChangeSet::default();
            changes.file_changes.insert(
                "deploy.yaml".into(),
                vec![imageautomation_git::ObjectChanges {
                    object: Default::default(),
                    changes: vec![imageautomation_git::Change {
                        old_value: NEW.into(),
                        new_value: newer.into(),
                        setter: "flux-system:podinfo".into(),
                    }],
                }],
            );
            Ok::<_, std::io::Error>(changes)
        })
    })
    .await
    .expect("join")
    .expect("second push");
    let data = TemplateData {
        automation_object: s.automation_object.clone(),
        changed: run2.changes.clone(),
        values: s.message_template_values.clone(),
    };
    let content2 = pr.render(&data).expect("render");
    let updated = client
        .ensure(&repository, &head, &base, &content2, &pr.labels)
        .await
        .expect("update pull request");
    assert!(!updated.created);
    assert_eq!(updated.number, 1);

    // A list that lags behind: the create is refused as a duplicate (422)
    // and the open pull request is updated instead.
    fake.lag_next_list();
    let again = client
        .ensure(&repository, &head, &base, &content2, &[])
        .await
        .expect("update after a 422");
    assert!(!again.created);
    assert_eq!(again.number, 1);

    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "never a duplicate: {pulls:?}");
    assert_eq!(pulls[0].head, "image-updates");
    assert_eq!(pulls[0].base, "main");
    assert_eq!(
        pulls[0].title,
        "chore: update images for flux-system/podinfo-auto"
    );
    assert_eq!(pulls[0].body, format!("- {NEW} -> {newer}\n"));
    assert_eq!(
        pulls[0].labels,
        vec!["automated".to_string(), "images".to_string()]
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
    assert_eq!(
        fake.requests(),
        vec![
            "GET pulls",
            "POST pulls",
            "POST labels",
            "GET pulls",
            "PATCH pull",
            "POST labels",
            "GET pulls",
            "POST pulls",
            "GET pulls",
            "PATCH pull",
        ]
    );
    assert_eq!(
        git(&bare, &["rev-list", "--count", "main..image-updates"]).trim(),
        "2"
    );
}

#[tokio::test]
async fn no_pull_request_when_pushing_to_the_checkout_branch() {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let bare = dir.path().join("o/r.git");
    bare_repo(&bare);
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let s = spec(&format!("file://{}", bare.display()), Auth::default(), None);
    let s2 = s.clone();
    let run = tokio::task::spawn_blocking(move || commit_and_push(&s2, bump))
        .await
        .expect("join")
        .expect("push");
    assert!(run.push.is_some());
    assert_eq!(pull_request_branches(&s, &run), None);
}

#[tokio::test]
async fn a_wrong_token_is_a_clear_error_without_the_token() {
    let fake = FakeGitHub::start(GH_TOKEN, "o", "r", "").await;
    let wrong = "ghs_wrongPullRequestToken";
    let client = PullRequestClient::new(Some(&fake.api_base_url), SecretString::from(wrong), None)
        .expect("client");
    let content = imageautomation_git::PullRequestContent {
        title: "t".into(),
        body: "b".into(),
    };
    let err = client
        .ensure("o/r", "auto", "main", &content, &[])
        .await
        .expect_err("bad credentials");
    assert!(
        matches!(err, Error::PullRequestApi { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Bad credentials"), "{err}");
    assert!(!err.to_string().contains(wrong) && !format!("{client:?}").contains(wrong));
    assert!(!err.is_transient());

    // An unknown repository is GitHub's 404.
    let client =
        PullRequestClient::new(Some(&fake.api_base_url), SecretString::from(GH_TOKEN), None)
            .expect("client");
    let err = client
        .ensure("o/other", "auto", "main", &content, &[])
        .await
        .expect_err("unknown repository");
    assert!(
        matches!(err, Error::PullRequestApi { status: 404, .. }),
        "{err:?}"
    );
    assert!(fake.pulls().is_empty());
}
