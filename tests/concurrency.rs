//! Proves that concurrent writers never lose each other's work: eight real `git loom` processes
//! adding different labels to the same task at the same moment all succeed (a writer that
//! loses the compare-and-swap re-reads and re-applies its change) and the task ends with every
//! label; eight processes creating children of one epic at once all land in the epic's
//! `children`; each task's history stays one linear chain; finishing an epic's last children
//! at the same moment still closes the epic; and two edges that each look fine alone but
//! together close a cycle cannot both land. Every wait is bounded in time.

use crate::common;

use std::collections::BTreeSet;
use std::process::Child;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{Repo, Run};
use serde_json::json;

const WRITERS: usize = 8;
const DEADLINE: Duration = Duration::from_secs(60);

/// Start every command as its own process as nearly at once as possible, then wait for all of
/// them (each bounded by [`DEADLINE`]).
fn race(repo: &Repo, commands: Vec<Vec<String>>) -> Vec<Run> {
    let barrier = Arc::new(Barrier::new(commands.len()));
    thread::scope(|scope| {
        let handles: Vec<_> = commands
            .into_iter()
            .map(|args| {
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    let mut command = repo.env.command(common::BIN, &repo.dir);
                    command.args(&args);
                    barrier.wait();
                    let child: Child = command.spawn().unwrap();
                    common::finish(format!("git-loom {}", args.join(" ")), child, DEADLINE)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The commits of a task's ref, each with its parent count.
fn assert_linear_history(repo: &Repo, id: &str, versions: usize) {
    let parents = repo.git(&["log", "--format=%P", &format!("refs/loom/tasks/{id}")]);
    let counts: Vec<usize> = parents.lines().map(|line| line.split_whitespace().count()).collect();
    assert_eq!(counts.len(), versions, "{parents}");
    assert_eq!(counts.last(), Some(&0), "the first version is a root");
    assert!(
        counts[..versions - 1].iter().all(|&n| n == 1),
        "one parent each: {parents}"
    );
}

// Guards: lost updates when several agents edit one task at once.
#[test]
fn concurrent_label_updates_all_land() {
    let repo = Repo::new();
    let id = repo.create("Contended", &[]);
    let commands = (0..WRITERS)
        .map(|n| {
            vec![
                "--agent".to_owned(),
                format!("agent-{n}"),
                "update".to_owned(),
                id.clone(),
                "--add-label".to_owned(),
                format!("l{n}"),
            ]
        })
        .collect();
    for run in race(&repo, commands) {
        assert_eq!(run.code, 0, "every writer succeeds: {run}");
        assert!(run.stdout.contains(&id), "{run}");
    }

    let labels: BTreeSet<String> = repo.show(&id)["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..WRITERS).map(|n| format!("l{n}")).collect();
    assert_eq!(labels, expected);

    // One version per writer, on one linear chain, each by its own agent.
    assert_linear_history(&repo, &id, WRITERS + 1);
    let log = repo.json(&["log", &id]);
    let agents: BTreeSet<&str> = log.as_array().unwrap()[..WRITERS]
        .iter()
        .map(|v| v["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents.len(), WRITERS, "{log}");
    assert_eq!(repo.stored_task(&id)["lamport"], json!(WRITERS + 1));
}

// Guards: an epic losing track of children created at the same moment.
#[test]
fn concurrent_children_all_join_the_epic() {
    let repo = Repo::new();
    let epic = repo.create("Busy epic", &["--epic"]);
    let commands = (0..WRITERS)
        .map(|n| {
            vec![
                "create".to_owned(),
                format!("Child {n}"),
                "--parent".to_owned(),
                epic.clone(),
            ]
        })
        .collect();
    let mut created = BTreeSet::new();
    for run in race(&repo, commands) {
        assert_eq!(run.code, 0, "every writer succeeds: {run}");
        let id = run.stdout.trim().to_owned();
        assert!(common::is_task_id(&id), "{run}");
        created.insert(id);
    }
    assert_eq!(created.len(), WRITERS, "every child got its own id");

    let children: BTreeSet<String> = repo.show(&epic)["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(children, created);
    for child in &created {
        assert_eq!(repo.show(child)["parent"], json!(epic));
    }
    assert_linear_history(&repo, &epic, WRITERS + 1);
}

// Guards: write skew between siblings. Each writer sees the other child still open, so
// neither closes the epic, and the epic's ref is not part of either transaction.
#[test]
fn concurrent_status_changes_close_the_epic_exactly_once() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let children: Vec<String> = (0..4)
        .map(|n| repo.create(&format!("Child {n}"), &["--parent", &epic]))
        .collect();
    let commands = children
        .iter()
        .map(|id| {
            vec![
                "update".to_owned(),
                id.clone(),
                "--status".to_owned(),
                "done".to_owned(),
            ]
        })
        .collect();
    for run in race(&repo, commands) {
        assert_eq!(run.code, 0, "{run}");
    }
    for child in &children {
        assert_eq!(repo.status_of(child), "done");
    }
    assert_eq!(
        repo.status_of(&epic),
        "done",
        "every child is done, so the epic must have closed (as it does when they finish one by one)"
    );
    let log = repo.json(&["log", &epic]);
    let closes = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["summary"].as_str().unwrap().contains("epic -> done"))
        .count();
    assert_eq!(closes, 1, "{log}");
}

// Guards: write skew between two dependency edits. Each writer checks for a cycle against a
// snapshot without the other's edge and writes only its own task, so both can land.
#[test]
fn concurrent_opposite_dependencies_cannot_form_a_cycle() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &[]);
    let commands = vec![
        vec!["dep".to_owned(), "add".to_owned(), a.clone(), b.clone()],
        vec!["dep".to_owned(), "add".to_owned(), b.clone(), a.clone()],
    ];
    let runs = race(&repo, commands);
    let won = runs.iter().filter(|run| run.code == 0).count();
    for run in runs.iter().filter(|run| run.code != 0) {
        assert_eq!(run.code, 3, "the loser is refused as a conflict: {run}");
        assert!(run.stderr.contains("cycle"), "{run}");
    }
    // If both publish before either checks, both see the cycle and both take their edge back:
    // never a cycle, at most one edge, and every reported success is real.
    assert!(won <= 1, "at most one of the two edges may land: {runs:#?}");
    let graph = repo.json(&["graph"]);
    assert_eq!(graph["cycle"], serde_json::Value::Null, "{graph}");
    let edges = graph["edges"].as_array().unwrap().len();
    assert_eq!(
        edges, won,
        "the edges left are exactly the ones reported as added: {graph}"
    );
}

#[test]
fn concurrent_inits_create_the_project_once() {
    let repo = Repo::uninitialized();
    let commands = (0..WRITERS)
        .map(|_| vec!["--json".to_owned(), "init".to_owned()])
        .collect();
    let runs = race(&repo, commands);
    let mut created = 0;
    for run in &runs {
        assert_eq!(run.code, 0, "every init succeeds: {run}");
        if run.json()["created"] == json!(true) {
            created += 1;
        }
    }
    assert_eq!(created, 1, "exactly one process created the project: {runs:#?}");
    let versions = repo.git(&["rev-list", "--count", "refs/loom/meta"]);
    assert_eq!(versions.trim(), "1");
}
