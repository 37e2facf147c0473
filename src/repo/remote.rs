//! The user's branches on a remote: what the merge engine needs to work from a CI job or with a
//! coordination remote. A task's branch is published with a lease so that `merge --ci` on
//! another machine can merge it; the target is fetched before each round and pushed only with
//! a lease on the tip the candidate was built from.
//!
//! Every network operation runs the user's own `git` (credentials, ssh and URL rewriting work
//! unchanged). Guarantees: a push never replaces a remote branch that moved since it was read
//! (`--force-with-lease` with an explicit value, empty for "must not exist"); a refused push is
//! an answer ([`BranchPush::Refused`]), not an error; a remote that cannot be reached is an
//! [`Error::Process`] carrying git's words.

use super::{At, Error, ObjectId, Repo, Result, commit_id, describe};

/// How a branch push ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchPush {
    Pushed,
    /// The remote's branch was not at the expected commit (or the remote refused it); git's
    /// reason.
    Refused(String),
}

impl Repo<'_> {
    /// The commit `remote` holds at `refs/heads/<branch>`, asked of the remote itself.
    pub fn remote_branch_tip(&self, remote: &str, branch: &str) -> Result<Option<ObjectId>> {
        let full = format!("refs/heads/{branch}");
        let what = format!("read {branch} on {remote}");
        let out = self.git(At::GitDir, ["ls-remote", "--heads", remote, full.as_str()], &what)?;
        let found = out
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .find(|(_, name)| *name == full)
            .map(|(id, _)| id.to_owned());
        match found {
            Some(id) => commit_id(&id, &what),
            None => Ok(None),
        }
    }

    /// Set `refs/heads/<branch>` on `remote` to `new`, only if it holds `expected` there
    /// (`None`: only if it does not exist).
    pub fn push_branch(
        &self,
        remote: &str,
        branch: &str,
        expected: Option<ObjectId>,
        new: ObjectId,
    ) -> Result<BranchPush> {
        let full = format!("refs/heads/{branch}");
        let lease = format!(
            "--force-with-lease={full}:{}",
            expected.map(|id| id.to_string()).unwrap_or_default()
        );
        let mut command = self.git_command(At::GitDir);
        command
            .args(["push", "--porcelain", "--no-verify", lease.as_str(), remote])
            .arg(format!("{new}:{full}"));
        let output = command.output().map_err(|source| Error::Io {
            what: format!("run git to push {branch} to {remote}"),
            source,
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        // `<flag>\t<from>:<to>\t<summary>`; `!` is a refusal.
        if let Some(refused) = stdout
            .lines()
            .filter(|line| line.starts_with('!'))
            .find_map(|line| line.splitn(3, '\t').nth(2))
        {
            return Ok(BranchPush::Refused(refused.to_owned()));
        }
        if !output.status.success() {
            return Err(Error::Process {
                what: format!("push {branch} to {remote}"),
                command: describe(&command),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(BranchPush::Pushed)
    }

    /// Make the local `refs/heads/<branch>` what `remote` holds (forced: the remote is the
    /// truth), also when it is checked out; returns the tip, `None` when the remote lacks it.
    /// Only `merge --ci` asks for this, in a clone that exists to run the queue.
    pub fn follow_remote_branch(&self, remote: &str, branch: &str) -> Result<Option<ObjectId>> {
        let Some(tip) = self.remote_branch_tip(remote, branch)? else {
            return Ok(None);
        };
        let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
        self.git(
            At::Main,
            [
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--update-head-ok",
                remote,
                refspec.as_str(),
            ],
            &format!("fetch {branch} from {remote}"),
        )?;
        Ok(Some(tip))
    }

    /// Bring the commits of `branches` on `remote` into the object database, writing no ref.
    /// A branch the remote lacks is skipped; returns the ones fetched.
    pub fn fetch_branch_commits(&self, remote: &str, branches: &[String]) -> Result<Vec<String>> {
        let mut fetched = Vec::new();
        for branch in branches {
            let spec = format!("refs/heads/{branch}");
            let result = self.git(
                At::GitDir,
                [
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--no-write-fetch-head",
                    remote,
                    spec.as_str(),
                ],
                &format!("fetch {branch} from {remote}"),
            );
            match result {
                Ok(_) => fetched.push(branch.clone()),
                Err(Error::Process { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(fetched)
    }

    /// Whether the object database has the commit `id`.
    pub fn has_commit(&self, id: ObjectId) -> bool {
        self.repo
            .find_object(id)
            .is_ok_and(|object| object.kind == gix::object::Kind::Commit)
    }
}
