//! Grouped pull requests (`pullRequest.groupBy`, issue #14): against a real Git server (git
//! over smart HTTP with a token, `git_server`) and the GitHub REST API FAKE
//! (`imageautomation_tests::github_fake`, in-process, validating every request; GitHub
//! cannot run here). The engine's run first (`run_update_automation`), then the plugin as
//! the Pulumi engine drives it (`Check`, `Create`).

use std::path::Path;

use imageautomation_engine::reconcile::{
    AutomationOutcome, AutomationRequest, PullRequestSettings, RunMode, run_update_automation,
    write_back_spec,
};
use imageautomation_git::{Auth, Credentials, NamespacedName, PullRequestClient, PullRequestSpec};
use imageautomation_model::CheckoutRef;
use imageautomation_model::args::GroupBy;
use imageautomation_model::git::{GitCommit, GitPush};
use imageautomation_tests::engine::{Plugin, Urn};
use imageautomation_tests::git_server::{GitHttpServer, git, seed_repo};
use imageautomation_tests::github_fake::{FakeGitHub, FakePull};
use imageautomation_update::Policies;
use secrecy::SecretString;
use serde_json::{Value, json};

const TOKEN: &str = "ghs_groupedPullRequests0123456789";
const PODINFO: &str = "ghcr.io/stefanprodan/podinfo";
const REDIS: &str = "docker.io/library/redis";
const AUTOMATION: &str = "imageautomation:index:UpdateAutomation";

/// Two files: podinfo's Deployment, whose two containers are marked by `podinfo` and
/// `podinfo-canary` (the same image), and redis's, marked by `redis`.
fn seed(bare: &Path) {
    let deployment = |name: &str, containers: &[(&str, &str)]| {
        let mut text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  template:\n    spec:\n      containers:\n"
        );
        for (image, policy) in containers {
            text.push_str(&format!(
                "        - name: {policy}\n          image: {image} # {{\"$imagepolicy\": \"flux-system:{policy}\"}}\n"
            ));
        }
        text
    };
    seed_repo(
        bare,
        "main",
        &[
            (
                "apps/podinfo.yaml",
                deployment(
                    "podinfo",
                    &[
                        (&format!("{PODINFO}:5.0.0"), "podinfo"),
                        (&format!("{PODINFO}:5.0.0"), "podinfo-canary"),
                    ],
                )
                .as_str(),
            ),
            (
                "apps/redis.yaml",
                deployment("redis", &[(&format!("{REDIS}:7.0.0"), "redis")]).as_str(),
            ),
        ],
        "initial",
    );
}

struct Fleet {
    git: GitHttpServer,
    bare: std::path::PathBuf,
    github: FakeGitHub,
}

impl Fleet {
    async fn start() -> Fleet {
        let git = GitHttpServer::start(&[("x-access-token", TOKEN)]);
        // The path ends in owner/repo, as on GitHub: the pull requests go to fleet-org/apps.
        let bare = git.create_repo("fleet-org/apps");
        seed(&bare);
        let github = FakeGitHub::start(TOKEN, "fleet-org", "apps", "/api/v3").await;
        Fleet { git, bare, github }
    }

    fn request(
        &self,
        policies: &[(&str, &str)],
        group_by: GroupBy,
        branch: Option<&str>,
    ) -> AutomationRequest {
        let write_back = write_back_spec(
            self.git.url("fleet-org/apps"),
            Auth {
                credentials: Credentials::Token(SecretString::from(TOKEN)),
                ..Auth::default()
            },
            CheckoutRef::Branch("main".into()),
            &serde_json::from_value::<GitCommit>(json!({
                "author": {"name": "Flux Bot", "email": "flux@example.com"},
                "messageTemplate": "Update images\n\n{{ range .Changed.Changes }}{{ .OldValue }} -> {{ .NewValue }}\n{{ end }}",
            }))
            .expect("commit"),
            None,
            Some(&GitPush {
                branch: Some("image-updates".into()),
                ..GitPush::default()
            }),
            NamespacedName {
                namespace: "flux-system".into(),
                name: "fleet".into(),
            },
        );
        let client = PullRequestClient::new(
            Some(&self.github.api_base_url),
            SecretString::from(TOKEN),
            None,
        )
        .expect("client");
        AutomationRequest {
            write_back,
            update_path: ".".into(),
            policies: policies_of(policies),
            downgrade_guards: Default::default(),
            pull_request: Some(PullRequestSettings {
                spec: PullRequestSpec {
                    body_template: Some(
                        "{{ range .Changed.Changes }}- {{ .OldValue }} -> {{ .NewValue }}\n{{ end }}"
                            .into(),
                    ),
                    labels: vec!["images".into()],
                    api_base_url: Some(self.github.api_base_url.clone()),
                    ..PullRequestSpec::default()
                },
                client,
                group_by,
                branch_template: branch.map(str::to_owned),
            }),
        }
    }

