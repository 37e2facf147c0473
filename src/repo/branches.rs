//! Branches and worktrees of the user's repository, as far as git-loom needs them: the state of
//! a task's branch (tip, commits since it left its target, files changed), and creating,
//! listing and removing the linked worktrees tasks are worked in.
//!
//! Nothing here moves a branch other than creating a task's own branch, or touches the main
//! working tree and index.

use std::path::{Path, PathBuf};

use super::{At, Error, ObjectId, Repo, Result, commit_id};

/// How many commits [`Repo::branch_work`] names.
const LISTED_COMMITS: usize = 20;

/// The state of a branch against its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchWork {
    pub tip: ObjectId,
    /// The merge base with the target, when the target exists and they share history.
    pub base: Option<ObjectId>,
    pub commits_since_base: u32,
    /// (id, summary), newest first, at most 20.
    pub commits: Vec<(ObjectId, String)>,
    /// (path, lines added, lines removed); `None` counts for binary files.
    pub files: Vec<(String, Option<u32>, Option<u32>)>,
}

/// A linked worktree of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    pub path: PathBuf,
    /// The branch checked out there (`refs/heads/` stripped), if any.
    pub branch: Option<String>,
}

impl Repo<'_> {
    /// The commit a branch points at, if the branch exists.
    pub fn branch_tip(&self, branch: &str) -> Result<Option<ObjectId>> {
        let what = "read a branch";
        let spec = format!("refs/heads/{branch}^{{commit}}");
        match self.git(At::Main, ["rev-parse", "--verify", "--quiet", &spec], what) {
            Ok(out) => commit_id(&out, what),
            Err(Error::Process { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The branch the main working tree has checked out, if any (also when running inside a
    /// linked worktree, whose own HEAD is a task branch).
    pub fn head_branch(&self) -> Option<String> {
        let head = std::fs::read_to_string(self.repo.common_dir().join("HEAD")).ok()?;
        let name = head.trim().strip_prefix("ref:")?.trim();
        Some(name.strip_prefix("refs/heads/").unwrap_or(name).to_owned())
    }

    /// The merge base of two commits, `None` when they share no history (or git cannot say).
    fn merge_base(&self, a: ObjectId, b: ObjectId, what: &str) -> Option<ObjectId> {
        let out = self
            .git(At::Main, ["merge-base".to_owned(), a.to_string(), b.to_string()], what)
            .ok()?;
        commit_id(&out, what).ok().flatten()
    }

    /// How many commits `range` (a rev-list range) holds.
    fn count(&self, range: &str, what: &str) -> Result<u32> {
        Ok(self
            .git(At::Main, ["rev-list", "--count", range], what)?
            .trim()
            .parse()
            .unwrap_or(0))
    }

    /// The state of `branch` against `target`, or `None` when the branch does not exist.
    pub fn branch_work(&self, branch: &str, target: Option<&str>) -> Result<Option<BranchWork>> {
        let Some(tip) = self.branch_tip(branch)? else {
            return Ok(None);
        };
        let base = match target.map(|target| self.branch_tip(target)).transpose()?.flatten() {
            Some(target_tip) => self.merge_base(target_tip, tip, "find where the branch left its target"),
            None => None,
        };
        let range = match &base {
            Some(base) => format!("{base}..{tip}"),
            None => tip.to_string(),
        };
        let commits_since_base = self.count(&range, "count the branch's commits")?;
        let what = "list the branch's commits";
        let listed = self.git(
            At::Main,
            ["log", &format!("-n{LISTED_COMMITS}"), "--format=%H%x09%s", &range],
            what,
        )?;
        let mut commits = Vec::new();
        for (id, summary) in listed.lines().filter_map(|line| line.split_once('\t')) {
            if let Some(id) = commit_id(id, what)? {
                commits.push((id, summary.to_owned()));
            }
        }
        let files = match &base {
            Some(base) => self
                .git(
                    At::Main,
                    ["diff", "--numstat", "--no-renames", &base.to_string(), &tip.to_string()],
                    "list the files the branch changed",
                )?
                .lines()
                .filter_map(|line| {
                    let mut fields = line.splitn(3, '\t');
                    let (added, removed, path) = (fields.next()?, fields.next()?, fields.next()?);
                    Some((path.to_owned(), added.parse().ok(), removed.parse().ok()))
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Some(BranchWork {
            tip,
            base,
            commits_since_base,
            commits,
            files,
        }))
    }

    /// Every linked worktree of the repository (the main one excluded).
    pub fn worktrees(&self) -> Result<Vec<Worktree>> {
        let out = self.git(At::Main, ["worktree", "list", "--porcelain"], "list worktrees")?;
        let mut found = Vec::new();
        for (index, block) in out.split("\n\n").filter(|block| !block.trim().is_empty()).enumerate() {
            // The first block is the main working tree.
            if index == 0 {
                continue;
            }
            let mut path = None;
            let mut branch = None;
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("worktree ") {
                    path = Some(PathBuf::from(rest));
                } else if let Some(rest) = line.strip_prefix("branch ") {
                    branch = Some(rest.strip_prefix("refs/heads/").unwrap_or(rest).to_owned());
                }
            }
            if let Some(path) = path {
                found.push(Worktree { path, branch });
            }
        }
        Ok(found)
    }

    /// Create a linked worktree at `path` on `branch`, creating the branch from `base` when it
    /// does not exist yet.
    pub fn add_worktree(&self, path: &Path, branch: &str, base: &str) -> Result<()> {
        let mut args = vec!["worktree".into(), "add".into(), "--quiet".into()];
        if self.branch_tip(branch)?.is_none() {
            args.extend(["-b".into(), branch.into(), path.as_os_str().to_owned(), base.into()]);
        } else {
            args.extend([path.as_os_str().to_owned(), branch.into()]);
        }
        self.git(At::Main, args, "create the worktree").map(|_| ())
    }

    /// Remove a linked worktree (`force` also removes one with uncommitted changes).
    pub fn remove_worktree(&self, path: &Path, force: bool) -> Result<()> {
        let mut args = vec!["worktree".into(), "remove".into()];
        if force {
            args.push("--force".into());
        }
        args.push(path.as_os_str().to_owned());
        self.git(At::Main, args, "remove the worktree").map(|_| ())
    }

    /// Delete a local branch (`force`: even when it is not merged).
    pub fn delete_branch(&self, branch: &str, force: bool) -> Result<()> {
        let flag = if force { "-D" } else { "-d" };
        self.git(At::Main, ["branch", flag, "--quiet", branch], "delete the branch")
            .map(|_| ())
    }

    /// Whether a worktree has uncommitted changes (untracked files included).
    pub fn worktree_is_dirty(&self, path: &Path) -> Result<bool> {
        let out = self.git(
            At::Checkout(path),
            ["status", "--porcelain"],
            "read the worktree's status",
        )?;
        Ok(!out.trim().is_empty())
    }

    /// The uncommitted changes of a checkout, one `git status --porcelain` line each (untracked
    /// files included, ignored ones not), or `None` when `path` is not a git checkout.
    pub fn checkout_changes(&self, path: &Path) -> Option<Vec<String>> {
        let out = self
            .git(
                At::Checkout(path),
                ["status", "--porcelain", "--untracked-files=all"],
                "read the checkout's status",
            )
            .ok()?;
        Some(
            out.lines()
                .filter(|line| !line.trim().is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// `git diff --stat HEAD` of a checkout: what its uncommitted changes to tracked files add
    /// and remove; `None` when it cannot be read (not a checkout, no commit yet).
    pub fn checkout_diffstat(&self, path: &Path) -> Option<String> {
        self.git(
            At::Checkout(path),
            ["diff", "--stat", "HEAD"],
            "read the checkout's uncommitted changes",
        )
        .ok()
        .map(|out| out.trim_end().to_owned())
    }

    /// The commit a checkout has checked out, or `None` when it is not a checkout or has no
    /// commit yet.
    pub fn checkout_head(&self, path: &Path) -> Option<ObjectId> {
        let what = "read the checkout's HEAD";
        let out = self
            .git(
                At::Checkout(path),
                ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
                what,
            )
            .ok()?;
        commit_id(&out, what).ok().flatten()
    }

    /// Where `commit` left `branch` (their merge base), if the branch exists and they share
    /// history.
    pub fn fork_point(&self, commit: ObjectId, branch: &str) -> Result<Option<ObjectId>> {
        let Some(target) = self.branch_tip(branch)? else {
            return Ok(None);
        };
        Ok(self.merge_base(target, commit, "find where the work left its target"))
    }

    /// How many commits `tip` has that `base` lacks.
    pub fn commits_since(&self, base: ObjectId, tip: ObjectId) -> Result<u32> {
        self.count(&format!("{base}..{tip}"), "count the work's commits")
    }

    /// Check `commit` out, detached, in a new linked worktree at `path` (which must not exist).
    pub fn add_detached_worktree(&self, path: &Path, commit: ObjectId) -> Result<()> {
        let args = [
            "worktree".into(),
            "add".into(),
            "--quiet".into(),
            "--detach".into(),
            path.as_os_str().to_owned(),
            commit.to_string().into(),
        ];
        self.git(At::Main, args, "check the commit out in a temporary worktree")
            .map(|_| ())
    }

    /// How many commits `branch` has that `target` lacks, and the other way round.
    pub fn ahead_behind(&self, branch: &str, target: &str) -> Result<Option<(u32, u32)>> {
        if self.branch_tip(branch)?.is_none() || self.branch_tip(target)?.is_none() {
            return Ok(None);
        }
        let range = format!("refs/heads/{branch}...refs/heads/{target}");
        let out = self.git(
            At::Main,
            ["rev-list", "--left-right", "--count", &range],
            "compare the branch with its target",
        )?;
        let mut counts = out.split_whitespace().map(|n| n.parse().unwrap_or(0));
        Ok(Some((counts.next().unwrap_or(0), counts.next().unwrap_or(0))))
    }

    /// Make git ignore `relative` (a path under the main working tree) through
    /// `.git/info/exclude`, which is local and never committed, unless it already does.
    pub fn exclude_locally(&self, relative: &str) -> Result<()> {
        let info = self.repo.common_dir().join("info");
        let file = info.join("exclude");
        let current = std::fs::read_to_string(&file).unwrap_or_default();
        let line = format!("/{}/", relative.trim_matches('/'));
        if current.lines().any(|existing| existing.trim() == line) {
            return Ok(());
        }
        let io = |source: std::io::Error| Error::Io {
            what: "update .git/info/exclude".into(),
            source,
        };
        std::fs::create_dir_all(&info).map_err(io)?;
        let mut text = current;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&line);
        text.push('\n');
        std::fs::write(&file, text).map_err(io)
    }
}
