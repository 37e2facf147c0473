//! Proves that a task's fields survive the round trip through git (`create` → `show --json`,
//! and the stored `task.json`), that `create` prints just the id (or the task with `--json`),
//! that `update` changes exactly what it is asked to, that the state machine refuses illegal
//! status changes with exit 3 and derived statuses with exit 2, and that `list` filters by
//! status and label.

use crate::common;

use common::{Repo, ids, is_task_id};
use serde_json::{Value, json};

const TASK_KEYS: [&str; 29] = [
    "id",
    "title",
    "description",
    "status",
    "priority",
    "deps",
    "blocked_by",
    "awaiting_merge",
    "parent",
    "children",
    "labels",
    "acceptance",
    "files",
    "created_at",
    "updated_at",
    "attempts",
    "retries",
    "max_retries",
    "retry_after",
    "output",
    "branch",
    "last_failure",
    "commit",
    "merged",
    "plan",
    "stage",
    "stage_hints",
    "extra",
    "claim",
];

#[test]
fn create_round_trips_every_field() {
    let repo = Repo::new();
    let dep = repo.create("Lay the groundwork", &[]);
    let epic = repo.create("The big picture", &["--epic"]);
    let id = repo.create(
        "Wire the loom",
        &[
            "-d",
            "Context: two lines\nof description.",
            "-p",
            "p1",
            "--dep",
            &dep,
            "--parent",
            &epic,
            "--label",
            "backend",
            "--label",
            "alpha",
            "--accept",
            "cargo test",
            "--accept",
            "cargo clippy -- -D warnings",
            "--files",
            "src/**/*.rs",
        ],
    );

    let task = repo.show(&id);
    let keys: Vec<&str> = task.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = TASK_KEYS.to_vec();
    expected.sort_unstable();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    assert_eq!(keys_sorted, expected, "show --json has exactly the documented keys");
    assert_eq!(task["id"], json!(id));
    assert_eq!(task["title"], json!("Wire the loom"));
    assert_eq!(task["description"], json!("Context: two lines\nof description."));
    assert_eq!(task["status"], json!("blocked"));
    assert_eq!(task["priority"], json!("p1"));
    assert_eq!(task["deps"], json!([dep]));
    assert_eq!(task["blocked_by"], json!([dep]));
    assert_eq!(task["parent"], json!(epic));
    assert_eq!(task["children"], json!([]));
    assert_eq!(task["labels"], json!(["alpha", "backend"]), "labels are a sorted set");
    assert_eq!(task["acceptance"], json!(["cargo test", "cargo clippy -- -D warnings"]));
    assert_eq!(task["files"], json!(["src/**/*.rs"]));
    let created = task["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.contains('T'),
        "RFC 3339 UTC: {created}"
    );
    assert_eq!(task["updated_at"], task["created_at"]);

    // The epic learned about its child in the same step.
    assert_eq!(repo.show(&epic)["children"], json!([id]));

    // What git stores is the same task, readable without git-loom.
    let stored = repo.stored_task(&id);
    assert_eq!(stored["schema"], json!(1));
    assert_eq!(
        stored["status"],
        json!("pending"),
        "blocked is derived, pending is stored"
    );
    for key in [
        "id",
        "title",
        "description",
        "priority",
        "deps",
        "parent",
        "labels",
        "acceptance",
        "files",
    ] {
        assert_eq!(stored[key], task[key], "stored {key}");
    }
}

#[test]
fn create_prints_the_id_or_with_json_the_task() {
    let repo = Repo::new();
    let plain = repo.run_ok(&["create", "Plain"]);
    let id = plain.stdout.trim_end();
    assert!(is_task_id(id), "{plain}");
    assert_eq!(plain.stdout, format!("{id}\n"), "only the id, one line");

    let run = repo.run_ok(&["--json", "create", "Structured", "-p", "p0", "--label", "x"]);
    let task = run.json();
    let created = task["id"].as_str().unwrap();
    assert!(is_task_id(created));
    assert_ne!(created, id);
    assert_eq!(task["title"], json!("Structured"));
    assert_eq!(task["status"], json!("ready"));
    assert_eq!(task["priority"], json!("p0"));
    assert_eq!(task["labels"], json!(["x"]));
    assert_eq!(task, repo.show(created), "create --json prints what show --json shows");

    // `--json` may also come after the subcommand.
    let after = repo.run_ok(&["create", "After", "--json"]).json();
    assert_eq!(after["title"], json!("After"));
}

