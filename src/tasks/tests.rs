//! Library-level tests of tasks as records: creating them with dependencies, parents and
//! labels, refusing cycles, editing, cancelling (with and without cascade), epics that close
//! with their last child, promoting ideas, and the history each change leaves.

use crate::claims::{ClaimOptions, Credentials, DoneRecord};
use crate::loom::Error;
use crate::loom::testing::{Fixture, actor};
use crate::model::{Kind, Priority, Status, TaskId, View};
use crate::tasks::{Changes, NewTask, patch};

fn epic(fx: &Fixture, title: &str, secs: i64) -> TaskId {
    fx.create(NewTask::titled(title, Kind::Epic), secs)
}

fn child_of(fx: &Fixture, parent: &TaskId, title: &str, secs: i64) -> TaskId {
    fx.create(
        NewTask {
            parent: Some(parent.to_string()),
            ..NewTask::titled(title, Kind::Task)
        },
        secs,
    )
}

fn depending_on(fx: &Fixture, deps: &[&TaskId], title: &str, secs: i64) -> TaskId {
    fx.create(
        NewTask {
            deps: deps.iter().map(|dep| dep.to_string()).collect(),
            ..NewTask::titled(title, Kind::Task)
        },
        secs,
    )
}

fn set_status(status: Status) -> Changes {
    Changes {
        status: Some(status),
        ..Changes::default()
    }
}

/// Claim `id` at `secs` and record it done a second later, as its worker would.
fn finish(fx: &Fixture, id: &TaskId, secs: i64) -> Vec<TaskId> {
    fx.loom
        .claim(id.as_str(), &ClaimOptions::default(), &actor("worker", secs))
        .unwrap();
    let outcome = fx
        .loom
        .record_done(
            fx.loom.task(id.as_str()).unwrap(),
            Credentials::default(),
            &DoneRecord::default(),
            &actor("worker", secs + 1),
            |_| Ok(()),
        )
        .unwrap();
    outcome.written.into_iter().map(|w| w.id).collect()
}

#[test]
fn a_task_is_created_with_its_deps_parent_and_labels_and_its_epic_lists_it() {
    let fx = Fixture::new();
    let parent = epic(&fx, "release", 0);
    let dep = fx.task("groundwork", 1);
    let new = NewTask {
        deps: vec![dep.to_string()],
        parent: Some(parent.to_string()),
        labels: vec!["docs".into(), "ui".into()],
        priority: Some(Priority::P1),
        ..NewTask::titled("  the feature  ", Kind::Task)
    };
    let task = fx.loom.create(&new, &actor("planner", 2)).unwrap();

    let stored = fx.get(&task.id);
    assert_eq!(stored.title, "the feature");
    assert_eq!(stored.deps.iter().collect::<Vec<_>>(), [&dep]);
    assert_eq!(stored.parent.as_ref(), Some(&parent));
    assert_eq!(
        stored.labels.iter().map(String::as_str).collect::<Vec<_>>(),
        ["docs", "ui"]
    );
    assert_eq!(stored.priority, Priority::P1);
    assert!(fx.get(&parent).children.contains(&task.id));
    assert_eq!(fx.summaries(&parent)[0], format!("add child {}", task.id));
    assert_eq!(fx.view(&task.id, 3), View::Blocked);
    finish(&fx, &dep, 4);
    assert_eq!(fx.view(&task.id, 6), View::Ready);
}

#[test]
fn bad_input_to_create_is_refused_and_writes_nothing() {
    let fx = Fixture::new();
    let plain = fx.task("plain", 0);
    let child_of_plain = NewTask {
        parent: Some(plain.to_string()),
        ..NewTask::titled("orphan", Kind::Task)
    };
    let err = fx.loom.create(&child_of_plain, &actor("planner", 1)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotAnEpic {
                status: Status::Pending,
                ..
            }
        ),
        "{err:?}"
    );
    let epic_with_deps = NewTask {
        deps: vec![plain.to_string()],
        ..NewTask::titled("epic", Kind::Epic)
    };
    assert!(matches!(
        fx.loom.create(&epic_with_deps, &actor("planner", 1)),
        Err(Error::Invalid(_))
    ));
    let unknown_dep = NewTask {
        deps: vec!["loom-ffffffff".into()],
        ..NewTask::titled("lost", Kind::Task)
    };
    assert!(matches!(
        fx.loom.create(&unknown_dep, &actor("planner", 1)),
        Err(Error::UnknownTask { .. })
    ));
    assert!(matches!(
        fx.loom
            .create(&NewTask::titled("   ", Kind::Task), &actor("planner", 1)),
        Err(Error::Field(_))
    ));
    assert_eq!(fx.loom.snapshot(crate::loom::testing::at(2)).unwrap().tasks.len(), 1);
    assert!(fx.get(&plain).children.is_empty());
}

