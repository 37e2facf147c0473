//! `git loom run` end to end, with the scripted agent of `fixtures/agents/` standing in for
//! coding agents: the demo script as a whole, an agent that crashes, a runner that is killed,
//! two runners in two clones sharing one plan through a real `git daemon`, and Ctrl-C. Every
//! scenario uses real git and real processes; every wait is bounded, and each one ends by
//! checking that no agent process it started is left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::hub::Hub;
use crate::common::{BIN, Run, TestEnv, finish};

/// How long one runner (or the demo) may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(150);

/// How long a scenario waits for agents to reach the point it wants to act at.
const WAIT_TIMEOUT: Duration = Duration::from_secs(60);

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The `--agent` command line running the scripted agent with `actions`.
fn agent_command(actions: &Path) -> String {
    format!(
        "'{}' '{}'",
        fixture("fixtures/agents/scripted-agent").display(),
        actions.display()
    )
}

/// A project for the runner: a repository with git-loom initialised, short leases and retry
/// waits, a merge gate that refuses any work file holding more than one line (work done twice
/// on one branch), and the plan of `stages` (id, dependencies) imported. Each stage's check is
/// that its work file exists.
fn project(env: &TestEnv, dir: &Path, stages: &[(&str, &[&str])]) {
    std::fs::write(
        dir.join("check.sh"),
        "for f in work/*.txt; do [ -e \"$f\" ] || continue; [ \"$(wc -l <\"$f\")\" -eq 1 ] || { echo \"$f twice\"; exit 1; }; done\n",
    )
    .unwrap();
    let mut plan = String::from(
        "# Plan\n\n<!-- loom METADATA -->\n\n```yaml\nloom:\n  version: 1\n  plan_id: scenario\n  stages:\n",
    );
    for (id, deps) in stages {
        plan.push_str(&format!(
            "    - id: {id}\n      name: Stage {id}\n      dependencies: [{}]\n      acceptance:\n        - test -s work/{id}.txt\n",
            deps.join(", ")
        ));
    }
    plan.push_str("```\n\n<!-- END loom METADATA -->\n");
    std::fs::write(dir.join("plan.md"), plan).unwrap();
    env.git(dir, &["add", "check.sh", "plan.md"]);
    env.git(dir, &["commit", "-q", "-m", "project"]);
    if !dir.join(".git/refs/loom").exists() {
        ok(env, dir, &["init"]);
    }
    for (key, value) in [
        ("merge.test", "sh check.sh"),
        ("claims.ttl_secs", "3"),
        ("claims.heartbeat_secs", "1"),
        ("retry.base_secs", "1"),
        ("retry.max_secs", "2"),
    ] {
        ok(env, dir, &["config", key, value]);
    }
    ok(env, dir, &["plan", "import", "plan.md"]);
}

fn ok(env: &TestEnv, dir: &Path, args: &[&str]) -> Run {
    let run = env.loom(dir, args);
    assert_eq!(run.code, 0, "{run}");
    run
}

fn json(env: &TestEnv, dir: &Path, args: &[&str]) -> Value {
    ok(env, dir, args).json()
}

/// A `git loom run` process of the test: killed (by its own process id) if the test ends
/// without waiting for it, so that a failed assertion leaves no runner behind.
struct Runner {
    child: Option<Child>,
    what: String,
}

impl Runner {
    fn pid(&self) -> u32 {
        self.child.as_ref().expect("the runner was not waited for yet").id()
    }

    /// Wait for the runner (bounded by [`RUN_TIMEOUT`]).
    fn wait(mut self) -> Run {
        let child = self.child.take().expect("the runner is waited for once");
        finish(self.what.clone(), child, RUN_TIMEOUT)
    }

