//! Taking work back as every front end reports it: what a sweep did, and how `recover` judged
//! each claim. The shapes are interface, documented in `doc/cli.md` (`sweep`, `recover`).

use serde::Serialize;

use super::task::ClaimJson;
use crate::claims::{Recovery, SweepOutcome};
use crate::loom::Problem;
use crate::model::{Health, TaskId};

/// What one sweep did.
#[derive(Debug, Serialize)]
pub struct SweepJson<'a> {
    pub expired: Vec<ExpiredJson<'a>>,
    pub void: Vec<ExpiredJson<'a>>,
    pub revived: &'a [TaskId],
    /// Claims left alone, each with why (unreadable, or locked by a live writer).
    pub skipped: Vec<SkippedJson<'a>>,
    /// Files dead writers left behind (stale locks, temporary files), now removed.
    pub cleaned: Vec<String>,
}

/// A claim a sweep removed: the task and the agent that held it.
#[derive(Debug, Serialize)]
pub struct ExpiredJson<'a> {
    pub id: &'a TaskId,
    pub agent: &'a str,
}

/// A ref a sweep left alone, and why.
#[derive(Debug, Serialize)]
pub struct SkippedJson<'a> {
    #[serde(rename = "ref")]
    pub ref_name: &'a str,
    pub problem: &'a str,
}

impl<'a> From<&'a Problem> for SkippedJson<'a> {
    fn from(problem: &'a Problem) -> Self {
        SkippedJson {
            ref_name: &problem.ref_name,
            problem: &problem.problem,
        }
    }
}

impl<'a> From<&'a SweepOutcome> for SweepJson<'a> {
    fn from(outcome: &'a SweepOutcome) -> Self {
        let removed = |list: &'a [(TaskId, String)]| -> Vec<ExpiredJson<'a>> {
            list.iter().map(|(id, agent)| ExpiredJson { id, agent }).collect()
        };
        SweepJson {
            expired: removed(&outcome.expired),
            void: removed(&outcome.void),
            revived: &outcome.revived,
            skipped: outcome.problems.iter().map(SkippedJson::from).collect(),
            cleaned: outcome
                .cleaned
                .iter()
                .map(|litter| litter.path.display().to_string())
                .collect(),
        }
    }
}

/// How `recover` judged one claim, and what became of it.
#[derive(Debug, Serialize)]
pub struct RecoveryJson<'a> {
    pub id: &'a TaskId,
    pub health: Health,
    pub requeue: bool,
    pub requeued: bool,
    pub claim: ClaimJson<'a>,
}

impl<'a> From<&'a Recovery> for RecoveryJson<'a> {
    fn from(recovery: &'a Recovery) -> Self {
        RecoveryJson {
            id: &recovery.id,
            health: recovery.health,
            requeue: recovery.requeue,
            requeued: recovery.requeued,
            claim: ClaimJson::new(&recovery.claim),
        }
    }
}
