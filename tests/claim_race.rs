//! Claims under real contention, with real processes: many agents racing `claim --next` get
//! every task exactly once; a holder that heartbeats keeps its claim while sweepers run beside
//! it and loses it when it stops; processes killed with SIGKILL at random moments never leave
//! a task and its claim disagreeing.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{BIN, Repo, Run};

/// The longest any racing loop may run before the test fails.
const LOOP_DEADLINE: Duration = Duration::from_secs(240);

fn spawn(repo: &Repo, args: &[&str]) -> Child {
    repo.env.command(BIN, &repo.dir).args(args).spawn().unwrap()
}

fn run(repo: &Repo, args: &[&str]) -> Run {
    common::finish(format!("git-loom {}", args.join(" ")), spawn(repo, args), LOOP_DEADLINE)
}

/// Create `count` ready tasks and return their ids.
fn ready_tasks(repo: &Repo, count: usize) -> Vec<String> {
    (0..count).map(|i| repo.create(&format!("task {i}"), &[])).collect()
}

/// How many commits in the task's history record a claim.
fn claims_in_history(repo: &Repo, id: &str) -> usize {
    repo.git(&["log", "--format=%s", &format!("refs/loom/tasks/{id}")])
        .lines()
        .filter(|line| line.starts_with("claim by "))
        .count()
}

