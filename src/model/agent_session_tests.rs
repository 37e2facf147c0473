//! Tests of the session record: its blob, its forward-only moves, and the join of two diverged
//! histories (symmetric, ended wins, kill request kept).

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::model::{BlobError, Entity};

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("a small second count is a valid time")
}

fn session() -> AgentSession {
    AgentSession {
        schema: SESSION_SCHEMA,
        id: SessionId::parse("0badcafe").expect("a valid session id"),
        task: TaskId::parse("loom-0000abcd").expect("a valid id"),
        agent: "runner/1".into(),
        runner: "runner".into(),
        attempt: 2,
        command: "sh -c 'make it'".into(),
        worktree: "wt/loom-0000abcd".into(),
        log: "loom/sessions/0badcafe.log".into(),
        pid: Some(4242),
        host: "box".into(),
        started: at(100),
        last_seen: None,
        ended: None,
        kill_requested: None,
        extra: BTreeMap::new(),
    }
}

fn ended(reason: EndReason, second: i64) -> AgentSession {
    let mut session = session();
    session
        .end(at(second), SessionEnd { reason, summary: None })
        .expect("a running session ends");
    session
}

#[test]
fn a_session_round_trips_and_keeps_unknown_fields() {
    let mut session = session();
    session.request_kill(at(150), "alice").unwrap();
    session
        .end(
            at(160),
            SessionEnd {
                reason: EndReason::Crashed { signal: 9 },
                summary: Some("killed by the kernel".into()),
            },
        )
        .unwrap();
    let blob = session.to_blob();
    assert_eq!(AgentSession::from_blob(&blob, None).unwrap(), session);
    let value: serde_json::Value = serde_json::from_slice(&blob).unwrap();
    assert_eq!(
        value["ended"],
        json!({"at": "1970-01-01T00:02:40Z", "reason": "crashed", "signal": 9, "summary": "killed by the kernel"})
    );
    let mut future = value.clone();
    future["cpu"] = json!({"seconds": 3});
    let read = AgentSession::from_blob(future.to_string().as_bytes(), None).unwrap();
    assert_eq!(read.extra["cpu"], json!({"seconds": 3}));
    assert!(String::from_utf8(read.to_blob()).unwrap().contains("\"cpu\""));
}

#[test]
fn every_end_reason_reads_back() {
    let reasons = [
        EndReason::Exited { code: 3 },
        EndReason::Crashed { signal: 11 },
        EndReason::Timeout,
        EndReason::Killed,
        EndReason::Interrupted,
        EndReason::Refresh,
        EndReason::RunnerLost,
    ];
    for reason in reasons {
        let session = ended(reason, 200);
        let back = AgentSession::from_blob(&session.to_blob(), None).unwrap();
        assert_eq!(back.ended.unwrap().end.reason, reason);
        let text = serde_json::to_value(SessionEnd { reason, summary: None }).unwrap();
        assert_eq!(text["reason"], reason.name());
    }
}

