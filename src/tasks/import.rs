//! Importing a plan: each stage becomes a task (or updates the task it became before), so a
//! plan can be re-imported as it evolves.
//!
//! A stage's task records where it came from in `task.json`: `plan` (the plan's key, see
//! [`crate::plan::plan_key`]), `stage` (the stage id, which then works wherever a task id is
//! accepted), `stage_fingerprint` (a hash of the stage as last imported), `plan_settings` (the
//! plan-level settings) and `stage_hints` (the stage's execution hints). Re-importing the same
//! plan: unchanged stages change nothing, changed stages update their task (a new version in
//! its history), new stages are created, and stages gone from the plan are reported (cancelled
//! only with `prune`). A task that is done is never changed: a changed stage whose task is done
//! is reported as skipped. Tasks stored under a key an earlier version gave the plan are
//! recognised for the stages the plan still has, and move to the plan's key when next changed.
//! All of it lands in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::edit::change_status;
use crate::loom::workset::Workset;
use crate::loom::{Actor, Loom, Result, with_retries};
use crate::model::checks::{Check, PlacedCheck};
use crate::model::state::{self, Kind};
use crate::model::{StageData, Status, Stored, Task, TaskId};
use crate::plan::{Plan, Stage};

/// What importing a plan did (or, with `dry_run`, would do), by stage id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub created: Vec<(String, TaskId)>,
    pub updated: Vec<(String, TaskId)>,
    pub unchanged: Vec<(String, TaskId)>,
    /// Stages no longer in the plan whose tasks are still open.
    pub removed: Vec<(String, TaskId)>,
    /// Of those, the ones cancelled (with `prune`).
    pub cancelled: Vec<(String, TaskId)>,
    /// Stages that changed in the plan whose tasks are done, and so were left as they are.
    pub skipped: Vec<(String, TaskId)>,
}

impl Loom {
    /// Import `plan` under `plan_key`; tasks stored under one of `earlier_keys` (see
    /// [`crate::plan::earlier_keys`]) count as the plan's for the stages it has.
    pub fn import_plan(
        &self,
        plan: &Plan,
        keys: &PlanKeys<'_>,
        dry_run: bool,
        prune: bool,
        actor: &Actor,
    ) -> Result<ImportOutcome> {
        with_retries(|| self.import_once(plan, keys, dry_run, prune, actor))
    }

    fn import_once(
        &self,
        plan: &Plan,
        keys: &PlanKeys<'_>,
        dry_run: bool,
        prune: bool,
        actor: &Actor,
    ) -> Result<ImportOutcome> {
        let plan_key = keys.key;
        let snapshot = self.snapshot(actor.now)?;
        let stage_of = |task: &Task, key: &str| {
            (task.plan() == Some(key))
                .then(|| task.stage())
                .flatten()
                .map(str::to_owned)
        };
        let mut existing: BTreeMap<String, TaskId> = BTreeMap::new();
        for entry in snapshot.tasks.values() {
            if let Some(stage) = stage_of(&entry.task, plan_key) {
                existing.insert(stage, entry.task.id.clone());
            }
        }
        // Earlier keys in the order given, so the choice among duplicates left by an earlier
        // version is the same on every import.
        for earlier in keys.earlier {
            for entry in snapshot.tasks.values() {
                if let Some(stage) = stage_of(&entry.task, earlier)
                    && plan.stage(&stage).is_some()
                    && !existing.contains_key(&stage)
                {
                    existing.insert(stage, entry.task.id.clone());
                }
            }
        }
        let settings = plan.settings();
        let mut ids: BTreeMap<&str, TaskId> = BTreeMap::new();
        for stage in &plan.stages {
            let id = match existing.get(&stage.id) {
                Some(id) => id.clone(),
                None => self.fresh_id(&stage.name, actor)?,
            };
            ids.insert(stage.id.as_str(), id);
        }
        let mut outcome = ImportOutcome::default();
        let mut workset = Workset::on(&self.store, &snapshot);
        for stage in &plan.stages {
            let id = ids[stage.id.as_str()].clone();
            let deps: BTreeSet<TaskId> = stage
                .dependencies
                .iter()
                .filter_map(|dep| ids.get(dep.as_str()).cloned())
                .collect();
            if existing.contains_key(&stage.id) {
                let current = workset.get(&id)?.clone();
                let fingerprint = stage.fingerprint();
                let same_stage = current.stage_data.fingerprint.as_ref().and_then(Stored::ok) == Some(&fingerprint);
                // Done work is never rewritten; what the plan now says differently is reported.
                if current.status() == Status::Done {
                    match same_stage {
                        true => outcome.unchanged.push((stage.id.clone(), id)),
                        false => outcome.skipped.push((stage.id.clone(), id)),
                    }
                    continue;
                }
                let same_plan = current.plan() == Some(plan_key)
                    && current
                        .stage_data
                        .plan_settings
                        .as_ref()
                        .map_or(&empty_settings(), Stored::json)
                        == &Value::Object(settings.clone());
                if same_stage && same_plan {
                    outcome.unchanged.push((stage.id.clone(), id));
                    continue;
                }
                let task = workset.get_mut(&id)?;
                apply_stage(task, stage, plan_key, &settings, deps);
                workset.note(&id, format!("update from plan {plan_key} (stage {})", stage.id));
                outcome.updated.push((stage.id.clone(), id));
            } else {
                let priority = self.settings().tasks.default_priority;
                let title = stage.name.trim().to_owned();
                let mut task = state::new_task(id.clone(), title.clone(), Kind::Task, priority, actor.now);
                apply_stage(&mut task, stage, plan_key, &settings, deps);
                workset.insert_new(
                    task,
                    format!("create task {title:?} from plan {plan_key} (stage {})", stage.id),
                );
                outcome.created.push((stage.id.clone(), id));
            }
        }
        for (stage, id) in &existing {
            if plan.stage(stage).is_some() {
                continue;
            }
            let status = workset.get(id)?.status();
            if status.is_closed() {
                continue;
            }
            outcome.removed.push((stage.clone(), id.clone()));
            if prune {
                change_status(&mut workset, id, Status::Cancelled)?;
                workset.note(id, format!("cancelled: stage {stage} is no longer in plan {plan_key}"));
                outcome.cancelled.push((stage.clone(), id.clone()));
            }
        }
        if !dry_run {
            workset.commit(actor, "plan import")?;
        }
        Ok(outcome)
    }
}

