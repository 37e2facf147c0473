//! Library-level tests of claims and leases: granting, heartbeats, release, done and fail with
//! their tokens, the retry schedule, the dead letter, sweeping and recovering expired leases,
//! `claim --next` order, and racing claimers. Leases expire because a test passes a later
//! `now`, never because it waits.

use std::sync::{Arc, Barrier};

use crate::claims::{ClaimOptions, Credentials, DoneRecord, NextFilter};
use crate::loom::testing::{Fixture, actor, at};
use crate::loom::{Error, Loom};
use crate::model::{Health, Kind, Priority, Status, Task, TaskId, View};
use crate::store::claim_ref;
use crate::tasks::NewTask;

fn ttl(secs: u64) -> ClaimOptions {
    ClaimOptions { ttl_secs: Some(secs) }
}

fn as_token(token: &str) -> Credentials<'_> {
    Credentials {
        token: Some(token),
        force: false,
    }
}

fn with_priority(title: &str, priority: Priority) -> NewTask {
    NewTask {
        priority: Some(priority),
        ..NewTask::titled(title, Kind::Task)
    }
}

fn fail(fx: &Fixture, id: &TaskId, agent: &str, secs: i64) -> Task {
    let outcome = fx
        .loom
        .fail(id.as_str(), Credentials::default(), "it broke", &actor(agent, secs));
    outcome.unwrap().task
}

#[test]
fn a_claim_grants_a_lease_and_a_token_and_records_the_attempt() {
    let fx = Fixture::new();
    let id = fx.task("work", 0);
    let held = fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 10)).unwrap();

    assert_eq!(held.claim.agent, "alice");
    assert_eq!(held.claim.expires_at, at(610));
    assert_eq!(held.claim.attempt, 1);
    assert_eq!(held.claim.token.len(), 16);
    assert!(held.claim.token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(held.task.attempts, 1);
    assert_eq!(fx.view(&id, 11), View::Claimed);
    assert_eq!(fx.summaries(&id)[0], "claim by alice (attempt 1)");
    let mine = fx.loom.claim_held_by("alice").unwrap().unwrap();
    assert_eq!(mine.claim.token, held.claim.token);
}

// Guards: a second agent taking over a task someone holds.
#[test]
fn a_second_claim_on_a_held_task_is_refused() {
    let fx = Fixture::new();
    let id = fx.task("work", 0);
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 1)).unwrap();
    let err = fx.loom.claim(id.as_str(), &ttl(600), &actor("bob", 2)).unwrap_err();
    assert!(
        matches!(&err, Error::Claimed { agent, .. } if agent == "alice"),
        "{err:?}"
    );
    assert_eq!(fx.get(&id).attempts, 1);
}

#[test]
fn a_heartbeat_extends_the_lease_from_its_own_now_and_records_progress() {
    let fx = Fixture::new();
    let id = fx.task("work", 0);
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();
    let claim = fx
        .loom
        .heartbeat(
            id.as_str(),
            Credentials::default(),
            Some("half".into()),
            Some(50),
            &actor("alice", 500),
        )
        .unwrap();
    assert_eq!(claim.expires_at, at(1_100));
    assert_eq!(claim.heartbeat_at, at(500));
    assert_eq!((claim.progress.as_deref(), claim.percent), (Some("half"), Some(50)));
    // Past the original expiry, but not the renewed one: nothing to sweep.
    let swept = fx.loom.sweep(&actor("sweeper", 700)).unwrap();
    assert!(swept.expired.is_empty());
    assert_eq!(fx.view(&id, 700), View::Claimed);
}