// Guards: a dependency edit closing a cycle, which would leave every task on it blocked forever.
#[test]
fn an_edit_that_would_close_a_cycle_is_refused_and_changes_nothing() {
    let fx = Fixture::new();
    let first = fx.task("first", 0);
    let second = depending_on(&fx, &[&first], "second", 1);
    let third = depending_on(&fx, &[&second], "third", 2);
    let versions = fx.summaries(&first).len();

    let closing = Changes {
        add_deps: vec![third.to_string()],
        ..Changes::default()
    };
    let err = fx
        .loom
        .update(first.as_str(), &closing, &actor("planner", 3))
        .unwrap_err();
    let Error::Cycle(cycle) = err else {
        panic!("expected a cycle, got {err:?}");
    };
    assert!(cycle.0.contains(&first) && cycle.0.contains(&third), "{:?}", cycle.0);
    assert!(fx.get(&first).deps.is_empty());
    assert_eq!(fx.summaries(&first).len(), versions);
}

// Guards: a new task with a parent and dependencies closing a cycle through its epic.
#[test]
fn a_new_task_whose_epic_would_wait_on_itself_is_refused() {
    let fx = Fixture::new();
    let parent = epic(&fx, "release", 0);
    let after_release = depending_on(&fx, &[&parent], "announce", 1);
    let new = NewTask {
        deps: vec![after_release.to_string()],
        parent: Some(parent.to_string()),
        ..NewTask::titled("inside", Kind::Task)
    };
    let err = fx.loom.create(&new, &actor("planner", 2)).unwrap_err();
    assert!(matches!(err, Error::Cycle(_)), "{err:?}");
    assert!(fx.get(&parent).children.is_empty());
    assert_eq!(fx.loom.snapshot(crate::loom::testing::at(3)).unwrap().tasks.len(), 2);
}

#[test]
fn an_edit_changes_only_what_it_names_and_records_each_change() {
    let fx = Fixture::new();
    let dep = fx.task("dep", 0);
    let id = fx.create(
        NewTask {
            labels: vec!["old".into()],
            ..NewTask::titled("draft", Kind::Task)
        },
        1,
    );
    let changes = Changes {
        title: Some("final".into()),
        priority: Some(Priority::P0),
        add_labels: vec!["new".into()],
        rm_labels: vec!["old".into()],
        add_deps: vec![dep.to_string()],
        max_retries: Some(5),
        ..Changes::default()
    };
    let outcome = fx.loom.update(id.as_str(), &changes, &actor("editor", 2)).unwrap();
    let task = outcome.task;
    assert_eq!(
        (task.title.as_str(), task.priority, task.max_retries),
        ("final", Priority::P0, Some(5))
    );
    assert_eq!(task.labels.iter().map(String::as_str).collect::<Vec<_>>(), ["new"]);
    assert_eq!(task.deps.iter().collect::<Vec<_>>(), [&dep]);
    assert_eq!(task.description, "");
    assert_eq!(
        fx.summaries(&id)[0],
        format!("title; retry limit 5; priority p2 -> p0; add label new; remove label old; add dep {dep}")
    );

    // An edit that changes nothing writes nothing.
    let again = fx.loom.update(id.as_str(), &changes, &actor("editor", 3)).unwrap();
    assert!(again.written.is_empty());
    assert_eq!(fx.summaries(&id).len(), 2);
}

