//! Verifying a task's work: its checks run against the work as committed in the directory it
//! lives in (its worktree).
//!
//! A task carries its acceptance commands in `acceptance`; a task imported from a plan may also
//! carry richer checks in its stage data ([`crate::model::StageData`], fields of `task.json`
//! kept by every version, since unknown fields are preserved): `acceptance_checks` (commands
//! with expected output and exit code), `setup`, `truths`, `before_stage`, `after_stage`,
//! `artifacts` (paths or globs that must exist and not be stubs), `wiring` (`{source, pattern,
//! description}`: the pattern must match in the file), `wiring_tests`, `dead_code_check`,
//! `regression_test` and `working_dir` (where all of it resolves).
//!
//! Guarantees: checks in a task's own worktree judge committed work. A task worktree (or a
//! directory given with `--worktree`) with uncommitted changes, untracked files included, is
//! not checked as it stands: its `HEAD` is checked out, detached, in a temporary worktree under
//! the repository's `loom` directory, the checks run there, and that worktree is removed
//! afterwards, whatever the outcome. The main working tree, used for a task without a
//! worktree, is shared and not the task's own, so it is checked as it stands. `before_stage`
//! checks run in a temporary checkout of the commit where the work left the target branch.
//! No branch or ref is moved.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::loom::{Error, Loom, Result};
use crate::model::checks::{Check, PlacedCheck};
use crate::model::{Stored, Task};
use crate::store::{ObjectId, Store};
use crate::verify::{self, BeforeTree, CheckKind, Report, Spec};

/// How long one command may run when the settings do not say.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(600);

/// The checks of a task. A check field that cannot be read (written by hand, or by a version
/// with another layout) becomes a failing entry in [`Spec::unreadable`], never a missing check.
pub fn spec_of(task: &Task) -> Spec {
    let mut unreadable = Vec::new();
    let data = &task.stage_data;
    let rich = read_field(
        &data.acceptance_checks,
        "acceptance_checks",
        CheckKind::Acceptance,
        &mut unreadable,
    );
    let acceptance = in_plan_order(&task.acceptance, rich);
    Spec {
        working_dir: read_field(&data.working_dir, "working_dir", CheckKind::Acceptance, &mut unreadable),
        setup: read_field(&data.setup, "setup", CheckKind::Acceptance, &mut unreadable),
        acceptance,
        truths: read_field(&data.truths, "truths", CheckKind::Truth, &mut unreadable),
        before_stage: read_field(
            &data.before_stage,
            "before_stage",
            CheckKind::BeforeStage,
            &mut unreadable,
        ),
        after_stage: read_field(&data.after_stage, "after_stage", CheckKind::AfterStage, &mut unreadable),
        artifacts: read_field(&data.artifacts, "artifacts", CheckKind::Artifact, &mut unreadable),
        wiring: read_field(&data.wiring, "wiring", CheckKind::Wiring, &mut unreadable),
        wiring_tests: read_field(
            &data.wiring_tests,
            "wiring_tests",
            CheckKind::WiringTest,
            &mut unreadable,
        ),
        dead_code_check: read_field(
            &data.dead_code_check,
            "dead_code_check",
            CheckKind::DeadCode,
            &mut unreadable,
        ),
        regression_test: read_field(
            &data.regression_test,
            "regression_test",
            CheckKind::RegressionTest,
            &mut unreadable,
        ),
        unreadable,
    }
}

/// A stored check field's value, the default when the task has none; one that cannot be read
/// is listed in `unreadable` with why, under the kind of check it holds.
fn read_field<T: Clone + Default + serde::de::DeserializeOwned>(
    field: &Option<Stored<T>>,
    name: &str,
    kind: CheckKind,
    unreadable: &mut Vec<(CheckKind, String)>,
) -> T {
    match field.as_ref().map(Stored::get) {
        None => T::default(),
        Some(Ok(value)) => value.clone(),
        Some(Err(err)) => {
            unreadable.push((kind, format!("the task's `{name}` cannot be read: {err}")));
            T::default()
        }
    }
}

