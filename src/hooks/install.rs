//! Installing and removing git-loom's hook scripts in a hooks directory, beside whatever the
//! user has there.
//!
//! Guarantees: a hook the user wrote is never overwritten or deleted. Installing moves it to
//! `<name>.pre-loom` (a rename, so its bytes and mode stay as they were) and the script chains
//! to it; uninstalling deletes only files that carry git-loom's marker line and renames the
//! user's hook back. Installing twice changes nothing; uninstalling what is not there changes
//! nothing.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Error, Result};

/// The line every script git-loom installs starts its second line with: how a script is
/// recognised as git-loom's (and so safe to replace or delete).
const MARKER: &str = "# installed by git-loom";

/// The suffix a user's hook is moved aside to while git-loom's script chains to it.
const ASIDE_SUFFIX: &str = ".pre-loom";

/// The hooks git-loom installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookName {
    CommitMsg,
    PostCommit,
    PrePush,
}

impl HookName {
    pub const ALL: [HookName; 3] = [HookName::CommitMsg, HookName::PostCommit, HookName::PrePush];

    /// The file name git runs.
    pub fn as_str(self) -> &'static str {
        match self {
            HookName::CommitMsg => "commit-msg",
            HookName::PostCommit => "post-commit",
            HookName::PrePush => "pre-push",
        }
    }
}

impl std::fmt::Display for HookName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The script git-loom installs for `hook`: the same text as the project's `hooks/` directory.
pub fn script(hook: HookName) -> &'static str {
    match hook {
        HookName::CommitMsg => include_str!("../../hooks/commit-msg"),
        HookName::PostCommit => include_str!("../../hooks/post-commit"),
        HookName::PrePush => include_str!("../../hooks/pre-push"),
    }
}

/// What is in place of one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookState {
    /// No hook file.
    Absent,
    /// git-loom's script, alone.
    Installed,
    /// git-loom's script, chaining to the user's hook moved aside.
    Chained,
    /// A hook that is not git-loom's: `install` would chain to it.
    Foreign,
}

impl HookState {
    pub fn as_str(self) -> &'static str {
        match self {
            HookState::Absent => "absent",
            HookState::Installed => "installed",
            HookState::Chained => "chained",
            HookState::Foreign => "foreign",
        }
    }
}

/// One hook's state, and whether git-loom's script there is the one this build installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookStatus {
    pub hook: HookName,
    pub path: PathBuf,
    pub state: HookState,
    /// For git-loom's script: whether its text is this build's (false: `install` updates it).
    pub current: bool,
}

/// What `install` or `uninstall` did to one hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookChange {
    /// Wrote git-loom's script where there was none.
    Installed { hook: HookName, path: PathBuf },
    /// Moved the user's hook aside to `aside` and wrote git-loom's script chaining to it.
    Chained {
        hook: HookName,
        path: PathBuf,
        aside: PathBuf,
    },
    /// Rewrote an older git-loom script with this build's.
    Updated { hook: HookName, path: PathBuf },
    /// Removed git-loom's script; `restored` when the user's hook was put back.
    Removed {
        hook: HookName,
        path: PathBuf,
        restored: bool,
    },
    /// Nothing to do.
    Unchanged {
        hook: HookName,
        path: PathBuf,
        state: HookState,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { what, path, source }
}

/// Whether the file at `path` is a script git-loom installed; `None` when there is no file.
fn is_ours(path: &Path) -> Result<Option<bool>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(
            String::from_utf8_lossy(&bytes)
                .lines()
                .take(3)
                .any(|line| line.starts_with(MARKER)),
        )),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // A directory or a dangling symlink named like a hook is the user's, not ours.
        Err(_) if path.symlink_metadata().is_ok() => Ok(Some(false)),
        Err(err) => Err(io("read", path)(err)),
    }
}

fn aside_path(dir: &Path, hook: HookName) -> PathBuf {
    dir.join(format!("{}{ASIDE_SUFFIX}", hook.as_str()))
}

/// The state of each of git-loom's hooks in `dir`.
pub fn status(dir: &Path) -> Result<Vec<HookStatus>> {
    HookName::ALL
        .iter()
        .map(|&hook| {
            let path = dir.join(hook.as_str());
            let aside = aside_path(dir, hook);
            let (state, current) = match is_ours(&path)? {
                None => (HookState::Absent, false),
                Some(false) => (HookState::Foreign, false),
                Some(true) => {
                    let current = fs::read(&path).map_err(io("read", &path))? == script(hook).as_bytes();
                    let state = match aside.symlink_metadata().is_ok() {
                        true => HookState::Chained,
                        false => HookState::Installed,
                    };
                    (state, current)
                }
            };
            Ok(HookStatus {
                hook,
                path,
                state,
                current,
            })
        })
        .collect()
}

/// Write `hook`'s script at `path`, executable, replacing what is there in one rename so that
/// git never runs half a script.
fn write_script(dir: &Path, path: &Path, hook: HookName) -> Result<()> {
    let temporary = dir.join(format!(".{}.loom-tmp", hook.as_str()));
    fs::write(&temporary, script(hook)).map_err(io("write", &temporary))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&temporary, fs::Permissions::from_mode(0o755))
            .map_err(io("make executable", &temporary))?;
    }
    fs::rename(&temporary, path).map_err(io("write", path))
}