// Guards: a claimed task's status changed behind its holder's back.
#[test]
fn a_claimed_task_cannot_be_cancelled_or_closed_behind_its_holder() {
    let fx = Fixture::new();
    let id = fx.task("held", 0);
    fx.loom
        .claim(id.as_str(), &ClaimOptions::default(), &actor("alice", 1))
        .unwrap();
    let err = fx.loom.cancel(id.as_str(), false, &actor("lead", 2)).unwrap_err();
    assert!(
        matches!(&err, Error::Claimed { agent, .. } if agent == "alice"),
        "{err:?}"
    );
    let err = fx
        .loom
        .update(id.as_str(), &set_status(Status::Done), &actor("lead", 2))
        .unwrap_err();
    assert!(matches!(err, Error::Claimed { .. }), "{err:?}");
    assert_eq!(fx.get(&id).status(), Status::Pending);
}

#[test]
fn cancel_without_cascade_names_the_tasks_it_strands() {
    let fx = Fixture::new();
    let root = fx.task("root", 0);
    let middle = depending_on(&fx, &[&root], "middle", 1);
    let leaf = depending_on(&fx, &[&middle], "leaf", 2);
    let outcome = fx.loom.cancel(root.as_str(), false, &actor("lead", 3)).unwrap();
    assert_eq!(outcome.task.status(), Status::Cancelled);
    let mut expected = vec![middle.clone(), leaf.clone()];
    expected.sort();
    assert_eq!(outcome.stranded, expected);
    assert_eq!(fx.get(&middle).status(), Status::Pending);
    assert_eq!(fx.view(&middle, 4), View::Blocked);
}

#[test]
fn cancel_with_cascade_cancels_every_task_waiting_on_it_in_one_write() {
    let fx = Fixture::new();
    let root = fx.task("root", 0);
    let middle = depending_on(&fx, &[&root], "middle", 1);
    let leaf = depending_on(&fx, &[&middle], "leaf", 2);
    let bystander = fx.task("bystander", 3);
    let outcome = fx.loom.cancel(root.as_str(), true, &actor("lead", 4)).unwrap();
    assert!(outcome.stranded.is_empty());
    let mut written: Vec<TaskId> = outcome.written.iter().map(|w| w.id.clone()).collect();
    written.sort();
    let mut expected = vec![root.clone(), middle.clone(), leaf.clone()];
    expected.sort();
    assert_eq!(written, expected);
    for id in [&middle, &leaf] {
        assert_eq!(fx.get(id).status(), Status::Cancelled);
        assert_eq!(
            fx.summaries(id)[0],
            format!("status pending -> cancelled; cascade from {root}")
        );
    }
    assert_eq!(fx.get(&bystander).status(), Status::Pending);
}

#[test]
fn cancelling_an_epic_with_cascade_cancels_its_children() {
    let fx = Fixture::new();
    let parent = epic(&fx, "release", 0);
    let first = child_of(&fx, &parent, "first", 1);
    let second = child_of(&fx, &parent, "second", 2);
    fx.loom.cancel(parent.as_str(), true, &actor("lead", 3)).unwrap();
    for id in [&parent, &first, &second] {
        assert_eq!(fx.get(id).status(), Status::Cancelled);
    }
}

// Guards: an epic left open after its last child closed.
#[test]
fn an_epic_closes_in_the_same_write_as_its_last_open_child() {
    let fx = Fixture::new();
    let parent = epic(&fx, "release", 0);
    let first = child_of(&fx, &parent, "first", 1);
    let second = child_of(&fx, &parent, "second", 2);
    let dropped = child_of(&fx, &parent, "dropped", 3);

    assert_eq!(finish(&fx, &first, 4), std::slice::from_ref(&first));
    assert_eq!(fx.get(&parent).status(), Status::Epic);
    fx.loom.cancel(dropped.as_str(), false, &actor("lead", 6)).unwrap();
    assert_eq!(fx.get(&parent).status(), Status::Epic);

    let written = finish(&fx, &second, 7);
    assert!(written.contains(&parent) && written.contains(&second), "{written:?}");
    assert_eq!(fx.get(&parent).status(), Status::Done);
    assert_eq!(fx.summaries(&parent)[0], "status epic -> done (all children closed)");
    // A done epic keeps its children closed.
    let err = fx
        .loom
        .update(dropped.as_str(), &set_status(Status::Pending), &actor("lead", 9))
        .unwrap_err();
    assert!(matches!(err, Error::EpicDone { .. }), "{err:?}");
}

