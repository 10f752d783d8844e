//! Which files, and writing them back (Flux IAC `internal/update/filereader.go`,
//! `internal/policy/applier.go` for the path join).

use std::collections::HashSet;
use std::fs;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use walkdir::WalkDir;

use crate::result::{FileChanges, RefusedDowngrade, SkippedFile, UpdateResult};
use crate::scan::{self, SetterValues};
use crate::{Error, Mode, TOKEN};

/// `root` joined with `path`, refusing absolute paths and `..` that leave `root`, then checked
/// again after resolving symbolic links. Returns (canonical root, canonical scan root).
pub(crate) fn secure_join(root: &Path, path: &str) -> Result<(PathBuf, PathBuf), Error> {
    let escapes = || Error::PathEscapesRoot {
        path: path.to_owned(),
        root: root.to_path_buf(),
    };
    let mut rel = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::CurDir => {}
            Component::Normal(p) => rel.push(p),
            Component::ParentDir => {
                if !rel.pop() {
                    return Err(escapes());
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(escapes()),
        }
    }
    let canon_root = fs::canonicalize(root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotADirectory {
            path: root.to_path_buf(),
        },
        _ => Error::io("resolving", root, e),
    })?;
    if !canon_root.is_dir() {
        return Err(Error::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let joined = canon_root.join(&rel);
    let canon = fs::canonicalize(&joined).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotADirectory {
            path: joined.clone(),
        },
        _ => Error::io("resolving", &joined, e),
    })?;
    if !canon.starts_with(&canon_root) {
        return Err(escapes());
    }
    if !canon.is_dir() {
        return Err(Error::NotADirectory { path: joined });
    }
    Ok((canon_root, canon))
}

fn considered(name: &str) -> bool {
    name == "Kustomization" || name.ends_with(".yaml") || name.ends_with(".yml")
}

fn rel_string(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

struct Pending {
    target: PathBuf,
    new_text: String,
}

/// The `downgrade: Deny` policies of a run and the tags they selected.
pub(crate) struct Guards<'a> {
    pub policies: &'a crate::Policies,
    pub guards: &'a crate::DowngradeGuards,
}

impl Guards<'_> {
    /// The downgrades `found` would write in file `path`: one per guarded policy at most.
    fn refused(&self, path: &str, found: &scan::Scan) -> Vec<RefusedDowngrade> {
        let mut refused: Vec<RefusedDowngrade> = Vec::new();
        if self.guards.is_empty() {
            return refused;
        }
        for change in found.objects.iter().flat_map(|o| &o.changes) {
            let mut parts = change.setter.splitn(3, ':');
            let (Some(ns), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            let current = match parts.next() {
                None => change
                    .old_value
                    .parse::<crate::LatestRef>()
                    .ok()
                    .map(|r| r.tag),
                Some("tag") => Some(change.old_value.clone()),
                Some(_) => None,
            };
            let policy = format!("{ns}:{name}");
            let (Some(current), Some(selector), Some(latest)) = (
                current,
                self.guards.get(&policy),
                self.policies.get(&policy),
            ) else {
                continue;
            };
            let downgrade =
                selector.compare(&current, &latest.tag) == Some(std::cmp::Ordering::Greater);
            if downgrade && !refused.iter().any(|r| r.policy == policy) {
                refused.push(RefusedDowngrade {
                    path: path.to_owned(),
                    policy,
                    current_tag: current,
                    selected_tag: latest.tag.clone(),
                });
            }
        }
        refused.sort_by(|a, b| a.policy.cmp(&b.policy));
        refused
    }
}

