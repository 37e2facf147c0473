//! Where a new task branch starts: under `[merge] gate = "done"` a task may start while the
//! work of its done dependencies is still on their own branches, so its branch starts from
//! those branches merged onto the base (in dependency id order), built in the object database
//! exactly like a merge candidate. Under gate `merged` their work is on the target already and
//! the branch starts from the base itself.
//!
//! Guarantees:
//! - an agent never starts without the work its task depends on: every done dependency whose
//!   branch holds work not yet merged is in the start commit, or the start fails;
//! - dependencies whose branches conflict are reported (naming them and the paths) before any
//!   branch or worktree exists; the commits written on the way are objects nothing points at;
//! - nothing here moves a ref or touches a working tree.

use crate::loom::{Actor, Error, Loom, Result};
use crate::model::{Gate, Status, Task, TaskId};
use crate::repo::{CandidateSignature, ObjectId, Pick, PickOutcome};

/// The commit a new task branch starts at, when it is not the base itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StartPoint {
    pub commit: ObjectId,
    /// The dependencies whose work it adds to the base, in id order.
    pub stacked: Vec<TaskId>,
}

/// The email of the merge commits a start point is made of (the name is the agent's), the
/// same as the one of git-loom's own records.
const EMAIL: &str = "loom";

impl Loom {
    /// Where the new branch of `task` starts when based on the tip of branch `base`: `None`
    /// for the base itself (gate `merged`, or no done dependency has work off the base).
    pub(crate) fn start_point(&self, task: &Task, base: &str, actor: &Actor) -> Result<Option<StartPoint>> {
        if self.settings().merge.gate() != Gate::Done {
            return Ok(None);
        }
        let repo = self.store.repo();
        let Some(base_tip) = repo.branch_tip(base)? else {
            return Ok(None);
        };
        let mut deps = Vec::new();
        let mut picks = Vec::new();
        for dep in &task.deps {
            // A dependency that cannot be read holds the task back (it is blocked), so there is
            // no work of it to start from.
            let Ok(entry) = self.task(dep.as_str()) else { continue };
            let dep_task = entry.task;
            let Some(branch) = dep_task.branch.clone() else {
                continue;
            };
            if dep_task.status() != Status::Done || dep_task.is_merged() {
                continue;
            }
            let tip = self.work_of(&task.id, &dep_task, &branch)?;
            picks.push(Pick {
                tip,
                message: format!("Merge {branch} ({dep}: {}) to start {}", dep_task.title, task.id),
            });
            deps.push(dep.clone());
        }
        if picks.is_empty() {
            return Ok(None);
        }
        let signature = CandidateSignature {
            name: actor.agent.clone(),
            email: EMAIL.to_owned(),
            time: actor.now,
        };
        let stack = repo.stack_candidate(base_tip, &picks, &signature)?;
        let conflicts: Vec<(TaskId, Vec<String>)> = deps
            .iter()
            .zip(&stack.outcomes)
            .filter_map(|(dep, outcome)| match outcome {
                PickOutcome::Conflict { paths } => Some((dep.clone(), paths.clone())),
                _ => None,
            })
            .collect();
        if !conflicts.is_empty() {
            return Err(Error::DependencyConflict {
                id: task.id.clone(),
                base: base.to_owned(),
                deps,
                conflicts,
            });
        }
        let stacked: Vec<TaskId> = deps
            .into_iter()
            .zip(&stack.outcomes)
            .filter(|(_, outcome)| matches!(outcome, PickOutcome::Merged { .. }))
            .map(|(dep, _)| dep)
            .collect();
        Ok((!stacked.is_empty()).then_some(StartPoint {
            commit: stack.head,
            stacked,
        }))
    }

