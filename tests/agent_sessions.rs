//! Agent sessions and the merge lease end to end on real repositories: `sessions` lists the
//! sessions a runner recorded, on another clone after a sync through a real `git daemon`, with
//! a kill request and an end written on two clones joined; `sessions kill` signals the agent's
//! process group on this machine; a damaged record is named without hiding the rest; and two
//! clones' merge engines racing for the merge lease through the daemon: exactly one serves.
//!
//! Sessions are written here the way a runner's would be stored (a `session.json` commit under
//! `refs/loom/sessions/<id>`), with plain git.

use crate::common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::hub::{Hub, Site};
use common::{PROCESS_TIMEOUT, Repo, TestEnv, finish};
use serde_json::{Value, json};

/// Run `git args` in `dir` with `input` on stdin; it must succeed. Returns stdout, trimmed.
fn git_stdin(env: &TestEnv, dir: &Path, args: &[&str], input: &[u8]) -> String {
    let mut child = env
        .command("git", dir)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let run = finish(format!("git {args:?}"), child, PROCESS_TIMEOUT);
    assert_eq!(run.code, 0, "{run}");
    run.stdout.trim().to_owned()
}

/// Store `session` as the next version of its ref in `dir` (on top of `parent`); returns the
/// commit.
fn write_session(env: &TestEnv, dir: &Path, session: &Value, parent: Option<&str>) -> String {
    let bytes = serde_json::to_vec_pretty(session).unwrap();
    let blob = git_stdin(env, dir, &["hash-object", "-w", "--stdin"], &bytes);
    let tree = git_stdin(
        env,
        dir,
        &["mktree"],
        format!("100644 blob {blob}\tsession.json\n").as_bytes(),
    );
    let mut args = vec!["commit-tree", tree.as_str(), "-m", "session"];
    if let Some(parent) = parent {
        args.extend(["-p", parent]);
    }
    let commit = env.git(dir, &args).trim().to_owned();
    let name = format!("refs/loom/sessions/{}", session["id"].as_str().unwrap());
    env.git(dir, &["update-ref", &name, &commit]);
    commit
}

/// A running session of `task` as a runner records it.
fn session(id: &str, task: &str, host: &str, pid: Option<u32>, started: jiff::Timestamp) -> Value {
    let mut session = json!({
        "schema": 1,
        "id": id,
        "task": task,
        "agent": "runner/1",
        "runner": "runner",
        "attempt": 1,
        "command": "sh -c agent",
        "worktree": "wt",
        "log": format!("loom/sessions/{id}.log"),
        "host": host,
        "started": started.to_string(),
    });
    if let Some(pid) = pid {
        session["pid"] = json!(pid);
    }
    session
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The sessions `--json` listing of `site`.
fn listed(site: &Site<'_>, all: bool) -> Vec<Value> {
    let mut args = vec!["--json", "sessions"];
    if all {
        args.push("--all");
    }
    site.ok(&args).json().as_array().unwrap().clone()
}

// Guards: sessions recorded on one clone invisible on another, a kill request made on one
// clone lost to an end written on another, or a joined session reopened.
#[test]
fn sessions_travel_through_the_remote_and_diverged_histories_join() {
    let hub = Hub::with_origin();
    let a = hub.seeded("a");
    let task = a.create(&["work"]);
    let started = hub.env.now();
    let first = write_session(
        &hub.env,
        &a.dir,
        &session("0badcafe", &task, "box-a", Some(4242), started),
        None,
    );
    a.ok(&["sync"]);

    let b = hub.clone_of_origin("b");
    let rows = listed(&b, false);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(
        (&row["id"], &row["task"], &row["host"], &row["pid"], &row["state"]),
        (
            &json!("0badcafe"),
            &json!(task),
            &json!("box-a"),
            &json!(4242),
            &json!("running")
        )
    );
    let table = b.ok(&["sessions"]);
    assert!(
        table.stdout.starts_with("0badcafe  ")
            && table.stdout.contains("box-a  4242")
            && table.stdout.ends_with("running\n"),
        "{table}"
    );

    // The kill is requested on b (published), while a's runner writes the end without it.
    let kill = b.ok(&["--agent", "bob", "sessions", "kill", "0bad"]);
    assert!(kill.stdout.starts_with("0badcafe  kill requested"), "{kill}");
    assert!(kill.stderr.contains("runs on box-a"), "{kill}");
    let mut ended = session("0badcafe", &task, "box-a", Some(4242), started);
    ended["ended"] = json!({"at": hub.env.now().to_string(), "reason": "exited", "code": 1});
    write_session(&hub.env, &a.dir, &ended, Some(&first));
    a.ok(&["sync"]);

    b.ok(&["sync"]);
    for site in [&a, &b] {
        assert!(listed(site, false).is_empty(), "ended: not running");
        let all = listed(site, true);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["state"], "ended");
        assert_eq!(all[0]["ended"]["reason"], "exited");
        assert_eq!(all[0]["ended"]["code"], 1);
        assert_eq!(all[0]["kill_requested"]["by"], "bob", "{}", all[0]);
    }
    assert_eq!(a.loom_refs(), b.loom_refs(), "both clones agree");

    let again = b.fail(3, &["sessions", "kill", "0badcafe"]);
    assert!(again.stderr.contains("already ended (exited 1)"), "{again}");
}

