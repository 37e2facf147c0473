//! The state of the whole graph at a glance as every front end returns it: counts by status,
//! live claims and recent changes. The shape is interface, documented in `doc/cli.md`
//! (`status`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::task::ClaimJson;
use crate::loom::{Snapshot, TaskEntry};
use crate::model::{Claim, TaskId, View};

/// The summary `status --json` prints.
#[derive(Debug, Serialize)]
pub struct StatusJson<'a> {
    pub project: &'a str,
    pub total: usize,
    /// Every shown status with its count, zeros included.
    pub counts: BTreeMap<&'static str, usize>,
    pub ready: usize,
    /// The refs that could not be read.
    pub unreadable: Vec<&'a str>,
    pub claims: Vec<ClaimedJson<'a>>,
    pub recent: Vec<RecentJson<'a>>,
    /// The running agent sessions, oldest first (`status` of the CLI fills it in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Vec<super::AgentSessionJson<'a>>>,
}

/// A live claim with the task it is on: the task id, then the claim's fields.
#[derive(Debug, Serialize)]
pub struct ClaimedJson<'a> {
    pub id: &'a TaskId,
    #[serde(flatten)]
    pub claim: ClaimJson<'a>,
}

/// A task's latest change.
#[derive(Debug, Serialize)]
pub struct RecentJson<'a> {
    pub id: &'a str,
    pub at: Timestamp,
    pub agent: Option<&'a str>,
    pub change: &'a str,
}

impl<'a> From<&'a TaskEntry> for RecentJson<'a> {
    fn from(entry: &'a TaskEntry) -> Self {
        RecentJson {
            id: entry.task.id.as_str(),
            at: entry.changed_at,
            agent: entry.last_agent.as_deref(),
            change: &entry.last_change,
        }
    }
}

impl<'a> StatusJson<'a> {
    /// The status of `project` as `snapshot` holds it, with the live `claims` read for it and
    /// its `recent` latest changes.
    pub fn new(project: &'a str, snapshot: &'a Snapshot, claims: &'a BTreeMap<TaskId, Claim>, recent: usize) -> Self {
        let counts = snapshot.counts();
        StatusJson {
            project,
            total: snapshot.tasks.len(),
            ready: counts.get(View::Ready.as_str()).copied().unwrap_or(0),
            counts,
            unreadable: snapshot.problems.iter().map(|p| p.ref_name.as_str()).collect(),
            claims: claims
                .iter()
                .map(|(id, claim)| ClaimedJson {
                    id,
                    claim: ClaimJson::new(claim),
                })
                .collect(),
            recent: snapshot.recent(recent).into_iter().map(RecentJson::from).collect(),
            sessions: None,
        }
    }
}
