//! `git loom run` end to end: a real runner starting real (shell-script) agents in real
//! worktrees, with the checks, handoffs, retries and the merge queue they lead to.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{BIN, Repo};

/// Write an executable agent script into the test's root (outside the repository).
fn agent(repo: &Repo, name: &str, body: &str) -> PathBuf {
    let path = repo.env.root().join(name);
    std::fs::write(&path, format!("#!/bin/sh\nset -e\nLOOM={BIN}\n{body}")).unwrap();
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).unwrap();
    path
}

/// `run --json` with the given agent and options: the events, and the exit code.
fn run_json(repo: &Repo, agent: &Path, extra: &[&str]) -> (Vec<Value>, i32) {
    let agent = agent.to_str().unwrap();
    let mut args = vec!["--json", "--agent", agent, "run", "--name", "r"];
    args.extend_from_slice(extra);
    let run = repo.loom(&args);
    let events = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}\n{run}")))
        .collect();
    (events, run.code)
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|event| event["event"] == kind).collect()
}

fn config(repo: &Repo, key: &str, value: &str) {
    let run = repo.loom(&["config", key, value]);
    assert_eq!(run.code, 0, "{run}");
}

/// Settings for quick retries: a failed task is ready again at once.
fn quick_retries(repo: &Repo) {
    config(repo, "retry.base_secs", "0");
}

// Guards: the agent contract (cwd, LOOM_* variables, the signal file) drifting from what the
// brief promises, and a finished task's work not reaching the target through the queue.
#[test]
fn a_ready_task_is_run_done_and_merged_on_main() {
    let repo = Repo::new();
    let id = repo.create("write the greeting", &[]);
    let script = agent(
        &repo,
        "agent.sh",
        r#"
{
  echo "task=$LOOM_TASK"
  echo "agent=$LOOM_AGENT"
  echo "attempt=$LOOM_ATTEMPT"
  echo "cwd_is_worktree=$([ "$(pwd -P)" = "$(cd "$LOOM_WORKTREE" && pwd -P)" ] && echo yes)"
  echo "signal_names_task=$(grep -c "write the greeting" "$LOOM_SIGNAL")"
  echo "token_set=$([ -n "$LOOM_TOKEN" ] && echo yes)"
  echo "session_set=$([ -n "$LOOM_SESSION" ] && echo yes)"
  echo "refresh_dir=$([ -d "$(dirname "$LOOM_REFRESH")" ] && echo yes)"
} > contract.txt
git add contract.txt
git commit -q -m "the contract as seen"
echo "all written"
"#,
    );
    let (events, code) = run_json(&repo, &script, &["-j", "2"]);
    assert_eq!(code, 0, "{events:#?}");
    let started = of_kind(&events, "started");
    assert_eq!(started.len(), 1, "{events:#?}");
    assert_eq!(started[0]["task"], id.as_str());
    assert_eq!(started[0]["agent"], "r/1");
    assert_eq!(of_kind(&events, "done").len(), 1);
    let merged = of_kind(&events, "merge");
    assert!(merged.iter().any(|event| event["state"] == "merged"), "{events:#?}");
    let ended = of_kind(&events, "ended");
    assert_eq!(ended[0]["reason"], "exited");
    assert_eq!(ended[0]["code"], 0);
    let end = events.last().unwrap();
    assert_eq!(end["event"], "end");
    assert_eq!(end["end"], "all_done");
    assert!(
        events.iter().all(|event| event["at"].is_string()),
        "every event has a time"
    );

    let contract = repo.git(&["show", "main:contract.txt"]);
    for line in [
        format!("task={id}").as_str(),
        "agent=r/1",
        "attempt=1",
        "cwd_is_worktree=yes",
        "signal_names_task=1",
        "token_set=yes",
        "session_set=yes",
        "refresh_dir=yes",
    ] {
        assert!(contract.lines().any(|seen| seen == line), "{line} in\n{contract}");
    }
    let task = repo.show(&id);
    assert_eq!(task["status"], "done");
    assert!(
        repo.all_refs().lines().all(|line| !line.contains("refs/loom/claims/")),
        "no claim left"
    );
}