// Guards: `sessions kill` leaving a local agent (and what it started) running until its runner
// looks, signalling a process that is not the recorded agent, or failing unclearly on an
// unknown id.
#[test]
fn kill_signals_the_agents_process_group_on_this_machine() {
    let repo = Repo::new();
    let task = repo.create("work", &[]);
    let child_pid_file = repo.env.root().join("child.pid");
    let mut agent = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 60 & echo $! > {}; wait", child_pid_file.display()))
            .process_group(0)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&child_pid_file).map_or(true, |text| text.trim().is_empty()) {
        assert!(Instant::now() < deadline, "the agent never started its child");
        std::thread::sleep(Duration::from_millis(20));
    }
    let grandchild: u32 = std::fs::read_to_string(&child_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let started = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    write_session(
        &repo.env,
        &repo.dir,
        &session("00c0ffee", &task, &this_host(), Some(agent.id()), started),
        None,
    );

    let kill = repo.loom(&["--agent", "alice", "sessions", "kill", "00c0ffee"]);
    assert_eq!(kill.code, 0, "{kill}");
    assert!(kill.stderr.contains("sent SIGTERM to process group"), "{kill}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = agent.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the agent outlived its kill");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    while Path::new(&format!("/proc/{grandchild}")).exists() {
        assert!(Instant::now() < deadline, "the agent's child outlived the group kill");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rows = repo.json(&["sessions"]);
    assert_eq!(rows[0]["kill_requested"]["by"], "alice", "{rows}");
    assert_eq!(rows[0]["state"], "running", "only its runner records the end");

    // The process id now belongs to nothing (or to a stranger): nothing is signalled.
    let again = repo.json(&["sessions", "kill", "00c0"]);
    assert_ne!(again["signal"], "sent", "{again}");
    let unknown = repo.run_fail(1, &["sessions", "kill", "abcdef12"]);
    assert!(unknown.stderr.contains("no session matches \"abcdef12\""), "{unknown}");
}

// Guards: the recorded pid reused by a process that started after the session: signalled as
// if it were the agent.
#[test]
fn a_process_started_after_the_record_is_left_alone() {
    let repo = Repo::new();
    let task = repo.create("work", &[]);
    let mut stranger = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let long_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    write_session(
        &repo.env,
        &repo.dir,
        &session("0000abcd", &task, &this_host(), Some(stranger.id()), long_ago),
        None,
    );
    let kill = repo.json(&["sessions", "kill", "0000abcd"]);
    assert_eq!(kill["signal"], "not_the_agent", "{kill}");
    assert!(stranger.try_wait().unwrap().is_none(), "the stranger still runs");
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

// Guards: one damaged session record breaking `sessions` (or other commands) instead of being
// named and skipped.
#[test]
fn a_damaged_session_is_named_and_the_rest_listed() {
    let repo = Repo::new();
    let task = repo.create("work", &[]);
    write_session(
        &repo.env,
        &repo.dir,
        &session("0000aaaa", &task, "box", None, repo.env.now()),
        None,
    );
    repo.write_entity("refs/loom/sessions/0000bbbb", &[("session.json", b"{ broken")], None);
    let run = repo.run_warn(&["--json", "sessions"]);
    assert!(run.stderr.contains("refs/loom/sessions/0000bbbb"), "{run}");
    let rows = run.json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["id"], "0000aaaa");
    repo.run_ok(&["list"]);
    let status = repo.run_warn(&["status"]);
    assert!(status.stderr.contains("refs/loom/sessions/0000bbbb"), "{status}");
    assert!(status.stdout.contains("1 agent session running:"), "{status}");
}

/// A task finished in `site` as an agent does: `next`, a file committed, `done`.
fn finish_task(site: &Site<'_>, title: &str) -> String {
    let id = site.create(&[title]);
    site.ok(&["--agent", "agent", "next"]);
    let worktree = site.dir.join(".loom/worktrees").join(&id);
    std::fs::write(worktree.join("work.txt"), "work\n").unwrap();
    site.env.git(&worktree, &["add", "--all"]);
    site.env.git(&worktree, &["commit", "-q", "-m", title]);
    site.ok(&["--agent", "agent", "done", &id]);
    id
}

// Guards: two merge engines in two clones serving the same queue at once (one lands work the
// other is testing), both refused, or an engine refused on a stale local copy of the lease.
#[test]
fn two_clones_racing_for_the_merge_lease_one_serves() {
    let hub = Hub::with_origin();
    let agents = hub.seeded("agents");
    let started = hub.env.root().join("started");
    let release = hub.env.root().join("release");
    // Every engine that gets to test appends a line, then waits (bounded) to be let go.
    let script = format!(
        "echo x >> {started}; i=0; while [ ! -e {release} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done",
        started = started.display(),
        release = release.display(),
    );
    agents.ok(&["config", "merge.test", &script]);
    let id = finish_task(&agents, "work");
    let engines: Vec<std::process::Child> = ["one", "two"]
        .iter()
        .map(|name| {
            hub.env.git(hub.env.root(), &["clone", "-q", &hub.url("origin"), name]);
            let dir = hub.env.root().join(name);
            hub.env
                .command(common::BIN, &dir)
                .args([
                    "--agent",
                    &format!("engine-{name}"),
                    "merge",
                    "--ci",
                    "--remote",
                    "origin",
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    let mut runs: Vec<Option<common::Run>> = vec![None, None];
    let mut children: Vec<Option<std::process::Child>> = engines.into_iter().map(Some).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    // Wait until one engine gave up on the lease; the other then holds it, in its test.
    while runs.iter().all(Option::is_none) {
        assert!(Instant::now() < deadline, "neither engine was refused the lease");
        for (slot, child) in runs.iter_mut().zip(children.iter_mut()) {
            if child.as_mut().unwrap().try_wait().unwrap().is_some() {
                *slot = Some(finish("merge".into(), child.take().unwrap(), PROCESS_TIMEOUT));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let loser = runs.iter().flatten().next().unwrap().clone();
    assert_eq!(loser.code, 3, "{loser}");
    assert!(loser.stderr.contains("the merge queue is served by engine-"), "{loser}");
    std::fs::write(&release, "").unwrap();
    let winner = children.into_iter().flatten().next().unwrap();
    let winner = finish("merge".into(), winner, PROCESS_TIMEOUT);
    assert_eq!(winner.code, 0, "{winner}");
    assert_eq!(
        std::fs::read_to_string(&started).unwrap(),
        "x\n",
        "exactly one engine tested"
    );
    agents.ok(&["sync"]);
    let shown = agents.ok(&["--json", "merge", "show", &id]).json();
    assert_eq!(shown["state"], "merged", "{shown}");
    let lease = hub.bare_git("origin", &["cat-file", "-p", "refs/loom/leases/merge:lease.json"]);
    let lease: Value = serde_json::from_str(&lease).unwrap();
    assert!(lease["holder"].as_str().unwrap().starts_with("engine-"), "{lease}");

    // A clone whose own copy says the lease is held (by an engine the remote never saw) asks
    // the remote, where it is free, and takes it there.
    finish_task(&agents, "more work");
    let later = Site {
        env: &hub.env,
        dir: hub.env.root().join("two"),
    };
    later.ok(&["remote", "origin"]);
    later.ok(&["sync"]);
    let far = (hub.env.now() + jiff::SignedDuration::from_hours(1)).to_string();
    let ghost = json!({"schema": 1, "holder": "ghost", "acquired": far, "expires": far});
    let bytes = serde_json::to_vec(&ghost).unwrap();
    let blob = git_stdin(&hub.env, &later.dir, &["hash-object", "-w", "--stdin"], &bytes);
    let tree = git_stdin(
        &hub.env,
        &later.dir,
        &["mktree"],
        format!("100644 blob {blob}\tlease.json\n").as_bytes(),
    );
    let commit = later.git(&["commit-tree", &tree, "-m", "ghost"]).trim().to_owned();
    later.git(&["update-ref", "refs/loom/leases/merge", &commit]);
    later.ok(&["--agent", "engine-late", "merge"]);
    let lease = hub.bare_git("origin", &["cat-file", "-p", "refs/loom/leases/merge:lease.json"]);
    let lease: Value = serde_json::from_str(&lease).unwrap();
    assert!(lease["holder"].as_str().unwrap().starts_with("engine-late"), "{lease}");
}

// Guards: `status` and `show` keeping quiet about the agents at work on the graph.
#[test]
fn status_counts_running_sessions_and_show_lists_a_tasks_sessions() {
    let repo = Repo::new();
    let task = repo.create("work", &[]);
    let other = repo.create("other", &[]);
    let started = repo.env.now();
    write_session(
        &repo.env,
        &repo.dir,
        &session("0000aaaa", &task, "box", Some(7), started),
        None,
    );
    let mut ended = session("0000bbbb", &task, "box", None, started);
    ended["ended"] = json!({"at": started.to_string(), "reason": "timeout", "summary": "ran too long"});
    write_session(&repo.env, &repo.dir, &ended, None);
    write_session(
        &repo.env,
        &repo.dir,
        &session("0000cccc", &other, "box", None, started),
        None,
    );

    let status = repo.json(&["status"]);
    let ids: Vec<&str> = status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0000aaaa", "0000cccc"], "running ones only: {status}");
    let text = repo.run_ok(&["status"]).stdout;
    assert!(text.contains("2 agent sessions running:\n  0000aaaa  "), "{text}");

    let shown = repo.run_ok(&["show", &task]).stdout;
    assert!(shown.contains("sessions:\n  0000aaaa  runner/1  box  7  "), "{shown}");
    assert!(
        shown.contains("0000bbbb  runner/1  box  -  0s  timeout: ran too long"),
        "{shown}"
    );
    assert!(!shown.contains("0000cccc"), "{shown}");
}