// Guards: a session id that could escape its ref name or be mistaken for another's.
#[test]
fn only_lowercase_hex_ids_of_full_length_are_session_ids() {
    for bad in [
        "",
        "0BADCAFE",
        "0badcaf",
        "0badcafe0",
        "../../x",
        "0bad cafe",
        "loom-000",
    ] {
        assert!(SessionId::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(SessionId::from_random(0xdead).as_str(), "0000dead");
    let mut value: serde_json::Value = serde_json::from_slice(&session().to_blob()).unwrap();
    value["id"] = json!("../heads/main");
    assert!(matches!(
        AgentSession::from_blob(value.to_string().as_bytes(), None),
        Err(BlobError::Malformed { .. })
    ));
}

#[test]
fn a_newer_schema_is_refused() {
    let mut value: serde_json::Value = serde_json::from_slice(&session().to_blob()).unwrap();
    value["schema"] = json!(SESSION_SCHEMA + 1);
    assert!(matches!(
        AgentSession::from_blob(value.to_string().as_bytes(), None),
        Err(BlobError::NewerSchema { .. })
    ));
}

// Guards: an ended session being reopened, re-ended with another reason, or killed again.
#[test]
fn an_ended_session_changes_no_more() {
    let mut session = ended(EndReason::Exited { code: 0 }, 200);
    let again = SessionEnd {
        reason: EndReason::Killed,
        summary: None,
    };
    let err = session.end(at(300), again).unwrap_err();
    assert_eq!(err.reason, EndReason::Exited { code: 0 });
    assert!(session.request_kill(at(300), "bob").is_err());
    assert!(session.seen(at(300)).is_err());
    assert!(session.record_process(1, at(300)).is_err());
    assert_eq!(session.ended.as_ref().unwrap().at, at(200));
}

#[test]
fn the_first_kill_request_stands() {
    let mut session = session();
    assert!(session.request_kill(at(150), "alice").unwrap());
    assert!(!session.request_kill(at(160), "bob").unwrap());
    assert_eq!(session.kill_requested.unwrap().by, "alice");
}

// Guards: a sync bringing back a running version of an ended session, or losing a kill request
// made on the other clone.
#[test]
fn a_join_keeps_the_end_and_the_kill_request() {
    let mut killed = session();
    killed.request_kill(at(150), "alice").unwrap();
    killed.seen(at(170)).unwrap();
    let finished = ended(EndReason::Exited { code: 1 }, 160);
    for merged in [merge_sessions(&killed, &finished), merge_sessions(&finished, &killed)] {
        assert_eq!(merged.ended.as_ref().unwrap().end.reason, EndReason::Exited { code: 1 });
        assert_eq!(merged.kill_requested.as_ref().unwrap().by, "alice");
        assert_eq!(merged.last_seen, Some(at(170)));
    }
}

#[test]
fn the_runners_own_end_wins_over_runner_lost() {
    let lost = ended(EndReason::RunnerLost, 150);
    let own = ended(EndReason::Timeout, 190);
    assert_eq!(
        merge_sessions(&lost, &own).ended.unwrap().end.reason,
        EndReason::Timeout
    );
    assert_eq!(
        merge_sessions(&own, &lost).ended.unwrap().end.reason,
        EndReason::Timeout
    );
    let early = ended(EndReason::Killed, 150);
    assert_eq!(merge_sessions(&own, &early).ended.unwrap().at, at(150));
}

fn arbitrary_session() -> impl Strategy<Value = AgentSession> {
    let reason = prop_oneof![
        Just(None),
        Just(Some(EndReason::Killed)),
        Just(Some(EndReason::RunnerLost)),
        (0..3i32).prop_map(|code| Some(EndReason::Exited { code })),
    ];
    let kill = prop_oneof![
        Just(None),
        (0..3i64, prop_oneof![Just("a"), Just("b")]).prop_map(|(s, by)| Some((s, by))),
    ];
    (reason, 0..3i64, kill, proptest::option::of(0..3i64), any::<bool>()).prop_map(
        |(reason, end_at, kill, seen, has_pid)| {
            let mut session = session();
            session.pid = has_pid.then_some(7);
            session.last_seen = seen.map(at);
            session.kill_requested = kill.map(|(s, by)| KillRequest {
                at: at(s),
                by: by.into(),
            });
            session.ended = reason.map(|reason| Ended {
                at: at(end_at),
                end: SessionEnd { reason, summary: None },
            });
            session
        },
    )
}

proptest! {
    // Guards: two clones joining the same pair of histories writing different records.
    #[test]
    fn the_join_does_not_depend_on_the_order(a in arbitrary_session(), b in arbitrary_session()) {
        let forward = merge_sessions(&a, &b);
        prop_assert_eq!(&forward, &merge_sessions(&b, &a));
        prop_assert_eq!(forward.ended.is_some(), a.ended.is_some() || b.ended.is_some());
        prop_assert_eq!(forward.kill_requested.is_some(), a.kill_requested.is_some() || b.kill_requested.is_some());
        prop_assert_eq!(merge_sessions(&a, &a), a);
    }
}
