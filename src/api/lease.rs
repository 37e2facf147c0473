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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Claim;

    fn id(text: &str) -> TaskId {
        TaskId::parse(text).expect("a valid task id")
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().expect("a valid timestamp")
    }

    // Guards: `sweep --json` changing shape (doc/cli.md's example: one expired claim, one
    // locked claim skipped, `ref` spelled as such).
    #[test]
    fn sweep_prints_the_documented_object() {
        let outcome = SweepOutcome {
            expired: vec![(id("loom-b050289e"), "bob".into())],
            problems: vec![Problem {
                ref_name: "refs/loom/claims/loom-5101c93e".into(),
                problem:
                    "refs/loom/claims/loom-5101c93e is locked by another writer (0s old lock); left for the next sweep"
                        .into(),
            }],
            ..SweepOutcome::default()
        };
        assert_eq!(
            serde_json::to_string_pretty(&SweepJson::from(&outcome)).expect("serializes"),
            r#"{
  "expired": [
    {
      "id": "loom-b050289e",
      "agent": "bob"
    }
  ],
  "void": [],
  "revived": [],
  "skipped": [
    {
      "ref": "refs/loom/claims/loom-5101c93e",
      "problem": "refs/loom/claims/loom-5101c93e is locked by another writer (0s old lock); left for the next sweep"
    }
  ],
  "cleaned": []
}"#
        );
    }

    // Guards: `recover --json` changing shape (doc/cli.md's example of an expired claim).
    #[test]
    fn recovery_prints_the_documented_object() {
        let recovery = Recovery {
            id: id("loom-608fd64d"),
            claim: Claim {
                schema: 1,
                task: id("loom-608fd64d"),
                agent: "carol".into(),
                token: "7213ac973026a2a1".into(),
                claimed_at: at("2026-11-21T10:27:29.611356769Z"),
                expires_at: at("2026-11-21T10:27:34.611356769Z"),
                heartbeat_at: at("2026-11-21T10:27:29.611356769Z"),
                ttl_secs: 5,
                progress: None,
                percent: None,
                attempt: 2,
                worktree: None,
                branch: None,
                extra: Default::default(),
            },
            health: Health::Expired,
            requeue: true,
            requeued: false,
        };
        assert_eq!(
            serde_json::to_string_pretty(&RecoveryJson::from(&recovery)).expect("serializes"),
            r#"{
  "id": "loom-608fd64d",
  "health": "expired",
  "requeue": true,
  "requeued": false,
  "claim": {
    "agent": "carol",
    "token": "7213ac973026a2a1",
    "claimed_at": "2026-11-21T10:27:29.611356769Z",
    "expires_at": "2026-11-21T10:27:34.611356769Z",
    "heartbeat_at": "2026-11-21T10:27:29.611356769Z",
    "progress": null,
    "percent": null,
    "attempt": 2
  }
}"#
        );
    }
}