// Guards: an agent other than the holder acting on a claim without its token or --force.
#[test]
fn only_the_holder_its_token_or_force_may_act_on_a_claim() {
    let fx = Fixture::new();
    let id = fx.task("work", 0);
    let held = fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();

    let err = fx
        .loom
        .heartbeat(id.as_str(), Credentials::default(), None, None, &actor("bob", 1))
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotHolder { holder, .. } if holder == "alice"),
        "{err:?}"
    );
    let err = fx
        .loom
        .heartbeat(id.as_str(), as_token("0000000000000000"), None, None, &actor("bob", 1))
        .unwrap_err();
    assert!(matches!(err, Error::NotHolder { .. }));

    fx.loom
        .heartbeat(id.as_str(), as_token(&held.claim.token), None, None, &actor("bob", 2))
        .unwrap();
    let forced = Credentials {
        token: None,
        force: true,
    };
    fx.loom.release(id.as_str(), forced, &actor("carol", 3)).unwrap();
    assert_eq!(fx.summaries(&id)[0], "released, forced by carol (claim held by alice)");
    assert_eq!(fx.tip(&claim_ref(&id)), None);
}

#[test]
fn a_released_task_is_ready_again_and_cannot_be_released_twice() {
    let fx = Fixture::new();
    let id = fx.task("work", 0);
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();
    let outcome = fx
        .loom
        .release(id.as_str(), Credentials::default(), &actor("alice", 1))
        .unwrap();
    assert_eq!(outcome.task.status(), Status::Pending);
    assert_eq!(fx.tip(&claim_ref(&id)), None);
    assert_eq!(fx.view(&id, 2), View::Ready);
    let err = fx
        .loom
        .release(id.as_str(), Credentials::default(), &actor("alice", 2))
        .unwrap_err();
    assert!(matches!(err, Error::NotClaimed { .. }), "{err:?}");
}

// Guards: a task recorded as done with its claim left behind, or its work commit forgotten.
#[test]
fn done_closes_the_task_and_removes_its_claim_in_one_write() {
    let fx = Fixture::new();
    let id = fx.task("work", 0);
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();
    let output = serde_json::json!({"tests": "pass"});
    let record = DoneRecord {
        commit: Some("abc123".into()),
        output: Some(output.clone()),
        ..DoneRecord::default()
    };
    let outcome = fx
        .loom
        .record_done(
            fx.loom.task(id.as_str()).unwrap(),
            Credentials::default(),
            &record,
            &actor("alice", 5),
            |_| Ok(()),
        )
        .unwrap();
    assert_eq!(outcome.task.status(), Status::Done);
    assert_eq!(fx.tip(&claim_ref(&id)), None);
    let stored = fx.get(&id);
    assert_eq!(stored.output, Some(output));
    assert_eq!(stored.extra["commit"], "abc123");
    assert_eq!(
        fx.summaries(&id)[0],
        "status pending -> done; done by alice at commit abc123"
    );
    let err = fx
        .loom
        .record_done(
            fx.loom.task(id.as_str()).unwrap(),
            Credentials::default(),
            &record,
            &actor("alice", 6),
            |_| Ok(()),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NotClaimed { .. }));
}

// Guards: a failed task retried before its backoff passed, or never retried after it.
#[test]
fn a_failed_task_is_ready_again_once_its_backoff_passes() {
    let fx = Fixture::new();
    let id = fx.task("flaky", 0);
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();
    let task = fail(&fx, &id, "alice", 100);
    assert_eq!(task.status(), Status::Failed);
    assert_eq!((task.retries, task.last_failure.as_deref()), (1, Some("it broke")));
    // The first retry waits the base of 30 s, give or take 20 %.
    let after = task.retry_after.unwrap();
    assert!((at(124)..=at(136)).contains(&after), "{after}");
    assert_eq!(fx.tip(&claim_ref(&id)), None);

    assert_eq!(fx.view(&id, 110), View::Failed);
    let err = fx.loom.claim(id.as_str(), &ttl(600), &actor("bob", 110)).unwrap_err();
    assert!(matches!(err, Error::NotReady { view: View::Failed, .. }), "{err:?}");
    assert!(fx.loom.sweep(&actor("sweeper", 110)).unwrap().revived.is_empty());

    assert_eq!(fx.view(&id, 137), View::Ready);
    assert_eq!(
        fx.loom.sweep(&actor("sweeper", 137)).unwrap().revived,
        std::slice::from_ref(&id)
    );
    let task = fx.get(&id);
    assert_eq!((task.status(), task.retry_after), (Status::Pending, None));
    let held = fx.loom.claim(id.as_str(), &ttl(600), &actor("bob", 140)).unwrap();
    assert_eq!((held.claim.attempt, held.task.attempts), (2, 2));

    // The second failure waits twice as long.
    let task = fail(&fx, &id, "bob", 200);
    let after = task.retry_after.unwrap();
    assert!((at(248)..=at(272)).contains(&after), "{after}");
}