/// The plain commands and the checks with expectations merged back into the plan's order:
/// each positioned check at its position, plain commands filling the other places in order,
/// then the checks that came after every plain command.
fn in_plan_order(plain: &[String], rich: Vec<PlacedCheck>) -> Vec<Check> {
    let total = plain.len() + rich.len();
    let mut slots: Vec<Option<Check>> = vec![None; total];
    let mut rest = Vec::new();
    for item in rich {
        match item.position {
            Some(position) if position < total && slots[position].is_none() => slots[position] = Some(item.check),
            _ => rest.push(item.check),
        }
    }
    let mut fill = plain.iter().map(|command| Check::new(command.clone())).chain(rest);
    slots
        .into_iter()
        .flat_map(|slot| slot.or_else(|| fill.next()))
        .collect()
}

/// Whether a task has anything to check.
pub fn has_checks(spec: &Spec) -> bool {
    !spec.is_empty()
}

/// The directory a task's work lives in, and what git says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkState {
    pub dir: PathBuf,
    /// Whether `dir` is the task's own (given, its claim's or its worktree), rather than the
    /// main working tree everyone shares.
    pub own: bool,
    /// The commit checked out there; `None` when it is not a git checkout or has no commit.
    pub head: Option<ObjectId>,
    /// Uncommitted changes, one `git status --porcelain` line each (only read for a directory
    /// that is the task's own).
    pub changes: Vec<String>,
    /// Commits `head` has beyond where it left the target branch; `None` when unknown (or not
    /// the task's own directory).
    pub ahead: Option<u32>,
}

/// Where the checks ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// In the directory itself: it had no uncommitted changes (or is not a git checkout).
    InPlace(PathBuf),
    /// In a temporary checkout of this commit, since the directory had uncommitted changes.
    Commit(ObjectId),
}

/// A temporary detached worktree, removed when dropped.
struct TempCheckout<'a> {
    store: &'a Store,
    path: PathBuf,
}

impl<'a> TempCheckout<'a> {
    fn new(store: &'a Store, task: &str, commit: ObjectId) -> Result<TempCheckout<'a>> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{task}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = store.local_dir().join("verify").join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| Error::Invalid(format!("cannot create {}: {err}", parent.display())))?;
        }
        store.repo().add_detached_worktree(&path, commit)?;
        Ok(TempCheckout { store, path })
    }
}

