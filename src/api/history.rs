//! A task's history as every front end returns it: one object per version, newest first. The
//! shape is interface, documented in `doc/cli.md` (`log`).

use jiff::Timestamp;
use serde::Serialize;

use crate::tasks::Version;

/// One version of a task.
#[derive(Debug, Serialize)]
pub struct VersionJson<'a> {
    pub commit: String,
    pub time: Timestamp,
    pub agent: Option<&'a str>,
    pub op: Option<&'a str>,
    pub summary: &'a str,
    /// The version's `task.json`, `null` when the commit holds none (or none that parses).
    pub task: Option<serde_json::Value>,
    /// The diff of `task.json` against the version before, only when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
}

impl<'a> VersionJson<'a> {
    /// `version` with its `patch`, when one was made.
    pub fn new(version: &'a Version, patch: Option<String>) -> Self {
        VersionJson {
            commit: version.commit_id.to_string(),
            time: version.time,
            agent: version.agent.as_deref(),
            op: version.op.as_deref(),
            summary: &version.summary,
            task: version
                .task_json
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok()),
            patch,
        }
    }
}