    async fn run(
        &self,
        policies: &[(&str, &str)],
        group_by: GroupBy,
        mode: RunMode,
    ) -> AutomationOutcome {
        run_update_automation(self.request(policies, group_by, None), mode)
            .await
            .expect("run")
    }

    fn show(&self, branch: &str, file: &str) -> String {
        git(&self.bare, &["show", &format!("{branch}:{file}")])
    }

    /// The files `branch` changes from where it left `main`.
    fn changed_files(&self, branch: &str) -> Vec<String> {
        git(
            &self.bare,
            &["diff", "--name-only", &format!("main...{branch}")],
        )
        .lines()
        .map(str::to_owned)
        .collect()
    }

    fn branches(&self) -> Vec<String> {
        git(
            &self.bare,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        )
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// A pull request a person opens through the API, on a branch of their own.
    async fn user_opens_pull_request(&self) -> FakePull {
        seed_repo(
            &self.bare,
            "user-feature",
            &[("README.md", "hand-written\n")],
            "a change of a person's",
        );
        let response = reqwest::Client::new()
            .post(format!("{}/repos/fleet-org/apps/pulls", self.github.api_base_url))
            .bearer_auth(TOKEN)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", "a-person")
            .json(&json!({"title": "Hand-written change", "head": "user-feature", "base": "main", "body": "mine"}))
            .send()
            .await
            .expect("POST pulls");
        assert_eq!(response.status(), 201);
        self.github
            .pulls()
            .pop()
            .expect("the person's pull request")
    }
}

fn policies_of(policies: &[(&str, &str)]) -> Policies {
    policies
        .iter()
        .map(|(name, reference)| {
            (
                format!("flux-system:{name}"),
                reference.parse().expect("reference"),
            )
        })
        .collect()
}

fn podinfo(tag: &str) -> String {
    format!("{PODINFO}:{tag}")
}

fn redis(tag: &str) -> String {
    format!("{REDIS}:{tag}")
}

/// groupBy policy: two policies bumped make two branches and two pull requests, each with
/// only its own change; a newer tag updates the existing pull request (no duplicate); a
/// pull request a person opened is neither updated nor closed; a run with nothing new
/// pushes and asks nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_policy_opens_one_pull_request_per_policy_and_updates_it() {
    let fleet = Fleet::start().await;
    let theirs = fleet.user_opens_pull_request().await;
    let main = git(&fleet.bare, &["rev-parse", "main"]);
    let bumps = [("podinfo", podinfo("5.0.3")), ("redis", redis("7.2.0"))];
    let bumps: Vec<(&str, &str)> = bumps.iter().map(|(p, r)| (*p, r.as_str())).collect();