/// The keys a plan is known by: its own, and those an earlier version may have stored its tasks
/// under.
#[derive(Debug, Clone, Copy)]
pub struct PlanKeys<'a> {
    pub key: &'a str,
    pub earlier: &'a [String],
}

fn empty_settings() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Set the task's fields from the stage (the status is never touched: a done task stays done).
fn apply_stage(
    task: &mut Task,
    stage: &Stage,
    plan_key: &str,
    settings: &serde_json::Map<String, Value>,
    deps: BTreeSet<TaskId>,
) {
    task.title = stage.name.trim().to_owned();
    task.description = stage.description.clone();
    task.deps = deps;
    task.files = stage.files.clone();
    // Plain commands go where every version reads them; commands with expectations go to
    // `acceptance_checks`, which `verify` reads too.
    task.acceptance = stage
        .acceptance
        .iter()
        .filter(|check| check.is_plain())
        .map(|check| check.command.clone())
        .collect();
    *task.stage_data = StageData {
        plan: Stored::unless_empty(plan_key.to_owned()),
        stage: Stored::unless_empty(stage.id.clone()),
        fingerprint: Stored::unless_empty(stage.fingerprint()),
        acceptance_checks: Stored::unless_empty(ordered_rich_checks(&stage.acceptance)),
        artifacts: Stored::unless_empty(stage.artifacts.clone()),
        wiring: Stored::unless_empty(stage.wiring.clone()),
        truths: Stored::unless_empty(stage.truths.clone()),
        before_stage: Stored::unless_empty(stage.before_stage.clone()),
        after_stage: Stored::unless_empty(stage.after_stage.clone()),
        wiring_tests: Stored::unless_empty(stage.wiring_tests.clone()),
        dead_code_check: Stored::unless_empty(stage.dead_code_check.clone()),
        regression_test: Stored::unless_empty(stage.regression_test.clone()),
        setup: Stored::unless_empty(stage.setup.clone()),
        context_budget: Stored::unless_empty(stage.context_budget.map(u64::from)),
        working_dir: Stored::unless_empty(stage.working_dir.clone()),
        stage_extra: Stored::unless_empty(stage.extra.clone().into_iter().collect()),
        plan_settings: Stored::unless_empty(settings.clone()),
        hints: Stored::unless_empty(stage.hints.clone()),
    };
}

/// The checks with expectations, each that comes before a plain command in the plan carrying
/// its `position` in the plan's list, so `verify` runs them all in the plan's order although
/// they are stored apart (see `spec_of`). Those after every plain command need none.
fn ordered_rich_checks(acceptance: &[Check]) -> Vec<PlacedCheck> {
    let last_plain = acceptance.iter().rposition(Check::is_plain);
    acceptance
        .iter()
        .enumerate()
        .filter(|(_, check)| !check.is_plain())
        .map(|(position, check)| PlacedCheck {
            check: check.clone(),
            position: last_plain.is_some_and(|last| position < last).then_some(position),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entity;
    use crate::model::Priority;
    use crate::plan::{PlanSource, parse_plan};

    /// Every stage of the fixture plan as `task.json` bytes, as an import stores them.
    fn stored_blobs() -> Vec<u8> {
        let text = include_str!("../../fixtures/plans/stored/every-field.md");
        let plan = parse_plan(text, PlanSource::Markdown)
            .expect("the fixture plan is valid")
            .plan;
        let settings = plan.settings();
        let ids = [
            TaskId::parse("loom-0000000a").unwrap(),
            TaskId::parse("loom-0000000b").unwrap(),
        ];
        let mut bytes = Vec::new();
        for (stage, id) in plan.stages.iter().zip(&ids) {
            let deps = match stage.dependencies.is_empty() {
                true => BTreeSet::new(),
                false => BTreeSet::from([ids[0].clone()]),
            };
            let mut task = state::new_task(
                id.clone(),
                stage.name.clone(),
                Kind::Task,
                Priority::P2,
                jiff::Timestamp::UNIX_EPOCH,
            );
            apply_stage(&mut task, stage, "every-field", &settings, deps);
            bytes.extend(task.to_blob());
        }
        bytes
    }

    #[test]
    fn an_imported_stage_is_stored_byte_for_byte_as_before() {
        // Guards: a change to how stage data is typed in memory changing the `task.json` an
        // import writes (every ref written before would then read as changed).
        let expected = include_bytes!("../../fixtures/plans/stored/every-field.tasks.json");
        let found = stored_blobs();
        assert_eq!(String::from_utf8_lossy(&found), String::from_utf8_lossy(expected));
    }
}