/// Install git-loom's hooks in `dir` (created if missing), chaining to any hook already there.
/// Checks every hook before changing any, so a hook in the way leaves everything as it was.
pub fn install(dir: &Path) -> Result<Vec<HookChange>> {
    let current = status(dir)?;
    for hook in &current {
        let aside = aside_path(dir, hook.hook);
        if hook.state == HookState::Foreign && aside.symlink_metadata().is_ok() {
            return Err(Error::Occupied {
                hook: hook.path.clone(),
                aside,
            });
        }
    }
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    let mut changes = Vec::new();
    for HookStatus {
        hook,
        path,
        state,
        current,
    } in current
    {
        let change = match state {
            HookState::Absent => {
                write_script(dir, &path, hook)?;
                HookChange::Installed { hook, path }
            }
            HookState::Foreign => {
                let aside = aside_path(dir, hook);
                fs::rename(&path, &aside).map_err(io("move aside", &path))?;
                write_script(dir, &path, hook)?;
                HookChange::Chained { hook, path, aside }
            }
            HookState::Installed | HookState::Chained if !current => {
                write_script(dir, &path, hook)?;
                HookChange::Updated { hook, path }
            }
            HookState::Installed | HookState::Chained => HookChange::Unchanged { hook, path, state },
        };
        changes.push(change);
    }
    Ok(changes)
}

/// Remove git-loom's hooks from `dir`, putting back the user's hooks they chained to. A hook
/// that is not git-loom's is left alone, and so is the file moved aside beside it.
pub fn uninstall(dir: &Path) -> Result<Vec<HookChange>> {
    let mut changes = Vec::new();
    for HookStatus { hook, path, state, .. } in status(dir)? {
        let change = match state {
            HookState::Installed | HookState::Chained => {
                let aside = aside_path(dir, hook);
                let restored = state == HookState::Chained;
                match restored {
                    // One rename over our script: there is never a moment without a hook.
                    true => fs::rename(&aside, &path).map_err(io("put back", &aside))?,
                    false => fs::remove_file(&path).map_err(io("remove", &path))?,
                }
                HookChange::Removed { hook, path, restored }
            }
            HookState::Absent | HookState::Foreign => HookChange::Unchanged { hook, path, state },
        };
        changes.push(change);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary directory")
    }

    #[test]
    fn every_script_carries_the_marker_and_calls_its_hook() {
        for hook in HookName::ALL {
            let text = script(hook);
            assert!(text.starts_with("#!/bin/sh\n"), "{hook}");
            assert!(
                text.lines().nth(1).is_some_and(|line| line.starts_with(MARKER)),
                "{hook}"
            );
            assert!(text.contains(&format!("git loom hook {hook} \"$@\"")), "{hook}");
            assert!(text.contains(&format!("{hook}{ASIDE_SUFFIX}")), "{hook}");
        }
    }

    // Guards: a second install moving git-loom's own script aside as if it were the user's.
    #[test]
    fn install_twice_changes_nothing_the_second_time() {
        let dir = hooks_dir();
        let first = install(dir.path()).unwrap();
        assert!(
            first.iter().all(|c| matches!(c, HookChange::Installed { .. })),
            "{first:?}"
        );
        let second = install(dir.path()).unwrap();
        assert!(
            second.iter().all(|c| matches!(c, HookChange::Unchanged { .. })),
            "{second:?}"
        );
        for hook in HookName::ALL {
            assert!(!aside_path(dir.path(), hook).exists());
        }
    }

    // Guards: uninstall deleting a hook git-loom did not write.
    #[test]
    fn uninstall_leaves_foreign_hooks_alone() {
        let dir = hooks_dir();
        fs::write(dir.path().join("pre-push"), "#!/bin/sh\nexit 0\n").unwrap();
        let changes = uninstall(dir.path()).unwrap();
        assert!(
            changes.iter().all(|c| matches!(c, HookChange::Unchanged { .. })),
            "{changes:?}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("pre-push")).unwrap(),
            "#!/bin/sh\nexit 0\n"
        );
    }

    // Guards: install overwriting a `.pre-loom` file that holds an earlier user hook.
    #[test]
    fn a_file_in_the_way_stops_install_before_anything_changes() {
        let dir = hooks_dir();
        fs::write(dir.path().join("commit-msg"), "mine\n").unwrap();
        fs::write(dir.path().join("commit-msg.pre-loom"), "older\n").unwrap();
        let err = install(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Occupied { .. }), "{err}");
        assert!(!dir.path().join("pre-push").exists(), "no hook was installed");
        assert_eq!(fs::read_to_string(dir.path().join("commit-msg")).unwrap(), "mine\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("commit-msg.pre-loom")).unwrap(),
            "older\n"
        );
    }

    // Guards: an old script staying in place after an upgrade of git-loom.
    #[test]
    fn an_older_script_is_updated_and_status_says_so_before() {
        let dir = hooks_dir();
        install(dir.path()).unwrap();
        let path = dir.path().join("post-commit");
        fs::write(&path, format!("#!/bin/sh\n{MARKER} long ago\n")).unwrap();
        let before = status(dir.path()).unwrap();
        assert!(before.iter().any(|s| s.hook == HookName::PostCommit && !s.current));
        let changes = install(dir.path()).unwrap();
        assert!(changes.contains(&HookChange::Updated {
            hook: HookName::PostCommit,
            path: path.clone()
        }));
        assert_eq!(fs::read_to_string(&path).unwrap(), script(HookName::PostCommit));
    }
}