#[test]
fn defaults_for_a_bare_task() {
    let repo = Repo::new();
    let id = repo.create("Bare", &[]);
    let task = repo.show(&id);
    assert_eq!(task["description"], json!(""));
    assert_eq!(task["status"], json!("ready"));
    assert_eq!(task["priority"], json!("p2"));
    assert_eq!(task["parent"], Value::Null);
    for key in [
        "deps",
        "blocked_by",
        "awaiting_merge",
        "children",
        "labels",
        "acceptance",
        "files",
    ] {
        assert_eq!(task[key], json!([]), "{key}");
    }
    let human = repo.run_ok(&["show", &id]).stdout;
    assert!(human.starts_with(&format!("{id}  Bare\n")), "{human}");
    assert!(human.contains("status") && human.contains("ready"), "{human}");
}

#[test]
fn invalid_field_values_are_usage_errors() {
    let repo = Repo::new();
    let before = repo.all_refs();
    let run = repo.run_fail(2, &["create", "   "]);
    assert!(run.stderr.contains("title must not be empty"), "{run}");
    repo.run_fail(2, &["create", "Bad label", "--label", "two words"]);
    repo.run_fail(2, &["create", "Bad label", "--label", "a,b"]);
    repo.run_fail(2, &["create", "Bad priority", "-p", "p4"]);
    repo.run_fail(2, &["create", "Empty accept", "--accept", " "]);
    repo.run_fail(2, &["create", "Idea and epic", "--idea", "--epic"]);
    assert_eq!(repo.all_refs(), before, "a refused create writes nothing");
}

#[test]
fn update_changes_only_what_it_is_asked_to() {
    let repo = Repo::new();
    let dep = repo.create("Dependency", &[]);
    let epic = repo.create("Epic", &["--epic"]);
    let id = repo.create("Before", &["--dep", &dep, "--label", "keep", "--label", "drop"]);
    let original = repo.show(&id);

    let run = repo.run_ok(&[
        "update",
        &id,
        "--title",
        "After",
        "-d",
        "new words",
        "-p",
        "p0",
        "--add-label",
        "fresh",
        "--rm-label",
        "drop",
        "--rm-dep",
        &dep,
        "--parent",
        &epic,
    ]);
    assert!(run.stdout.contains(&id), "one line per written task: {run}");
    assert!(run.stdout.contains(&epic), "the epic was written too: {run}");

    let task = repo.show(&id);
    assert_eq!(task["title"], json!("After"));
    assert_eq!(task["description"], json!("new words"));
    assert_eq!(task["priority"], json!("p0"));
    assert_eq!(task["labels"], json!(["fresh", "keep"]));
    assert_eq!(task["deps"], json!([]));
    assert_eq!(task["status"], json!("ready"), "no longer waits on anything");
    assert_eq!(task["parent"], json!(epic));
    assert_eq!(task["created_at"], original["created_at"]);
    assert_ne!(task["updated_at"], original["updated_at"]);
    assert_eq!(repo.show(&epic)["children"], json!([id]));

    repo.run_ok(&["update", &id, "--no-parent"]);
    assert_eq!(repo.show(&id)["parent"], Value::Null);
    assert_eq!(repo.show(&epic)["children"], json!([]));

    // Removing a dependency the task does not have, like a missing label, changes nothing.
    let tip = repo.tip(&id);
    let run = repo.loom(&["update", &id, "--rm-dep", &dep]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run}");
    assert!(run.stderr.contains("nothing to change"), "{run}");
    assert_eq!(repo.tip(&id), tip);
}

