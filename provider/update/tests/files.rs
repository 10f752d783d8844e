//! Which files `apply_setters` reads and how it writes them: symbolic links, permissions,
//! atomic replacement, `update.path`, invalid policies.

mod support;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use imageautomation_update::{Error, LatestRef, Mode, Policies, apply_setters};
use support::read_tree;

const MARKED: &str = "image: app:1.0.0 # {\"$imagepolicy\": \"ns:app\"}\n";
const UPDATED: &str = "image: app:2.0.0 # {\"$imagepolicy\": \"ns:app\"}\n";

fn policies() -> Policies {
    let mut p = Policies::new();
    p.insert("ns:app".into(), "app:2.0.0".parse().expect("reference"));
    p
}

fn write(root: &Path, rel: &str, contents: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, contents).expect("write");
}

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).expect("read")
}

#[test]
fn file_names_that_are_considered() {
    let repo = tempfile::tempdir().expect("tempdir");
    for name in [
        "a.yaml",
        "b.yml",
        "Kustomization",
        "c.YAML",
        "kustomization",
        "d.json",
        "e.yaml.bak",
        ".hidden/f.yaml",
    ] {
        write(repo.path(), name, MARKED);
    }
    let r = apply_setters(repo.path(), ".", &policies(), Mode::Write).expect("run");
    let paths: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    // Dot-directories are not skipped (Flux filepath.Walk); extensions are case-sensitive.
    assert_eq!(
        paths,
        [".hidden/f.yaml", "Kustomization", "a.yaml", "b.yml"]
    );
    for unchanged in ["c.YAML", "kustomization", "d.json", "e.yaml.bak"] {
        assert_eq!(read(repo.path(), unchanged), MARKED, "{unchanged}");
    }
}

#[test]
fn symbolic_links() {
    let repo = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "real/deploy.yaml", MARKED);
    write(outside.path(), "secret.yaml", MARKED);
    write(outside.path(), "dir/deploy.yaml", MARKED);
    symlink(outside.path().join("dir"), repo.path().join("linked-dir")).expect("symlink");
    symlink(repo.path().join("real"), repo.path().join("alias")).expect("symlink");
    symlink(
        outside.path().join("secret.yaml"),
        repo.path().join("outside.yaml"),
    )
    .expect("symlink");
    symlink("missing.yaml", repo.path().join("dangling.yaml")).expect("symlink");
    write(repo.path(), "shared/target.yaml", MARKED);
    symlink("shared/target.yaml", repo.path().join("a-link.yaml")).expect("symlink");

    let r = apply_setters(repo.path(), ".", &policies(), Mode::Write).expect("run");
    let paths: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    // a-link.yaml comes first and updates shared/target.yaml through the link, once.
    assert_eq!(paths, ["a-link.yaml", "real/deploy.yaml"]);
    assert_eq!(r.skipped.len(), 1, "{:?}", r.skipped);
    assert_eq!(r.skipped[0].path, "outside.yaml");
    assert!(r.skipped[0].reason.contains("outside the repository root"));

    assert_eq!(read(repo.path(), "real/deploy.yaml"), UPDATED);
    assert_eq!(read(repo.path(), "shared/target.yaml"), UPDATED);
    assert!(
        fs::symlink_metadata(repo.path().join("a-link.yaml"))
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the link is kept"
    );
    assert_eq!(
        read(outside.path(), "secret.yaml"),
        MARKED,
        "never written outside the root"
    );
    assert_eq!(
        read(outside.path(), "dir/deploy.yaml"),
        MARKED,
        "symlinked dirs are not followed"
    );
}

