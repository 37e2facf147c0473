//! The `--json` listings served from the board against the same listings rendered afresh
//! from a snapshot (as every release before the board kept JSON did): they must agree byte
//! for byte, for every filter and for `ready`, on a real repository holding tasks in every
//! state (claimed with progress, done, failed with a retry time, epics, ideas, labels,
//! dependencies, descriptions and acceptance criteria).

use std::collections::BTreeMap;

use crate::api::{board_json, tasks_json, with_ready_json};
use crate::claims::{ClaimOptions, Credentials, DoneRecord};
use crate::loom::testing::{Fixture, actor, at};
use crate::loom::{JsonListing, ListFilter, Loom, Snapshot, write_array};
use crate::model::{Claim, Kind, Priority, TaskId, View};
use crate::tasks::NewTask;

const TTL: ClaimOptions = ClaimOptions { ttl_secs: Some(600) };

/// A repository with tasks in every state.
fn varied() -> Fixture {
    let fx = Fixture::new();
    let epic = fx.create(NewTask::titled("the epic", Kind::Epic), 1);
    let base = fx.create(
        NewTask {
            description: "a \"quoted\" description\nover two lines".into(),
            labels: vec!["core".into(), "urgent".into()],
            acceptance: vec!["it works".into()],
            files: vec!["src/lib.rs".into()],
            priority: Some(Priority::P0),
            ..NewTask::titled("base", Kind::Task)
        },
        2,
    );
    let child = fx.create(
        NewTask {
            parent: Some(epic.to_string()),
            deps: vec![base.to_string()],
            ..NewTask::titled("child", Kind::Task)
        },
        3,
    );
    let _idea = fx.create(NewTask::titled("an idea", Kind::Idea), 4);
    let claimed = fx.task("claimed one", 5);
    let done = fx.task("done one", 6);
    let failed = fx.create(
        NewTask {
            max_retries: Some(3),
            ..NewTask::titled("failing one", Kind::Task)
        },
        7,
    );
    for n in 0..6 {
        fx.create(
            NewTask {
                deps: vec![child.to_string()],
                labels: vec![format!("l{}", n % 2)],
                ..NewTask::titled(format!("waiting {n}"), Kind::Task)
            },
            10 + n,
        );
    }
    let agent = actor("alice", 20);
    fx.loom.claim(claimed.as_str(), &TTL, &agent).expect("claim");
    fx.loom
        .heartbeat(
            claimed.as_str(),
            Credentials::default(),
            Some("half way".into()),
            Some(50),
            &actor("alice", 21),
        )
        .expect("heartbeat");
    fx.loom.claim(done.as_str(), &TTL, &agent).expect("claim");
    let entry = fx.loom.task(done.as_str()).expect("reads");
    let record = DoneRecord {
        commit: Some("abc123".into()),
        branch: Some("loom/done".into()),
        ..DoneRecord::default()
    };
    fx.loom
        .record_done(entry, Credentials::default(), &record, &agent, |_| Ok(()))
        .expect("done");
    fx.loom.claim(failed.as_str(), &TTL, &agent).expect("claim");
    fx.loom
        .fail(failed.as_str(), Credentials::default(), "it broke", &actor("alice", 22))
        .expect("fail");
    fx
}

/// The listing as rendered from a snapshot, with a newline, as `--json` prints it.
fn fresh_list(loom: &Loom, snapshot: &Snapshot, filter: &ListFilter) -> String {
    let claims: BTreeMap<TaskId, Claim> = snapshot
        .live_claims()
        .map(|(id, tip)| (id.clone(), loom.read_claim(id, tip).expect("the claim reads")))
        .collect();
    let rows = snapshot.list(filter);
    let mut out = serde_json::to_string_pretty(&tasks_json(&rows, &claims)).expect("serializes");
    out.push('\n');
    out
}

fn fresh_ready(snapshot: &Snapshot, limit: usize) -> String {
    let mut ready = snapshot.ready();
    ready.truncate(limit);
    let mut out = with_ready_json(snapshot, &ready, |tasks| {
        serde_json::to_string_pretty(&tasks).expect("serializes")
    });
    out.push('\n');
    out
}

// Guards: `list --json` / `ready --json` served from the board differing in any byte from the
// listing rendered afresh (a field missing, another order, other formatting).
#[test]
fn board_json_equals_fresh_rendering() {
    let fx = varied();
    let loom = fx.open().rendering_json(board_json);
    let filters = [
        ListFilter::default(),
        ListFilter {
            all: true,
            ..ListFilter::default()
        },
        ListFilter {
            statuses: vec![View::Claimed, View::Failed],
            ..ListFilter::default()
        },
        ListFilter {
            label: Some("l1".into()),
            ..ListFilter::default()
        },
        ListFilter {
            statuses: vec![View::Cancelled],
            ..ListFilter::default()
        },
    ];
    // Built cold, then read warm from the files: both must agree with a fresh rendering.
    for pass in ["cold", "warm"] {
        let now = at(30);
        let snapshot = loom.snapshot(now).expect("snapshot");
        for filter in &filters {
            let served = loom
                .with_board_json(now, board_json, JsonListing::List, |board, text| {
                    let mut out = Vec::new();
                    write_array(&mut out, board.list_indices(filter).map(|i| text.items[i])).expect("writes");
                    out
                })
                .expect("board");
            assert_eq!(
                String::from_utf8(served).expect("utf-8"),
                fresh_list(&loom, &snapshot, filter),
                "{pass} {filter:?}"
            );
        }
        for limit in [usize::MAX, 1, 0] {
            let served = loom
                .with_board_json(now, board_json, JsonListing::Ready, |_, text| {
                    let mut out = Vec::new();
                    write_array(&mut out, text.items.iter().take(limit).copied()).expect("writes");
                    out
                })
                .expect("board");
            assert_eq!(
                String::from_utf8(served).expect("utf-8"),
                fresh_ready(&snapshot, limit),
                "{pass} ready {limit}"
            );
        }
    }
}

// Guards: a board built without JSON text (by a process that renders none) being taken as
// having text, or the text of one board shown with another.
#[test]
fn board_without_text_is_rebuilt_with_text() {
    let fx = varied();
    let plain = fx.open();
    let rows = plain.with_board(at(30), |board| board.rows.len()).expect("board");
    let loom = fx.open().rendering_json(board_json);
    let texts = loom
        .with_board_json(at(30), board_json, JsonListing::List, |board, text| {
            (board.rows.len(), text.items.len())
        })
        .expect("board");
    assert_eq!(texts, (rows, rows));
}