#[test]
fn an_update_that_changes_nothing_writes_nothing() {
    let repo = Repo::new();
    let id = repo.create("Same", &["-p", "p1"]);
    let tip = repo.tip(&id);
    let run = repo.loom(&["update", &id, "--title", "Same", "-p", "p1", "--status", "pending"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout, "", "{run}");
    assert!(run.stderr.contains("nothing to change"), "{run}");
    assert_eq!(repo.tip(&id), tip);
}

// Guards: done is final; the refusal names both states and writes nothing.
#[test]
fn illegal_transition_is_refused_naming_both_states() {
    let repo = Repo::new();
    let id = repo.create("Finish me", &[]);
    repo.run_ok(&["update", &id, "--status", "done"]);
    assert_eq!(repo.status_of(&id), "done");
    let tip = repo.tip(&id);

    let run = repo.run_fail(3, &["update", &id, "--status", "pending"]);
    assert!(
        run.stderr.contains(&format!("cannot move {id} from done to pending")),
        "{run}"
    );
    let run = repo.run_fail(3, &["update", &id, "--status", "cancelled"]);
    assert!(run.stderr.contains("from done to cancelled"), "{run}");
    assert_eq!(repo.tip(&id), tip, "a refused transition writes nothing");

    // An epic cannot go back to pending either.
    let epic = repo.create("Epic", &["--epic"]);
    let run = repo.run_fail(3, &["update", &epic, "--status", "pending"]);
    assert!(
        run.stderr.contains(&format!("cannot move {epic} from epic to pending")),
        "{run}"
    );
}

#[test]
fn derived_and_unknown_statuses_are_usage_errors() {
    let repo = Repo::new();
    let id = repo.create("Task", &[]);
    let tip = repo.tip(&id);
    for derived in ["ready", "blocked", "claimed"] {
        let run = repo.run_fail(2, &["update", &id, "--status", derived]);
        assert!(run.stderr.contains("derived"), "{run}");
    }
    let run = repo.run_fail(2, &["update", &id, "--status", "finished"]);
    assert!(run.stderr.contains("unknown status"), "{run}");
    assert_eq!(repo.tip(&id), tip);
}

// Guards: a task cannot be finished while it waits on open work.
#[test]
fn finishing_a_blocked_task_names_what_it_waits_on() {
    let repo = Repo::new();
    let first = repo.create("First", &[]);
    let second = repo.create("Second", &[]);
    let waiting = repo.create("Waiting", &["--dep", &first, "--dep", &second]);
    let tip = repo.tip(&waiting);

    let run = repo.run_fail(3, &["update", &waiting, "--status", "done"]);
    assert!(
        run.stderr
            .contains(&format!("cannot move {waiting} from blocked to done")),
        "{run}"
    );
    assert!(run.stderr.contains(&first) && run.stderr.contains(&second), "{run}");
    assert_eq!(repo.tip(&waiting), tip);

    repo.run_ok(&["update", &first, "--status", "done"]);
    let run = repo.run_fail(3, &["update", &waiting, "--status", "done"]);
    assert!(run.stderr.contains(&format!("it waits on {second}")), "{run}");
    assert!(!run.stderr.contains(&first), "done dependencies are not named: {run}");

    // Failing and retrying are allowed while blocked; cancelling too.
    repo.run_ok(&["update", &waiting, "--status", "failed"]);
    assert_eq!(repo.status_of(&waiting), "failed");
    repo.run_ok(&["update", &waiting, "--status", "pending"]);
    assert_eq!(repo.status_of(&waiting), "blocked");
}

#[test]
fn list_hides_closed_work_by_default_and_filters() {
    let repo = Repo::new();
    let ready = repo.create("Ready one", &["--label", "ui"]);
    let blocked = repo.create("Blocked one", &["--dep", &ready, "--label", "ui"]);
    let done = repo.create("Done one", &["--label", "api"]);
    repo.run_ok(&["update", &done, "--status", "done"]);
    let cancelled = repo.create("Cancelled one", &[]);
    repo.run_ok(&["cancel", &cancelled]);
    let idea = repo.run_ok(&["idea", "Some idea"]).stdout.trim().to_owned();
    let epic = repo.create("Epic", &["--epic", "--label", "api"]);

    let mut open = ids(&repo.json(&["list"]));
    open.sort();
    let mut expected = vec![ready.clone(), blocked.clone(), epic.clone()];
    expected.sort();
    assert_eq!(open, expected, "default list: not done, cancelled or ideas");

    let all = ids(&repo.json(&["list", "--all"]));
    for id in [&ready, &blocked, &done, &cancelled, &idea, &epic] {
        assert!(all.contains(id), "--all shows {id}");
    }
    assert_eq!(all.len(), 6);

    assert_eq!(ids(&repo.json(&["list", "--status", "ready"])), vec![ready.clone()]);
    assert_eq!(ids(&repo.json(&["list", "--status", "blocked"])), vec![blocked.clone()]);
    let mut both = ids(&repo.json(&["list", "--status", "ready", "--status", "done"]));
    both.sort();
    let mut expected = vec![ready.clone(), done.clone()];
    expected.sort();
    assert_eq!(both, expected, "--status is repeatable");
    assert_eq!(ids(&repo.json(&["list", "--status", "idea"])), vec![idea.clone()]);
    assert_eq!(
        ids(&repo.json(&["list", "--status", "cancelled"])),
        vec![cancelled.clone()]
    );

    let mut ui = ids(&repo.json(&["list", "--label", "ui"]));
    ui.sort();
    let mut expected = vec![ready.clone(), blocked.clone()];
    expected.sort();
    assert_eq!(ui, expected);
    assert_eq!(ids(&repo.json(&["list", "--label", "api"])), vec![epic.clone()]);
    assert_eq!(ids(&repo.json(&["list", "--label", "api", "--all"])).len(), 2);
    assert_eq!(ids(&repo.json(&["list", "--label", "nope"])), Vec::<String>::new());

    let run = repo.run_fail(2, &["list", "--status", "pending"]);
    assert!(
        run.stderr.contains("unknown status"),
        "pending is not a shown status: {run}"
    );

    // The human table has one row per task with its shown status.
    let table = repo.run_ok(&["list"]).stdout;
    assert_eq!(table.lines().count(), 3, "{table}");
    let row = table.lines().find(|line| line.starts_with(&blocked)).unwrap();
    assert!(row.contains("blocked") && row.contains("Blocked one  [ui]"), "{row}");
}