    /// kill -9 of the runner, and what it printed until then.
    fn kill(mut self) -> Run {
        let mut child = self.child.take().expect("the runner is killed once");
        child.kill().unwrap();
        finish(self.what.clone(), child, RUN_TIMEOUT)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `git loom run` started in `dir` as runner `name`, its agents reporting to `marks`.
fn start_runner(env: &TestEnv, dir: &Path, name: &str, actions: &Path, marks: &Path, extra: &[&str]) -> Runner {
    let mut command = env.command(BIN, dir);
    command
        .args(["run", "--name", name, "--agent", &agent_command(actions)])
        .args(["--session-timeout", "60", "--grace", "2"])
        .args(extra)
        .env("GIT_LOOM", BIN)
        .env("LOOM_MARKS", marks);
    Runner {
        child: Some(command.spawn().expect("git loom run starts")),
        what: format!("git loom run --name {name}"),
    }
}

/// The sessions the scripted agent recorded: (stage, attempt, agent name `<runner>/<n>`, pid).
fn sessions(marks: &Path) -> Vec<(String, u32, String, u32)> {
    let text = std::fs::read_to_string(marks.join("sessions.log")).unwrap_or_default();
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 4, "a sessions.log line: {line:?}");
            (
                fields[0].to_owned(),
                fields[1].parse().unwrap(),
                fields[2].to_owned(),
                fields[3].parse().unwrap(),
            )
        })
        .collect()
}

fn sessions_of(marks: &Path, stage: &str) -> usize {
    sessions(marks).iter().filter(|s| s.0 == stage).count()
}

/// Wait (bounded) until `done` holds while `runner` runs; on a timeout the runner is killed and
/// what it printed is part of the failure.
fn wait_until(runner: Runner, what: &str, mut done: impl FnMut() -> bool) -> Runner {
    let deadline = Instant::now() + WAIT_TIMEOUT;
    while !done() {
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}:\n{}", runner.kill());
        }
        thread::sleep(Duration::from_millis(50));
    }
    runner
}

/// Whether the process `pid` is a scripted agent still running (asked of `ps`, which Linux
/// and macOS both have).
fn agent_alive(pid: u32) -> bool {
    let Ok(out) = Command::new("ps")
        .args(["-o", "stat=,args=", "-p", &pid.to_string()])
        .stderr(Stdio::null())
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // A zombie (`Z`) has exited; only its parent's wait is missing.
    out.status.success() && text.contains("scripted-agent") && !text.trim_start().starts_with('Z')
}

/// No agent process of any recorded session is left (given a few seconds to go).
fn assert_no_agent_left(marks: &Path) {
    let pids: Vec<u32> = sessions(marks).iter().map(|s| s.3).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|pid| agent_alive(*pid)).collect();
        if alive.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "agent processes left behind: {alive:?}");
        thread::sleep(Duration::from_millis(100));
    }
}

fn no_claims(env: &TestEnv, dir: &Path) {
    let claims = env.git(dir, &["for-each-ref", "refs/loom/claims/"]);
    assert_eq!(claims, "", "no claim is left");
}

/// Task worktrees left in `dir` (the merge queue's own worktree is not one).
fn task_worktrees(env: &TestEnv, dir: &Path) -> Vec<String> {
    env.git(dir, &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|line| line.strip_prefix("worktree "))
        .filter(|path| Path::new(path) != dir && !path.contains("/loom/merge-worktree"))
        .map(str::to_owned)
        .collect()
}

/// Every task of the plan is done with its work merged, `branch` of `dir` has exactly one
/// merge of each task's branch, and each of those comes after its dependencies' (the work
/// landed in dependency order).
fn assert_all_merged_once(env: &TestEnv, dir: &Path, branch: &str) {
    let tasks = json(env, dir, &["list", "--all", "--json"]);
    let tasks = tasks.as_array().expect("list --json is an array");
    assert!(!tasks.is_empty());
    // Oldest first, so that a position is the order of landing.
    let log = env.git(dir, &["log", "--first-parent", "--reverse", "--format=%s", branch]);
    let landed_at = |id: &str| -> usize {
        let at: Vec<usize> = log
            .lines()
            .enumerate()
            .filter(|(_, line)| line.contains(&format!("loom/{id} ")))
            .map(|(at, _)| at)
            .collect();
        assert_eq!(at.len(), 1, "{id} is merged into {branch} exactly once:\n{log}");
        at[0]
    };
    for task in tasks {
        let id = task["id"].as_str().unwrap();
        assert_eq!(task["status"], "done", "{task}");
        assert!(task["merged"].is_object(), "merged: {task}");
        let at = landed_at(id);
        for dep in task["deps"].as_array().unwrap() {
            let dep = dep.as_str().unwrap();
            assert!(
                landed_at(dep) < at,
                "{dep} landed before {id}, which depends on it:\n{log}"
            );
        }
    }
}

