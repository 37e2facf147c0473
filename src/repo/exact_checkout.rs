//! Holding one exact commit in a reusable linked worktree: what the merge engine tests a
//! candidate in.
//!
//! Guarantees: only the checkout at the path given is changed (its detached `HEAD`, its index
//! and its files); no branch moves and the main working tree is never touched. After
//! [`Repo::checkout_exactly`] the checkout holds exactly the commit's tracked files, with every
//! untracked file removed except those `.gitignore` (or `info/exclude`) ignores, so build
//! outputs such as `target/` survive from one run to the next.

use std::path::Path;

use super::{At, ObjectId, Repo, Result};

impl Repo<'_> {
    /// Make the checkout at `path` hold exactly `commit`, detached: tracked files as the commit
    /// has them (local changes discarded), untracked files removed, ignored ones kept.
    pub fn checkout_exactly(&self, path: &Path, commit: ObjectId) -> Result<()> {
        let at = At::Checkout(path);
        let commit = commit.to_string();
        self.git(
            at,
            ["checkout", "--quiet", "--detach", "--force", commit.as_str()],
            "check the commit out",
        )?;
        // -d: untracked directories too; not -x, so ignored build outputs stay warm.
        self.git(
            at,
            ["clean", "--quiet", "-f", "-d"],
            "remove untracked files from the checkout",
        )
        .map(|_| ())
    }

    /// Forget linked worktrees whose directories are gone.
    pub fn prune_worktrees(&self) -> Result<()> {
        self.git(At::Main, ["worktree", "prune"], "prune stale worktrees")
            .map(|_| ())
    }
}
