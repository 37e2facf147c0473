//! Examining the store beyond its refs: what killed writers left behind, and (read-only) what
//! refs a remote has. `sweep` and `doctor` use the first, `doctor` the second.
//!
//! A ref transaction holds `<ref>.lock` files for milliseconds; an object or cache writer holds
//! a temporary file (named `.tmp` and a few random letters, by the `tempfile` crate that both
//! gix and git-loom's writers use) for as long. A process killed in that moment leaves the file
//! for good: git does not clean up after gix, and a lock on a ref nobody writes again (the
//! claim ref of a finished task) is never met by a writer that would remove it.
//!
//! Guarantees: only files of those shapes in the places git-loom writes are considered (git's
//! own `tmp_obj_*`, `tmp_pack_*` and locks outside `refs/loom/` are left to git); a lock counts
//! as litter only at the age at which every writer already treats it as stale, a temporary
//! file only after [`TEMP_FILE_STALE_AFTER`]; and a file's age is checked again right before
//! it is removed, so one re-created meanwhile by a live writer is kept. A remote's refs are
//! asked through the user's `git` (`git ls-remote`, so its transports, credentials and
//! configuration apply), without fetching anything or touching a ref.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::{Error, ObjectId, RefTip, Result, Store};

/// How old a temporary file must be before it is taken to be left by a dead process: writers
/// hold theirs for milliseconds, so an hour leaves no doubt.
pub const TEMP_FILE_STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// What a leftover file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LitterKind {
    /// A ref lock file (`<ref>.lock`, or `packed-refs.lock`).
    Lock,
    /// A temporary object or cache file.
    TempFile,
}

/// A file a dead writer left behind, and how long ago it was last written.
#[derive(Debug, Clone)]
pub struct Litter {
    pub kind: LitterKind,
    pub path: PathBuf,
    pub age: Duration,
}

impl Store {
    /// How old a lock file must be before a writer that finds it removes it.
    pub fn stale_lock_after(&self) -> Duration {
        self.stale_lock_after
    }

    /// How long ago the lock file of `ref_name` was written, if there is one.
    pub fn lock_age(&self, ref_name: &str) -> Option<Duration> {
        age_of(
            &self.gix().common_dir().join(format!("{ref_name}.lock")),
            SystemTime::now(),
        )
    }

    /// Every file a dead writer left: lock files under `refs/loom/` (and `packed-refs.lock`) at
    /// least as old as the stale-lock age, and temporary files in the objects directory and in
    /// git-loom's local directory older than [`TEMP_FILE_STALE_AFTER`].
    pub fn find_litter(&self) -> Vec<Litter> {
        let now = SystemTime::now();
        let common = self.gix().common_dir();
        let mut found = Vec::new();
        let lock_age = self.stale_lock_after;
        let mut locks = Vec::new();
        collect_locks(&common.join("refs/loom"), &mut locks);
        locks.push(common.join("packed-refs.lock"));
        for path in locks {
            if let Some(age) = age_of(&path, now).filter(|age| *age >= lock_age) {
                found.push(Litter {
                    kind: LitterKind::Lock,
                    path,
                    age,
                });
            }
        }
        for dir in [common.join("objects"), self.local_dir()] {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let is_temp = entry.file_name().to_str().is_some_and(is_temp_name);
                if !is_temp || !entry.file_type().is_ok_and(|kind| kind.is_file()) {
                    continue;
                }
                if let Some(age) = age_of(&path, now).filter(|age| *age >= TEMP_FILE_STALE_AFTER) {
                    found.push(Litter {
                        kind: LitterKind::TempFile,
                        path,
                        age,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found
    }

    /// Remove what [`Store::find_litter`] found, each only if it is still old enough; returns
    /// the files removed. A file that vanished or could not be removed is skipped: removing
    /// litter is housekeeping, and the next run tries again.
    pub fn remove_litter(&self, litter: &[Litter]) -> Vec<Litter> {
        let now = SystemTime::now();
        litter
            .iter()
            .filter(|item| {
                let threshold = match item.kind {
                    LitterKind::Lock => self.stale_lock_after,
                    LitterKind::TempFile => TEMP_FILE_STALE_AFTER,
                };
                age_of(&item.path, now).is_some_and(|age| age >= threshold) && std::fs::remove_file(&item.path).is_ok()
            })
            .cloned()
            .collect()
    }
}

/// Whether `name` is a temporary file name of the `tempfile` crate: `.tmp` and random letters.
fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(".tmp")
        .is_some_and(|rest| (6..=16).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Every `*.lock` file under `dir`, recursively.
fn collect_locks(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            collect_locks(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "lock") {
            found.push(path);
        }
    }
}

/// How long ago the file at `path` was last modified; `None` when it does not exist. A time in
/// the future counts as no age at all.
fn age_of(path: &Path, now: SystemTime) -> Option<Duration> {
    let modified = std::fs::metadata(path).and_then(|meta| meta.modified()).ok()?;
    Some(now.duration_since(modified).unwrap_or_default())
}

impl Store {
    /// Every ref under `refs/loom/` on `remote` with its tip, in name order (`git ls-remote`).
    pub fn remote_loom_refs(&self, remote: &str) -> Result<Vec<RefTip>> {
        let remote_error = |message: String| Error::Remote {
            remote: remote.to_owned(),
            message,
        };
        if !super::is_valid_remote_name(remote) {
            return Err(remote_error("not a valid remote name".into()));
        }
        let mut command = Command::new("git");
        command
            .arg("--git-dir")
            .arg(self.gix().git_dir())
            .args(["-c", "protocol.version=2", "ls-remote", "--refs"])
            .arg(remote)
            .arg("refs/loom/*");
        let output = super::transport::run_against(&mut command, remote)?;
        if !output.status.success() {
            return Err(super::transport::process_error(&command, remote, &output));
        }
        let mut refs = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Some((hex, name)) = line.split_once('\t') else {
                return Err(remote_error(format!("unexpected ls-remote line {line:?}")));
            };
            let tip = ObjectId::from_hex(hex.as_bytes())
                .map_err(|_| remote_error(format!("unexpected ls-remote line {line:?}")))?;
            if name.starts_with("refs/loom/") {
                refs.push(RefTip {
                    name: name.to_owned(),
                    tip,
                });
            }
        }
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::is_temp_name;

    #[test]
    fn only_tempfile_names_count_as_temporary() {
        assert!(is_temp_name(".tmpAbC123"));
        assert!(is_temp_name(".tmpz9Y8x7"));
        assert!(!is_temp_name("tmp_obj_AbC123"));
        assert!(!is_temp_name(".tmp-1234-pack"));
        assert!(!is_temp_name(".tmp"));
        assert!(!is_temp_name("tasks.cache"));
    }
}
