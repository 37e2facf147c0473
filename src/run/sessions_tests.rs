//! Tests of the session use cases against a real repository: begin, list, end, kill requests,
//! abbreviations, and damaged records.

use super::*;
use crate::loom::testing::{Fixture, actor};
use crate::model::EndReason;

fn new_session(fixture: &Fixture, task: &TaskId) -> NewSession {
    NewSession {
        task: task.clone(),
        agent: "runner/1".into(),
        runner: "runner".into(),
        attempt: 1,
        pid: None,
        host: "box".into(),
        command: "sh -c 'agent'".into(),
        worktree: fixture.path().join("wt"),
        log: None,
    }
}

fn exited(code: i32) -> SessionEnd {
    SessionEnd {
        reason: EndReason::Exited { code },
        summary: None,
    }
}

#[test]
fn a_session_begins_runs_and_ends_in_its_own_ref() {
    let fixture = Fixture::new();
    let task = fixture.task("work", 0);
    let loom = &fixture.loom;
    let session = loom
        .session_begin(&new_session(&fixture, &task), &actor("runner", 1))
        .unwrap();
    let id = session.id.to_string();
    assert!(fixture.tip(&format!("refs/loom/sessions/{id}")).is_some());
    assert_eq!(session.log, path_text(&loom.session_log_path(&id)));
    assert!(
        session.log.ends_with(&format!("loom/sessions/{id}.log")),
        "{}",
        session.log
    );

    let started = loom.session_started(&id, 4242, &actor("runner", 2)).unwrap();
    assert_eq!(started.pid, Some(4242));
    assert_eq!(loom.sessions(false).unwrap(), vec![started.clone()]);
    assert_eq!(loom.session(&id[..4]).unwrap(), started, "an abbreviation names it");

    let ended = loom.session_end(&id, &exited(0), &actor("runner", 3)).unwrap();
    assert_eq!(ended.ended.as_ref().unwrap().end.reason, EndReason::Exited { code: 0 });
    assert!(
        loom.sessions(false).unwrap().is_empty(),
        "only running sessions by default"
    );
    assert_eq!(loom.sessions(true).unwrap(), vec![ended]);
    assert_eq!(loom.task_sessions(&task).unwrap().sessions.len(), 1);
}

// Guards: an ended session reopened or re-ended by a second ender, or a kill request on it.
#[test]
fn an_ended_session_refuses_every_change() {
    let fixture = Fixture::new();
    let task = fixture.task("work", 0);
    let loom = &fixture.loom;
    let id = loom
        .session_begin(&new_session(&fixture, &task), &actor("runner", 1))
        .unwrap()
        .id
        .to_string();
    let requested = loom.session_kill_request(&id, &actor("alice", 2)).unwrap();
    assert_eq!(requested.kill_requested.as_ref().unwrap().by, "alice");
    let again = loom.session_kill_request(&id, &actor("bob", 3)).unwrap();
    assert_eq!(again, requested, "the first request stands, and nothing is written");
    loom.session_end(
        &id,
        &SessionEnd {
            reason: EndReason::Killed,
            summary: Some("asked to".into()),
        },
        &actor("runner", 4),
    )
    .unwrap();
    let tip = fixture.tip(&store::session_ref(&SessionId::parse(&id).unwrap()));
    for err in [
        loom.session_end(&id, &exited(0), &actor("runner", 5)).unwrap_err(),
        loom.session_kill_request(&id, &actor("bob", 5)).unwrap_err(),
        loom.session_seen(&id, &actor("runner", 5)).unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::SessionEnded(ref e) if e.reason == EndReason::Killed),
            "{err}"
        );
    }
    assert_eq!(fixture.tip(&store::session_ref(&SessionId::parse(&id).unwrap())), tip);
}

#[test]
fn unknown_and_ambiguous_ids_are_named() {
    let fixture = Fixture::new();
    let loom = &fixture.loom;
    for query in ["", "zz", "12", "0123456789", "../x"] {
        assert!(
            matches!(loom.session(query), Err(Error::UnknownSession { .. })),
            "{query:?}"
        );
    }
    assert!(matches!(loom.session("abcd1234"), Err(Error::UnknownSession { .. })));
    let task = fixture.task("work", 0);
    let make = |id: &str| {
        let mut session = loom
            .session_begin(&new_session(&fixture, &task), &actor("r", 1))
            .unwrap();
        session.id = SessionId::parse(id).unwrap();
        fixture.force_version(
            &store::session_ref(&session.id),
            &[("session.json", &session.to_blob())],
            None,
        );
    };
    make("abcd0001");
    make("abcd0002");
    assert!(
        matches!(loom.session("abcd"), Err(Error::AmbiguousSession { ref candidates, .. }) if candidates.len() == 2)
    );
    assert_eq!(loom.session("abcd0002").unwrap().id.as_str(), "abcd0002");
}

// Guards: one damaged session record hiding every other session, or being read as another's.
#[test]
fn a_damaged_record_is_named_and_the_rest_are_read() {
    let fixture = Fixture::new();
    let task = fixture.task("work", 0);
    let loom = &fixture.loom;
    let good = loom
        .session_begin(&new_session(&fixture, &task), &actor("runner", 1))
        .unwrap();
    fixture.force_version("refs/loom/sessions/0000dead", &[("session.json", b"{not json")], None);
    let mut other = good.clone();
    other.id = SessionId::parse("0000beef").unwrap();
    fixture.force_version(
        "refs/loom/sessions/00000bad",
        &[("session.json", &other.to_blob())],
        None,
    );
    let list = loom.session_list(true).unwrap();
    assert_eq!(list.sessions, vec![good]);
    let mut named: Vec<String> = list.problems.iter().map(ToString::to_string).collect();
    named.sort();
    assert_eq!(named.len(), 2, "{named:?}");
    assert!(named[0].starts_with("refs/loom/sessions/00000bad"), "{named:?}");
    assert!(named[1].starts_with("refs/loom/sessions/0000dead"), "{named:?}");
    assert!(matches!(
        loom.session("0000dead"),
        Err(Error::Store(store::Error::Corrupt { .. }))
    ));
}

#[test]
fn a_signal_goes_only_to_a_recorded_agent_on_this_host() {
    let fixture = Fixture::new();
    let task = fixture.task("work", 0);
    let mut session = fixture
        .loom
        .session_begin(&new_session(&fixture, &task), &actor("runner", 1))
        .unwrap();
    assert_eq!(signal_session(&session, "elsewhere"), Signalled::OtherHost);
    assert_eq!(signal_session(&session, "box"), Signalled::NoProcess);
    // A process id no live process has (beyond the largest the kernel hands out).
    session.pid = Some(u32::MAX - 1);
    assert_eq!(signal_session(&session, "box"), Signalled::Gone);
}