#[test]
fn a_failed_task_whose_backoff_passed_is_claimed_without_a_sweep() {
    let fx = Fixture::new();
    let id = fx.task("flaky", 0);
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();
    fail(&fx, &id, "alice", 10);
    let held = fx.loom.claim(id.as_str(), &ttl(600), &actor("bob", 100)).unwrap();
    assert_eq!((held.task.status(), held.task.retry_after), (Status::Pending, None));
    assert_eq!(held.task.retries, 1);
}

// Guards: a task failing forever instead of stopping in the dead letter at its retry limit.
#[test]
fn failing_past_the_retry_limit_makes_a_task_dead_until_it_is_reset() {
    let fx = Fixture::new();
    let id = fx.create(
        NewTask {
            max_retries: Some(1),
            ..NewTask::titled("doomed", Kind::Task)
        },
        0,
    );
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();
    assert_eq!(fail(&fx, &id, "alice", 10).status(), Status::Failed);
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 100)).unwrap();
    let task = fail(&fx, &id, "alice", 110);
    assert_eq!((task.status(), task.retries, task.retry_after), (Status::Dead, 2, None));
    let summary = &fx.summaries(&id)[0];
    assert!(
        summary.contains("failure 2 (retry limit 1) by alice: it broke"),
        "{summary}"
    );

    // No amount of time brings a dead task back by itself.
    assert!(fx.loom.sweep(&actor("sweeper", 100_000)).unwrap().revived.is_empty());
    let err = fx
        .loom
        .claim(id.as_str(), &ttl(600), &actor("bob", 100_000))
        .unwrap_err();
    assert!(matches!(err, Error::NotReady { view: View::Dead, .. }), "{err:?}");

    let reset = fx.loom.reset(id.as_str(), true, &actor("lead", 100_001)).unwrap();
    assert_eq!((reset.task.status(), reset.task.retries), (Status::Pending, 0));
    assert_eq!(reset.task.last_failure, None);
    assert_eq!(fx.view(&id, 100_001), View::Ready);
    let err = fx.loom.retry_dead(id.as_str(), &actor("lead", 100_002)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotDead {
                status: Status::Pending,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn retry_dead_gives_a_dead_task_another_round() {
    let fx = Fixture::new();
    let id = fx.create(
        NewTask {
            max_retries: Some(0),
            ..NewTask::titled("doomed", Kind::Task)
        },
        0,
    );
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();
    assert_eq!(fail(&fx, &id, "alice", 1).status(), Status::Dead);
    let outcome = fx.loom.retry_dead(id.as_str(), &actor("lead", 2)).unwrap();
    assert_eq!((outcome.task.status(), outcome.task.retries), (Status::Pending, 0));
    assert_eq!(fx.view(&id, 2), View::Ready);
}

// Guards: work held forever by an agent that vanished.
#[test]
fn a_claim_on_an_expired_lease_is_granted_to_the_next_agent() {
    let fx = Fixture::new();
    let id = fx.task("abandoned", 0);
    fx.loom.claim(id.as_str(), &ttl(60), &actor("alice", 0)).unwrap();

    assert!(fx.loom.sweep(&actor("sweeper", 59)).unwrap().expired.is_empty());
    assert_eq!(fx.view(&id, 59), View::Claimed);
    let swept = fx.loom.sweep(&actor("sweeper", 60)).unwrap();
    assert_eq!(swept.expired, [(id.clone(), "alice".to_owned())]);
    assert_eq!(fx.summaries(&id)[0], "lease of alice expired (attempt 1)");

    let held = fx.loom.claim(id.as_str(), &ttl(60), &actor("bob", 61)).unwrap();
    assert_eq!((held.claim.agent.as_str(), held.claim.attempt), ("bob", 2));
    // The vanished holder, back too late, can no longer act on the task.
    let err = fx
        .loom
        .heartbeat(id.as_str(), Credentials::default(), None, None, &actor("alice", 62))
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotHolder { holder, .. } if holder == "bob"),
        "{err:?}"
    );
}

