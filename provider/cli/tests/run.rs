//! `imageautomation run`, run as the built binary against the real
//! `docker-registry` (anonymous, loopback) and Git over smart HTTP with Basic
//! auth (lighttpd + `git http-backend`): a fleet repository laid out as in the
//! Flux image automation guide (ImageRepository podinfo, ImagePolicy semver
//! `5.0.x`, ImageUpdateAutomation, GitRepository, a marked Deployment).

mod common;

use common::{Fleet, TOKEN, deployment, run_in};
use imageautomation_tests::git_server::{git, seed_repo};

#[test]
fn dry_run_then_run_then_nothing_to_do() {
    let fleet = Fleet::start();
    let before = fleet.head();

    // --dry-run: the diff, nothing pushed; the output names where the token went.
    let (out, stdout, stderr) = run_in(&fleet.dir(), &["--dry-run"], Some(TOKEN), None);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("flux-system/flux-system: the Git token goes to 127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("1 ImageRepository, 1 ImagePolicy, 1 ImageUpdateAutomation, 1 GitRepository"),
        "{stdout}"
    );
    assert!(
        stdout.contains("secretRef flux-system is not read"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "flux-system/podinfo: scanned {}: 6 tags",
            fleet.image
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "flux-system/podinfo: selected {}:5.0.3",
            fleet.image
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "would change clusters/my-cluster/podinfo-deployment.yaml: {} 5.0.0 => 5.0.3",
            fleet.image
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("--- a/clusters/my-cluster/podinfo-deployment.yaml\n+++ b/clusters/my-cluster/podinfo-deployment.yaml\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "+          image: {}:5.0.3 # {{\"$imagepolicy\": \"flux-system:podinfo\"}}",
            fleet.image
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("pushed commit"), "{stdout}");
    assert_eq!(fleet.head(), before, "--dry-run pushed");
    assert!(fleet.deployment().contains(":5.0.0 #"));

    // run: one commit pushed to main, printed with its short SHA.
    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let after = fleet.head();
    assert_ne!(after, before);
    assert!(
        stdout.contains(&format!("pushed commit {} to branch main", &after[..7])),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "changed clusters/my-cluster/podinfo-deployment.yaml: {} 5.0.0 => 5.0.3",
            fleet.image
        )),
        "{stdout}"
    );
    assert_eq!(
        git(&fleet.bare, &["rev-parse", "main~1"]).trim(),
        before,
        "one commit"
    );
    assert!(
        fleet.deployment().contains(":5.0.3 #"),
        "{}",
        fleet.deployment()
    );
    let message = git(
        &fleet.bare,
        &["log", "-1", "--format=%an <%ae>%n%B", "main"],
    );
    assert_eq!(
        message.trim(),
        format!(
            "fluxcdbot <fluxcdbot@users.noreply.github.com>\n{0}:5.0.0 -> {0}:5.0.3",
            fleet.image
        )
    );

    // run again: nothing to do.
    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("no change: the markers are up to date"),
        "{stdout}"
    );
    assert!(!stdout.contains("pushed commit"), "{stdout}");
    assert_eq!(fleet.head(), after);
}

