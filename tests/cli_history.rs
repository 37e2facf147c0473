//! Proves that a task's history is its commit chain under `refs/loom/tasks/<id>`: `git loom log`
//! lists every version newest first with who (`Agent:`) and what (`Op:`), `--patch` shows a
//! unified diff of `task.json` naming the changed field, `--json` gives the same versions as
//! data, and plain `git log` of the ref sees the same commits with `Loom-Agent:` and `Loom-Op:`
//! trailers.

use crate::common;

use common::{AGENT, Repo};
use serde_json::{Value, json};

/// A task with four versions: create, retitle, label, done.
fn task_with_history(repo: &Repo) -> String {
    let id = repo.create("old", &[]);
    repo.run_ok(&["update", &id, "--title", "new"]);
    repo.run_ok(&["--agent", "other-agent", "update", &id, "--add-label", "urgent"]);
    repo.run_ok(&["update", &id, "--status", "done"]);
    id
}

fn ref_commits(repo: &Repo, id: &str) -> Vec<String> {
    repo.git(&["rev-list", &format!("refs/loom/tasks/{id}")])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn log_lists_versions_newest_first_with_agent_and_op() {
    let repo = Repo::new();
    let id = task_with_history(&repo);
    let commits = ref_commits(&repo, &id);
    assert_eq!(commits.len(), 4, "one commit per change");

    let log = repo.run_ok(&["log", &id]).stdout;
    let logged: Vec<&str> = log.lines().filter_map(|line| line.strip_prefix("commit ")).collect();
    assert_eq!(
        logged, commits,
        "newest first, the same commits as the ref's chain:\n{log}"
    );
    let agents: Vec<&str> = log
        .lines()
        .filter_map(|line| line.strip_prefix("Agent:"))
        .map(str::trim)
        .collect();
    assert_eq!(agents, vec![AGENT, "other-agent", AGENT, AGENT], "{log}");
    let ops: Vec<&str> = log
        .lines()
        .filter_map(|line| line.strip_prefix("Op:"))
        .map(str::trim)
        .collect();
    assert_eq!(ops, vec!["update", "update", "update", "create"], "{log}");
    assert_eq!(log.lines().filter(|line| line.starts_with("Date:")).count(), 4);
    assert!(log.contains("status pending -> done"), "{log}");
    assert!(log.contains("add label urgent"), "{log}");
    assert!(log.contains("create task \"old\""), "{log}");
    assert!(!log.contains("--- a/task.json"), "no patch unless asked: {log}");

    // A prefix works as well as the full id.
    assert_eq!(repo.run_ok(&["log", &id[5..9]]).stdout, log);
}

#[test]
fn log_patch_shows_the_changed_field() {
    let repo = Repo::new();
    let id = task_with_history(&repo);
    let log = repo.run_ok(&["log", &id, "--patch"]).stdout;
    assert_eq!(log.matches("--- a/task.json\n+++ b/task.json\n").count(), 4, "{log}");
    assert!(log.contains("-  \"title\": \"old\""), "{log}");
    assert!(log.contains("+  \"title\": \"new\""), "{log}");
    assert!(log.contains("-  \"status\": \"pending\""), "{log}");
    assert!(log.contains("+  \"status\": \"done\""), "{log}");
    assert!(log.contains("+    \"urgent\""), "{log}");

    // Each patch sits under its own version: the title change is the third newest.
    let versions: Vec<&str> = log.split("\ncommit ").collect();
    assert_eq!(versions.len(), 4);
    assert!(versions[0].contains("+  \"status\": \"done\"") && !versions[0].contains("\"title\": \"old\""));
    assert!(versions[2].contains("-  \"title\": \"old\""), "{}", versions[2]);
    // The first version's patch adds the whole task.
    assert!(versions[3].contains("@@ -0,0 +1,"), "{}", versions[3]);
    assert!(versions[3].contains("+  \"title\": \"old\""), "{}", versions[3]);

    assert_eq!(repo.run_ok(&["log", &id, "-p"]).stdout, log, "-p is --patch");
}

#[test]
fn log_json_is_an_array_of_versions() {
    let repo = Repo::new();
    let id = task_with_history(&repo);
    let commits = ref_commits(&repo, &id);
    let log = repo.json(&["log", &id]);
    let versions = log.as_array().unwrap();
    assert_eq!(versions.len(), 4);
    for (version, commit) in versions.iter().zip(&commits) {
        let keys: Vec<&str> = version.as_object().unwrap().keys().map(String::as_str).collect();
        for key in ["commit", "time", "agent", "op", "summary", "task"] {
            assert!(keys.contains(&key), "{key} missing in {version}");
        }
        assert_eq!(version["commit"], json!(commit));
        assert_eq!(version["task"]["id"], json!(id));
        assert!(version["time"].as_str().unwrap().ends_with('Z'), "{version}");
        assert!(version.get("patch").is_none(), "patch only with --patch");
    }
    assert_eq!(versions[0]["task"]["status"], json!("done"));
    assert_eq!(versions[0]["summary"], json!("status pending -> done"));
    assert_eq!(versions[1]["agent"], json!("other-agent"));
    assert_eq!(versions[2]["task"]["title"], json!("new"));
    assert_eq!(versions[3]["op"], json!("create"));
    assert_eq!(versions[3]["task"]["title"], json!("old"));
    assert_eq!(versions[3]["agent"], json!(AGENT));

    let patched = repo.json(&["log", &id, "--patch"]);
    let patch = patched[2]["patch"].as_str().unwrap();
    assert!(patch.contains("-  \"title\": \"old\""), "{patch}");
}

#[test]
fn plain_git_log_sees_the_same_history_with_trailers() {
    let repo = Repo::new();
    let id = task_with_history(&repo);
    let reference = format!("refs/loom/tasks/{id}");
    let count = repo.git(&["rev-list", "--count", &reference]);
    assert_eq!(count.trim(), "4");
    assert_eq!(repo.json(&["log", &id]).as_array().unwrap().len(), 4);

    let bodies = repo.git(&["log", "--format=%B%x00", &reference]);
    let bodies: Vec<&str> = bodies.split('\0').map(str::trim).filter(|b| !b.is_empty()).collect();
    assert_eq!(bodies.len(), 4);
    for (body, agent) in bodies.iter().zip([AGENT, "other-agent", AGENT, AGENT]) {
        assert!(body.contains(&format!("Loom-Agent: {agent}")), "{body}");
        assert!(body.contains("Loom-Op: "), "{body}");
        assert!(body.contains(&format!("Loom-Task: {id}")), "{body}");
    }
    let trailers = repo.git(&[
        "log",
        "--format=%(trailers:key=Loom-Op,valueonly,separator=)",
        &reference,
    ]);
    let ops: Vec<&str> = trailers.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(ops, vec!["update", "update", "update", "create"]);

    // The chain is linear and the first version has no parent.
    let parents = repo.git(&["log", "--format=%P", &reference]);
    let parents: Vec<&str> = parents.lines().collect();
    assert_eq!(parents.last(), Some(&""));
    assert!(parents[..3].iter().all(|p| p.split(' ').count() == 1 && !p.is_empty()));

    // Each commit's tree holds exactly task.json.
    let tree = repo.git(&["ls-tree", "--name-only", &reference]);
    assert_eq!(tree, "task.json\n");
    let author = repo.git(&["log", "-1", "--format=%an", &reference]);
    assert_eq!(author.trim(), AGENT);
}

#[test]
fn a_multi_task_change_is_recorded_on_each_task() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let child = repo.create("Child", &["--parent", &epic]);
    let epic_log = repo.json(&["log", &epic]);
    assert_eq!(epic_log.as_array().unwrap().len(), 2, "created, then given a child");
    assert_eq!(epic_log[0]["summary"], json!(format!("add child {child}")));
    assert_eq!(epic_log[0]["op"], json!("create"));

    repo.run_ok(&["update", &child, "--status", "done"]);
    let epic_log = repo.json(&["log", &epic]);
    assert_eq!(epic_log.as_array().unwrap().len(), 3);
    let summary = epic_log[0]["summary"].as_str().unwrap();
    assert!(summary.contains("epic -> done"), "{summary}");
    assert_eq!(epic_log[0]["task"]["status"], json!("done"));
}

#[test]
fn log_of_an_unknown_task_fails() {
    let repo = Repo::new();
    let run = repo.run_fail(1, &["log", "loom-0badc0de"]);
    assert!(run.stderr.contains("no task matches"), "{run}");
    let run = repo.run_fail(1, &["--json", "log", "loom-0badc0de"]);
    assert!(run.stderr.contains("no task matches"), "errors stay text: {run}");
    let value: Value = serde_json::from_str(&repo.run_ok(&["--json", "list"]).stdout).unwrap();
    assert_eq!(value, json!([]));
}