#[test]
fn recover_requeues_stale_and_expired_claims_only_when_executed() {
    let fx = Fixture::new();
    let quiet = fx.task("quiet", 0);
    let busy = fx.task("busy", 1);
    fx.loom.claim(quiet.as_str(), &ttl(3_600), &actor("alice", 0)).unwrap();
    fx.loom.claim(busy.as_str(), &ttl(3_600), &actor("bob", 0)).unwrap();
    fx.loom
        .heartbeat(busy.as_str(), Credentials::default(), None, None, &actor("bob", 170))
        .unwrap();

    // Three heartbeat intervals (3 × 60 s) without one make a lease stale.
    let (judged, problems) = fx.loom.recover(false, &actor("lead", 180)).unwrap();
    assert!(problems.is_empty());
    let health = |id: &TaskId| {
        judged
            .iter()
            .find(|r| &r.id == id)
            .map(|r| (r.health, r.requeue, r.requeued))
    };
    assert_eq!(health(&quiet), Some((Health::Stale, true, false)));
    assert_eq!(health(&busy), Some((Health::Active, false, false)));
    assert!(fx.tip(&claim_ref(&quiet)).is_some());

    let (judged, _) = fx.loom.recover(true, &actor("lead", 181)).unwrap();
    let requeued: Vec<&TaskId> = judged.iter().filter(|r| r.requeued).map(|r| &r.id).collect();
    assert_eq!(requeued, [&quiet]);
    assert_eq!(fx.tip(&claim_ref(&quiet)), None);
    assert_eq!(fx.view(&quiet, 181), View::Ready);
    assert_eq!(fx.view(&busy, 181), View::Claimed);
}

#[test]
fn claim_next_takes_the_most_urgent_then_the_most_unblocking_then_the_oldest() {
    let fx = Fixture::new();
    let old = fx.create(with_priority("old", Priority::P2), 1);
    let unblocking = fx.create(with_priority("unblocking", Priority::P2), 2);
    let urgent = fx.create(with_priority("urgent", Priority::P1), 3);
    fx.create(
        NewTask {
            deps: vec![unblocking.to_string()],
            ..with_priority("waits", Priority::P3)
        },
        4,
    );
    let idea = fx.create(NewTask::titled("someday", Kind::Idea), 5);
    fx.create(
        NewTask {
            deps: vec![idea.to_string()],
            ..with_priority("blocked", Priority::P0)
        },
        6,
    );

    let mut order = Vec::new();
    for agent in ["a", "b", "c", "d"] {
        let held = fx
            .loom
            .claim_next(&NextFilter::default(), &ttl(600), &actor(agent, 10))
            .unwrap();
        order.push(held.map(|held| held.task.id));
    }
    assert_eq!(order, [Some(urgent), Some(unblocking), Some(old), None]);
}