// Guards: two racing agents both winning the same task.
#[test]
fn sixteen_agents_racing_claim_next_get_every_task_exactly_once() {
    const AGENTS: usize = 16;
    const TASKS: usize = 500;
    let repo = Repo::new();
    let tasks = ready_tasks(&repo, TASKS);
    let started = Instant::now();
    let won: Vec<(String, Vec<String>)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..AGENTS)
            .map(|n| {
                let repo = &repo;
                scope.spawn(move || {
                    let agent = format!("agent-{n}");
                    let mut mine = Vec::new();
                    loop {
                        assert!(started.elapsed() < LOOP_DEADLINE, "{agent} never ran out of work");
                        let run = run(repo, &["--agent", &agent, "--json", "claim", "--next", "--ttl", "3600"]);
                        match run.code {
                            0 => mine.push(run.json()["id"].as_str().unwrap().to_owned()),
                            4 => break,
                            _ => panic!("only wins and `nothing ready` are acceptable: {run}"),
                        }
                    }
                    (agent, mine)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (agent, ids) in &won {
        for id in ids {
            if let Some(other) = owner.insert(id.clone(), agent.clone()) {
                panic!("{id} was granted to both {other} and {agent}");
            }
        }
    }
    let all: BTreeSet<String> = tasks.iter().cloned().collect();
    let claimed: BTreeSet<String> = owner.keys().cloned().collect();
    assert_eq!(claimed, all, "every task was claimed");
    let claim_refs = repo.git(&["for-each-ref", "--format=%(refname)", "refs/loom/claims/"]);
    assert_eq!(claim_refs.lines().count(), TASKS);
    for id in &tasks {
        assert_eq!(
            claims_in_history(&repo, id),
            1,
            "{id} has exactly one claim in its history"
        );
        let holder = repo.git(&["show", &format!("refs/loom/claims/{id}:claim.json")]);
        let holder: serde_json::Value = serde_json::from_str(&holder).unwrap();
        assert_eq!(
            holder["agent"].as_str(),
            Some(owner[id].as_str()),
            "{id}'s claim names its winner"
        );
    }
    let busy = won.iter().filter(|(_, ids)| !ids.is_empty()).count();
    assert!(busy > 1, "the work was shared between agents: {busy} got some");
}

// Guards: a sweeper taking a claim whose holder is alive and heartbeating.
#[test]
fn heartbeats_keep_a_short_lease_alive_against_running_sweepers() {
    let repo = Repo::new();
    let id = repo.create("long work", &[]);
    let claim = repo.json(&["--agent", "holder", "claim", &id, "--ttl", "1"]);
    let token = claim["claim"]["token"].as_str().unwrap().to_owned();
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        for n in 0..2 {
            let (repo, stop) = (&repo, &stop);
            scope.spawn(move || {
                let sweeper = format!("sweeper-{n}");
                let started = Instant::now();
                while !stop.load(Ordering::SeqCst) && started.elapsed() < LOOP_DEADLINE {
                    let run = run(repo, &["--agent", &sweeper, "sweep"]);
                    assert_eq!(run.code, 0, "{run}");
                }
            });
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            let run = run(&repo, &["--agent", "holder", "heartbeat", &id]);
            assert_eq!(run.code, 0, "the holder keeps its claim while it heartbeats: {run}");
            thread::sleep(Duration::from_millis(200));
        }
        let shown = repo.json(&["show", &id]);
        assert_eq!(
            shown["claim"]["token"].as_str(),
            Some(token.as_str()),
            "the same claim survived"
        );
        // The holder stops; the sweepers take the task back once the lease runs out.
        let deadline = Instant::now() + Duration::from_secs(20);
        while repo.rev(&format!("refs/loom/claims/{id}")).is_some() {
            assert!(Instant::now() < deadline, "an abandoned claim is swept");
            thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::SeqCst);
    });
    assert_eq!(repo.show(&id)["status"], "ready");
    let history = repo.git(&["log", "--format=%s", &format!("refs/loom/tasks/{id}")]);
    assert!(history.contains("lease of holder expired"), "{history}");

    // Someone else claims it; the old holder's late `done` is refused and records nothing.
    repo.run_ok(&["--agent", "newcomer", "claim", &id]);
    let before = repo.all_refs();
    let late = repo.run_fail(3, &["--agent", "holder", "done", &id, "--token", &token]);
    assert!(late.stderr.contains("claimed by newcomer"), "{late}");
    assert_eq!(repo.all_refs(), before, "the refused done wrote nothing");
}

/// Whether the task and its claim agree. The refs of one transaction are renamed into place one
/// after another, claim refs first and deletions last, so a process killed between two renames
/// can leave a claim without its history record, or a void claim on a task that moved on; never
/// a recorded claim that does not exist, and never a closed task shown as claimed.
fn assert_consistent(repo: &Repo, id: &str) {
    let claim = repo.rev(&format!("refs/loom/claims/{id}"));
    let task = repo.stored_task(id);
    let last = repo.git(&["log", "-1", "--format=%s", &format!("refs/loom/tasks/{id}")]);
    if last.starts_with("claim by ") && task["status"] == "pending" {
        assert!(
            claim.is_some(),
            "{id}: its newest version records a claim, but no claim exists"
        );
    }
    let shown = repo.show(id);
    if task["status"] != "pending" {
        assert_ne!(
            shown["status"], "claimed",
            "{id}: a {} task is never claimed",
            task["status"]
        );
    }
    assert_eq!(
        shown["status"] == "claimed",
        claim.is_some() && task["status"] == "pending"
    );
}

/// Make lock files count as stale after one second, so the test need not wait long.
fn short_stale_locks(repo: &Repo) {
    let meta = repo.git(&["cat-file", "-p", "refs/loom/meta:meta.json"]);
    let old = repo.rev("refs/loom/meta").unwrap();
    let settings = b"[locks]\nstale_after_secs = 1\n";
    repo.write_entity(
        "refs/loom/meta",
        &[("meta.json", meta.as_bytes()), ("loom.toml", settings)],
        Some(&old),
    );
}

// Guards: a task and its claim disagreeing after a process dies mid-write.
#[test]
fn processes_killed_at_random_moments_leave_tasks_and_claims_consistent() {
    let repo = Repo::new();
    short_stale_locks(&repo);
    let tasks = ready_tasks(&repo, 12);
    let outside = repo.outside_state();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40 {
        let agent = format!("agent-{}", round % 3);
        let id = &tasks[(next() % tasks.len() as u64) as usize];
        let args: Vec<&str> = match next() % 3 {
            0 => vec!["--agent", &agent, "claim", "--next"],
            1 => vec!["--agent", &agent, "done", id, "--force"],
            _ => vec!["--agent", &agent, "release", id, "--force"],
        };
        let mut child = spawn(&repo, &args);
        thread::sleep(Duration::from_micros(next() % 15_000));
        let _ = child.kill();
        let _ = child.wait();
        for id in &tasks {
            assert_consistent(&repo, id);
        }
    }
    assert_eq!(repo.outside_state(), outside, "nothing outside refs/loom changed");
    // A lock left by a killed writer is taken to be stale once it is old enough; a sweep then
    // removes every void claim, and every task and claim can be written again.
    thread::sleep(Duration::from_millis(1_100));
    let swept = repo.loom(&["--agent", "sweeper", "sweep"]);
    assert_eq!(swept.code, 0, "{swept}");
    for id in &tasks {
        let claim = repo.rev(&format!("refs/loom/claims/{id}"));
        assert!(
            claim.is_none() || repo.stored_task(id)["status"] == "pending",
            "{id}: void claim left"
        );
    }
    for id in &tasks {
        if repo.rev(&format!("refs/loom/claims/{id}")).is_some() {
            repo.run_ok(&["--agent", "fixer", "release", id, "--force"]);
        }
        repo.run_ok(&["--agent", "fixer", "update", id, "--add-label", "checked"]);
        assert_consistent(&repo, id);
    }
}