pub(crate) fn run(
    root: &Path,
    path: &str,
    setters: &SetterValues,
    guards: &Guards<'_>,
    mode: Mode,
) -> Result<UpdateResult, Error> {
    let (canon_root, scan_root) = secure_join(root, path)?;
    let token = memchr::memmem::Finder::new(TOKEN.as_bytes());
    let mut result = UpdateResult::default();
    let mut pending = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();

    let walker = WalkDir::new(&scan_root)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        let entry = entry.map_err(|e| Error::Walk {
            path: e.path().unwrap_or(&scan_root).to_path_buf(),
            source: e,
        })?;
        let ft = entry.file_type();
        if ft.is_dir() || !entry.file_name().to_str().is_some_and(considered) {
            continue;
        }
        let p = entry.path();
        // Paths are built only for the few files that carry the token.
        let rel_of = |p: &Path| rel_string(p.strip_prefix(&scan_root).unwrap_or(p));
        let mut resolved = None;
        if ft.is_symlink() {
            // Dangling: skipped silently (Flux). To a directory: not followed.
            let Ok(md) = fs::metadata(p) else { continue };
            if !md.is_file() {
                continue;
            }
            match fs::canonicalize(p) {
                Ok(t) if t.starts_with(&canon_root) => resolved = Some(t),
                _ => {
                    result.skipped.push(SkippedFile {
                        path: rel_of(p),
                        reason: "symbolic link to a file outside the repository root: not followed"
                            .into(),
                    });
                    continue;
                }
            }
        } else if !ft.is_file() {
            continue;
        }
        let target = resolved.as_deref().unwrap_or(p);
        let bytes = fs::read(target).map_err(|e| Error::io("reading", target, e))?;
        if token.find(&bytes).is_none() {
            continue;
        }
        if !seen.insert(target.to_path_buf()) {
            continue; // already handled through another path (a symlink)
        }
        let rel = rel_of(p);
        let Ok(text) = String::from_utf8(bytes) else {
            result.skipped.push(SkippedFile {
                path: rel,
                reason: "not valid UTF-8: YAML files must be UTF-8 encoded".into(),
            });
            continue;
        };
        let mut found = match scan::scan(&text, setters) {
            Ok(f) => f,
            Err(reason) => {
                result.skipped.push(SkippedFile { path: rel, reason });
                continue;
            }
        };
        let refused = guards.refused(&rel, &found);
        let mut reduced = None;
        if !refused.is_empty() {
            // Scan again without the refused policies: their markers keep their values.
            let mut without = setters.clone();
            for r in &refused {
                for suffix in crate::SETTER_SUFFIXES {
                    without.remove(&format!("{}{suffix}", r.policy));
                }
            }
            found = match scan::scan(&text, &without) {
                Ok(f) => f,
                Err(reason) => {
                    result.skipped.push(SkippedFile { path: rel, reason });
                    continue;
                }
            };
            reduced = Some(without);
            result.refused.extend(refused);
        }
        let setters = reduced.as_ref().unwrap_or(setters);
        if found.edits.is_empty() {
            continue;
        }
        let new_text = found.apply(&text);
        // Re-read what we would write: every marker still in place, every value now right.
        let verified = scan::scan(&new_text, setters)
            .is_ok_and(|again| again.edits.is_empty() && again.marked == found.marked);
        if !verified {
            result.skipped.push(SkippedFile {
                path: rel,
                reason: "internal error: the rewritten file did not read back as expected, so it was left untouched; please report this file to the imageautomation maintainers".into(),
            });
            continue;
        }
        let diff = (mode == Mode::DryRun).then(|| {
            similar::TextDiff::from_lines(&text, &new_text)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{rel}"), &format!("b/{rel}"))
                .to_string()
        });
        result.files.push(FileChanges {
            path: rel,
            objects: found.objects,
            diff,
        });
        pending.push(Pending {
            target: target.to_path_buf(),
            new_text,
        });
    }

    if mode == Mode::Write {
        write_all(&pending)?;
    }
    result.files.sort_by(|a, b| a.path.cmp(&b.path));
    result.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    result
        .refused
        .sort_by(|a, b| (&a.path, &a.policy).cmp(&(&b.path, &b.policy)));
    Ok(result)
}

/// Writes the pending files, on a few threads: each atomic replacement mostly waits for the file
/// system (on ext4 a rename over an existing file flushes the new data), so overlapping them
/// shortens the run. The first error is returned; every other file is still written or left as
/// it was, never half-written.
fn write_all(pending: &[Pending]) -> Result<(), Error> {
    const WRITERS: usize = 4;
    if pending.len() < 2 * WRITERS {
        return pending
            .iter()
            .try_for_each(|p| write_atomically(&p.target, p.new_text.as_bytes()));
    }
    let chunk = pending.len().div_ceil(WRITERS);
    std::thread::scope(|s| {
        let handles: Vec<_> = pending
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .try_for_each(|p| write_atomically(&p.target, p.new_text.as_bytes()))
                })
            })
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if first.is_ok() {
                first = r;
            }
        }
        first
    })
}

/// Writes `contents` to a temporary file next to `path`, gives it `path`'s permissions and
/// renames it over `path`: readers see the old file or the new one, never a partial one.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let perms = fs::metadata(path)
        .map_err(|e| Error::io("reading metadata of", path, e))?
        .permissions();
    let failed = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    // Created with the original's permissions (subject to the umask, as any new file).
    let mut tmp = tempfile::Builder::new()
        .prefix(".imageautomation-")
        .permissions(perms.clone())
        .tempfile_in(dir)
        .map_err(failed)?;
    // Through the File: NamedTempFile's own errors add the temporary path, which means nothing
    // to the user.
    tmp.as_file_mut().write_all(contents).map_err(failed)?;
    // The umask may have removed bits: set them exactly, as the original had them.
    if fs::metadata(tmp.path()).map(|m| m.permissions()).ok() != Some(perms.clone()) {
        fs::set_permissions(tmp.path(), perms).map_err(failed)?;
    }
    // Dropping the temporary file on any error above removes it.
    tmp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        assert!(secure_join(dir.path(), "a/b").is_ok());
        assert!(secure_join(dir.path(), "./a/../a/b").is_ok());
        assert!(secure_join(dir.path(), "").is_ok());
        for bad in ["..", "a/../..", "/etc", "../x"] {
            assert!(
                matches!(
                    secure_join(dir.path(), bad),
                    Err(Error::PathEscapesRoot { .. })
                ),
                "{bad}"
            );
        }
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
            assert!(matches!(
                secure_join(dir.path(), "out"),
                Err(Error::PathEscapesRoot { .. })
            ));
        }
        assert!(matches!(
            secure_join(dir.path(), "missing"),
            Err(Error::NotADirectory { .. })
        ));
    }
}
