//! Landing a candidate: moving the user's branch to it by compare-and-swap, and bringing a clean
//! checkout of that branch along.
//!
//! Guarantees:
//! - [`Repo::move_branch`] moves `refs/heads/<branch>` only if it still points at the commit the
//!   candidate was built from; a branch that moved meanwhile is reported, never overwritten;
//! - [`Repo::update_checkout`] touches only the main working tree, only when it has the branch
//!   checked out and its tracked files and index are exactly the old tip; it never switches the
//!   branch, never touches untracked files, and leaves a checkout with changes alone.

use std::path::PathBuf;

use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};

use super::{At, Error, ObjectId, Repo, Result, describe};

/// The reflog message of a branch moved by [`Repo::move_branch`].
const REFLOG_MESSAGE: &str = "git-loom merge";

/// What [`Repo::move_branch`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveOutcome {
    /// The branch now points at the new commit.
    Updated,
    /// The branch had moved to this commit meanwhile and was left there: the race is lost and
    /// the candidate must be rebuilt on it.
    Moved(ObjectId),
}

/// What [`Repo::update_checkout`] did to the main working tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutUpdate {
    /// The main working tree does not have the branch checked out (or there is none).
    NotCheckedOut,
    /// The checkout was clean; its index and files now match the new tip.
    FastForwarded { dir: PathBuf },
    /// The checkout has changes to tracked files (or is not at the old tip): nothing was touched.
    /// Its HEAD names the moved branch while its index and files are still those of `old`,
    /// which bringing the work in needs (`git read-tree -m -u <old> HEAD`).
    LeftDirty { dir: PathBuf, old: ObjectId },
    /// The checkout was clean but git refused to update it (for instance an untracked file is
    /// in the way of a file the new tip adds); git left it as it was, at `old`, and `reason`
    /// is git's word.
    Blocked {
        dir: PathBuf,
        old: ObjectId,
        reason: String,
    },
}

