//! What git hooks need from the user's repository: where git looks for hooks (honouring
//! `core.hooksPath`, and right for linked worktrees too), which branch this checkout has out,
//! and adding a trailer to a commit message the way git itself does.

use std::path::{Path, PathBuf};

use super::{At, Repo, Result};

impl Repo<'_> {
    /// The directory git runs hooks from: `core.hooksPath` when set (relative values are
    /// relative to the working tree, as git reads them), else the common git dir's `hooks`.
    /// Asked of git itself, so that every rule git applies applies here.
    pub fn hooks_dir(&self) -> Result<PathBuf> {
        let at = match self.work_dir() {
            Some(dir) => At::Checkout(dir),
            None => At::GitDir,
        };
        let out = self.git(
            at,
            ["rev-parse", "--path-format=absolute", "--git-path", "hooks"],
            "find the hooks directory",
        )?;
        Ok(PathBuf::from(out.trim_end_matches(['\n', '\r'])))
    }

    /// The branch this checkout (the main working tree or a linked worktree git-loom runs in)
    /// has out, without `refs/heads/`; `None` on a detached HEAD.
    pub fn checkout_branch(&self) -> Option<String> {
        let name = self.repo.head_name().ok()??;
        let name = name.as_bstr().to_string();
        name.strip_prefix("refs/heads/").map(str::to_owned)
    }

    /// Add `key: value` to the trailers of the commit message in `file`, unless it has a `key`
    /// trailer already (`git interpret-trailers`, so git's trailer rules apply).
    pub fn add_trailer(&self, file: &Path, key: &str, value: &str) -> Result<()> {
        let trailer = format!("{key}: {value}");
        let at = match self.work_dir() {
            Some(dir) => At::Checkout(dir),
            None => At::GitDir,
        };
        let mut command = self.git_command(at);
        command
            .args([
                "interpret-trailers",
                "--in-place",
                "--if-exists",
                "doNothing",
                "--trailer",
            ])
            .arg(&trailer)
            .arg(file);
        super::run(command, "add a trailer to the commit message").map(|_| ())
    }
}