/// What a repository's runs left, for a failure message: tasks, sessions and the merge queue.
fn story(env: &TestEnv, dir: &Path) -> String {
    let mut text = String::new();
    for args in [
        &["list", "--all"][..],
        &["sessions", "--all"],
        &["merge", "queue", "--all"],
    ] {
        let run = env.loom(dir, args);
        text.push_str(&format!(
            "--- git loom {} ---\n{}{}",
            args.join(" "),
            run.stdout,
            run.stderr
        ));
    }
    text
}

/// The actions of a stage that writes its one work line and commits it.
const WORK: &str = r#"
work() {
  if [ -e "work/$(stage).txt" ]; then
    say "found work/$(stage).txt left by an earlier session"
  else
    echo "$(stage) by ${LOOM_AGENT:-?}" | append "work/$(stage).txt"
  fi
  commit "work on $(stage)"
}
"#;

// Guards: the README's main job breaking — the demo script must take every stage of its plan
// to the target through `git loom run`, with its story (a failed check retried, a crash resumed
// from the handoff, a conflict sent back and resolved), and leave nothing running or claimed.
#[test]
fn the_demo_lands_every_stage_and_its_suite_passes() {
    let env = TestEnv::new();
    let dir = env.root().join("demo");
    let marks = env.root().join("marks");
    let mut command = env.command("bash", env.root());
    command
        .arg(fixture("fixtures/demo.sh"))
        .arg(&dir)
        .env("GIT_LOOM", BIN)
        .env("LOOM_MARKS", &marks);
    let run = finish("fixtures/demo.sh".into(), command.spawn().unwrap(), RUN_TIMEOUT);
    assert_eq!(run.code, 0, "{run}{}", story(&env, &dir));
    assert_all_merged_once(&env, &dir, "main");
    no_claims(&env, &dir);
    assert_eq!(
        task_worktrees(&env, &dir),
        Vec::<String>::new(),
        "no task worktree is left"
    );
    assert_no_agent_left(&marks);
    let suite = env.run("sh", &dir, &["test/run.sh"]);
    assert_eq!(suite.code, 0, "the suite passes on the target: {suite}");
    assert!(suite.stdout.contains("7 passed, 0 failed"), "{suite}");
    // The story: longest failed its checks once; top's crashed session was resumed from a
    // handoff naming its uncommitted file; count or freq was sent back with a conflict.
    let longest = json(&env, &dir, &["show", "longest", "--json"]);
    assert!(longest["retries"].as_u64().unwrap() >= 1, "{longest}");
    let top = json(&env, &dir, &["handoffs", "top", "--all", "--json"]);
    assert!(
        top.as_array()
            .unwrap()
            .iter()
            .any(|h| h.to_string().contains("lib/top.sh")),
        "a handoff names the crashed session's uncommitted lib/top.sh: {top}"
    );
    assert!(sessions_of(&marks, "top") >= 2);
    let conflicted: Vec<Value> = ["count", "freq"]
        .iter()
        .map(|stage| json(&env, &dir, &["merge", "show", stage, "--json"]))
        .filter(|request| {
            request["attempts"].as_array().unwrap().iter().any(|attempt| {
                attempt["outcome"] == "conflict" && attempt["conflicts"].to_string().contains("CHANGES.md")
            })
        })
        .collect();
    assert_eq!(
        conflicted.len(),
        1,
        "one of count and freq was sent back with a conflict: {conflicted:?}"
    );
    let changes = std::fs::read_to_string(dir.join("CHANGES.md")).unwrap();
    assert!(
        changes.contains("tally count") && changes.contains("tally freq"),
        "{changes}"
    );
}