impl Repo<'_> {
    /// Move `refs/heads/<branch>` from exactly `expected` to `new`, with reflog message
    /// "git-loom merge". A branch found elsewhere is [`MoveOutcome::Moved`]; a missing
    /// branch is [`Error::NoSuchBranch`].
    pub fn move_branch(&self, branch: &str, expected: ObjectId, new: ObjectId) -> Result<MoveOutcome> {
        let full = format!("refs/heads/{branch}");
        let name: FullName = full.as_str().try_into().map_err(|err| Error::BadBranchName {
            branch: branch.to_owned(),
            problem: format!("{err}"),
        })?;
        match self.branch_target(branch, &full)? {
            actual if actual != expected => return Ok(MoveOutcome::Moved(actual)),
            _ => {}
        }
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: REFLOG_MESSAGE.into(),
                },
                expected: PreviousValue::MustExistAndMatch(Target::Object(expected)),
                new: Target::Object(new),
            },
            name,
            deref: false,
        };
        let fallback;
        let mut time_buf = gix::date::parse::TimeBuf::default();
        let committer = match self.repo.committer() {
            Some(Ok(committer)) => committer,
            // A reflog entry needs a name; one without configured identity still gets a record.
            _ => {
                fallback = gix::actor::Signature {
                    name: "git-loom".into(),
                    email: "loom".into(),
                    time: gix::date::Time::now_utc(),
                };
                fallback.to_ref(&mut time_buf)
            }
        };
        match self.repo.edit_references_as([edit], Some(committer)) {
            Ok(_) => Ok(MoveOutcome::Updated),
            Err(err) => {
                // Whatever went wrong, the branch's value now says whether another writer won.
                let actual = self.branch_target(branch, &full)?;
                if actual != expected {
                    Ok(MoveOutcome::Moved(actual))
                } else if err.is_retryable() {
                    Err(Error::BranchLocked {
                        branch: branch.to_owned(),
                    })
                } else {
                    Err(Error::Git {
                        what: format!("move branch {branch}"),
                        source: err,
                    })
                }
            }
        }
    }

    /// The commit `refs/heads/<branch>` points at directly.
    fn branch_target(&self, branch: &str, full: &str) -> Result<ObjectId> {
        let reference = self
            .repo
            .try_find_reference(full)
            .map_err(Error::gix(format!("read branch {branch}")))?
            .ok_or_else(|| Error::NoSuchBranch {
                branch: branch.to_owned(),
            })?;
        reference
            .target()
            .try_id()
            .map(|id| id.to_owned())
            .ok_or_else(|| Error::BadBranchName {
                branch: branch.to_owned(),
                problem: "it is a symbolic ref".into(),
            })
    }

    /// After `branch` moved from `old` to `new`: when the main working tree has it checked out
    /// and is clean at `old`, bring its index and files to `new` (`git read-tree -m -u`).
    pub fn update_checkout(&self, branch: &str, old: ObjectId, new: ObjectId) -> Result<CheckoutUpdate> {
        let Some((dir, checked_out)) = self.main_checkout()? else {
            return Ok(CheckoutUpdate::NotCheckedOut);
        };
        if checked_out.as_deref() != Some(branch) {
            return Ok(CheckoutUpdate::NotCheckedOut);
        }
        if !self.checkout_is_clean_at(&dir, old)? {
            return Ok(CheckoutUpdate::LeftDirty { dir, old });
        }
        let mut command = self.git_command(At::Checkout(&dir));
        command.args(["read-tree", "-m", "-u", &old.to_string(), &new.to_string()]);
        let output = command.output().map_err(|source| Error::Io {
            what: "run git to update the checkout".into(),
            source,
        })?;
        if !output.status.success() {
            let reason = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            let reason = match reason.is_empty() {
                true => format!("{} failed with {}", describe(&command), output.status),
                false => reason,
            };
            return Ok(CheckoutUpdate::Blocked { dir, old, reason });
        }
        Ok(CheckoutUpdate::FastForwarded { dir })
    }

    /// The main working tree and the branch it has checked out (`None` when detached), or
    /// `None` for a bare repository. Asked of git, which knows the main working tree also from
    /// inside a linked one and for a repository whose git dir lives elsewhere.
    fn main_checkout(&self) -> Result<Option<(PathBuf, Option<String>)>> {
        let out = self.git(At::GitDir, ["worktree", "list", "--porcelain", "-z"], "list worktrees")?;
        // NUL ends each line (so no path is quoted); an empty line ends the first block, which
        // describes the main working tree.
        let mut dir = None;
        let mut branch = None;
        for line in out.split('\0').take_while(|line| !line.is_empty()) {
            if line == "bare" {
                return Ok(None);
            } else if let Some(rest) = line.strip_prefix("worktree ") {
                dir = Some(PathBuf::from(rest));
            } else if let Some(rest) = line.strip_prefix("branch ") {
                branch = Some(rest.strip_prefix("refs/heads/").unwrap_or(rest).to_owned());
            }
        }
        Ok(dir.map(|dir| (dir, branch)))
    }

    /// Whether the tracked files and the index of the checkout at `dir` are exactly `commit`
    /// (untracked files do not count). HEAD cannot be asked: it already names the moved branch.
    fn checkout_is_clean_at(&self, dir: &std::path::Path, commit: ObjectId) -> Result<bool> {
        // Refresh the index's stat data first, so a file merely touched does not count as
        // changed; its exit status only says that some file differs, which the next steps ask.
        self.quiet_git(dir, &["update-index", "-q", "--refresh"])?;
        let files_match_index = self.quiet_git(dir, &["diff-files", "--quiet"])?;
        let index_matches_commit = self.quiet_git(dir, &["diff-index", "--cached", "--quiet", &commit.to_string()])?;
        Ok(files_match_index && index_matches_commit)
    }

    /// Run a git command in `dir` whose exit status is the answer: `true` for 0, `false` for 1.
    fn quiet_git(&self, dir: &std::path::Path, args: &[&str]) -> Result<bool> {
        let mut command = self.git_command(At::Checkout(dir));
        command.args(args);
        let what = "read the checkout's state";
        let output = command.output().map_err(|source| Error::Io {
            what: format!("run git to {what}"),
            source,
        })?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(Error::Process {
                what: what.to_owned(),
                command: describe(&command),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            }),
        }
    }
}

#[cfg(test)]
#[path = "checkout_tests.rs"]
mod tests;