#[test]
fn claim_next_with_a_filter_takes_only_the_tasks_it_allows() {
    let fx = Fixture::new();
    fx.create(with_priority("urgent", Priority::P0), 1);
    let labelled = fx.create(
        NewTask {
            labels: vec!["docs".into()],
            ..with_priority("labelled", Priority::P3)
        },
        2,
    );
    let docs = NextFilter {
        label: Some("docs".into()),
        priorities: None,
    };
    let held = fx.loom.claim_next(&docs, &ttl(600), &actor("a", 10)).unwrap().unwrap();
    assert_eq!(held.task.id, labelled);
    assert!(fx.loom.claim_next(&docs, &ttl(600), &actor("b", 10)).unwrap().is_none());
    let low = NextFilter {
        label: None,
        priorities: Some((Priority::P2, Priority::P3)),
    };
    assert!(fx.loom.claim_next(&low, &ttl(600), &actor("c", 10)).unwrap().is_none());
}

// Guards: two agents both granted one task when their claims race.
#[test]
fn many_threads_racing_for_one_task_get_exactly_one_grant() {
    const RACERS: usize = 8;
    let fx = Fixture::new();
    let id = fx.task("contested", 0);
    let barrier = Arc::new(Barrier::new(RACERS));
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..RACERS)
            .map(|n| {
                let (barrier, id, path) = (Arc::clone(&barrier), id.clone(), fx.path());
                // Each racer opens the repository on its own, as a separate process would.
                scope.spawn(move || {
                    let loom = Loom::open(path).expect("the repository opens");
                    barrier.wait();
                    loom.claim(id.as_str(), &ttl(600), &actor(&format!("agent{n}"), 1))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a racer does not panic"))
            .collect()
    });

    let winners: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|h| h.claim.agent.clone())
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in &results {
        if let Err(err) = result {
            assert!(
                matches!(err, Error::Claimed { agent, .. } if *agent == winners[0]),
                "{err:?}"
            );
        }
    }
    let grants = fx.summaries(&id).iter().filter(|s| s.starts_with("claim by")).count();
    assert_eq!(grants, 1);
    assert_eq!(fx.get(&id).attempts, 1);
}

// Guards: racing `claim --next` callers being granted the same task.
#[test]
fn many_threads_racing_claim_next_each_get_a_different_task() {
    const RACERS: usize = 6;
    let fx = Fixture::new();
    let mut ids: Vec<TaskId> = (0..RACERS).map(|n| fx.task(&format!("task {n}"), n as i64)).collect();
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut granted: Vec<TaskId> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..RACERS)
            .map(|n| {
                let (barrier, path) = (Arc::clone(&barrier), fx.path());
                scope.spawn(move || {
                    let loom = Loom::open(path).expect("the repository opens");
                    barrier.wait();
                    loom.claim_next(&NextFilter::default(), &ttl(600), &actor(&format!("agent{n}"), 10))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .expect("a racer does not panic")
                    .unwrap()
                    .expect("a task is left for every racer")
                    .task
                    .id
            })
            .collect()
    });
    granted.sort();
    ids.sort();
    assert_eq!(granted, ids);
}

// A writer killed after a task failed but before its claim was deleted leaves a void claim.
// Guards: such a claim keeping the failed task from being claimed once its backoff passed.
#[test]
fn a_void_claim_on_a_failed_task_is_replaced_by_the_next_claim() {
    let fx = Fixture::new();
    let id = fx.task("flaky", 0);
    fx.loom.claim(id.as_str(), &ttl(600), &actor("alice", 0)).unwrap();
    let void = fx.tip(&claim_ref(&id));
    fail(&fx, &id, "alice", 10);
    fx.set_ref(&claim_ref(&id), None, void);

    assert_eq!(fx.view(&id, 100), View::Ready);
    let held = fx.loom.claim(id.as_str(), &ttl(600), &actor("bob", 100)).unwrap();
    assert_eq!(held.claim.agent, "bob");
    assert_ne!(fx.tip(&claim_ref(&id)), void);
    assert_eq!(fx.loom.claim_held_by("bob").unwrap().unwrap().task.id, id);
}
