//! Importing a plan as every front end reports it: each stage by what the import did (or, in
//! a dry run, would do) to its task. The shape is interface, documented in `doc/cli.md`
//! (`plan import`).

use serde::Serialize;

use crate::model::TaskId;
use crate::tasks::ImportOutcome;

/// What importing one plan did, stage by stage.
#[derive(Debug, Serialize)]
pub struct PlanImportJson<'a> {
    /// The key the plan is known by.
    pub plan: &'a str,
    pub dry_run: bool,
    pub created: Vec<PlanStageJson<'a>>,
    pub updated: Vec<PlanStageJson<'a>>,
    pub unchanged: Vec<PlanStageJson<'a>>,
    pub removed: Vec<PlanStageJson<'a>>,
    pub cancelled: Vec<PlanStageJson<'a>>,
    pub skipped: Vec<PlanStageJson<'a>>,
    pub warnings: &'a [String],
}

/// A stage and its task.
#[derive(Debug, Serialize)]
pub struct PlanStageJson<'a> {
    pub stage: &'a str,
    /// `null` for a task a dry run would create: its id is drawn when it is written.
    pub id: Option<&'a str>,
}

impl<'a> PlanImportJson<'a> {
    /// The import of the plan known as `plan`; `warnings` are the plan's, as they were shown.
    pub fn new(plan: &'a str, dry_run: bool, outcome: &'a ImportOutcome, warnings: &'a [String]) -> Self {
        PlanImportJson {
            plan,
            dry_run,
            created: match dry_run {
                // The id a dry run drew is not the one a real import draws, so none is shown.
                true => outcome
                    .created
                    .iter()
                    .map(|(stage, _)| PlanStageJson { stage, id: None })
                    .collect(),
                false => stages(&outcome.created),
            },
            updated: stages(&outcome.updated),
            unchanged: stages(&outcome.unchanged),
            removed: stages(&outcome.removed),
            cancelled: stages(&outcome.cancelled),
            skipped: stages(&outcome.skipped),
            warnings,
        }
    }
}

fn stages(list: &[(String, TaskId)]) -> Vec<PlanStageJson<'_>> {
    list.iter()
        .map(|(stage, id)| PlanStageJson {
            stage,
            id: Some(id.as_str()),
        })
        .collect()
}