    // The preview shows each group's pending change and writes nothing.
    let preview = fleet.run(&bumps, GroupBy::Policy, RunMode::Preview).await;
    let pending: Vec<(&str, Vec<&str>)> = preview
        .groups
        .iter()
        .map(|g| {
            (
                g.group.branch.as_str(),
                g.changes.files.iter().map(|f| f.path.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        pending,
        [
            (
                "image-updates-flux-system-podinfo",
                vec!["apps/podinfo.yaml"]
            ),
            ("image-updates-flux-system-redis", vec!["apps/redis.yaml"]),
        ]
    );
    assert!(
        preview
            .groups
            .iter()
            .all(|g| g.push.is_none() && g.pull_request.is_none())
    );
    assert_eq!(fleet.branches(), ["main", "user-feature"]);
    assert_eq!(fleet.github.pulls().len(), 1);

    let up = fleet.run(&bumps, GroupBy::Policy, RunMode::Apply).await;
    assert_eq!(up.groups.len(), 2);
    assert!(up.groups.iter().all(|g| g.push.is_some()));
    assert_eq!(
        fleet.branches(),
        [
            "image-updates-flux-system-podinfo",
            "image-updates-flux-system-redis",
            "main",
            "user-feature",
        ],
        "one branch per policy, nothing pushed to git.push.branch itself"
    );
    assert_eq!(
        git(&fleet.bare, &["rev-parse", "main"]),
        main,
        "main untouched"
    );
    // Each branch holds only its own policy's change.
    let podinfo_branch = "image-updates-flux-system-podinfo";
    let redis_branch = "image-updates-flux-system-redis";
    assert_eq!(fleet.changed_files(podinfo_branch), ["apps/podinfo.yaml"]);
    assert_eq!(fleet.changed_files(redis_branch), ["apps/redis.yaml"]);
    let podinfo_file = fleet.show(podinfo_branch, "apps/podinfo.yaml");
    assert!(podinfo_file.contains(&format!(
        "{PODINFO}:5.0.3 # {{\"$imagepolicy\": \"flux-system:podinfo\"}}"
    )));
    assert!(
        podinfo_file.contains(&format!(
            "{PODINFO}:5.0.0 # {{\"$imagepolicy\": \"flux-system:podinfo-canary\"}}"
        )),
        "a policy outside the group is not applied: {podinfo_file}"
    );
    assert!(
        fleet
            .show(redis_branch, "apps/redis.yaml")
            .contains(&redis("7.2.0"))
    );

    let pulls = fleet.github.pulls();
    assert_eq!(pulls.len(), 3, "{pulls:?}");
    let ours: Vec<(&str, &str, &str, &str)> = pulls[1..]
        .iter()
        .map(|p| {
            (
                p.head.as_str(),
                p.base.as_str(),
                p.title.as_str(),
                p.body.as_str(),
            )
        })
        .collect();
    let podinfo_body = format!("- {} -> {}\n", podinfo("5.0.0"), podinfo("5.0.3"));
    let redis_body = format!("- {} -> {}\n", redis("7.0.0"), redis("7.2.0"));
    assert_eq!(
        ours,
        [
            (
                podinfo_branch,
                "main",
                "Update images (flux-system/fleet): flux-system:podinfo",
                podinfo_body.as_str()
            ),
            (
                redis_branch,
                "main",
                "Update images (flux-system/fleet): flux-system:redis",
                redis_body.as_str()
            ),
        ]
    );
    assert!(pulls[1..].iter().all(|p| p.labels == ["images"]));
    let numbers: Vec<u64> = up
        .groups
        .iter()
        .map(|g| g.pull_request.as_ref().expect("pull request").number)
        .collect();
    assert_eq!(numbers, [2, 3]);

    // A newer podinfo tag: the podinfo branch gets a second commit and its pull request is
    // updated; redis has nothing new, so its branch and pull request are left alone.
    let newer = [("podinfo", podinfo("5.0.4")), ("redis", redis("7.2.0"))];
    let newer: Vec<(&str, &str)> = newer.iter().map(|(p, r)| (*p, r.as_str())).collect();
    let redis_head = git(&fleet.bare, &["rev-parse", redis_branch]);
    let again = fleet.run(&newer, GroupBy::Policy, RunMode::Apply).await;
    let podinfo_run = &again.groups[0];
    assert_eq!(podinfo_run.group.branch, podinfo_branch);
    let pr = podinfo_run.pull_request.as_ref().expect("updated");
    assert!(!pr.created);
    assert_eq!(pr.number, 2);
    assert!(again.groups[1].push.is_none() && again.groups[1].pull_request.is_none());
    assert_eq!(git(&fleet.bare, &["rev-parse", redis_branch]), redis_head);
    assert_eq!(
        git(
            &fleet.bare,
            &["rev-list", "--count", &format!("main..{podinfo_branch}")]
        )
        .trim(),
        "2"
    );
    assert!(
        fleet
            .show(podinfo_branch, "apps/podinfo.yaml")
            .contains(&podinfo("5.0.4"))
    );
    let pulls = fleet.github.pulls();
    assert_eq!(pulls.len(), 3, "no duplicate: {pulls:?}");
    assert_eq!(
        pulls[1].body,
        format!("- {} -> {}\n", podinfo("5.0.3"), podinfo("5.0.4"))
    );
    assert_eq!((pulls[1].updates, pulls[2].updates), (1, 0));

    // Nothing new: nothing pushed, GitHub not asked.
    let requests = fleet.github.requests().len();
    let idle = fleet.run(&newer, GroupBy::Policy, RunMode::Apply).await;
    assert!(idle.groups.iter().all(|g| g.push.is_none()));
    assert_eq!(fleet.github.requests().len(), requests);

    // The person's pull request: never updated, never closed.
    let now = fleet.github.pulls();
    assert!(now.iter().all(|p| p.state == "open"), "{now:?}");
    assert_eq!(now[0], theirs);
    assert_eq!(now[0].updates, 0);
    assert_eq!(fleet.github.violations(), Vec::<String>::new());
}

/// groupBy image: the two policies of podinfo's image share one branch and pull request,
/// redis has its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_image_puts_the_policies_of_one_image_together() {
    let fleet = Fleet::start().await;
    let bumps = [
        ("podinfo", podinfo("5.0.3")),
        ("podinfo-canary", podinfo("5.1.0")),
        ("redis", redis("7.2.0")),
    ];
    let bumps: Vec<(&str, &str)> = bumps.iter().map(|(p, r)| (*p, r.as_str())).collect();
    let up = fleet.run(&bumps, GroupBy::Image, RunMode::Apply).await;
    let groups: Vec<(&str, &str, Vec<&str>)> = up
        .groups
        .iter()
        .map(|g| {
            (
                g.group.key.as_str(),
                g.group.branch.as_str(),
                g.group.policies.keys().map(String::as_str).collect(),
            )
        })
        .collect();
    let redis_branch = "image-updates-docker.io/library/redis";
    assert_eq!(
        groups,
        [
            (REDIS, redis_branch, vec!["flux-system:redis"]),
            (
                PODINFO,
                "image-updates-ghcr.io/stefanprodan/podinfo",
                vec!["flux-system:podinfo", "flux-system:podinfo-canary"]
            ),
        ]
    );
    let file = fleet.show(
        "image-updates-ghcr.io/stefanprodan/podinfo",
        "apps/podinfo.yaml",
    );
    assert!(
        file.contains(&podinfo("5.0.3")) && file.contains(&podinfo("5.1.0")),
        "{file}"
    );
    assert_eq!(
        fleet.changed_files("image-updates-ghcr.io/stefanprodan/podinfo"),
        ["apps/podinfo.yaml"]
    );
    assert_eq!(fleet.changed_files(redis_branch), ["apps/redis.yaml"]);
    let pulls = fleet.github.pulls();
    let heads: Vec<&str> = pulls.iter().map(|p| p.head.as_str()).collect();
    assert_eq!(
        heads,
        [redis_branch, "image-updates-ghcr.io/stefanprodan/podinfo"]
    );
    assert_eq!(
        pulls[1].title,
        format!("Update images (flux-system/fleet): {PODINFO}")
    );
    assert_eq!(pulls[1].body.lines().count(), 2, "{}", pulls[1].body);
    assert_eq!(fleet.github.violations(), Vec::<String>::new());
}

/// groupBy none is the one pull request of before: every bump on git.push.branch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_none_keeps_one_pull_request() {
    let fleet = Fleet::start().await;
    let bumps = [("podinfo", podinfo("5.0.3")), ("redis", redis("7.2.0"))];
    let bumps: Vec<(&str, &str)> = bumps.iter().map(|(p, r)| (*p, r.as_str())).collect();
    let up = fleet.run(&bumps, GroupBy::None, RunMode::Apply).await;
    assert!(up.groups.is_empty());
    assert_eq!(up.push.as_ref().expect("pushed").branch, "image-updates");
    assert_eq!(fleet.branches(), ["image-updates", "main"]);
    assert_eq!(
        fleet.changed_files("image-updates"),
        ["apps/podinfo.yaml", "apps/redis.yaml"]
    );
    let pulls = fleet.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "Update images (flux-system/fleet)");
    assert_eq!(pulls[0].body.lines().count(), 2);
    assert_eq!(fleet.github.violations(), Vec::<String>::new());
}

