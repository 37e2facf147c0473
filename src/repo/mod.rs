//! The user's repository, as opposed to git-loom's own database under `refs/loom/` (that is
//! [`crate::store`]): its working trees, branches, commits and git config.
//!
//! Reads of paths and config go through gix in-process. Everything else runs the user's `git`,
//! through one helper (`Repo::git`): worktree management, diffs and config writes are git's
//! own business, and this way every hook, config and format rule the user has applies.
//!
//! Guarantees: nothing here moves a branch other than creating a task's own branch (and deleting
//! one when asked) and [`Repo::move_branch`], a compare-and-swap on the tip a merge candidate was
//! built from; nothing touches the main working tree or its index except
//! [`Repo::update_checkout`], which only ever brings a clean checkout of a branch that just moved
//! along with it. Merge candidates ([`Repo::stack_candidate`]) are written to the object
//! database only. A `git` that fails is an
//! [`Error::Process`] carrying the command, its exit status and what it said on stderr; a `git`
//! that cannot be started, or a file that cannot be written, is an [`Error::Io`]. Commit ids
//! are [`ObjectId`]s.

mod branches;
mod checkout;
mod exact_checkout;
mod hooks;
mod merge;
mod remote;
#[cfg(test)]
mod testing;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

pub use branches::{BranchWork, Worktree};
pub use checkout::{CheckoutUpdate, MoveOutcome};
pub use gix::ObjectId;
pub use merge::{CandidateSignature, Pick, PickOutcome, Stack, TreeMerge};
pub use remote::BranchPush;

/// Errors from running git on the user's repository.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `git` ran and failed.
    #[error("cannot {what}: {stderr}")]
    Process {
        /// What it was run for, as in "cannot <what>".
        what: String,
        /// The command line, for a caller that shows more than the message.
        command: String,
        status: ExitStatus,
        /// What git said, trimmed.
        stderr: String,
    },
    /// `git` could not be started, or a file could not be read or written.
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// `git` printed something other than the commit id asked for.
    #[error("cannot {what}: git printed {output:?} where a commit id was expected")]
    UnexpectedOutput { what: String, output: String },
    /// gix failed reading or writing the repository's objects or refs.
    #[error("cannot {what}: {source}")]
    Git {
        what: String,
        #[source]
        source: gix::Error,
    },
    /// A branch name git refuses, or a branch that is not a plain pointer to a commit.
    #[error("branch {branch:?}: {problem}")]
    BadBranchName { branch: String, problem: String },
    /// A branch that must exist does not.
    #[error("branch {branch:?} does not exist")]
    NoSuchBranch { branch: String },
    /// Another writer holds the branch's lock: whether it moved is not known yet.
    #[error("branch {branch:?} is locked by another writer")]
    BranchLocked { branch: String },
}

impl Error {
    /// Wrap a gix error as [`Error::Git`]; `what` completes "cannot …".
    fn gix(what: impl Into<String>) -> impl FnOnce(gix::Error) -> Error {
        let what = what.into();
        move |source| Error::Git { what, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a `git` command runs.
#[derive(Debug, Clone, Copy)]
enum At<'a> {
    /// The main working tree, or the git dir of a bare repository.
    Main,
    /// A checkout (any worktree) at this path.
    Checkout(&'a Path),
    /// The git dir git-loom runs in (for a linked worktree: its private one).
    GitDir,
}

/// A handle on the user's repository, borrowing the repository the store has open: making one
/// costs nothing, so every command may ask for it.
pub struct Repo<'r> {
    repo: &'r gix::Repository,
}

impl<'r> Repo<'r> {
    /// The repository `repo` has open (see `Store::repo`).
    pub fn new(repo: &'r gix::Repository) -> Repo<'r> {
        Repo { repo }
    }

    /// The directory of the working tree git-loom runs in (a linked worktree's own), if the
    /// repository has one.
    pub fn work_dir(&self) -> Option<&'r Path> {
        self.repo.workdir()
    }

    /// The main working tree (not a linked worktree git-loom may be running in), if the
    /// repository has one: task worktrees and the target branch are relative to it.
    pub fn main_work_dir(&self) -> Option<PathBuf> {
        self.repo.workdir()?;
        let common = self.repo.common_dir();
        let common = common.canonicalize().unwrap_or_else(|_| common.to_path_buf());
        match common.file_name().is_some_and(|name| name == ".git") {
            true => common.parent().map(Path::to_path_buf),
            false => self.repo.workdir().map(Path::to_path_buf),
        }
    }

    /// A git config value as seen by this repository (local, global and system files).
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.repo.config_snapshot().string(key).map(|value| value.to_string())
    }

    /// Set a value in this repository's own git config (`.git/config`), through `git config`
    /// so that git's own locking and format rules apply.
    pub fn set_local_config(&self, key: &str, value: &str) -> Result<()> {
        self.git(At::GitDir, ["config", "--local", key, value], &format!("set {key}"))
            .map(|_| ())
    }

    /// Run `git args` at `at` and return its stdout; `what` completes "cannot …" in an error.
    fn git(&self, at: At<'_>, args: impl IntoIterator<Item = impl AsRef<OsStr>>, what: &str) -> Result<String> {
        let mut command = self.git_command(at);
        command.args(args);
        run(command, what)
    }

    /// A `git` command that runs at `at`, for a caller that reads the exit status itself
    /// (commands whose exit code 1 is an answer, not a failure).
    fn git_command(&self, at: At<'_>) -> Command {
        let mut command = Command::new("git");
        match at {
            At::Checkout(path) => command.arg("-C").arg(path),
            At::GitDir => command.arg("--git-dir").arg(self.repo.git_dir()),
            At::Main => match self.main_work_dir() {
                Some(dir) => command.arg("-C").arg(dir),
                None => command.arg("--git-dir").arg(self.repo.git_dir()),
            },
        };
        command
    }
}

/// Run `command` and return its stdout, or the error with git's message.
fn run(mut command: Command, what: &str) -> Result<String> {
    let output = command.output().map_err(|source| Error::Io {
        what: format!("run git to {what}"),
        source,
    })?;
    if !output.status.success() {
        return Err(Error::Process {
            what: what.to_owned(),
            command: describe(&command),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `command` as one would type it (without quoting), for error reports.
fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The commit id git printed (trimmed), or `None` when it printed nothing.
fn commit_id(output: &str, what: &str) -> Result<Option<ObjectId>> {
    let text = output.trim();
    if text.is_empty() {
        return Ok(None);
    }
    ObjectId::from_hex(text.as_bytes())
        .map(Some)
        .map_err(|_| Error::UnexpectedOutput {
            what: what.to_owned(),
            output: text.to_owned(),
        })
}
