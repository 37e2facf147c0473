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

use serde_json::{Value, json};

use super::edit::change_status;
use crate::loom::workset::Workset;
use crate::loom::{Actor, Loom, Result, with_retries};
use crate::model::state::{self, Kind};
use crate::model::{Status, Task, TaskId};
use crate::plan::{Check, Plan, Stage};

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

/// The `task.json` fields a stage sets beyond the task's own.
const STAGE_FIELDS: &[&str] = &[
    "plan",
    "stage",
    "stage_fingerprint",
    "acceptance_checks",
    "artifacts",
    "wiring",
    "truths",
    "before_stage",
    "after_stage",
    "wiring_tests",
    "dead_code_check",
    "regression_test",
    "setup",
    "context_budget",
    "working_dir",
    "stage_extra",
    "plan_settings",
    crate::model::stage::HINTS_KEY,
];

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
        let settings = Value::Object(plan.settings());
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
                let same_stage =
                    current.extra.get("stage_fingerprint").and_then(Value::as_str) == Some(fingerprint.as_str());
                // Done work is never rewritten; what the plan now says differently is reported.
                if current.status() == Status::Done {
                    match same_stage {
                        true => outcome.unchanged.push((stage.id.clone(), id)),
                        false => outcome.skipped.push((stage.id.clone(), id)),
                    }
                    continue;
                }
                let same_plan = current.plan() == Some(plan_key)
                    && current.extra.get("plan_settings").unwrap_or(&empty_settings()) == &settings;
                if same_stage && same_plan {
                    outcome.unchanged.push((stage.id.clone(), id));
                    continue;
                }
                let task = workset.get_mut(&id)?;
                apply_stage(task, stage, plan_key, &settings, deps);
                workset.note(&id, format!("update from plan {plan_key} (stage {})", stage.id));
                outcome.updated.push((stage.id.clone(), id));
            } else {
                let priority = self.settings.tasks.default_priority;
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
fn apply_stage(task: &mut Task, stage: &Stage, plan_key: &str, settings: &Value, deps: BTreeSet<TaskId>) {
    task.title = stage.name.trim().to_owned();
    task.description = stage.description.clone();
    task.deps = deps;
    task.files = stage.files.clone();
    // Plain commands go where every version reads them; commands with expectations go to
    // `acceptance_checks`, which `verify` reads too.
    task.acceptance = stage
        .acceptance
        .iter()
        .filter(|check| is_plain(check))
        .map(|check| check.command.clone())
        .collect();
    for field in STAGE_FIELDS {
        task.extra.remove(*field);
    }
    let mut set = |key: &str, value: Value| {
        let empty = matches!(&value, Value::Array(items) if items.is_empty())
            || matches!(&value, Value::Object(map) if map.is_empty())
            || value.is_null();
        if !empty {
            task.extra.insert(key.to_owned(), value);
        }
    };
    set("plan", json!(plan_key));
    set("stage", json!(stage.id));
    set("stage_fingerprint", json!(stage.fingerprint()));
    set("acceptance_checks", json!(ordered_rich_checks(&stage.acceptance)));
    set("artifacts", json!(stage.artifacts));
    set(
        "wiring",
        json!(
            stage
                .wiring
                .iter()
                .map(|wiring| {
                    let mut item =
                        json!({"source": wiring.source, "pattern": wiring.pattern, "description": wiring.description});
                    with_extra(&mut item, &wiring.extra);
                    item
                })
                .collect::<Vec<_>>()
        ),
    );
    set("truths", json!(stage.truths.iter().map(check_json).collect::<Vec<_>>()));
    set(
        "before_stage",
        json!(stage.before_stage.iter().map(check_json).collect::<Vec<_>>()),
    );
    set(
        "after_stage",
        json!(stage.after_stage.iter().map(check_json).collect::<Vec<_>>()),
    );
    set(
        "wiring_tests",
        json!(
            stage
                .wiring_tests
                .iter()
                .map(|test| {
                    let check = &test.check;
                    json!({
                        "name": test.name,
                        "command": check.command,
                        "description": check.description,
                        "success_criteria": {
                            "exit_code": check.exit_code,
                            "stdout_contains": check.stdout_contains,
                            "stdout_not_contains": check.stdout_not_contains,
                            "stderr_contains": check.stderr_contains,
                            "stderr_empty": check.stderr_empty,
                        },
                    })
                })
                .collect::<Vec<_>>()
        ),
    );
    if let Some(check) = &stage.dead_code_check {
        set(
            "dead_code_check",
            json!({"command": check.command, "fail_patterns": check.fail_patterns,
                   "ignore_patterns": check.ignore_patterns, "extra": check.extra}),
        );
    }
    if let Some(test) = &stage.regression_test {
        set(
            "regression_test",
            json!({"file": test.file, "must_contain": test.must_contain, "extra": test.extra}),
        );
    }
    set("setup", json!(stage.setup));
    set("context_budget", json!(stage.context_budget));
    set("working_dir", json!(stage.working_dir));
    set("stage_extra", json!(stage.extra));
    set("plan_settings", settings.clone());
    if !stage.hints.is_empty() {
        set(
            crate::model::stage::HINTS_KEY,
            serde_json::to_value(&stage.hints).expect("hints serialize because they are plain data"),
        );
    }
}

/// Add the fields this version does not know to an item, as the plan wrote them, so that what
/// an import warns it keeps is indeed kept (and shown by `show --json`).
fn with_extra(item: &mut Value, extra: &BTreeMap<String, Value>) {
    if let Value::Object(map) = item {
        for (key, value) in extra {
            map.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
}

/// The checks with expectations, each that comes before a plain command in the plan carrying
/// its `position` in the plan's list, so `verify` runs them all in the plan's order although
/// they are stored apart (see `spec_of`). Those after every plain command need none.
fn ordered_rich_checks(acceptance: &[Check]) -> Vec<Value> {
    let last_plain = acceptance.iter().rposition(is_plain);
    acceptance
        .iter()
        .enumerate()
        .filter(|(_, check)| !is_plain(check))
        .map(|(position, check)| {
            let mut value = check_json(check);
            if last_plain.is_some_and(|last| position < last) {
                value["position"] = json!(position);
            }
            value
        })
        .collect()
}

fn is_plain(check: &Check) -> bool {
    check.stdout_contains.is_empty()
        && check.stdout_not_contains.is_empty()
        && check.exit_code.is_none_or(|code| code == 0)
        && check.stderr_contains.is_empty()
        && !check.stderr_empty
        && check.description.is_none()
        && check.extra.is_empty()
}

fn check_json(check: &Check) -> Value {
    let mut value = json!({
        "command": check.command,
        "stdout_contains": check.stdout_contains,
        "stdout_not_contains": check.stdout_not_contains,
        "exit_code": check.exit_code,
    });
    // Only when set, so checks without them are stored as older versions stored them.
    if !check.stderr_contains.is_empty() {
        value["stderr_contains"] = json!(check.stderr_contains);
    }
    if check.stderr_empty {
        value["stderr_empty"] = json!(true);
    }
    if let Some(description) = &check.description {
        value["description"] = json!(description);
    }
    with_extra(&mut value, &check.extra);
    value
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
        let settings = Value::Object(plan.settings());
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
