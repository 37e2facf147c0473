//! Merge candidates built without a working tree: the target tip with one or more branches
//! merged on top, each as a merge commit written to the object database only.
//!
//! Guarantees:
//! - nothing here moves a ref (HEAD included), touches an index or a working tree: merged blobs,
//!   trees and candidate commits are objects nothing points at until a caller moves a branch;
//! - a tree merge is done in process by gix; when gix cannot decide (a conflict gix leaves as
//!   `Unknown`, a submodule that differs, or an error of the merge itself) the user's `git
//!   merge-tree --write-tree` decides instead, so a verdict is never a guess;
//! - a pick that conflicts is skipped and reported with its conflicting paths (sorted, without
//!   duplicates); the picks after it stack on the last good result;
//! - a candidate commit always has exactly two parents `[previous, pick tip]`, also when the
//!   pick could have been fast-forwarded, so the target's first-parent history shows one merge
//!   per landed branch.

use gix::bstr::{BStr, ByteSlice};
use gix::merge::tree::{ResolutionFailure, TreatAsUnresolved};
use jiff::Timestamp;

use super::{At, Error, ObjectId, Repo, Result, describe};

/// One branch to merge into a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub tip: ObjectId,
    /// The message of the merge commit that brings it in.
    pub message: String,
}

/// The author and committer of candidate commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateSignature {
    pub name: String,
    pub email: String,
    pub time: Timestamp,
}

impl CandidateSignature {
    fn to_gix(&self) -> gix::actor::Signature {
        gix::actor::Signature {
            name: self.name.as_str().into(),
            email: self.email.as_str().into(),
            time: gix::date::Time {
                seconds: self.time.as_second(),
                offset: 0,
            },
        }
    }
}

/// What became of one pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickOutcome {
    /// Merged cleanly: the new candidate commit and its tree.
    Merged { commit: ObjectId, tree: ObjectId },
    /// The pick's tip is already part of the candidate; nothing was written.
    AlreadyMerged,
    /// The pick conflicts with the candidate so far and was left out.
    Conflict { paths: Vec<String> },
}

/// A candidate: `base` with every pick that merged cleanly stacked on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub base: ObjectId,
    /// The last good commit; `base` itself when nothing merged.
    pub head: ObjectId,
    /// The tree of `head`, the key of anything cached about the candidate's content.
    pub head_tree: ObjectId,
    /// One per pick, in the order given.
    pub outcomes: Vec<PickOutcome>,
}

/// The result of merging two commits' trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeMerge {
    Clean {
        tree: ObjectId,
    },
    /// Paths that need a human, sorted, without duplicates.
    Conflict {
        paths: Vec<String>,
    },
    /// Only from [`Repo::merge_tree_in_process`]: gix could not decide, and `reason` says why.
    /// [`Repo::merge_tree`] then asks git.
    Undecidable {
        reason: String,
    },
}