#[test]
fn writes_keep_permissions_and_leave_no_temporary_files() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "deploy.yaml", MARKED);
    write(repo.path(), "run.yaml", MARKED);
    fs::set_permissions(
        repo.path().join("deploy.yaml"),
        fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    fs::set_permissions(
        repo.path().join("run.yaml"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    apply_setters(repo.path(), ".", &policies(), Mode::Write).expect("run");
    let mode = |n: &str| {
        fs::metadata(repo.path().join(n))
            .expect("stat")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("deploy.yaml"), 0o640);
    assert_eq!(mode("run.yaml"), 0o755);
    let names: Vec<String> = fs::read_dir(repo.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn update_path_scopes_the_walk_and_the_result_paths() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "clusters/prod/apps/deploy.yaml", MARKED);
    write(repo.path(), "clusters/staging/deploy.yaml", MARKED);
    let r = apply_setters(repo.path(), "./clusters/prod", &policies(), Mode::Write).expect("run");
    assert_eq!(r.files.len(), 1);
    assert_eq!(
        r.files[0].path, "apps/deploy.yaml",
        "relative to root/update.path, as Flux"
    );
    assert_eq!(read(repo.path(), "clusters/staging/deploy.yaml"), MARKED);

    for bad in ["../", "clusters/../../x", "/etc"] {
        let e = apply_setters(repo.path(), bad, &policies(), Mode::Write).expect_err(bad);
        assert!(matches!(e, Error::PathEscapesRoot { .. }), "{bad}: {e}");
        assert!(
            !e.is_transient(),
            "a bad update.path stalls until it changes"
        );
        assert!(e.to_string().contains("escapes the repository root"), "{e}");
    }
}

#[test]
fn an_invalid_latest_ref_fails_before_anything_is_written() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "deploy.yaml", MARKED);
    let mut p = policies();
    p.insert(
        "ns:bad".into(),
        LatestRef {
            name: "app".into(),
            tag: "1.0\n# injected".into(),
            digest: String::new(),
        },
    );
    let e = apply_setters(repo.path(), ".", &p, Mode::Write).expect_err("invalid latestRef");
    assert!(
        matches!(e, Error::InvalidLatestRef { ref policy, .. } if policy == "ns:bad"),
        "{e}"
    );
    assert_eq!(read(repo.path(), "deploy.yaml"), MARKED);
}

#[test]
fn dry_run_returns_diffs_and_writes_nothing() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(repo.path(), "deploy.yaml", MARKED);
    let before = read_tree(repo.path());
    let r = apply_setters(repo.path(), ".", &policies(), Mode::DryRun).expect("run");
    assert_eq!(read_tree(repo.path()), before);
    assert_eq!(
        r.files[0].diff.as_deref(),
        Some(
            "--- a/deploy.yaml\n+++ b/deploy.yaml\n@@ -1 +1 @@\n-image: app:1.0.0 # {\"$imagepolicy\": \"ns:app\"}\n+image: app:2.0.0 # {\"$imagepolicy\": \"ns:app\"}\n"
        )
    );
    let written = apply_setters(repo.path(), ".", &policies(), Mode::Write).expect("run");
    assert_eq!(written.files[0].diff, None);
}

#[test]
fn result_helpers_deduplicate_like_flux() {
    let repo = tempfile::tempdir().expect("tempdir");
    let doc = "kind: Deployment\nmetadata: {name: web}\nspec:\n  image: app:1.0.0 # {\"$imagepolicy\": \"ns:app\"}\n";
    write(repo.path(), "a.yaml", doc);
    write(repo.path(), "b.yaml", doc);
    let r = apply_setters(repo.path(), ".", &policies(), Mode::DryRun).expect("run");
    assert_eq!(r.files.len(), 2);
    assert_eq!(
        r.changes().len(),
        1,
        "the same change in two files counts once"
    );
    let objects = r.objects();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].0.name, "web");
    assert_eq!(
        objects[0].1.len(),
        2,
        "Objects() merges the object's changes across files"
    );
}

#[test]
fn many_files_are_all_written() {
    // More files than the sequential threshold: the writes run on several threads.
    let repo = tempfile::tempdir().expect("tempdir");
    for i in 0..37 {
        write(repo.path(), &format!("d{}/f{i:02}.yaml", i % 3), MARKED);
    }
    let r = apply_setters(repo.path(), ".", &policies(), Mode::Write).expect("run");
    assert_eq!(r.files.len(), 37);
    let mut paths: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    let sorted = {
        let mut s = paths.clone();
        s.sort_unstable();
        s
    };
    assert_eq!(paths, sorted, "files are sorted by path");
    paths.dedup();
    assert_eq!(paths.len(), 37);
    for (rel, contents) in read_tree(repo.path()) {
        assert_eq!(
            String::from_utf8(contents).expect("utf-8"),
            UPDATED,
            "{rel}"
        );
    }
}
