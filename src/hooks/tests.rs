//! Library-level tests of the `pre-push` decision: which pushed refs it judges, and whose
//! claim stops a push.

use crate::claims::{ClaimOptions, Credentials};
use crate::loom::testing::{Fixture, actor};
use crate::model::TaskId;

use super::{Error, PushRefusal};

const ZERO: &str = "0000000000000000000000000000000000000000";
const SHA: &str = "1111111111111111111111111111111111111111";

fn push_line(remote_ref: &str) -> String {
    format!("refs/heads/local {SHA} {remote_ref} {ZERO}\n")
}

fn claimed(fx: &Fixture, agent: &str) -> TaskId {
    let id = fx.task("pushed work", 1);
    fx.loom
        .claim(id.as_str(), &ClaimOptions::default(), &actor(agent, 2))
        .expect("the ready task is claimed");
    id
}

// Guards: a push over the branch of a task another agent is working on going through.
#[test]
fn a_branch_claimed_by_another_agent_is_refused() {
    let fx = Fixture::new();
    let id = claimed(&fx, "alice");
    let remote_ref = format!("refs/heads/loom/{id}");
    let check = fx
        .loom
        .hook_pre_push(&push_line(&remote_ref), &actor("bob", 3))
        .unwrap();
    assert_eq!(
        check.refused,
        [PushRefusal {
            task: id.clone(),
            remote_ref,
            holder: "alice".into()
        }]
    );
    assert_eq!(check.checked, [id]);
}

// Guards: the guard stopping the holder, or anyone once nobody holds the task.
#[test]
fn the_holder_and_anyone_after_release_may_push() {
    let fx = Fixture::new();
    let id = claimed(&fx, "alice");
    let line = push_line(&format!("refs/heads/loom/{id}"));
    let mine = fx.loom.hook_pre_push(&line, &actor("alice", 3)).unwrap();
    assert!(mine.refused.is_empty(), "{mine:?}");
    fx.loom
        .release(id.as_str(), Credentials::default(), &actor("alice", 4))
        .unwrap();
    let released = fx.loom.hook_pre_push(&line, &actor("bob", 5)).unwrap();
    assert!(released.refused.is_empty(), "{released:?}");
    assert_eq!(released.checked, [id]);
}

// Guards: refs that are not task branches (tags, other branches, unknown tasks) being judged.
#[test]
fn only_existing_task_branches_are_judged() {
    let fx = Fixture::new();
    let id = claimed(&fx, "alice");
    let unknown = "loom-00000000";
    let lines = [
        push_line("refs/heads/main"),
        push_line(&format!("refs/tags/loom/{id}")),
        push_line(&format!("refs/heads/loom/{unknown}")),
        push_line(&format!("refs/heads/feature/loom/{id}")),
        "\n".to_owned(),
    ]
    .concat();
    let check = fx.loom.hook_pre_push(&lines, &actor("bob", 3)).unwrap();
    assert!(check.checked.is_empty() && check.refused.is_empty(), "{check:?}");
}

// Guards: input git did not send (a changed hook protocol) being silently allowed.
#[test]
fn a_malformed_ref_line_is_an_error() {
    let fx = Fixture::new();
    let err = fx
        .loom
        .hook_pre_push("refs/heads/main\n", &actor("bob", 3))
        .unwrap_err();
    assert!(matches!(err, Error::BadRefLine { .. }), "{err}");
}