impl Repo<'_> {
    /// Merge each pick in order on top of `base` (see the module guarantees), writing one merge
    /// commit per clean pick, signed by `signature`.
    pub fn stack_candidate(&self, base: ObjectId, picks: &[Pick], signature: &CandidateSignature) -> Result<Stack> {
        let mut head = base;
        let mut head_tree = self.tree_of(base)?;
        let mut outcomes = Vec::with_capacity(picks.len());
        for pick in picks {
            if self.is_ancestor(pick.tip, head)? {
                outcomes.push(PickOutcome::AlreadyMerged);
                continue;
            }
            let verdict = match self.merge_tree_in_process(head, pick.tip)? {
                TreeMerge::Clean { tree } => Ok(tree),
                TreeMerge::Conflict { paths } => Err(paths),
                TreeMerge::Undecidable { .. } => self.git_merge(head, pick.tip)?,
            };
            match verdict {
                Ok(tree) => {
                    let commit = self.write_merge_commit(tree, [head, pick.tip], &pick.message, signature)?;
                    head = commit;
                    head_tree = tree;
                    outcomes.push(PickOutcome::Merged { commit, tree });
                }
                Err(paths) => outcomes.push(PickOutcome::Conflict { paths }),
            }
        }
        Ok(Stack {
            base,
            head,
            head_tree,
            outcomes,
        })
    }

    /// The tree of `commit`.
    pub fn tree_of(&self, commit: ObjectId) -> Result<ObjectId> {
        let what = format!("read the tree of commit {commit}");
        let commit = self.repo.find_commit(commit).map_err(Error::gix(what.clone()))?;
        commit.tree_id().map(|id| id.detach()).map_err(Error::gix(what))
    }

    /// Merge the trees of commits `ours` and `theirs` (over their merge base) in process, falling
    /// back to git when gix cannot decide. Never [`TreeMerge::Undecidable`].
    pub fn merge_tree(&self, ours: ObjectId, theirs: ObjectId) -> Result<TreeMerge> {
        match self.merge_tree_in_process(ours, theirs)? {
            TreeMerge::Undecidable { .. } => self.merge_tree_with_git(ours, theirs),
            decided => Ok(decided),
        }
    }

    /// Merge the trees of commits `ours` and `theirs` with gix only. Merged blobs and, when
    /// clean, the merged tree are written to the object database.
    pub fn merge_tree_in_process(&self, ours: ObjectId, theirs: ObjectId) -> Result<TreeMerge> {
        let options = match self.repo.tree_merge_options() {
            Ok(options) => options,
            Err(err) => {
                return Ok(TreeMerge::Undecidable {
                    reason: format!("cannot read the merge configuration: {err}"),
                });
            }
        };
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: Some("base".into()),
            current: Some("candidate".into()),
            other: Some("pick".into()),
        };
        let mut outcome = match self.repo.merge_commits(ours, theirs, labels, options.into()) {
            Ok(outcome) => outcome,
            Err(err) => {
                return Ok(TreeMerge::Undecidable {
                    reason: format!("gix cannot merge {ours} and {theirs}: {err}"),
                });
            }
        };
        let conflicts = &outcome.tree_merge.conflicts;
        if let Some(conflict) = conflicts
            .iter()
            .find(|conflict| gix_cannot_decide(&conflict.resolution))
        {
            let (our_change, _) = conflict.changes_in_resolution();
            return Ok(TreeMerge::Undecidable {
                reason: format!(
                    "gix cannot decide the conflict at {}: {:?}",
                    our_change.location(),
                    conflict.resolution
                ),
            });
        }
        if outcome.tree_merge.has_unresolved_conflicts(TreatAsUnresolved::git()) {
            let mut paths: Vec<String> = conflicts
                .iter()
                .filter(|conflict| conflict.is_unresolved(TreatAsUnresolved::git()))
                .flat_map(|conflict| {
                    let (our_change, their_change) = conflict.changes_in_resolution();
                    [path(our_change.location()), path(their_change.location())]
                })
                .collect();
            paths.sort();
            paths.dedup();
            return Ok(TreeMerge::Conflict { paths });
        }
        let tree = outcome
            .tree_merge
            .tree
            .write()
            .map_err(Error::gix("write the merged tree"))?;
        Ok(TreeMerge::Clean { tree: tree.detach() })
    }

    /// Merge the trees of commits `ours` and `theirs` with the user's `git merge-tree
    /// --write-tree` (git 2.38 or newer), which writes the merged tree to the object database.
    pub fn merge_tree_with_git(&self, ours: ObjectId, theirs: ObjectId) -> Result<TreeMerge> {
        Ok(match self.git_merge(ours, theirs)? {
            Ok(tree) => TreeMerge::Clean { tree },
            Err(paths) => TreeMerge::Conflict { paths },
        })
    }

    /// `git merge-tree --write-tree` of `ours` and `theirs`: the merged tree, or the conflicted
    /// paths.
    fn git_merge(&self, ours: ObjectId, theirs: ObjectId) -> Result<Result<ObjectId, Vec<String>>> {
        let what = "merge the trees with git merge-tree";
        let mut command = self.git_command(At::Main);
        command.args(["merge-tree", "--write-tree", "-z", "--name-only", "--no-messages"]);
        command.args([ours.to_string(), theirs.to_string()]);
        let output = command.output().map_err(|source| Error::Io {
            what: format!("run git to {what}"),
            source,
        })?;
        // Exit 0 is clean, 1 is conflicted; anything else is git failing.
        let conflicted = match output.status.code() {
            Some(0) => false,
            Some(1) => true,
            _ => {
                return Err(Error::Process {
                    what: what.to_owned(),
                    command: describe(&command),
                    status: output.status,
                    stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                });
            }
        };
        // The tree id, then (when conflicted) one conflicted path per field, NUL-separated.
        let mut fields = output.stdout.split(|byte| *byte == 0).filter(|field| !field.is_empty());
        let unexpected = || Error::UnexpectedOutput {
            what: what.to_owned(),
            output: String::from_utf8_lossy(&output.stdout).into_owned(),
        };
        let tree = fields
            .next()
            .and_then(|hex| ObjectId::from_hex(hex).ok())
            .ok_or_else(unexpected)?;
        if !conflicted {
            return Ok(Ok(tree));
        }
        let mut paths: Vec<String> = fields.map(|field| path(field.as_bstr())).collect();
        paths.sort();
        paths.dedup();
        Ok(Err(paths))
    }

    /// Whether `ancestor` is `descendant` or reachable from it.
    fn is_ancestor(&self, ancestor: ObjectId, descendant: ObjectId) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        let base = self.repo.merge_base(ancestor, descendant).map_err(Error::gix(format!(
            "find the merge base of {ancestor} and {descendant}"
        )))?;
        Ok(base.is_some_and(|base| base.detach() == ancestor))
    }

    /// Write a merge commit of `tree` on `parents`; no ref moves.
    fn write_merge_commit(
        &self,
        tree: ObjectId,
        parents: [ObjectId; 2],
        message: &str,
        signature: &CandidateSignature,
    ) -> Result<ObjectId> {
        let mut message = message.trim_end().to_owned();
        message.push('\n');
        let signature = signature.to_gix();
        let commit = gix::objs::Commit {
            tree,
            parents: parents.into_iter().collect(),
            author: signature.clone(),
            committer: signature,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        self.repo
            .write_object(&commit)
            .map(|id| id.detach())
            .map_err(Error::gix("write the candidate commit"))
    }
}

/// Conflicts gix leaves to a human although git may resolve them: states gix does not know,
/// and submodules (gix has no submodule history to find a fast-forward in).
fn gix_cannot_decide(resolution: &Result<gix::merge::tree::Resolution, ResolutionFailure>) -> bool {
    use gix::merge::tree::Resolution;
    let failure = match resolution {
        Err(failure) | Ok(Resolution::Forced(failure)) => failure,
        Ok(_) => return false,
    };
    matches!(
        failure,
        ResolutionFailure::Unknown | ResolutionFailure::SubmoduleMerge | ResolutionFailure::SubmoduleAddAdd
    )
}

/// A repository path as text (paths that are not UTF-8 lossily).
fn path(location: &BStr) -> String {
    location.to_str_lossy().into_owned()
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "merge_diff_tests.rs"]
mod diff_tests;