    /// The commit holding a done dependency's work: its branch's tip, else the commit `done`
    /// recorded (the branch may have been deleted here while the objects remain).
    fn work_of(&self, id: &TaskId, dep: &Task, branch: &str) -> Result<ObjectId> {
        let repo = self.store.repo();
        if let Some(tip) = repo.branch_tip(branch)? {
            return Ok(tip);
        }
        let recorded = dep
            .extra
            .get("commit")
            .and_then(serde_json::Value::as_str)
            .and_then(|hex| ObjectId::from_hex(hex.as_bytes()).ok())
            .filter(|commit| repo.tree_of(*commit).is_ok());
        recorded.ok_or_else(|| Error::DependencyWorkMissing {
            id: id.clone(),
            dep: dep.id.clone(),
            branch: branch.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::claims::{ClaimOptions, Credentials, DoneRecord};
    use crate::loom::testing::{Fixture, actor};
    use crate::model::Kind;
    use crate::project::config_set;
    use crate::tasks::NewTask;

    fn git(fx: &Fixture, args: &[&str]) {
        let status = Command::new("git")
            .args(args)
            .current_dir(fx.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    /// A repository whose `main` has a commit, a done dependency whose work (`dep.txt`) is on
    /// `loom/dep` only, and a task waiting on it.
    fn done_dependency(fx: &Fixture) -> (TaskId, Task) {
        git(fx, &["commit", "-q", "--allow-empty", "-m", "start"]);
        git(fx, &["checkout", "-q", "-b", "loom/dep"]);
        std::fs::write(fx.path().join("dep.txt"), "work\n").unwrap();
        git(fx, &["add", "dep.txt"]);
        git(fx, &["commit", "-q", "-m", "the dependency's work"]);
        git(fx, &["checkout", "-q", "main"]);
        let dep = fx.task("dependency", 0);
        let agent = actor("alice", 1);
        fx.loom
            .claim(dep.as_str(), &ClaimOptions { ttl_secs: Some(600) }, &agent)
            .unwrap();
        let entry = fx.loom.task(dep.as_str()).unwrap();
        let record = DoneRecord {
            branch: Some("loom/dep".into()),
            ..DoneRecord::default()
        };
        fx.loom
            .record_done(entry, Credentials::default(), &record, &agent, |_| Ok(()))
            .unwrap();
        let task = fx.get(&fx.create(
            NewTask {
                deps: vec![dep.to_string()],
                ..NewTask::titled("dependent", Kind::Task)
            },
            2,
        ));
        (dep, task)
    }

    // Guards: a dependent's branch under gate `done` starting without its dependency's work.
    #[test]
    fn under_gate_done_a_branch_starts_from_the_dependencies_work() {
        let fx = Fixture::new();
        let (dep, task) = done_dependency(&fx);
        let start = fx.loom.start_point(&task, "main", &actor("bob", 3)).unwrap().unwrap();
        assert_eq!(start.stacked, vec![dep]);
        let repo = fx.loom.store.repo();
        let main = repo.branch_tip("main").unwrap().unwrap();
        let work = repo.branch_tip("loom/dep").unwrap().unwrap();
        let is_ancestor = |ancestor: ObjectId| {
            Command::new("git")
                .args([
                    "merge-base",
                    "--is-ancestor",
                    &ancestor.to_string(),
                    &start.commit.to_string(),
                ])
                .current_dir(fx.path())
                .status()
                .unwrap()
                .success()
        };
        assert!(is_ancestor(main) && is_ancestor(work));
        assert_eq!(repo.branch_tip("main").unwrap(), Some(main), "no ref moves");
    }

    // Guards: the start commit being written under gate `merged`, where the dependencies'
    // work reaches the target before any dependent starts.
    #[test]
    fn under_gate_merged_a_branch_starts_from_the_base() {
        let fx = Fixture::new();
        let (_, task) = done_dependency(&fx);
        config_set(&fx.loom.store, "merge.gate", Some("merged"), &actor("setup", 3)).unwrap();
        assert_eq!(fx.open().start_point(&task, "main", &actor("bob", 4)).unwrap(), None);
    }
}