// Guards: a failing agent's uncommitted work being lost, or its failure not going through
// the retry rules to a next session that sees the handoff.
#[test]
fn a_failing_agent_is_handed_off_failed_and_retried_from_its_handoff() {
    let repo = Repo::new();
    quick_retries(&repo);
    let id = repo.create("careful work", &[]);
    let script = agent(
        &repo,
        "flaky.sh",
        r#"
if [ "$LOOM_ATTEMPT" = 1 ]; then
  echo "half of it" > wip.txt
  echo "giving up halfway" >&2
  exit 1
fi
grep -q "wip.txt" "$LOOM_SIGNAL"
git add wip.txt
git commit -q -m "finish from the handoff"
"#,
    );
    let (events, code) = run_json(&repo, &script, &[]);
    assert_eq!(code, 0, "{events:#?}");
    let failed = of_kind(&events, "failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert_eq!(failed[0]["reason"], "the agent exited with status 1");
    assert_eq!(failed[0]["dead"], false);
    let started = of_kind(&events, "started");
    assert_eq!(started.len(), 2);
    assert_eq!(started[1]["attempt"], 2);
    assert_eq!(started[1]["agent"], "r/2");

    let handoffs = repo.loom(&["handoffs", &id, "--all"]).stdout;
    assert!(handoffs.contains("ended: the agent exited with status 1"), "{handoffs}");
    assert!(handoffs.contains("?? wip.txt"), "{handoffs}");
    assert!(handoffs.contains("giving up halfway"), "the output's tail: {handoffs}");
    assert_eq!(repo.git(&["show", "main:wip.txt"]), "half of it\n");
    let task = repo.show(&id);
    assert_eq!(task["status"], "done");
    assert_eq!(task["retries"], 1);
}

// Guards: a session at its context budget (a handoff over it, or the refresh file) being
// counted as a failure instead of continuing in a fresh session.
#[test]
fn an_agent_asking_for_a_fresh_session_continues_without_a_failure() {
    let repo = Repo::new();
    config(&repo, "run.context_budget", "50");
    let id = repo.create("long work", &[]);
    let script = agent(
        &repo,
        "tired.sh",
        r#"
case "$LOOM_ATTEMPT" in
1)
  echo one > one.txt && git add one.txt && git commit -q -m "part one"
  "$LOOM" handoff "$LOOM_TASK" -m "part one done, context nearly full" --context-percent 80
  sleep 30
  ;;
2)
  grep -q "part one done" "$LOOM_SIGNAL"
  echo two > two.txt && git add two.txt && git commit -q -m "part two"
  touch "$LOOM_REFRESH"
  sleep 30
  ;;
*)
  echo three > three.txt && git add three.txt && git commit -q -m "part three"
  ;;
esac
"#,
    );
    let (events, code) = run_json(&repo, &script, &["--grace", "1"]);
    assert_eq!(code, 0, "{events:#?}");
    let reasons: Vec<&Value> = of_kind(&events, "ended").iter().map(|event| &event["reason"]).collect();
    assert_eq!(reasons, ["refresh", "refresh", "exited"], "{events:#?}");
    assert!(of_kind(&events, "failed").is_empty());
    assert_eq!(of_kind(&events, "released").len(), 2);
    let task = repo.show(&id);
    assert_eq!(task["status"], "done");
    assert_eq!(task["retries"], 0, "a fresh session is no failure");
    for file in ["one.txt", "two.txt", "three.txt"] {
        repo.git(&["cat-file", "-e", &format!("main:{file}")]);
    }
}

// Guards: an agent's word (exit 0) being taken for success when the task's checks fail.
#[test]
fn checks_decide_not_the_agents_exit_code() {
    let repo = Repo::new();
    config(&repo, "retry.limit", "0");
    let id = repo.create("must add proof", &["--accept", "test -f proof.txt"]);
    let script = agent(&repo, "liar.sh", "echo 'all good, trust me'\n");
    let (events, code) = run_json(&repo, &script, &[]);
    assert_eq!(code, 5, "a dead task ends the run with 5: {events:#?}");
    let failed = of_kind(&events, "failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert!(
        failed[0]["reason"].as_str().unwrap().starts_with("the checks failed"),
        "{events:#?}"
    );
    assert_eq!(failed[0]["dead"], true);
    assert_eq!(repo.show(&id)["status"], "dead");
    assert_eq!(events.last().unwrap()["end"], "stuck");
}