#[test]
fn a_failing_reconcile_exits_1_and_invalid_manifests_exit_2() {
    let fleet = Fleet::start();
    let before = fleet.head();

    // A repository whose scan fails: its policy fails too, the others still run and
    // the automation pushes the podinfo bump; exit 1 with both failures on stderr.
    let ghost = fleet.dir().join("ghost.yaml");
    std::fs::write(
        &ghost,
        format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: ghost, namespace: flux-system}}\nspec: {{image: {}/ghost, interval: 5m}}\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: ghost, namespace: flux-system}}\nspec:\n  imageRepositoryRef: {{name: ghost}}\n  policy: {{semver: {{range: 1.x}}}}\n",
            fleet.image.rsplit_once('/').map(|(host, _)| host).unwrap_or_default()
        ),
    )
    .expect("write");
    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("error: ImageRepository flux-system/ghost: scan of "),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: ImagePolicy flux-system/ghost:"),
        "{stderr}"
    );
    assert!(stderr.contains("2 reconcile(s) failed"), "{stderr}");
    assert!(
        stdout.contains("ImagePolicy flux-system/ghost has no latestRef"),
        "{stdout}"
    );
    let pushed = fleet.head();
    assert_ne!(pushed, before, "the podinfo bump was not pushed:\n{stdout}");
    assert!(
        stdout.contains(&format!("pushed commit {}", &pushed[..7])),
        "{stdout}"
    );
    std::fs::remove_file(&ghost).expect("rm");
    // Back to 5.0.0 so that the next runs have something to push.
    seed_repo(
        &fleet.bare,
        "main",
        &[(
            "clusters/my-cluster/podinfo-deployment.yaml",
            deployment(&fleet.image).as_str(),
        )],
        "Revert podinfo",
    );
    let before = fleet.head();

    // A wrong token: the scan and selection still run and print; the automation fails.
    let (out, stdout, stderr) = fleet.run(&[], Some("ghp_wrong"));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("selected"), "{stdout}");
    assert!(
        stderr.contains("error: ImageUpdateAutomation flux-system/flux-system:"),
        "{stderr}"
    );
    assert!(!stderr.contains("ghp_wrong"), "{stderr}");
    assert_eq!(fleet.head(), before);

    // Malformed YAML: exit 2, the file and line named, nothing run.
    let broken = fleet
        .checkout
        .path()
        .join("clusters/my-cluster/broken.yaml");
    std::fs::write(&broken, "apiVersion: v1\nkind: ConfigMap\ndata: [a\n").expect("write");
    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("broken.yaml: line "), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    std::fs::remove_file(&broken).expect("rm");

    // An invalid range: exit 2 naming the policy.
    let manifest = fleet
        .checkout
        .path()
        .join("clusters/my-cluster/podinfo-policy.yaml");
    let text = std::fs::read_to_string(&manifest).expect("read");
    std::fs::write(&manifest, text.replace("range: 5.0.x", "range: '>>5'")).expect("write");
    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr
            .contains("ImagePolicy flux-system/podinfo (podinfo-policy.yaml (document 1)): spec:"),
        "{stderr}"
    );
    assert_eq!(fleet.head(), before);
}

#[test]
fn a_directory_without_flux_objects_is_nothing_to_do_and_a_missing_one_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .expect("write");
    let (out, stdout, stderr) = run_in(dir.path(), &[], None, None);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Nothing to do: no ImageRepository"),
        "{stdout}"
    );

    let (out, stdout, stderr) = run_in(&dir.path().join("nope"), &[], None, None);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("nope: does not exist or is not a directory"),
        "{stderr}"
    );
}

/// GITHUB_TOKEN goes to github.com only: a Git server elsewhere (here on loopback) never sees
/// it, the output says so, and the clone fails for want of credentials.
#[test]
fn github_token_from_the_environment_goes_to_github_only() {
    let fleet = Fleet::start();
    let before = fleet.head();
    let (out, stdout, stderr) = run_in(&fleet.dir(), &["--dry-run"], None, Some(TOKEN));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("no Git credentials: the token from GITHUB_TOKEN or imageautomation:githubToken goes to github.com only, not to 127.0.0.1:"),
        "{stdout}"
    );
    assert!(stderr.contains("authentication"), "{stderr}");
    assert_eq!(fleet.head(), before);
}

