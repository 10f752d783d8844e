//! Helpers shared by the integration tests: copying trees (symlinks kept), reading trees,
//! comparing YAML as documents.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize as _;

/// Copies `from` into `to` recursively; symbolic links are recreated, not followed.
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.expect("walk the source tree");
        let rel = entry.path().strip_prefix(from).expect("under the source");
        let dest = to.join(rel);
        let ft = entry.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&dest).expect("create dir");
        } else if ft.is_symlink() {
            let target = fs::read_link(entry.path()).expect("read link");
            std::os::unix::fs::symlink(target, &dest).expect("symlink");
        } else {
            fs::copy(entry.path(), &dest).expect("copy file");
            let mut perms = fs::metadata(&dest).expect("metadata").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            fs::set_permissions(&dest, perms).expect("make writable");
        }
    }
}

/// Relative path -> contents of every regular file (symlinks: their target text, prefixed with
/// `-> `), dot-files and `*~` ignored as Flux's `ExpectMatchingDirectories` does.
pub fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.expect("walk");
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_dir() || name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let contents = if entry.file_type().is_symlink() {
            format!(
                "-> {}",
                fs::read_link(entry.path()).expect("link").display()
            )
            .into_bytes()
        } else {
            fs::read(entry.path()).expect("read")
        };
        out.insert(rel, contents);
    }
    out
}

/// The YAML documents of `text`, as values (empty documents dropped, as kyaml does).
pub fn yaml_documents(text: &str) -> Vec<serde_norway::Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| serde_norway::Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// Asserts that `ours` (the rewrite of `original`) equals `expected` as YAML documents, and that
/// only lines carrying a `"$imagepolicy"` marker differ from `original`, and exactly those lines
/// that differ between `original` and `expected`.
pub fn assert_rewrite_matches(name: &str, original: &str, ours: &str, expected: &str) {
    assert_eq!(
        yaml_documents(ours),
        yaml_documents(expected),
        "{name}: not the same YAML documents as Flux's expected file\n--- ours:\n{ours}"
    );
    let orig: Vec<&str> = original.split_inclusive('\n').collect();
    let new: Vec<&str> = ours.split_inclusive('\n').collect();
    assert_eq!(orig.len(), new.len(), "{name}: the number of lines changed");
    let exp: Vec<&str> = expected.split_inclusive('\n').collect();
    for (i, (o, n)) in orig.iter().zip(&new).enumerate() {
        if o != n {
            assert!(
                o.contains("\"$imagepolicy\"") && n.contains("\"$imagepolicy\""),
                "{name}: line {} changed but carries no marker:\n-{o}+{n}",
                i + 1
            );
            assert!(
                exp.len() != orig.len() || exp[i] != *o,
                "{name}: line {} changed although Flux leaves it unchanged",
                i + 1
            );
        }
    }
}

/// The crate's test data directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}
