//! Library-level tests of the `[merge] gate`: under `merged` a dependent whose dependencies are
//! done waits until their work is merged (shown as blocked, refused by `claim`, skipped by
//! `claim --next`, left off the cached board), under `done` it starts at once, and a
//! dependency finished without a branch never holds anyone up.

use crate::claims::{ClaimOptions, Credentials, DoneRecord, NextFilter};
use crate::loom::testing::{Fixture, actor, at};
use crate::loom::workset::Workset;
use crate::loom::{Error, Loom};
use crate::model::{Kind, MergedInto, TaskId, View};
use crate::project::config_set;
use crate::tasks::NewTask;

const TTL: ClaimOptions = ClaimOptions { ttl_secs: Some(600) };

/// A loom on `fx`'s repository with `[merge] gate` set to `gate`.
fn with_gate(fx: &Fixture, gate: &str) -> Loom {
    config_set(&fx.loom.store, "merge.gate", Some(gate), &actor("setup", 0)).unwrap();
    fx.open()
}

/// A task `dep`, and a task waiting on it.
fn pair(fx: &Fixture) -> (TaskId, TaskId) {
    let dep = fx.task("dependency", 0);
    let dependent = fx.create(
        NewTask {
            deps: vec![dep.to_string()],
            ..NewTask::titled("dependent", Kind::Task)
        },
        1,
    );
    (dep, dependent)
}

/// Claim `id` and record it done, with its work on `branch` when given.
fn finish(loom: &Loom, id: &TaskId, branch: Option<&str>, secs: i64) {
    let agent = actor("alice", secs);
    loom.claim(id.as_str(), &TTL, &agent).unwrap();
    let record = DoneRecord {
        commit: branch.map(|_| "abc123".to_owned()),
        branch: branch.map(str::to_owned),
        ..DoneRecord::default()
    };
    let entry = loom.task(id.as_str()).unwrap();
    loom.record_done(entry, Credentials::default(), &record, &agent, |_| Ok(()))
        .unwrap();
}

/// Mark `id`'s work merged, the way the merge engine records it.
fn mark_merged(loom: &Loom, id: &TaskId, secs: i64) {
    let mut workset = Workset::new(&loom.store);
    workset.get_mut(id).unwrap().set_merged(&MergedInto {
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        target: "main".into(),
        at: at(secs),
    });
    workset.note(id, "merged into main");
    workset.commit(&actor("merger", secs), "merge").unwrap();
}

fn board_ready(loom: &Loom, secs: i64) -> Vec<String> {
    loom.with_board(at(secs), |board| {
        board.ready().map(|(row, _)| row.id.to_owned()).collect()
    })
    .unwrap()
}

// Guards: a dependent starting (ready, claimable, picked by `claim --next`) before its
// dependency's work is merged under gate `merged`.
#[test]
fn under_gate_merged_a_dependent_waits_for_the_merge() {
    let fx = Fixture::new();
    let loom = with_gate(&fx, "merged");
    let (dep, dependent) = pair(&fx);
    finish(&loom, &dep, Some("loom/dependency"), 5);

    let snapshot = loom.snapshot(at(10)).unwrap();
    let derived = snapshot.derive(&snapshot.tasks[&dependent].task);
    assert_eq!(derived.view, View::Blocked);
    assert_eq!(derived.blocked_by, vec![dep.clone()]);
    assert_eq!(derived.awaiting_merge, vec![dep.clone()]);
    assert_eq!(loom.derive(&fx.get(&dependent), at(10)).unwrap(), derived);

    let err = loom.claim(dependent.as_str(), &TTL, &actor("bob", 10)).unwrap_err();
    assert!(
        matches!(&err, Error::AwaitingMerge { id, deps } if *id == dependent && *deps == [dep.clone()]),
        "{err:?}"
    );
    assert!(err.to_string().contains("not merged yet"), "{err}");
    let next = loom
        .claim_next(&NextFilter::default(), &TTL, &actor("bob", 10))
        .unwrap();
    assert!(next.is_none(), "claim --next took {:?}", next.map(|held| held.task.id));
    assert!(board_ready(&loom, 11).is_empty());
    let shown_waiting = loom
        .with_board(at(11), |board| {
            board
                .rows
                .iter()
                .find(|row| row.id == dependent.as_str())
                .map(|row| row.awaiting_merge)
        })
        .unwrap();
    assert_eq!(shown_waiting, Some(true));

    // The merge lands: the board sees it (the task's ref moved) and the dependent starts.
    mark_merged(&loom, &dep, 20);
    assert_eq!(board_ready(&loom, 21), vec![dependent.to_string()]);
    let derived = loom.derive(&fx.get(&dependent), at(21)).unwrap();
    assert_eq!((derived.view, derived.awaiting_merge), (View::Ready, vec![]));
    loom.claim(dependent.as_str(), &TTL, &actor("bob", 22)).unwrap();
}

// Guards: gate `done` holding dependents back for a merge nobody asked for.
#[test]
fn under_gate_done_a_done_dependency_suffices() {
    let fx = Fixture::new();
    let loom = with_gate(&fx, "done");
    let (dep, dependent) = pair(&fx);
    finish(&loom, &dep, Some("loom/dependency"), 5);
    assert_eq!(fx.view(&dependent, 10), View::Ready);
    assert_eq!(board_ready(&loom, 10), vec![dependent.to_string()]);
    loom.claim(dependent.as_str(), &TTL, &actor("bob", 10)).unwrap();
}

// Guards: a dependency finished without a branch (nothing to merge) blocking its dependents
// forever under gate `merged`.
#[test]
fn a_dependency_without_a_branch_never_waits_for_a_merge() {
    let fx = Fixture::new();
    let loom = with_gate(&fx, "merged");
    let (dep, dependent) = pair(&fx);
    finish(&loom, &dep, None, 5);
    let derived = loom.derive(&fx.get(&dependent), at(10)).unwrap();
    assert_eq!((derived.view, derived.awaiting_merge), (View::Ready, vec![]));
    loom.claim(dependent.as_str(), &TTL, &actor("bob", 10)).unwrap();
}

// Guards: a board built under one gate shown (or used by `claim --next`) under another: the
// setting lives in refs/loom/meta, which the board's listing of task and claim refs ignores.
#[test]
fn the_board_is_valid_only_under_the_gate_it_was_built_under() {
    let fx = Fixture::new();
    let (dep, dependent) = pair(&fx);
    finish(&fx.loom, &dep, Some("loom/dependency"), 5);
    assert_eq!(board_ready(&fx.loom, 10), vec![dependent.to_string()]);

    let merged = with_gate(&fx, "merged");
    assert!(board_ready(&merged, 11).is_empty());
    let (candidates, _) = merged.next_candidates(at(12), false, |_| true).unwrap();
    assert!(candidates.is_empty(), "{candidates:?}");

    let done = with_gate(&fx, "done");
    assert_eq!(board_ready(&done, 13), vec![dependent.to_string()]);
}
