//! Where each entity lives under `refs/loom/`. Ref names are only ever built from validated
//! ids, so nothing here can produce a name outside the namespace.

use crate::model::TaskId;

/// Schema version, project name and shared settings.
pub const META_REF: &str = "refs/loom/meta";
/// One commit chain per task: `refs/loom/tasks/<id>`.
pub const TASKS_PREFIX: &str = "refs/loom/tasks/";

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
        assert_eq!(task_id_from_ref(&task_ref(&id)), Some(id));
        assert_eq!(task_id_from_ref("refs/loom/tasks/oops"), None);
        assert_eq!(task_id_from_ref("refs/heads/loom-0123abcd"), None);
    }
}
