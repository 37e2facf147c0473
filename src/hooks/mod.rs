//! Git hooks that bring git-loom to the user's own git commands: decisions only, on top of
//! `claims` (the one holder check) and `repo` (the hooks directory, the checkout's branch).
//!
//! - `commit-msg` adds a `Loom-Task: <id>` trailer to commits made in a task's worktree;
//! - `post-commit` heartbeats the claim of that task when the committer holds it;
//! - `pre-push` refuses to push a `loom/<id>` branch whose claim another agent holds.
//!
//! The scripts (the `hooks/` directory of the project, compiled in) are thin: each calls
//! `git loom hook <name>`. Installing one beside a hook the user already has moves theirs aside
//! to `<name>.pre-loom` and chains to it; uninstalling removes only git-loom's scripts and puts
//! the user's hook back as it was (a rename: same bytes, same mode). Nothing here reads the
//! environment or prints: the caller passes the acting agent and turns results into output.

mod decide;
mod install;
#[cfg(test)]
mod tests;

pub use decide::{CheckoutTask, PushCheck, PushRefusal};
pub use install::{HookChange, HookName, HookState, HookStatus, install, script, status, uninstall};

use std::path::PathBuf;

/// Errors from installing, removing or running hooks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A hook file or the hooks directory could not be read or written.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A hook the user has would have to be moved aside onto a file that is already there.
    #[error("{} is in the way: both {} and it exist, and neither is git-loom's", aside.display(), hook.display())]
    Occupied { hook: PathBuf, aside: PathBuf },
    /// A `pre-push` ref line that is not `<local ref> <local sha> <remote ref> <remote sha>`.
    #[error("unexpected pre-push input line {line:?}: expected `<local ref> <local sha> <remote ref> <remote sha>`")]
    BadRefLine { line: String },
    #[error(transparent)]
    Repo(#[from] crate::repo::Error),
    #[error(transparent)]
    Loom(#[from] crate::loom::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
