//! The disk fills, or the directory is read-only, while the setters write (issue #15 §2).
//! `imageautomation update` runs in its own mount namespace (`unshare --mount
//! --map-root-user`, so no root is needed) on a small tmpfs that is full or nearly full, or
//! on a read-only bind mount. Every file ends whole, old or new, never half written; no
//! temporary file is left; the error names the file and the reason.

use std::path::Path;
use std::process::Command;

const POLICY: &str = "flux-system:app=registry.example/app:2.0.0";
const OLD: &str = "image: registry.example/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}";
const NEW: &str = "image: registry.example/app:2.0.0 # {\"$imagepolicy\": \"flux-system:app\"}";

/// `apps/small.yaml` (one marked line) and `apps/big.yaml` (one marked line and 96 KiB of
/// comments).
fn manifests(dir: &Path) {
    let apps = dir.join("apps");
    std::fs::create_dir_all(&apps).expect("mkdir");
    std::fs::write(apps.join("small.yaml"), format!("{OLD}\n")).expect("write");
    let padding = "# padding padding padding padding padding padding padding padding pad\n"
        .repeat(96 * 1024 / 72);
    std::fs::write(apps.join("big.yaml"), format!("{OLD}\n{padding}")).expect("write");
}

/// Runs `setup` (shell, in the namespace, with `$DIR` the mounted directory), then
/// `imageautomation update --path $DIR/apps`, then copies `$DIR/apps` (with any temporary
/// files) to `out`. Returns the update's exit code and output.
fn update_in_namespace(setup: &str, out: &Path) -> (i32, String) {
    let stage = tempfile::tempdir().expect("stage");
    manifests(stage.path());
    let dir = tempfile::tempdir().expect("mount point");
    let script = format!(
        r#"set -e
DIR={dir}
{setup}
set +e
{bin} update --path "$DIR/apps" --policy {POLICY} >"{out}.log" 2>&1
echo $? >"{out}.code"
cp -a "$DIR/apps/." "{out}/"
"#,
        dir = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_imageautomation"),
        out = out.display(),
    )
    .replace("$STAGE", &stage.path().display().to_string());
    let status = Command::new("unshare")
        .args(["--mount", "--map-root-user", "sh", "-c", &script])
        .status()
        .expect("unshare (util-linux) runs");
    assert!(status.success(), "the namespace setup failed: {script}");
    let code = std::fs::read_to_string(out.with_extension("code")).expect("code");
    let log = std::fs::read_to_string(out.with_extension("log")).expect("log");
    (code.trim().parse().expect("an exit code"), log)
}

/// Each file is whole: the old or the new text, exactly; no temporary file is left.
fn assert_whole(out: &Path) -> (bool, bool) {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["big.yaml", "small.yaml"],
        "no temporary file is left"
    );
    let fresh = tempfile::tempdir().expect("fresh");
    manifests(fresh.path());
    let mut updated = Vec::new();
    for name in ["big.yaml", "small.yaml"] {
        let before = std::fs::read_to_string(fresh.path().join("apps").join(name)).expect("old");
        let after = std::fs::read_to_string(out.join(name)).expect("after");
        let new = before.replace(OLD, NEW);
        assert!(after == before || after == new, "{name} is half written");
        updated.push(after == new);
    }
    (updated[0], updated[1])
}

#[test]
fn a_full_disk_leaves_every_file_whole_and_names_the_one_not_written() {
    let out = tempfile::tempdir().expect("out");
    // A 1 MiB tmpfs holding the manifests, filled up but for 32 KiB: room for part of the
    // big file's update.
    let (code, log) = update_in_namespace(
        r#"mount -t tmpfs -o size=1m tmpfs "$DIR"
cp -a "$STAGE/." "$DIR/"
dd if=/dev/zero of="$DIR/room" bs=32k count=1 2>/dev/null
dd if=/dev/zero of="$DIR/filler" bs=4k 2>/dev/null || true
rm "$DIR/room""#,
        out.path(),
    );
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains("apps/big.yaml (it is left as it was): No space left on device"),
        "names the file: {log}"
    );
    assert!(
        !log.contains(".imageautomation-"),
        "names the file, not its temporary: {log}"
    );
    // The big file's temporary copy filled the 32 KiB and failed part-way; the file itself
    // is untouched. (The writes stop at the first error, so small.yaml, after it, is as it
    // was too; either way it is whole.)
    let (big, _small) = assert_whole(out.path());
    assert!(!big, "the big file did not fit");
}

#[test]
fn a_read_only_directory_leaves_the_files_as_they_were_and_names_one() {
    let out = tempfile::tempdir().expect("out");
    let (code, log) = update_in_namespace(
        r#"cp -a "$STAGE/." "$DIR/"
mount --bind "$DIR/apps" "$DIR/apps"
mount -o remount,bind,ro "$DIR/apps""#,
        out.path(),
    );
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains(".yaml (it is left as it was): Read-only file system"),
        "{log}"
    );
    assert_eq!(assert_whole(out.path()), (false, false));
}
