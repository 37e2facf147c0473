//! The test cache's record: what one test spec said about one tree, kept as `result.json` in
//! the commit chain `refs/loom/tests/<spec>/<tree>` (one commit per run, so a retest keeps the
//! run it replaced as its parent).
//!
//! Keyed by tree rather than commit: two candidates with the same content (a rebuilt batch, a
//! candidate built again after the target moved and came back) share one result. Keyed by the
//! spec's digest too, so changing the test command or a task's checks never reuses a result
//! of other commands. Only the merge engine writes these records, and only it reads them to
//! skip a run.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::TaskId;
use super::merge_request::TestRun;

/// The version of the test result blob layout this build reads and writes.
pub const TEST_RESULT_SCHEMA: u32 = 1;

/// `result.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub schema: u32,
    /// The tree that was tested.
    pub tree: String,
    /// The digest of the test spec that ran (the `<spec>` of the ref).
    pub spec: String,
    /// The repository's test command as it was (empty when only tasks' checks ran).
    pub command: String,
    pub passed: bool,
    /// Each command that ran, in order; a run stops at the first failure.
    pub runs: Vec<TestRun>,
    pub at: Timestamp,
    /// Who ran the engine.
    pub by: String,
    /// The commit that was checked out to run them (one of those holding `tree`).
    pub candidate: String,
    /// Fields written by another version of git-loom, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl super::Entity for TestResult {
    const FILE: &'static str = "result.json";
    const SCHEMA: u32 = TEST_RESULT_SCHEMA;

    fn owner(&self) -> Option<&TaskId> {
        None
    }

    fn problem(&self) -> Option<String> {
        if !is_object_id(&self.tree) {
            return Some(format!("has a tree that is not an object id: {:?}", self.tree));
        }
        if !is_object_id(&self.candidate) {
            return Some(format!("has a candidate that is not a commit id: {:?}", self.candidate));
        }
        if self.passed && self.runs.iter().any(|run| !run.passed) {
            return Some("says it passed but holds a failed run".into());
        }
        None
    }
}

/// Whether `text` looks like a full hexadecimal object id.
fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entity;

    fn result() -> TestResult {
        TestResult {
            schema: TEST_RESULT_SCHEMA,
            tree: "a".repeat(40),
            spec: "b".repeat(64),
            command: "make test".into(),
            passed: false,
            runs: vec![TestRun {
                name: "make test".into(),
                passed: false,
                exit_code: Some(2),
                seconds: 0.5,
                cached: false,
                tail: "boom".into(),
            }],
            at: Timestamp::UNIX_EPOCH,
            by: "merge".into(),
            candidate: "c".repeat(40),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn a_result_round_trips_through_its_blob() {
        let result = result();
        assert_eq!(TestResult::from_blob(&result.to_blob(), None).unwrap(), result);
    }

    // Guards: a hand-edited record claiming a pass over a failed run being believed.
    #[test]
    fn a_pass_holding_a_failed_run_is_refused() {
        let mut result = result();
        result.passed = true;
        let err = TestResult::from_blob(&result.to_blob(), None).unwrap_err();
        assert!(err.to_string().contains("failed run"), "{err}");
    }
}