// Guards: `run` without an agent to start doing anything at all.
#[test]
fn run_without_an_agent_is_a_usage_error() {
    let repo = Repo::new();
    repo.create("anything", &[]);
    let run = repo.run_fail(2, &["run"]);
    assert!(run.stderr.contains("--agent"), "{run}");
    assert!(repo.all_refs().lines().all(|line| !line.contains("refs/loom/claims/")));
}

/// An agent that, on its first attempt, notes its session id in `session.txt` beside the
/// script and then waits (far longer than any test); on later attempts it commits and exits.
fn stalling_agent(repo: &Repo) -> PathBuf {
    let note = repo.env.root().join("session.txt");
    agent(
        repo,
        "stall.sh",
        &format!(
            r#"
if [ "$LOOM_ATTEMPT" = 1 ]; then
  echo "$LOOM_SESSION" > '{note}'
  sleep 60
  exit 0
fi
echo later > later.txt && git add later.txt && git commit -q -m "the later attempt"
"#,
            note = note.display()
        ),
    )
}

// Guards: an agent that hangs holding its claim forever — the session timeout must kill its
// group and fail the task through the retry rules.
#[test]
fn a_session_past_its_timeout_is_killed_handed_off_and_retried() {
    let repo = Repo::new();
    quick_retries(&repo);
    let id = repo.create("slow work", &[]);
    let script = stalling_agent(&repo);
    let (events, code) = run_json(&repo, &script, &["--session-timeout", "1", "--grace", "1"]);
    assert_eq!(code, 0, "{events:#?}");
    let ended = of_kind(&events, "ended");
    assert_eq!(ended[0]["reason"], "timeout", "{events:#?}");
    let failed = of_kind(&events, "failed");
    assert_eq!(failed[0]["reason"], "the agent ran past the session timeout of 1s");
    assert_eq!(repo.show(&id)["retries"], 1);
    assert!(
        repo.loom(&["handoffs", &id, "--all"])
            .stdout
            .contains("session timeout")
    );
}

// Guards: `sessions kill` on a running session being ignored by the runner that owns it.
#[test]
fn a_kill_request_ends_the_session_and_fails_the_task() {
    let repo = Repo::new();
    quick_retries(&repo);
    let id = repo.create("to be killed", &[]);
    let script = stalling_agent(&repo);
    let note = repo.env.root().join("session.txt");
    let runner = repo
        .env
        .command(BIN, &repo.dir)
        .args([
            "--json",
            "--agent",
            script.to_str().unwrap(),
            "run",
            "--name",
            "r",
            "--grace",
            "1",
        ])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let session = loop {
        if let Ok(text) = std::fs::read_to_string(&note)
            && !text.trim().is_empty()
        {
            break text.trim().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "the agent never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let kill = repo.loom(&["sessions", "kill", &session]);
    assert_eq!(kill.code, 0, "{kill}");
    let run = crate::common::finish("git loom run".into(), runner, crate::common::PROCESS_TIMEOUT);
    assert_eq!(run.code, 0, "{run}");
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ended = of_kind(&events, "ended");
    assert_eq!(ended[0]["session"], session.as_str());
    assert_eq!(ended[0]["reason"], "killed", "{events:#?}");
    assert_eq!(
        of_kind(&events, "failed")[0]["reason"],
        "the session was killed on request"
    );
    let task = repo.show(&id);
    assert_eq!(task["status"], "done");
    assert_eq!(task["retries"], 1);
}

// Guards: work an agent left uncommitted at a clean exit being recorded as done (and lost).
#[test]
fn a_clean_exit_with_uncommitted_work_is_a_failure_that_names_it() {
    let repo = Repo::new();
    config(&repo, "retry.limit", "0");
    let id = repo.create("forgetful", &[]);
    let script = agent(&repo, "forgetful.sh", "echo draft > draft.txt\n");
    let (events, code) = run_json(&repo, &script, &[]);
    assert_eq!(code, 5, "{events:#?}");
    let failed = of_kind(&events, "failed");
    assert_eq!(failed[0]["reason"], "the agent exited leaving 1 uncommitted change(s)");
    let handoff = repo.loom(&["handoffs", &id]).stdout;
    assert!(handoff.contains("?? draft.txt"), "{handoff}");
}
