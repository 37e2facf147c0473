//! Where each entity lives under `refs/loom/`. Ref names are only ever built from validated
//! ids, so nothing here can produce a name outside the namespace.

use crate::model::{SessionId, TaskId};

/// Schema version, project name and shared settings.
pub const META_REF: &str = "refs/loom/meta";
/// One commit chain per task: `refs/loom/tasks/<id>`.
pub const TASKS_PREFIX: &str = "refs/loom/tasks/";

/// Exists while a task is claimed: `refs/loom/claims/<id>`.
pub const CLAIMS_PREFIX: &str = "refs/loom/claims/";

/// The handoff history of a task: `refs/loom/handoffs/<id>`.
pub const HANDOFFS_PREFIX: &str = "refs/loom/handoffs/";

/// A finished task's merge request: `refs/loom/merges/<id>`.
pub const MERGES_PREFIX: &str = "refs/loom/merges/";

/// The candidate commit last built for a task's merge request: `refs/loom/candidates/<id>`.
pub const CANDIDATES_PREFIX: &str = "refs/loom/candidates/";

/// Test results by tree: `refs/loom/tests/<spec-hash>/<tree-id>`.
pub const TESTS_PREFIX: &str = "refs/loom/tests/";

/// One commit chain per agent session: `refs/loom/sessions/<session-id>`.
pub const SESSIONS_PREFIX: &str = "refs/loom/sessions/";

/// Leases that are not claims on a task: `refs/loom/leases/<name>`.
pub const LEASES_PREFIX: &str = "refs/loom/leases/";

/// The lease of the merge engine serving the queue.
pub const MERGE_LEASE_REF: &str = "refs/loom/leases/merge";

/// The ref holding an agent session's record.
pub fn session_ref(id: &SessionId) -> String {
    format!("{SESSIONS_PREFIX}{id}")
}

/// The session id a ref under [`SESSIONS_PREFIX`] names.
pub fn session_id_from_ref(ref_name: &str) -> Option<SessionId> {
    ref_name
        .strip_prefix(SESSIONS_PREFIX)
        .and_then(|rest| SessionId::parse(rest).ok())
}

/// The ref holding a task's merge request.
pub fn merge_ref(id: &TaskId) -> String {
    format!("{MERGES_PREFIX}{id}")
}

/// The task id a ref under [`MERGES_PREFIX`] names.
pub fn merge_id_from_ref(ref_name: &str) -> Option<TaskId> {
    ref_name
        .strip_prefix(MERGES_PREFIX)
        .and_then(|rest| TaskId::parse(rest).ok())
}

/// The ref keeping the newest candidate built for a task's merge request.
pub fn candidate_ref(id: &TaskId) -> String {
    format!("{CANDIDATES_PREFIX}{id}")
}

/// The ref holding the result of the test spec `spec` (a hex digest) on the tree `tree`.
pub fn test_result_ref(spec: &str, tree: &str) -> String {
    format!("{TESTS_PREFIX}{spec}/{tree}")
}

/// The ref holding a task's handoffs.
pub fn handoff_ref(id: &TaskId) -> String {
    format!("{HANDOFFS_PREFIX}{id}")
}

/// The task id a ref under [`HANDOFFS_PREFIX`] names.
pub fn handoff_id_from_ref(ref_name: &str) -> Option<TaskId> {
    ref_name
        .strip_prefix(HANDOFFS_PREFIX)
        .and_then(|rest| TaskId::parse(rest).ok())
}

/// The ref whose existence is the claim on a task.
pub fn claim_ref(id: &TaskId) -> String {
    format!("{CLAIMS_PREFIX}{id}")
}

/// The task id a ref under [`CLAIMS_PREFIX`] names.
pub fn claim_id_from_ref(ref_name: &str) -> Option<TaskId> {
    ref_name
        .strip_prefix(CLAIMS_PREFIX)
        .and_then(|rest| TaskId::parse(rest).ok())
}

/// The ref holding a task's history.
pub fn task_ref(id: &TaskId) -> String {
    format!("{TASKS_PREFIX}{id}")
}

/// The task id a ref under [`TASKS_PREFIX`] names, or `None` for a name that is not a valid id
/// (such a ref was not written by git-loom and is reported, not read).
pub fn task_id_from_ref(ref_name: &str) -> Option<TaskId> {
    ref_name
        .strip_prefix(TASKS_PREFIX)
        .and_then(|rest| TaskId::parse(rest).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_refs_round_trip() {
        let id = TaskId::parse("loom-0123abcd").unwrap();
        assert_eq!(task_ref(&id), "refs/loom/tasks/loom-0123abcd");
        assert_eq!(task_id_from_ref(&task_ref(&id)), Some(id.clone()));
        assert_eq!(task_id_from_ref("refs/loom/tasks/oops"), None);
        assert_eq!(task_id_from_ref("refs/heads/loom-0123abcd"), None);
        assert_eq!(claim_ref(&id), "refs/loom/claims/loom-0123abcd");
        assert_eq!(claim_id_from_ref(&claim_ref(&id)), Some(id));
    }
}