#[test]
fn an_epic_closes_when_its_last_open_child_moves_to_another_epic() {
    let fx = Fixture::new();
    let old = epic(&fx, "old", 0);
    let new = epic(&fx, "new", 1);
    let done = child_of(&fx, &old, "done", 2);
    let moving = child_of(&fx, &old, "moving", 3);
    finish(&fx, &done, 4);
    let changes = Changes {
        parent: Some(Some(new.to_string())),
        ..Changes::default()
    };
    fx.loom.update(moving.as_str(), &changes, &actor("lead", 6)).unwrap();
    assert_eq!(fx.get(&old).status(), Status::Done);
    assert!(!fx.get(&old).children.contains(&moving));
    assert!(fx.get(&new).children.contains(&moving));
    assert_eq!(fx.get(&new).status(), Status::Epic);
}

#[test]
fn an_idea_is_promoted_to_a_ready_task_or_an_epic_and_only_once() {
    let fx = Fixture::new();
    let idea = fx.create(NewTask::titled("someday", Kind::Idea), 0);
    let big = fx.create(NewTask::titled("big someday", Kind::Idea), 1);
    assert_eq!(fx.view(&idea, 2), View::Idea);
    let err = fx
        .loom
        .claim(idea.as_str(), &ClaimOptions::default(), &actor("a", 2))
        .unwrap_err();
    assert!(matches!(err, Error::NotReady { view: View::Idea, .. }), "{err:?}");

    let outcome = fx.loom.promote(idea.as_str(), false, &actor("lead", 3)).unwrap();
    assert_eq!(outcome.task.status(), Status::Pending);
    assert_eq!(fx.view(&idea, 3), View::Ready);
    fx.loom.promote(big.as_str(), true, &actor("lead", 3)).unwrap();
    assert_eq!(fx.get(&big).status(), Status::Epic);

    let err = fx.loom.promote(idea.as_str(), false, &actor("lead", 4)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotAnIdea {
                status: Status::Pending,
                ..
            }
        ),
        "{err:?}"
    );
    let err = fx.loom.drop_idea(idea.as_str(), &actor("lead", 4)).unwrap_err();
    assert!(matches!(err, Error::NotAnIdea { .. }), "{err:?}");
}

#[test]
fn a_dropped_idea_stays_in_history_as_cancelled() {
    let fx = Fixture::new();
    let idea = fx.create(NewTask::titled("never", Kind::Idea), 0);
    fx.loom.drop_idea(idea.as_str(), &actor("lead", 1)).unwrap();
    assert_eq!(fx.get(&idea).status(), Status::Cancelled);
    assert_eq!(
        fx.summaries(&idea),
        ["status idea -> cancelled", "create idea \"never\""]
    );
}

#[test]
fn history_lists_every_version_newest_first_with_who_did_what_and_when() {
    let fx = Fixture::new();
    let id = fx.task("tracked", 0);
    let retitle = Changes {
        title: Some("renamed".into()),
        ..Changes::default()
    };
    fx.loom.update(id.as_str(), &retitle, &actor("editor", 10)).unwrap();
    finish(&fx, &id, 20);

    let history = fx.loom.history(id.as_str()).unwrap();
    let ops: Vec<_> = history.iter().map(|v| v.op.as_deref().unwrap_or("")).collect();
    assert_eq!(ops, ["done", "claim", "update", "create"]);
    let agents: Vec<_> = history.iter().map(|v| v.agent.as_deref().unwrap_or("")).collect();
    assert_eq!(agents, ["worker", "worker", "editor", "planner"]);
    let times: Vec<_> = history.iter().map(|v| v.time).collect();
    let expected = [21, 20, 10, 0].map(crate::loom::testing::at);
    assert_eq!(times, expected);
    assert_eq!(history[3].summary, "create task \"tracked\"");

    let diff = patch(history[3].task_json.as_deref(), history[2].task_json.as_deref());
    assert!(diff.contains("-  \"title\": \"tracked\","), "{diff}");
    assert!(diff.contains("+  \"title\": \"renamed\","), "{diff}");
}