/// A program's inputs with `pullRequest` as given.
fn inputs(fleet: &Fleet, pull_request: Value, push: Value, policies: &[(&str, &str)]) -> Value {
    let policies: Vec<Value> = policies
        .iter()
        .map(|(name, reference)| {
            let (image, tag) = reference.rsplit_once(':').expect("name:tag");
            json!({"namespace": "flux-system", "name": name, "latestRef": {"name": image, "tag": tag}})
        })
        .collect();
    json!({
        "git": {
            "url": fleet.git.url("fleet-org/apps"),
            "auth": {"token": imageautomation_proto::codec::secret(json!(TOKEN))},
            "checkout": {"ref": {"branch": "main"}},
            "commit": {"author": {"name": "Flux Bot", "email": "flux@example.com"}},
            "push": push,
        },
        "policies": policies,
        "pullRequest": pull_request,
    })
}

/// The plugin: `Check` refuses what cannot work, with the property; `Create` (an `up`)
/// reports each group in the output `groups`, and `lastPushCommit`/`pullRequestUrl` of the
/// last group pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_checks_grouping_and_reports_each_group() {
    let fleet = Fleet::start().await;
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let urn = Urn::new(AUTOMATION, "fleet");
    let api = fleet.github.api_base_url.clone();
    let bumps = [("podinfo", podinfo("5.0.3")), ("redis", redis("7.2.0"))];
    let bumps: Vec<(&str, &str)> = bumps.iter().map(|(p, r)| (*p, r.as_str())).collect();
    let push = json!({"branch": "image-updates"});

    let refused = [
        (
            json!({"apiBaseUrl": api, "groupBy": "policies"}),
            push.clone(),
            "groupBy",
            "expected none, policy or image",
        ),
        (
            json!({"apiBaseUrl": api, "branch": "x-{{ .Policy.Name }}"}),
            push.clone(),
            "pullRequest.branch",
            "set pullRequest.groupBy",
        ),
        (
            json!({"apiBaseUrl": api, "groupBy": "policy", "branch": "{{ .Policy.Nam }}"}),
            push.clone(),
            "pullRequest.branch",
            "can't evaluate field Nam",
        ),
        (
            json!({"apiBaseUrl": api, "groupBy": "policy", "branch": "main"}),
            push.clone(),
            "pullRequest.branch",
            "the checkout branch \"main\"",
        ),
        (
            json!({"apiBaseUrl": api, "groupBy": "policy", "branch": "{{ .PushBranch }}"}),
            push.clone(),
            "pullRequest.branch",
            "for both flux-system:podinfo and flux-system:redis",
        ),
        (
            json!({"apiBaseUrl": api, "groupBy": "image"}),
            json!({"branch": "image-updates", "refspec": "refs/heads/image-updates:refs/heads/other"}),
            "git.push.refspec",
            "cannot be combined with pullRequest.groupBy image",
        ),
        (
            json!({"apiBaseUrl": api, "groupBy": "image"}),
            Value::Null,
            "pullRequest",
            "git.push.branch",
        ),
    ];
    for (pull_request, push, property, reason) in refused {
        let news = inputs(&fleet, pull_request.clone(), push, &bumps);
        let failures = plugin
            .check(&urn, &json!({}), &news)
            .await
            .expect("Check answers")
            .expect_err(&pull_request.to_string());
        assert!(
            failures
                .iter()
                .any(|(p, r)| p.ends_with(property) && r.contains(reason)),
            "{pull_request}: {failures:?}"
        );
    }

    let news = inputs(
        &fleet,
        json!({"apiBaseUrl": api, "groupBy": "policy"}),
        push.clone(),
        &bumps,
    );
    let checked = plugin
        .check(&urn, &json!({}), &news)
        .await
        .expect("Check answers")
        .expect("valid");
    let (_, preview, _) = plugin.create(&urn, &checked, true).await.expect("preview");
    let (id, up_outputs, _) = plugin.create(&urn, &checked, false).await.expect("up");
    let (preview, outputs) = (
        imageautomation_tests::engine::without_secrets(&preview),
        imageautomation_tests::engine::without_secrets(&up_outputs),
    );
    let diagnostics = plugin.diagnostics(&urn);
    assert!(
        diagnostics.iter().any(|d| d
            == &format!(
                "branch image-updates-flux-system-redis: apps/redis.yaml: {REDIS} 7.0.0 => 7.2.0"
            )),
        "{diagnostics:?}"
    );
    assert!(
        diagnostics.iter().any(|d| d.starts_with(
            "branch image-updates-flux-system-podinfo: would push a commit for flux-system:podinfo"
        )),
        "{diagnostics:?}"
    );
    let groups = outputs["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2, "{outputs}");
    let pulls = fleet.github.pulls();
    for (group, (policy, pull)) in groups.iter().zip(
        ["flux-system:podinfo", "flux-system:redis"]
            .iter()
            .zip(&pulls),
    ) {
        assert_eq!(group["key"], *policy);
        assert_eq!(group["policies"], json!([policy]));
        assert_eq!(group["branch"], pull.head.as_str());
        assert_eq!(group["pullRequestNumber"], pull.number);
        assert_eq!(
            group["lastPushCommit"].as_str(),
            Some(git(&fleet.bare, &["rev-parse", &pull.head]).trim())
        );
        assert!(
            group["pullRequestUrl"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/pull/{}", pull.number))),
            "{group}"
        );
        assert_eq!(group["changes"]["files"].as_array().map(Vec::len), Some(1));
    }
    assert_eq!(outputs["lastPushCommit"], groups[1]["lastPushCommit"]);
    assert_eq!(outputs["pullRequestUrl"], groups[1]["pullRequestUrl"]);
    assert!(outputs.get("observedSourceRevision").is_none());
    // The preview's groups: the change each would push, the push and pull request unknown.
    let unknown = json!(imageautomation_proto::codec::UNKNOWN);
    let preview_groups = preview["groups"].as_array().expect("groups");
    assert_eq!(preview_groups.len(), 2);
    assert!(
        preview_groups
            .iter()
            .all(|g| g["lastPushCommit"] == unknown && g["pullRequestUrl"] == unknown),
        "{preview}"
    );
    assert_eq!(fleet.github.violations(), Vec::<String>::new());

    // A refresh after the grouped up: every group's branch holds its bump, so the refreshed
    // inputs are the program's and Diff finds nothing to do.
    let (refreshed, changes) = refresh(&mut plugin, &urn, &id, &up_outputs, &checked).await;
    let plain = |v: &Value| imageautomation_tests::engine::without_secrets(v);
    assert_eq!(plain(&refreshed), plain(&checked));
    assert_eq!(changes, 1, "DIFF_NONE");
    // Someone reverts podinfo on its group's branch: the refresh sees the old tag there, and
    // Diff asks for the update that bumps it again.
    let branch = groups[0]["branch"].as_str().expect("branch").to_owned();
    let file = fleet.show(&branch, "apps/podinfo.yaml");
    seed_repo(
        &fleet.bare,
        &branch,
        &[(
            "apps/podinfo.yaml",
            file.replacen(&podinfo("5.0.3"), &podinfo("5.0.0"), 1)
                .as_str(),
        )],
        "revert podinfo",
    );
    let (refreshed, changes) = refresh(&mut plugin, &urn, &id, &up_outputs, &checked).await;
    assert_eq!(
        plain(&refreshed)["policies"][0]["latestRef"]["tag"],
        "5.0.0",
        "{refreshed}"
    );
    assert_eq!(changes, 2, "DIFF_SOME");

    // Cluster mode cannot express groups: Check says so on the property.
    let mut cluster = Plugin::start(&[]).await;
    cluster
        .configure(json!({"kubernetes": {"kubeconfig": "/nonexistent/kubeconfig"}}))
        .await
        .expect("configure");
    let failures = cluster
        .check(&urn, &json!({}), &news)
        .await
        .expect("Check answers")
        .expect_err("cluster mode");
    assert!(
        failures
            .iter()
            .any(|(p, r)| p == "pullRequest.groupBy" && r.contains("cluster mode cannot express")),
        "{failures:?}"
    );
    cluster.stop().await;
    plugin.stop().await;
}

/// A refresh (`Read`) of the automation, then `Diff` of the refreshed inputs against the
/// program's: the refreshed inputs and `DiffResponse.changes` (1: none, 2: some).
async fn refresh(
    plugin: &mut Plugin,
    urn: &Urn,
    id: &str,
    outputs: &Value,
    inputs: &Value,
) -> (Value, i32) {
    let (_, _, refreshed) = plugin
        .read(urn, id, Some(outputs), Some(inputs))
        .await
        .expect("refresh");
    let diff = plugin
        .diff(urn, id, outputs, &refreshed, inputs)
        .await
        .expect("diff");
    (refreshed, diff.changes)
}
