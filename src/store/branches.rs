//! Branches and worktrees of the user's repository, as far as git-loom needs them: the state of
//! a task's branch (tip, commits since it left its target, files changed), and creating,
//! listing and removing the linked worktrees tasks are worked in.
//!
//! These run the user's `git`: worktree management and diffs are git's own business, and this
//! way every hook, config and format rule the user has applies. Nothing here moves a branch
//! other than creating a task's own branch, or touches the main working tree and index.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Error, Result, Store};

/// How many commits [`Store::branch_work`] names.
const LISTED_COMMITS: usize = 20;

/// The state of a branch against its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchWork {
    pub tip: String,
    /// The merge base with the target, when the target exists and they share history.
    pub base: Option<String>,
    pub commits_since_base: u32,
    /// (id, summary), newest first, at most 20.
    pub commits: Vec<(String, String)>,
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

impl Store {
    /// A `git` command run in the main working tree (or the git dir of a bare repository).
    fn git_here(&self) -> Command {
        let mut command = Command::new("git");
        match self.main_work_dir() {
            Some(dir) => command.arg("-C").arg(dir),
            None => command.arg("--git-dir").arg(self.repo.git_dir()),
        };
        command
    }

    /// Run git and return its stdout, or the error with git's message.
    fn run_git(&self, mut command: Command, what: &str) -> Result<String> {
        let output = command.output().map_err(|err| Error::Git {
            context: format!("cannot run git to {what}"),
            source: gix::Error::from_error(err),
        })?;
        if !output.status.success() {
            return Err(Error::Git {
                context: format!("cannot {what}"),
                source: gix::Error::from_error(std::io::Error::other(
                    String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                )),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The commit a branch points at, if the branch exists.
    pub fn branch_tip(&self, branch: &str) -> Result<Option<String>> {
        let mut command = self.git_here();
        command.args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}^{{commit}}"),
        ]);
        let output = command.output().map_err(|err| Error::Git {
            context: "cannot run git to read a branch".into(),
            source: gix::Error::from_error(err),
        })?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    /// The branch the main working tree has checked out, if any (also when running inside a
    /// linked worktree, whose own HEAD is a task branch).
    pub fn head_branch(&self) -> Option<String> {
        let head = std::fs::read_to_string(self.repo.common_dir().join("HEAD")).ok()?;
        let name = head.trim().strip_prefix("ref:")?.trim();
        Some(name.strip_prefix("refs/heads/").unwrap_or(name).to_owned())
    }

    /// The state of `branch` against `target`, or `None` when the branch does not exist.
    pub fn branch_work(&self, branch: &str, target: Option<&str>) -> Result<Option<BranchWork>> {
        let Some(tip) = self.branch_tip(branch)? else {
            return Ok(None);
        };
        let base = match target.map(|target| self.branch_tip(target)).transpose()?.flatten() {
            Some(target_tip) => {
                let mut command = self.git_here();
                command.args(["merge-base", &target_tip, &tip]);
                self.run_git(command, "find where the branch left its target")
                    .ok()
                    .map(|out| out.trim().to_owned())
                    .filter(|base| !base.is_empty())
            }
            None => None,
        };
        let range = match &base {
            Some(base) => format!("{base}..{tip}"),
            None => tip.clone(),
        };
        let mut command = self.git_here();
        command.args(["rev-list", "--count", &range]);
        let commits_since_base = self
            .run_git(command, "count the branch's commits")?
            .trim()
            .parse()
            .unwrap_or(0);
        let mut command = self.git_here();
        command.args(["log", &format!("-n{LISTED_COMMITS}"), "--format=%H%x09%s", &range]);
        let commits = self
            .run_git(command, "list the branch's commits")?
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(id, summary)| (id.to_owned(), summary.to_owned()))
            .collect();
        let files = match &base {
            Some(base) => {
                let mut command = self.git_here();
                command.args(["diff", "--numstat", "--no-renames", base, &tip]);
                self.run_git(command, "list the files the branch changed")?
                    .lines()
                    .filter_map(|line| {
                        let mut fields = line.splitn(3, '\t');
                        let (added, removed, path) = (fields.next()?, fields.next()?, fields.next()?);
                        Some((path.to_owned(), added.parse().ok(), removed.parse().ok()))
                    })
                    .collect()
            }
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
        let mut command = self.git_here();
        command.args(["worktree", "list", "--porcelain"]);
        let out = self.run_git(command, "list worktrees")?;
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
        let mut command = self.git_here();
        command.args(["worktree", "add", "--quiet"]);
        if self.branch_tip(branch)?.is_none() {
            command.args(["-b", branch]).arg(path).arg(base);
        } else {
            command.arg(path).arg(branch);
        }
        self.run_git(command, "create the worktree").map(|_| ())
    }

    /// Remove a linked worktree (`force` also removes one with uncommitted changes).
    pub fn remove_worktree(&self, path: &Path, force: bool) -> Result<()> {
        let mut command = self.git_here();
        command.args(["worktree", "remove"]);
        if force {
            command.arg("--force");
        }
        command.arg(path);
        self.run_git(command, "remove the worktree").map(|_| ())
    }

    /// Delete a local branch (`force`: even when it is not merged).
    pub fn delete_branch(&self, branch: &str, force: bool) -> Result<()> {
        let mut command = self.git_here();
        command.args(["branch", if force { "-D" } else { "-d" }, "--quiet", branch]);
        self.run_git(command, "delete the branch").map(|_| ())
    }

    /// Whether a worktree has uncommitted changes (untracked files included).
    pub fn worktree_is_dirty(&self, path: &Path) -> Result<bool> {
        let mut command = Command::new("git");
        command.arg("-C").arg(path).args(["status", "--porcelain"]);
        Ok(!self.run_git(command, "read the worktree's status")?.trim().is_empty())
    }

    /// The uncommitted changes of a checkout, one `git status --porcelain` line each (untracked
    /// files included, ignored ones not), or `None` when `path` is not a git checkout.
    pub fn checkout_changes(&self, path: &Path) -> Option<Vec<String>> {
        let output = Command::new("git")
            .arg("-C")
            .arg(path)
            .args(["status", "--porcelain", "--untracked-files=all"])
            .output()
            .ok()?;
        output.status.success().then(|| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    /// The commit a checkout has checked out, or `None` when it is not a checkout or has no
    /// commit yet.
    pub fn checkout_head(&self, path: &Path) -> Option<String> {
        let output = Command::new("git")
            .arg("-C")
            .arg(path)
            .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .filter(|id| !id.is_empty())
    }

    /// Where `commit` left `branch` (their merge base), if the branch exists and they share
    /// history.
    pub fn fork_point(&self, commit: &str, branch: &str) -> Result<Option<String>> {
        let Some(target) = self.branch_tip(branch)? else {
            return Ok(None);
        };
        let mut command = self.git_here();
        command.args(["merge-base", &target, commit]);
        Ok(self
            .run_git(command, "find where the work left its target")
            .ok()
            .map(|out| out.trim().to_owned())
            .filter(|base| !base.is_empty()))
    }

    /// How many commits `tip` has that `base` lacks.
    pub fn commits_since(&self, base: &str, tip: &str) -> Result<u32> {
        let mut command = self.git_here();
        command.args(["rev-list", "--count", &format!("{base}..{tip}")]);
        Ok(self
            .run_git(command, "count the work's commits")?
            .trim()
            .parse()
            .unwrap_or(0))
    }

    /// Check `commit` out, detached, in a new linked worktree at `path` (which must not exist).
    pub fn add_detached_worktree(&self, path: &Path, commit: &str) -> Result<()> {
        let mut command = self.git_here();
        command
            .args(["worktree", "add", "--quiet", "--detach"])
            .arg(path)
            .arg(commit);
        self.run_git(command, "check the commit out in a temporary worktree")
            .map(|_| ())
    }

    /// How many commits `branch` has that `target` lacks, and the other way round.
    pub fn ahead_behind(&self, branch: &str, target: &str) -> Result<Option<(u32, u32)>> {
        if self.branch_tip(branch)?.is_none() || self.branch_tip(target)?.is_none() {
            return Ok(None);
        }
        let mut command = self.git_here();
        command.args([
            "rev-list",
            "--left-right",
            "--count",
            &format!("refs/heads/{branch}...refs/heads/{target}"),
        ]);
        let out = self.run_git(command, "compare the branch with its target")?;
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
        let io = |err: std::io::Error| Error::Git {
            context: "cannot update .git/info/exclude".into(),
            source: gix::Error::from_error(err),
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
