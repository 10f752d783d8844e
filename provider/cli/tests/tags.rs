//! `imageautomation tags` as a user runs it: the built binary against the real Debian
//! `docker-registry` (fixtures from the `imageautomation-tests` crate), every flag of the
//! contract, the exit codes, and no secret in any output.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use imageautomation_tests::registry::{
    Auth, PASSWORD, Registry, RegistryOptions, USER, certs, sha256_digest,
};
use serde_json::Value;

/// Runs the binary with an empty `$HOME`/`$DOCKER_CONFIG` unless `env` says otherwise.
fn tags(args: &[&str], stdin: &str, env: &[(&str, &Path)]) -> Output {
    let home = tempfile::tempdir().expect("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imageautomation"));
    cmd.arg("tags")
        .args(args)
        .env("HOME", home.path())
        .env_remove("DOCKER_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary starts");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("the binary finishes")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8")
}

fn assert_clean_failure(out: &Output, code: i32, contains: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(contains), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD) && !text(&out.stdout).contains(PASSWORD));
}

#[test]
fn lists_tags_in_flux_order_and_as_json() {
    let registry = Registry::anonymous();
    registry.storage().seed_tags(
        "team/app",
        &["1.0.0", "2.0.0", "1.10.0", "2.0.0.sig", "latest"],
    );
    let image = registry.image("team/app");

    let out = tags(&[&image], "", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "latest\n2.0.0\n1.10.0\n1.0.0\n");

    let out = tags(&[&image, "--output", "json"], "", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["canonicalImageName"], image.as_str());
    assert_eq!(
        v["tags"],
        serde_json::json!(["latest", "2.0.0", "1.10.0", "1.0.0"])
    );
    assert_eq!(v["lastScanResult"]["tagCount"], 4);
    assert_eq!(v["lastScanResult"]["latestTags"], v["tags"]);
    assert!(
        v["lastScanResult"]["revision"]
            .as_str()
            .expect("revision")
            .parse::<u32>()
            .is_ok()
    );
    assert!(
        v["lastScanResult"]["scanTime"]
            .as_str()
            .expect("time")
            .ends_with('Z')
    );
    assert_eq!(
        v["observedExclusionList"],
        serde_json::json!(["^.*\\.sig$"])
    );

    // --exclude replaces the default list.
    let out = tags(
        &[&image, "--exclude", "^1\\.", "--exclude", "latest"],
        "",
        &[],
    );
    assert_eq!(text(&out.stdout), "2.0.0.sig\n2.0.0\n");
}

#[test]
fn digest_of_a_tag() {
    let registry = Registry::anonymous();
    let (index, _) = registry.storage().seed_index("team/multi", "v1");
    let image = registry.image("team/multi");
    let out = tags(&[&image, "--digest", "v1"], "", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{index}\n"));
    let out = tags(&[&image, "--digest", "v1", "--output", "json"], "", &[]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["digest"], index.as_str());
    assert_eq!(v["tag"], "v1");
    let out = tags(&[&image, "--digest", "v9"], "", &[]);
    assert_clean_failure(&out, 1, "tag \"v9\" not found");
}

#[test]
fn credentials_from_stdin_docker_config_and_the_default_config() {
    let registry = Registry::start(RegistryOptions {
        auth: Auth::Basic,
        ..RegistryOptions::default()
    });
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let image = registry.image("team/app");

    let out = tags(
        &[&image, "--username", USER, "--password-stdin"],
        &format!("{PASSWORD}\n"),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1.0.0\n");

    let out = tags(&[&image], "", &[]);
    assert_clean_failure(&out, 1, "authentication required");
    assert!(text(&out.stderr).contains(&registry.host()));

    let out = tags(
        &[&image, "--username", USER, "--password-stdin"],
        "nope\n",
        &[],
    );
    assert_clean_failure(&out, 1, "refused the credentials");

    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths": {{"{}": {{"username": "{USER}", "password": "{PASSWORD}"}}}}}}"#,
            registry.host()
        ),
    )
    .expect("write");
    let out = tags(
        &[&image, "--docker-config", config.to_str().expect("utf8")],
        "",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Without flags: $DOCKER_CONFIG/config.json ...
    let out = tags(&[&image], "", &[("DOCKER_CONFIG", dir.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // ... or ~/.docker/config.json.
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir(home.path().join(".docker")).expect("mkdir");
    std::fs::copy(&config, home.path().join(".docker/config.json")).expect("copy");
    let out = tags(&[&image], "", &[("HOME", home.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1.0.0\n");
}

#[test]
fn tls_flags() {
    let registry = Registry::start(RegistryOptions {
        client_certs: true,
        ..RegistryOptions::default()
    });
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let image = registry.image("team/app");
    let c = certs();
    let s = |p: &Path| p.to_str().expect("utf8").to_string();
    let out = tags(
        &[
            &image,
            "--ca-file",
            &s(&c.ca),
            "--cert-file",
            &s(&c.client_cert),
            "--key-file",
            &s(&c.client_key),
        ],
        "",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1.0.0\n");

    let plain_tls = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    });
    plain_tls.storage().seed_tags("team/app", &["1.0.0"]);
    let out = tags(&[&plain_tls.image("team/app")], "", &[]);
    assert_clean_failure(&out, 1, "--ca-file");
}

#[test]
fn invalid_input_and_unreachable_registries() {
    let out = tags(&["127.0.0.1:5999/team/app:v1"], "", &[]);
    assert_clean_failure(&out, 2, "should not include a tag");
    let out = tags(&["https://ghcr.io/org/app"], "", &[]);
    assert_clean_failure(&out, 2, "should not include URL scheme");
    let out = tags(&["127.0.0.1:5999/team/app", "--exclude", "("], "", &[]);
    assert_clean_failure(&out, 2, "failed to compile regex");
    let out = tags(
        &[
            "127.0.0.1:5999/team/app",
            "--ca-file",
            "/nonexistent/ca.pem",
        ],
        "",
        &[],
    );
    assert_clean_failure(&out, 2, "--ca-file: cannot read /nonexistent/ca.pem");
    // clap refuses --username without --password-stdin.
    let out = tags(&["127.0.0.1:5999/team/app", "--username", "bob"], "", &[]);
    assert_eq!(out.status.code(), Some(2));

    let port = imageautomation_tests::free_port();
    let out = tags(&[&format!("127.0.0.1:{port}/team/app")], "", &[]);
    assert_clean_failure(&out, 1, "unreachable");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn digest_matches_the_manifest_bytes() {
    // The digest printed is the sha256 of the manifest the registry serves.
    let registry = Registry::anonymous();
    let (bytes, digest) = registry.storage().image("team/one", "amd64", Some("x"));
    registry.storage().tag("team/one", "x", &digest);
    assert_eq!(sha256_digest(&bytes), digest);
    let out = tags(&[&registry.image("team/one"), "--digest", "x"], "", &[]);
    assert_eq!(text(&out.stdout).trim(), digest);
}