// Guards: an agent that dies by kill -9 losing its uncommitted work, or the task stalling —
// the runner must hand off naming that work, and the next session resume it to a merge.
#[test]
fn a_crashed_agent_is_handed_off_and_the_next_session_resumes_it() {
    let env = TestEnv::new();
    let dir = env.new_repo("repo");
    let marks = env.root().join("marks");
    project(&env, &dir, &[("solo", &[])]);
    let actions = env.root().join("actions.sh");
    std::fs::write(
        &actions,
        r#"
stage_solo() {
  if first_attempt; then
    echo "half of it" | write work/solo.txt
    crash
  fi
  resume work/solo.txt
  commit "solo: finished from the handoff"
}
"#,
    )
    .unwrap();
    let run = start_runner(&env, &dir, "crashy", &actions, &marks, &["-j", "1"]).wait();
    assert_eq!(run.code, 0, "{run}{}", story(&env, &dir));
    let handoffs = json(&env, &dir, &["handoffs", "solo", "--all", "--json"]);
    assert!(
        handoffs.to_string().contains("work/solo.txt"),
        "the runner's handoff names the uncommitted work/solo.txt: {handoffs}"
    );
    let attempts: Vec<u32> = sessions(&marks).iter().map(|s| s.1).collect();
    assert_eq!(attempts, vec![1, 2], "one crashed session, one that resumed");
    assert_all_merged_once(&env, &dir, "main");
    assert_eq!(env.git(&dir, &["show", "main:work/solo.txt"]), "half of it\n");
    no_claims(&env, &dir);
    assert_no_agent_left(&marks);
}

