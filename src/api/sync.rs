//! Coordinating through a git remote as every front end reports it: the coordination remote
//! that is set, and what a fetch, push or sync did. The shapes are interface, documented in
//! `doc/cli.md` (`remote`, `fetch`, `push`, `sync`).

use serde::Serialize;

use crate::sync::SyncReport;

/// The coordination remote: `{"remote": "origin"}`, `null` when none is set.
#[derive(Debug, Serialize)]
pub struct RemoteJson<'a> {
    pub remote: Option<&'a str>,
}

impl<'a> RemoteJson<'a> {
    pub fn new(remote: Option<&'a str>) -> Self {
        RemoteJson { remote }
    }
}

/// What one fetch, push or sync with `remote` did.
#[derive(Debug, Serialize)]
pub struct SyncReportJson<'a> {
    pub remote: &'a str,
    pub rounds: u32,
    pub fetched: usize,
    pub fast_forwarded: &'a [String],
    pub merged: Vec<MergedJson<'a>>,
    /// Each dependency dropped to break a cycle, as `[dependent, dependency]`.
    pub cycles_broken: Vec<[&'a str; 2]>,
    pub claims_dropped: Vec<&'a str>,
    pub taken_from_remote: &'a [String],
    pub pushed: &'a [String],
    /// Each ref left alone, as `[ref, reason]`.
    pub skipped: Vec<[&'a str; 2]>,
}

/// A task whose diverged histories were joined, with the fields both sides changed.
#[derive(Debug, Serialize)]
pub struct MergedJson<'a> {
    pub id: &'a str,
    pub both_changed: Vec<&'a str>,
}

impl<'a> SyncReportJson<'a> {
    /// The report of an exchange with `remote` (the report does not name the remote itself).
    pub fn new(remote: &'a str, report: &'a SyncReport) -> Self {
        SyncReportJson {
            remote,
            rounds: report.rounds,
            fetched: report.fetched,
            fast_forwarded: &report.fast_forwarded,
            merged: report
                .merged
                .iter()
                .map(|(id, conflicts)| MergedJson {
                    id: id.as_str(),
                    both_changed: conflicts.iter().map(|c| c.field.as_str()).collect(),
                })
                .collect(),
            cycles_broken: report
                .cycles_broken
                .iter()
                .map(|(from, to)| [from.as_str(), to.as_str()])
                .collect(),
            claims_dropped: report.claims_dropped.iter().map(|id| id.as_str()).collect(),
            taken_from_remote: &report.taken_from_remote,
            pushed: &report.pushed,
            skipped: report
                .skipped
                .iter()
                .map(|(name, why)| [name.as_str(), why.as_str()])
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskId;
    use crate::model::reconcile::{Conflict, Rule, Winner};

    fn id(text: &str) -> TaskId {
        TaskId::parse(text).expect("a valid task id")
    }

    // Guards: `sync --json` losing a key or spelling a pair other than as a two-item array
    // (doc/cli.md lists the keys in this order).
    #[test]
    fn a_sync_report_prints_every_documented_key_in_order() {
        let report = SyncReport {
            fetched: 2,
            fast_forwarded: vec!["refs/loom/tasks/loom-8c2c7e66".into()],
            merged: vec![(
                id("loom-8c2c7e66"),
                vec![Conflict {
                    field: "title".into(),
                    winner: Winner::Theirs,
                    rule: Rule::Lamport,
                }],
            )],
            cycles_broken: vec![(id("loom-1a2b3c4d"), id("loom-8c2c7e66"))],
            claims_dropped: vec![id("loom-1a2b3c4d")],
            taken_from_remote: vec!["refs/loom/meta".into()],
            pushed: vec!["refs/loom/tasks/loom-8c2c7e66".into()],
            skipped: vec![("refs/loom/tasks/loom-deadbeef".into(), "unreadable".into())],
            rounds: 1,
            moved_local: true,
        };
        assert_eq!(
            serde_json::to_string(&SyncReportJson::new("origin", &report)).expect("serializes"),
            concat!(
                r#"{"remote":"origin","rounds":1,"fetched":2,"fast_forwarded":["refs/loom/tasks/loom-8c2c7e66"],"#,
                r#""merged":[{"id":"loom-8c2c7e66","both_changed":["title"]}],"#,
                r#""cycles_broken":[["loom-1a2b3c4d","loom-8c2c7e66"]],"claims_dropped":["loom-1a2b3c4d"],"#,
                r#""taken_from_remote":["refs/loom/meta"],"pushed":["refs/loom/tasks/loom-8c2c7e66"],"#,
                r#""skipped":[["refs/loom/tasks/loom-deadbeef","unreadable"]]}"#
            )
        );
        assert_eq!(
            serde_json::to_string(&RemoteJson::new(None)).expect("serializes"),
            r#"{"remote":null}"#
        );
    }
}