impl Drop for TempCheckout<'_> {
    fn drop(&mut self) {
        // Best effort: a failure leaves a directory under .git/loom/verify, which `git worktree
        // prune` tidies once it is gone, and never touches the user's work.
        if self.store.repo().remove_worktree(&self.path, true).is_err() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl Loom {
    /// Where a task's work is checked: `worktree` when given, else the claim's worktree, else
    /// the task's worktree when it exists, else the main working tree.
    pub fn work_dir_of(&self, task: &Task, worktree: Option<PathBuf>) -> Result<PathBuf> {
        Ok(self.locate_work(task, worktree)?.0)
    }

    /// The work directory and whether it is the task's own.
    fn locate_work(&self, task: &Task, worktree: Option<PathBuf>) -> Result<(PathBuf, bool)> {
        self.find_work(task, worktree)?.ok_or_else(|| {
            Error::Invalid("a bare repository has no working tree to check work in: pass --worktree".into())
        })
    }

    /// Like [`Loom::locate_work`], `None` when there is no directory at all (a bare repository
    /// and no worktree).
    fn find_work(&self, task: &Task, worktree: Option<PathBuf>) -> Result<Option<(PathBuf, bool)>> {
        if let Some(path) = worktree {
            return Ok(Some((path, true)));
        }
        if let Some((_, Ok(claim))) = self.live_claim(&task.id)?
            && let Some(path) = claim.worktree
        {
            return Ok(Some((PathBuf::from(path), true)));
        }
        if let Ok(path) = self.worktree_path(&task.id)
            && path.is_dir()
        {
            return Ok(Some((path, true)));
        }
        Ok(self.store.repo().main_work_dir().map(|main| (main, false)))
    }

    /// The directory a task's work lives in and its git state.
    pub fn work_state(&self, task: &Task, worktree: Option<PathBuf>) -> Result<WorkState> {
        let (dir, own) = self.locate_work(task, worktree)?;
        self.state_of(dir, own)
    }

    /// Like [`Loom::work_state`], `None` when there is no directory to look in at all (a bare
    /// repository, no worktree), which is not an error for a caller with nothing to check.
    pub fn work_state_if_any(&self, task: &Task, worktree: Option<PathBuf>) -> Result<Option<WorkState>> {
        match self.find_work(task, worktree)? {
            Some((dir, own)) => self.state_of(dir, own).map(Some),
            None => Ok(None),
        }
    }

    fn state_of(&self, dir: PathBuf, own: bool) -> Result<WorkState> {
        let head = self.store.repo().checkout_head(&dir);
        // Only a task's own worktree is judged by what is committed in it; the shared main
        // working tree is checked as it stands, so its status is not read.
        if !own {
            return Ok(WorkState {
                dir,
                own,
                head,
                changes: Vec::new(),
                ahead: None,
            });
        }
        let changes = self.store.repo().checkout_changes(&dir).unwrap_or_default();
        let ahead = match (&head, self.target_branch()) {
            (Some(head), Some(target)) => match self.store.repo().fork_point(*head, &target)? {
                Some(base) => Some(self.store.repo().commits_since(base, *head)?),
                None => None,
            },
            _ => None,
        };
        Ok(WorkState {
            dir,
            own,
            head,
            changes,
            ahead,
        })
    }

    /// Run a task's checks against its committed work (see the module docs). `env` is added to
    /// the commands' environment; `progress` sees each result as it ends.
    pub fn verify_task(
        &self,
        task: &Task,
        state: &WorkState,
        env: Vec<(String, String)>,
        progress: impl FnMut(&verify::CheckResult),
    ) -> Result<(Checked, Report)> {
        let spec = spec_of(task);
        let timeout = match self.settings().verify.timeout_secs {
            0 => DEFAULT_CHECK_TIMEOUT,
            secs => Duration::from_secs(secs),
        };
        let id = task.id.to_string();
        let (checked, temp) = match &state.head {
            Some(head) if state.own && !state.changes.is_empty() => {
                let temp = TempCheckout::new(&self.store, &id, *head)?;
                (Checked::Commit(*head), Some(temp))
            }
            _ => (Checked::InPlace(state.dir.clone()), None),
        };
        let dir = temp.as_ref().map_or(state.dir.clone(), |temp| temp.path.clone());
        let (before, _before_temp) = self.before_tree(&spec, state, &id)?;
        let context = verify::Context {
            task: id,
            worktree: dir,
            env,
            timeout,
            stage: task.stage().map(str::to_owned),
            before,
        };
        let report =
            verify::verify_with_progress(&spec, &context, progress).map_err(|err| Error::Invalid(err.to_string()))?;
        Ok((checked, report))
    }

    /// The tree before_stage checks run in: the commit where the work left the target branch.
    fn before_tree(&self, spec: &Spec, state: &WorkState, id: &str) -> Result<(BeforeTree, Option<TempCheckout<'_>>)> {
        if spec.before_stage.is_empty() {
            return Ok((BeforeTree::Unavailable(String::new()), None));
        }
        let Some(head) = &state.head else {
            let reason = format!(
                "{} has no commit to find the work's starting point from",
                state.dir.display()
            );
            return Ok((BeforeTree::Unavailable(reason), None));
        };
        let Some(target) = self.target_branch() else {
            let reason = "no target branch to find where the work started (set worktrees.target)".to_owned();
            return Ok((BeforeTree::Unavailable(reason), None));
        };
        let Some(base) = self.store.repo().fork_point(*head, &target)? else {
            let reason = format!("the work shares no history with {target}, so its starting point is unknown");
            return Ok((BeforeTree::Unavailable(reason), None));
        };
        let temp = TempCheckout::new(&self.store, &format!("{id}-before"), base)?;
        Ok((BeforeTree::Dir(temp.path.clone()), Some(temp)))
    }
}

/// A short id for messages.
pub fn short_commit(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::{Kind, new_task};
    use crate::model::{Priority, TaskId};

    /// A task with these stored fields, as read from a `task.json` holding them.
    fn task_with(fields: serde_json::Value) -> Task {
        let id = TaskId::parse("loom-1a2b3c4d").unwrap();
        let mut task = new_task(id, "t".into(), Kind::Task, Priority::P2, jiff::Timestamp::UNIX_EPOCH);
        task.set_flat_fields(
            fields
                .as_object()
                .unwrap()
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        );
        task
    }

    #[test]
    fn every_stored_check_field_is_read() {
        let task = task_with(serde_json::json!({
            "working_dir": ".",
            "setup": ["export A=1"],
            "acceptance_checks": [{"command": "make", "stderr_empty": true, "exit_code": null}],
            "truths": [{"command": "false", "stdout_contains": [], "stdout_not_contains": [], "exit_code": null}],
            "before_stage": [{"command": "test ! -e x", "exit_code": 0}],
            "after_stage": [{"command": "test -e x"}],
            "artifacts": ["x"],
            "wiring_tests": [{"name": "n", "command": "c", "success_criteria": {"stderr_empty": true}}],
        }));
        let spec = spec_of(&task);
        assert_eq!(spec.working_dir.as_deref(), Some("."));
        assert_eq!(spec.setup, ["export A=1"]);
        assert!(spec.acceptance[0].stderr_empty);
        assert_eq!(spec.truths[0].command, "false");
        assert_eq!(spec.before_stage[0].exit_code, Some(0));
        assert_eq!(spec.after_stage[0].command, "test -e x");
        assert!(spec.wiring_tests[0].check.stderr_empty);
        assert!(spec.unreadable.is_empty());
        assert!(has_checks(&spec));
    }

    #[test]
    fn acceptance_runs_in_the_plan_order() {
        // Guards: plain commands (stored in `acceptance`) ran before every check with
        // expectations (stored in `acceptance_checks`), whatever the plan's order.
        let task = task_with(serde_json::json!({"acceptance_checks": [
            {"command": "r0", "exit_code": 1, "position": 0},
            {"command": "r2", "exit_code": 1, "position": 2},
            {"command": "r4", "exit_code": 1},
        ]}));
        let mut task = task;
        task.acceptance = vec!["p1".into(), "p3".into()];
        let order: Vec<String> = spec_of(&task)
            .acceptance
            .into_iter()
            .map(|check| check.command)
            .collect();
        assert_eq!(order, ["r0", "p1", "r2", "p3", "r4"]);
        // Stored by an older version (no positions): plain first, as it ran then.
        let task = task_with(serde_json::json!({"acceptance_checks": [{"command": "r", "exit_code": 1}]}));
        let mut task = task;
        task.acceptance = vec!["p".into()];
        let order: Vec<String> = spec_of(&task)
            .acceptance
            .into_iter()
            .map(|check| check.command)
            .collect();
        assert_eq!(order, ["p", "r"]);
    }

    #[test]
    fn an_unreadable_check_field_fails_instead_of_vanishing() {
        // Guards: a malformed check field was dropped silently, so its checks passed unseen.
        let task = task_with(serde_json::json!({"truths": "false", "wiring_tests": [{"name": 1}]}));
        let spec = spec_of(&task);
        assert!(spec.truths.is_empty());
        let kinds: Vec<CheckKind> = spec.unreadable.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, [CheckKind::Truth, CheckKind::WiringTest]);
        assert!(spec.unreadable[0].1.starts_with("the task's `truths` cannot be read: "));
        assert!(has_checks(&spec));
        let dir = tempfile::tempdir().unwrap();
        let context = verify::Context {
            task: "loom-1a2b3c4d".into(),
            worktree: dir.path().to_path_buf(),
            env: Vec::new(),
            timeout: DEFAULT_CHECK_TIMEOUT,
            stage: None,
            before: BeforeTree::Unavailable(String::new()),
        };
        let report = verify::verify(&spec, &context).unwrap();
        assert!(!report.passed());
        assert_eq!(report.checks.len(), 2);
    }
}