// Guards: a runner killed with kill -9 losing tasks or having them done twice — a second
// runner must resume every task (the killed runner's after their leases expire) and merge each
// exactly once, without running again what was already merged.
#[test]
fn a_second_runner_resumes_everything_after_the_first_is_killed() {
    let env = TestEnv::new();
    let dir = env.new_repo("repo");
    let marks = env.root().join("marks");
    project(
        &env,
        &dir,
        &[
            ("early", &[]),
            ("a", &["early"]),
            ("b", &["early"]),
            ("c", &["early"]),
            ("d", &["early"]),
        ],
    );
    let runner_pid = env.root().join("runner.pid");
    let actions = env.root().join("actions.sh");
    // The first runner's sessions of a..d write their line, then wait for a go that never
    // comes; an agent whose runner is gone stops (as one whose output pipe closed would).
    std::fs::write(
        &actions,
        format!(
            r#"{WORK}
stage_default() {{
  case $(stage) in
    early) work; return ;;
  esac
  case ${{LOOM_AGENT:-}} in
    first/*)
      echo "$(stage) by $LOOM_AGENT" | append "work/$(stage).txt"
      while [ ! -e "$LOOM_MARKS/go" ]; do
        if [ -e '{pid}' ] && ! kill -0 "$(cat '{pid}')" 2>/dev/null; then exit 9; fi
        sleep 0.1
      done
      ;;
  esac
  work
}}
"#,
            pid = runner_pid.display()
        ),
    )
    .unwrap();
    let first = start_runner(&env, &dir, "first", &actions, &marks, &["-j", "2"]);
    std::fs::write(&runner_pid, first.pid().to_string()).unwrap();
    let first = wait_until(first, "two of a..d running under the first runner", || {
        sessions(&marks).iter().filter(|s| s.0 != "early").count() >= 2
    });
    let killed = first.kill();
    let before = sessions(&marks);
    assert_eq!(sessions_of(&marks, "early"), 1, "{killed}");
    let run = start_runner(&env, &dir, "second", &actions, &marks, &["-j", "2"]).wait();
    assert_eq!(run.code, 0, "{run}{}", story(&env, &dir));
    assert_all_merged_once(&env, &dir, "main");
    assert_eq!(
        sessions_of(&marks, "early"),
        1,
        "early, merged before the kill, is not run again"
    );
    // What the killed runner's sessions left uncommitted was handed off and resumed, not redone.
    for (stage, _, agent, _) in before.iter().filter(|s| s.0 != "early") {
        assert!(agent.starts_with("first/"), "{before:?}");
        let landed = env.git(&dir, &["show", &format!("main:work/{stage}.txt")]);
        assert_eq!(
            landed,
            format!("{stage} by {agent}\n"),
            "{stage} resumed from the lost session's work"
        );
        let handoffs = json(&env, &dir, &["handoffs", stage, "--all", "--json"]);
        assert!(
            handoffs.to_string().contains(&format!("work/{stage}.txt")),
            "the lost session of {stage} was handed off with its uncommitted work named: {handoffs}"
        );
    }
    for stage in ["a", "b", "c", "d"] {
        assert_eq!(
            env.git(&dir, &["show", &format!("main:work/{stage}.txt")])
                .lines()
                .count(),
            1,
            "{stage}'s work is on main once"
        );
        let commits = env.git(
            &dir,
            &["log", "--format=%s", "main", "--", &format!("work/{stage}.txt")],
        );
        assert_eq!(commits.lines().count(), 1, "{stage}'s work committed once:\n{commits}");
    }
    no_claims(&env, &dir);
    assert_no_agent_left(&marks);
}

// Guards: two runners on two machines running a task twice or merging it twice — sharing one
// plan through a real git daemon, each task must run once and land once.
#[test]
fn two_runners_in_two_clones_share_one_plan() {
    let hub = Hub::with_origin();
    let env = &hub.env;
    let one = hub.seeded("one");
    let stages: Vec<(String, Vec<&str>)> = (1..=6).map(|n| (format!("s{n}"), Vec::new())).collect();
    let stages: Vec<(&str, &[&str])> = stages.iter().map(|(id, deps)| (id.as_str(), deps.as_slice())).collect();
    project(env, &one.dir, &stages);
    one.git(&["push", "-q", "origin", "main"]);
    one.ok(&["sync"]);
    let two = hub.clone_of_origin("two");
    let marks = env.root().join("marks");
    let actions = env.root().join("actions.sh");
    std::fs::write(&actions, format!("{WORK}\nstage_default() {{ sleep 1; work; }}\n")).unwrap();
    let first = start_runner(env, &one.dir, "one", &actions, &marks, &["-j", "2"]);
    let second = start_runner(env, &two.dir, "two", &actions, &marks, &["-j", "2"]);
    let first = thread::spawn(move || first.wait());
    let run = second.wait();
    assert_eq!(run.code, 0, "{run}{}", story(env, &two.dir));
    let run = first.join().unwrap();
    assert_eq!(run.code, 0, "{run}{}", story(env, &one.dir));
    for (stage, _) in &stages {
        assert_eq!(
            sessions_of(&marks, stage),
            1,
            "{stage} ran once: {:?}\n{}",
            sessions(&marks),
            story(env, &one.dir)
        );
    }
    let runners: std::collections::BTreeSet<String> = sessions(&marks)
        .iter()
        .map(|s| s.2.split('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(runners.len(), 2, "both runners took work: {:?}", sessions(&marks));
    one.ok(&["sync"]);
    one.git(&["fetch", "-q", "origin", "main"]);
    assert_all_merged_once(env, &one.dir, "origin/main");
    no_claims(env, &one.dir);
    assert_no_agent_left(&marks);
}

// Guards: Ctrl-C leaving claims held or work unrecorded — the runner must end its sessions,
// hand each running task off (its uncommitted work named), release every claim and exit 130.
#[test]
fn ctrl_c_hands_off_running_tasks_and_releases_their_claims() {
    let env = TestEnv::new();
    let dir = env.new_repo("repo");
    let marks = env.root().join("marks");
    project(&env, &dir, &[("p", &[]), ("q", &[])]);
    let actions = env.root().join("actions.sh");
    std::fs::write(
        &actions,
        r#"
stage_default() {
  echo "$(stage) started" | write "work/$(stage).txt"
  mark "$(stage).written"
  wait_for "$LOOM_MARKS/never" 50
}
"#,
    )
    .unwrap();
    let runner = start_runner(&env, &dir, "interrupted", &actions, &marks, &["-j", "2"]);
    let runner = wait_until(runner, "both sessions to have written their work", || {
        marks.join("p.written").exists() && marks.join("q.written").exists()
    });
    let kill = Command::new("kill")
        .args(["-INT", &runner.pid().to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(kill.success());
    let run = runner.wait();
    assert_eq!(run.code, 130, "{run}");
    no_claims(&env, &dir);
    for stage in ["p", "q"] {
        let handoffs = json(&env, &dir, &["handoffs", stage, "--json"]);
        assert!(
            handoffs.to_string().contains(&format!("work/{stage}.txt")),
            "{stage} was handed off with its uncommitted work named: {handoffs}"
        );
        let task = json(&env, &dir, &["show", stage, "--json"]);
        assert_ne!(task["status"], "claimed", "{task}");
        assert_ne!(task["status"], "done", "{task}");
    }
    assert_no_agent_left(&marks);
}