/// `spec.git.commit.signingKey` (type `gpg`): the key comes from `--signing-key` and its
/// passphrase from `--signing-key-passphrase-file`; the pushed commit verifies with gpg. Without
/// the flag the run refuses the automation (exit 2) instead of pushing an unsigned commit, and
/// a wrong passphrase is refused before anything is cloned.
#[test]
fn signed_commits_take_the_key_from_a_file() {
    use imageautomation_tests::signing_keys::{PASSPHRASE, gpg_key, verify_commit};

    let fleet = Fleet::start();
    let before = fleet.head();
    let automation = fleet.dir().join("flux-system-automation.yaml");
    let text = std::fs::read_to_string(&automation).expect("automation");
    let signed = text.replace(
        "      messageTemplate:",
        "      signingKey:\n        secretRef:\n          name: commit-signing\n        type: gpg\n      messageTemplate:",
    );
    assert_ne!(signed, text);
    std::fs::write(&automation, signed).expect("write");
    let keys = tempfile::tempdir().expect("tempdir");
    let home = keys.path().join("gnupg");
    let armored = gpg_key(&home);
    let key_file = keys.path().join("git.asc");
    std::fs::write(&key_file, &armored).expect("key file");
    let right = keys.path().join("passphrase");
    std::fs::write(&right, format!("{PASSPHRASE}\n")).expect("passphrase");
    let wrong = keys.path().join("wrong");
    std::fs::write(&wrong, "nope\n").expect("passphrase");
    let key_arg = key_file.to_str().expect("utf-8");

    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("signingKey names Secret \"commit-signing\", which is not read: give its git.asc with --signing-key FILE"),
        "{stderr}"
    );
    let (out, stdout, stderr) = fleet.run(
        &[
            "--signing-key",
            key_arg,
            "--signing-key-passphrase-file",
            wrong.to_str().expect("utf-8"),
        ],
        Some(TOKEN),
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("--signing-key: invalid Git settings: git.commit.signingKey: the OpenPGP key cannot be unlocked: its passphrase is wrong"), "{stderr}");
    assert_eq!(fleet.head(), before, "nothing pushed");

    let (out, stdout, stderr) = fleet.run(
        &[
            "--signing-key",
            key_arg,
            "--signing-key-passphrase-file",
            right.to_str().expect("utf-8"),
        ],
        Some(TOKEN),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_ne!(fleet.head(), before);
    let verdict = verify_commit(&fleet.bare, "main", &[("GNUPGHOME", &home)], &[]);
    assert!(verdict.contains("GOODSIG"), "{verdict}");
    let body = armored.lines().nth(3).expect("key body");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(body) && !text.contains(PASSPHRASE), "{text}");
    }
}

/// `spec.proxySecretRef` on the ImageRepository: without `--proxy` the run says the Secret is
/// not read and scans directly; with `--proxy URL --proxy-username USER --proxy-password-file
/// FILE` the scan goes through a real proxy (tinyproxy with Basic authentication, its log
/// checked), and the password is in no output.
#[test]
fn a_proxy_secret_ref_takes_the_proxy_from_the_command_line() {
    use imageautomation_tests::tinyproxy::TinyProxy;

    let fleet = Fleet::start();
    let registry = fleet.dir().join("podinfo-registry.yaml");
    let text = std::fs::read_to_string(&registry).expect("registry manifest");
    std::fs::write(
        &registry,
        format!("{text}  proxySecretRef:\n    name: corporate-proxy\n"),
    )
    .expect("write");
    let proxy = TinyProxy::start(Some(("fleet", "proxy-s3cret")));
    let keys = tempfile::tempdir().expect("tempdir");
    let password = keys.path().join("proxy-password");
    std::fs::write(&password, "proxy-s3cret\n").expect("password file");

    let (out, stdout, stderr) = fleet.run(&["--dry-run"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("proxySecretRef corporate-proxy is not read (Kubernetes Secrets are not read); give its address with --proxy URL"),
        "{stdout}"
    );
    assert!(proxy.requests().is_empty());

    let (out, stdout, stderr) = fleet.run(
        &[
            "--dry-run",
            "--proxy",
            &proxy.url(),
            "--proxy-username",
            "fleet",
            "--proxy-password-file",
            password.to_str().expect("utf-8"),
        ],
        Some(TOKEN),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("scanned"), "{stdout}");
    let requests = proxy.requests().join("\n");
    assert!(
        requests.contains("/v2/stefanprodan/podinfo/tags/list"),
        "{requests}"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains("proxy-s3cret"), "{text}");
    }

    let (out, _, stderr) = fleet.run(&["--proxy", "socks5://127.0.0.1:1"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--proxy: address has scheme \"socks5\""),
        "{stderr}"
    );
}
