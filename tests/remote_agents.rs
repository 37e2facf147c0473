//! Many agents coordinating through one remote, several of them in each clone: bare
//! repositories served by a real `git daemon` on 127.0.0.1, clones made with `git clone`, and
//! agent processes of the built binary claiming and finishing tasks while they and their
//! clone-mates fetch, sync and publish at the same moments.
//!
//! Proves that every claim an agent is told it holds is still its own when it finishes the
//! task; that every `done` reported as a success is recorded on the remote and every refused
//! one is not; that no claim ref is left on a finished task (and that `sweep` removes one that
//! is); that once the agents stop, one sync round per clone brings every clone to exactly the
//! remote's refs — also when the daemon is stopped and started again during the run. Also: a
//! fresh clone is pointed at `remote` + `sync` rather than `init`, `init` refuses to fork a
//! project the remote already has, and `claim --next` sees work another clone created without
//! a manual `sync`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::hub::{Hub, served};
use common::{Run, TestEnv, is_task_id};
use serde_json::Value;

/// The longest the agents of one run may work before they stop where they are.
const RUN_DEADLINE: Duration = Duration::from_secs(90);

/// What the remote `origin.git` of a [`Hub`] holds, as the agents' promises are checked.
impl Hub {
    /// `task.json` of every task on the remote, read in one `git cat-file --batch`.
    fn remote_tasks(&self) -> BTreeMap<String, Value> {
        let names = self.bare_git(
            "origin",
            &["for-each-ref", "--format=%(refname:lstrip=3)", "refs/loom/tasks/"],
        );
        let ids: Vec<&str> = names.lines().collect();
        self.blobs(
            "origin",
            &ids.iter()
                .map(|id| format!("refs/loom/tasks/{id}:task.json"))
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .zip(ids)
        .map(|(value, id)| (id.to_owned(), value))
        .collect()
    }

    /// The remote's claims: task id → the agent its `claim.json` names.
    fn remote_claims(&self) -> BTreeMap<String, String> {
        let names = self.bare_git(
            "origin",
            &["for-each-ref", "--format=%(refname:lstrip=3)", "refs/loom/claims/"],
        );
        let ids: Vec<&str> = names.lines().collect();
        self.blobs(
            "origin",
            &ids.iter()
                .map(|id| format!("refs/loom/claims/{id}:claim.json"))
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .zip(ids)
        .map(|(value, id)| (id.to_owned(), value["agent"].as_str().unwrap_or("?").to_owned()))
        .collect()
    }

    /// For each task, the agents whose `done` the remote's history records (`… done by <agent>`).
    fn remote_dones(&self) -> BTreeMap<String, Vec<String>> {
        let history = self.bare_git(
            "origin",
            &[
                "log",
                "--glob=refs/loom/tasks/*",
                "--format=%(trailers:key=Loom-Task,valueonly,separator=%x2C)%x09%s",
            ],
        );
        let mut dones: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in history.lines() {
            if let Some((task, subject)) = line.split_once('\t')
                && let Some((_, agent)) = subject.split_once("done by ")
            {
                dones.entry(task.to_owned()).or_default().push(agent.to_owned());
            }
        }
        dones
    }
}

/// `git-loom args` in `dir`, which must exit 0.
fn ok(env: &TestEnv, dir: &Path, args: &[&str]) -> Run {
    let run = env.loom(dir, args);
    assert_eq!(run.code, 0, "expected success: {run}");
    run
}

/// What one agent did and was told.
#[derive(Default)]
struct AgentLog {
    agent: String,
    /// Tasks `claim --next` said it now holds.
    claimed: Vec<String>,
    /// Tasks whose `done` succeeded.
    done: Vec<String>,
    /// Tasks it was told it held whose `done` was then refused.
    refused: Vec<Run>,
    /// Commands that could not reach the remote (tried again).
    unreachable: usize,
    syncs: usize,
    /// Runs that exited with something no agent should see.
    unexpected: Vec<Run>,
    /// Whether it stopped on `nothing is ready to claim` rather than the deadline.
    finished: bool,
}

/// One agent: `claim --next`, then `done`, with a `sync` every third task, until nothing is
/// ready. A command that cannot reach the remote (the daemon is down) is tried again.
fn agent(env: &TestEnv, dir: &Path, name: String, deadline: Instant) -> AgentLog {
    let mut log = AgentLog {
        agent: name,
        ..AgentLog::default()
    };
    let as_agent = |args: &[&str]| {
        let mut all = vec!["--agent", log.agent.as_str()];
        all.extend_from_slice(args);
        env.loom(dir, &all)
    };
    let mut round = 0;
    while Instant::now() < deadline && log.unexpected.len() < 10 {
        round += 1;
        if round % 3 == 0 {
            let sync = as_agent(&["sync"]);
            match sync.code {
                0 => log.syncs += 1,
                1 if sync.stderr.contains("remote \"origin\"") => log.unreachable += 1,
                _ => log.unexpected.push(sync),
            }
        }
        let run = as_agent(&["--json", "claim", "--next", "--ttl", "3600"]);
        let id = match run.code {
            0 => run.json()["id"].as_str().unwrap().to_owned(),
            4 => {
                log.finished = true;
                break;
            }
            1 if run.stderr.contains("remote \"origin\"") => {
                log.unreachable += 1;
                thread::sleep(Duration::from_millis(20));
                continue;
            }
            _ => {
                log.unexpected.push(run);
                continue;
            }
        };
        log.claimed.push(id.clone());
        while Instant::now() < deadline {
            let done = as_agent(&["done", &id, "--skip-verify"]);
            match done.code {
                0 => {
                    log.done.push(id.clone());
                    break;
                }
                3 => {
                    log.refused.push(done);
                    break;
                }
                1 if done.stderr.contains("remote \"origin\"") => {
                    log.unreachable += 1;
                    thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    log.unexpected.push(done);
                    break;
                }
            }
        }
    }
    log
}

/// The figures of one run (read through `Debug`, in the report and in failure messages).
#[derive(Debug)]
#[allow(dead_code, reason = "the figures are read through Debug")]
struct Figures {
    tasks: usize,
    claims: usize,
    dones: usize,
    stranded: usize,
    void_claims: usize,
    swept_void: usize,
    unreachable: usize,
    agent_syncs: usize,
    rounds_to_converge: Vec<u64>,
    seconds: f64,
}

/// `clones` clones of `agents` agents each work through `tasks` tasks; with `outages`, the
/// daemon is stopped and started again that many times during the run. Returns the figures
/// after checking every promise.
fn run_agents(clones: usize, agents: usize, tasks: usize, outages: usize) -> Figures {
    let mut hub = Hub::with_origin();
    let creator = hub.seeded("creator").dir;
    for i in 0..tasks {
        let run = ok(&hub.env, &creator, &["--offline", "create", &format!("task {i}")]);
        assert!(is_task_id(run.stdout.trim()), "{run}");
    }
    ok(&hub.env, &creator, &["sync"]);
    let sites: Vec<PathBuf> = (0..clones)
        .map(|n| hub.clone_of_origin(&format!("clone-{n}")).dir)
        .collect();

    let started = Instant::now();
    let deadline = started + RUN_DEADLINE;
    let working = AtomicBool::new(true);
    let logs: Vec<AgentLog> = thread::scope(|scope| {
        let (env, daemon) = (&hub.env, &mut hub.daemon);
        let working = &working;
        let chaos = scope.spawn(move || {
            for _ in 0..outages {
                thread::sleep(Duration::from_millis(250));
                if !working.load(Ordering::SeqCst) {
                    break;
                }
                daemon.stop();
                thread::sleep(Duration::from_millis(150));
                daemon.restart(env, &served(env));
            }
        });
        let handles: Vec<_> = sites
            .iter()
            .enumerate()
            .flat_map(|(c, dir)| (0..agents).map(move |a| (c, a, dir)))
            .map(|(c, a, dir)| scope.spawn(move || agent(env, dir, format!("clone{c}-agent{a}"), deadline)))
            .collect();
        let logs = handles.into_iter().map(|h| h.join().unwrap()).collect();
        working.store(false, Ordering::SeqCst);
        chaos.join().unwrap();
        logs
    });
    let seconds = started.elapsed().as_secs_f64();

    let mut problems = Vec::new();
    let claims: usize = logs.iter().map(|log| log.claimed.len()).sum();
    let dones: usize = logs.iter().map(|log| log.done.len()).sum();
    let refused: Vec<&Run> = logs.iter().flat_map(|log| &log.refused).collect();
    let unexpected: Vec<&Run> = logs.iter().flat_map(|log| &log.unexpected).collect();
    if !refused.is_empty() {
        problems.push(format!(
            "{} claims the agents were told they held were not theirs at `done`; e.g. {}",
            refused.len(),
            refused[0]
        ));
    }
    if !unexpected.is_empty() {
        problems.push(format!("{} unexpected exits; e.g. {}", unexpected.len(), unexpected[0]));
    }
    let stopped_early: Vec<&str> = logs.iter().filter(|l| !l.finished).map(|l| l.agent.as_str()).collect();
    if !stopped_early.is_empty() {
        problems.push(format!("agents still working at the deadline: {stopped_early:?}"));
    }

    // What the remote recorded against what the agents were told.
    let told_done: BTreeMap<&str, &str> = logs
        .iter()
        .flat_map(|log| log.done.iter().map(move |id| (id.as_str(), log.agent.as_str())))
        .collect();
    let recorded = hub.remote_dones();
    for (id, agents) in &recorded {
        match told_done.get(id.as_str()) {
            Some(agent) if agents == &[agent.to_string()] => {}
            told => problems.push(format!("{id}: the remote records done by {agents:?}, told: {told:?}")),
        }
    }
    for (id, agent) in &told_done {
        if !recorded.contains_key(*id) {
            problems.push(format!("{id}: {agent} was told done, the remote does not record it"));
        }
    }
    let remote_tasks = hub.remote_tasks();
    let not_done: Vec<&String> = remote_tasks
        .iter()
        .filter(|(_, task)| task["status"] != "done")
        .map(|(id, _)| id)
        .collect();
    let stranded = not_done.len();
    if stranded > 0 {
        problems.push(format!("tasks left unfinished on the remote: {not_done:?}"));
    }
    let status_of = |id: &str| remote_tasks.get(id).map(|task| task["status"].clone());
    let void: Vec<String> = hub
        .remote_claims()
        .into_iter()
        .filter(|(id, _)| status_of(id) != Some(Value::from("pending")))
        .map(|(id, agent)| format!("{id} (by {agent})"))
        .collect();
    if !void.is_empty() {
        problems.push(format!("claim refs on finished tasks on the remote: {void:?}"));
    }
    let sweep = ok(&hub.env, &sites[0], &["--json", "sweep"]);
    let swept_void = sweep.json()["void"].as_array().map_or(0, Vec::len);
    if !hub.remote_claims().is_empty() {
        problems.push(format!(
            "claims left on the remote after sweep: {:?}",
            hub.remote_claims()
        ));
    }

    // Once the writers stopped, one sync each brings every clone to the remote's refs.
    let mut rounds_to_converge = Vec::new();
    for dir in &sites {
        let sync = ok(&hub.env, dir, &["--json", "sync"]);
        rounds_to_converge.push(sync.json()["rounds"].as_u64().unwrap());
    }
    let remote_refs = hub.remote_loom_refs("origin");
    for (n, dir) in sites.iter().enumerate() {
        if hub.env.git(dir, &["for-each-ref", "refs/loom/"]) != remote_refs {
            problems.push(format!("clone-{n} differs from the remote after one sync each"));
        }
    }
    if rounds_to_converge.iter().any(|&rounds| rounds != 1) {
        problems.push(format!("sync rounds to converge: {rounds_to_converge:?}"));
    }
    let figures = Figures {
        tasks,
        claims,
        dones,
        stranded,
        void_claims: void.len(),
        swept_void,
        unreachable: logs.iter().map(|log| log.unreachable).sum(),
        agent_syncs: logs.iter().map(|log| log.syncs).sum(),
        rounds_to_converge,
        seconds,
    };
    eprintln!("{clones} clones × {agents} agents, {outages} daemon restarts: {figures:?}");
    assert!(problems.is_empty(), "{figures:?}\n{}", problems.join("\n"));
    figures
}

// Guards: agents sharing a clone losing claims to each other's fetch (a listing older than a
// concurrent publish pruning the fresh claim from the mirror, and the reconcile then deleting
// it locally): holders told "claimed" whose `done` is refused, `done`s recorded while the agent
// was told it failed, void claims left on the remote, clones needing a second sync round.
#[test]
fn three_clones_of_three_agents_keep_every_claim_and_record_every_done() {
    let figures = run_agents(3, 3, 27, 0);
    assert_eq!(figures.claims, 27, "{figures:?}");
    assert_eq!(figures.dones, 27, "{figures:?}");
}

// Guards: the same promises broken when the remote goes away and comes back mid-run (writes
// that failed to reach it counted as done, or done twice; claims stranded by a cut-off fetch).
#[test]
fn three_clones_of_three_agents_survive_the_daemon_restarting() {
    let figures = run_agents(3, 3, 27, 3);
    assert_eq!(figures.dones, 27, "{figures:?}");
}

/// The figures of a longer run, for the record:
/// `cargo test --test runner remote_agents::figures_of_a_longer_run -- --ignored --nocapture`.
#[test]
#[ignore = "a longer run that prints its figures; not needed to prove anything the others do not"]
fn figures_of_a_longer_run() {
    for outages in [0, 6] {
        run_agents(3, 3, 150, outages);
    }
}

/// `git-loom args` in `dir`, which must exit `code` with an error and nothing on stdout.
fn fails(env: &TestEnv, dir: &Path, code: i32, args: &[&str]) -> Run {
    let run = env.loom(dir, args);
    assert_eq!(run.code, code, "expected exit {code}: {run}");
    assert_eq!(run.stdout, "", "a failed command prints no result: {run}");
    assert!(run.stderr.starts_with("error: "), "expected an error: {run}");
    run
}

fn rev(env: &TestEnv, dir: &Path, name: &str) -> Option<String> {
    let run = env.run("git", dir, &["rev-parse", "-q", "--verify", name]);
    (run.code == 0).then(|| run.stdout.trim().to_owned())
}

// Guards: a fresh clone of a repository with git-loom data being told to run `init`, and
// `init` there starting a second project (replaced by the remote's at the next sync).
#[test]
fn a_fresh_clone_is_told_to_sync_and_init_refuses_to_fork_the_project() {
    let hub = Hub::with_origin();
    let creator = hub.seeded("creator").dir;
    let id = ok(&hub.env, &creator, &["create", "shared work"])
        .stdout
        .trim()
        .to_owned();
    let env = &hub.env;
    env.git(env.root(), &["clone", "-q", &hub.url("origin"), "fresh"]);
    let fresh = env.root().join("fresh");

    let list = fails(env, &fresh, 1, &["list"]);
    assert!(
        list.stderr.contains("hint: in a clone of a repository that has git-loom data, fetch it: `git loom remote origin && git loom sync`"),
        "{list}"
    );
    let init = fails(env, &fresh, 3, &["init"]);
    assert!(init.stderr.contains("origin already has git-loom data"), "{init}");
    assert!(
        init.stderr
            .contains("hint: join it instead: `git loom remote origin && git loom sync`"),
        "{init}"
    );
    assert_eq!(
        rev(env, &fresh, "refs/loom/meta"),
        None,
        "a refused init writes nothing"
    );
    // The same with origin set as the coordination remote.
    ok(env, &fresh, &["remote", "origin"]);
    fails(env, &fresh, 3, &["init", "--name", "fork"]);
    assert_eq!(rev(env, &fresh, "refs/loom/meta"), None);
    // What the hint says works.
    ok(env, &fresh, &["sync"]);
    let listed = ok(env, &fresh, &["list"]);
    assert!(listed.stdout.contains(&id), "{listed}");
    assert_eq!(
        env.git(&fresh, &["for-each-ref", "refs/loom/"]),
        hub.remote_loom_refs("origin")
    );
    // Once joined, `init` is the usual no-op.
    ok(env, &fresh, &["init"]);

    // A project of one clone only is still possible, on purpose.
    env.git(env.root(), &["clone", "-q", &hub.url("origin"), "alone"]);
    let alone = env.root().join("alone");
    ok(env, &alone, &["--offline", "init", "--name", "mine"]);
    // And a remote without git-loom data does not stand in the way of `init`.
    let other = env.new_repo("other");
    env.git(&other, &["remote", "add", "origin", &hub.daemon.url("missing.git")]);
    env.git(&served(env), &["init", "-q", "--bare", "missing.git"]);
    ok(env, &other, &["init"]);
}

// Guards: `claim --next` with a coordination remote answering "nothing is ready" while the
// remote has ready work that another clone created, until someone runs `sync` by hand.
#[test]
fn claim_next_sees_work_created_in_another_clone_without_a_sync() {
    let hub = Hub::with_origin();
    let creator = hub.seeded("creator").dir;
    let worker = hub.clone_of_origin("worker").dir;
    let env = &hub.env;
    fails_quietly_with_nothing_ready(env, &worker);
    let id = ok(env, &creator, &["create", "new work"]).stdout.trim().to_owned();
    // The worker's mirror is older than `[remote] fetch_after_secs` (5 s by default).
    let stamp = worker.join(".git/loom/fetched-origin");
    assert!(stamp.is_file(), "a fetch records when it happened");
    env.run("touch", &worker, &["-d", "1 minute ago", stamp.to_str().unwrap()]);
    let claimed = ok(env, &worker, &["claim", "--next"]);
    assert!(claimed.stdout.starts_with(&id), "{claimed}");
    assert_eq!(hub.remote_claims().get(&id).map(String::as_str), Some(common::AGENT));
}

fn fails_quietly_with_nothing_ready(env: &TestEnv, dir: &Path) {
    let run = env.loom(dir, &["claim", "--next"]);
    assert_eq!(run.code, 4, "{run}");
}

// Guards: a `sync` pushing a claim this clone holds onto a task the remote has finished, and
// a void claim on the remote (a claim on a finished task) that `sweep` does not remove.
#[test]
fn no_sync_pushes_a_claim_onto_a_finished_task_and_sweep_removes_one_on_the_remote() {
    let hub = Hub::with_origin();
    let a = hub.seeded("a").dir;
    let b = hub.clone_of_origin("b").dir;
    let env = &hub.env;
    ok(env, &a, &["sync"]);
    let id = ok(env, &a, &["create", "contested"]).stdout.trim().to_owned();
    // A claims it offline; B, not knowing, claims and finishes it through the remote.
    ok(env, &a, &["--offline", "--agent", "alice", "claim", &id]);
    let offline_claim = rev(env, &a, &format!("refs/loom/claims/{id}")).unwrap();
    ok(env, &b, &["sync"]);
    ok(env, &b, &["--agent", "bob", "claim", &id]);
    ok(env, &b, &["--agent", "bob", "done", &id, "--skip-verify"]);

    let sync = ok(env, &a, &["--json", "sync"]);
    assert_eq!(sync.json()["claims_dropped"], serde_json::json!([id]), "{sync}");
    assert!(
        hub.remote_claims().is_empty(),
        "the sync pushed a claim onto a done task"
    );
    assert_eq!(rev(env, &a, &format!("refs/loom/claims/{id}")), None, "{sync}");
    assert_eq!(
        env.git(&a, &["for-each-ref", "refs/loom/"]),
        hub.remote_loom_refs("origin")
    );

    // A void claim that reached the remote anyway (pushed by hand, or by an older version).
    env.git(
        &a,
        &[
            "push",
            "-q",
            "origin",
            &format!("{offline_claim}:refs/loom/claims/{id}"),
        ],
    );
    assert_eq!(hub.remote_claims().len(), 1);
    let sweep = ok(env, &b, &["--json", "sweep"]).json();
    assert_eq!(sweep["void"][0]["id"], serde_json::json!(id), "{sweep}");
    assert!(
        hub.remote_claims().is_empty(),
        "sweep left the void claim on the remote"
    );
    assert_eq!(hub.remote_tasks()[&id]["status"], "done");
}
