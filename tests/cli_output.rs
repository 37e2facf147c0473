//! Proves the output conventions scripts rely on: `--json` prints exactly one JSON document and
//! a newline, listings are ordered by priority, then age, then id, notes and warnings go to
//! stderr and `-q` silences them, errors are an `error:` line plus `hint:` lines, human times
//! are UTC, and a reader that closes stdout early is not an error.

use crate::common;

use std::process::Stdio;

use common::{Repo, ids};
use serde_json::{Value, json};

#[test]
fn json_output_is_one_document_and_a_newline() {
    let repo = Repo::new();
    let id = repo.create("Task", &[]);
    for args in [
        vec!["--json", "show", id.as_str()],
        vec!["--json", "list"],
        vec!["--json", "ready"],
        vec!["--json", "status"],
        vec!["--json", "graph"],
        vec!["--json", "log", &id],
        vec!["--json", "ideas"],
        vec!["--json", "update", &id, "--add-label", "x"],
        vec!["--json", "init"],
    ] {
        let run = repo.run_ok(&args);
        assert!(run.stdout.ends_with("}\n") || run.stdout.ends_with("]\n"), "{run}");
        assert!(!run.stdout.ends_with("\n\n"), "{run}");
        let mut stream = serde_json::Deserializer::from_str(&run.stdout).into_iter::<Value>();
        assert!(stream.next().unwrap().is_ok(), "{run}");
        assert!(stream.next().is_none(), "exactly one document: {run}");
        assert!(
            run.stdout == "[]\n" || run.stdout.contains("\n  "),
            "pretty-printed: {run}"
        );
    }
    // An update that changes nothing still prints the task with --json.
    let run = repo.loom(&["--json", "update", &id, "--add-label", "x"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.json()["labels"], json!(["x"]));
    assert!(run.stderr.is_empty(), "{run}");
}

#[test]
fn list_and_ideas_order_by_priority_then_age_then_id() {
    let repo = Repo::new();
    let old_low = repo.create("Old, p3", &["-p", "p3"]);
    let old_mid = repo.create("Old, p2", &[]);
    let new_high = repo.create("New, p0", &["-p", "p0"]);
    let new_mid = repo.create("New, p2", &[]);
    assert_eq!(ids(&repo.json(&["list"])), vec![new_high, old_mid, new_mid, old_low]);

    let template = repo.create("Template", &["-p", "p3"]);
    for id in ["loom-0000ff00", "loom-000000ff"] {
        let mut task = repo.forged_task(&template, id);
        task["status"] = json!("idea");
        task["priority"] = json!("p2");
        task["created_at"] = json!("2020-01-01T00:00:00Z");
        repo.write_task(id, &task);
    }
    let first = repo.run_ok(&["idea", "Newest idea"]).stdout.trim().to_owned();
    assert_eq!(
        ids(&repo.json(&["ideas"])),
        vec!["loom-000000ff".to_owned(), "loom-0000ff00".to_owned(), first]
    );
}

#[test]
fn human_times_are_utc_and_json_times_rfc3339() {
    let repo = Repo::new();
    let id = repo.create("Timed", &[]);
    let show = repo.run_ok(&["show", &id]).stdout;
    let created = show.lines().find(|l| l.trim_start().starts_with("created")).unwrap();
    assert!(created.ends_with(" UTC"), "{created}");
    let log = repo.run_ok(&["log", &id]).stdout;
    assert!(
        log.lines().any(|l| l.starts_with("Date:   ") && l.ends_with(" UTC")),
        "{log}"
    );
    let task = repo.show(&id);
    let stamp = task["created_at"].as_str().unwrap();
    assert!(stamp.ends_with('Z') && stamp.contains('.'), "nanoseconds: {stamp}");
    let commit_time = repo.json(&["log", &id])[0]["time"].as_str().unwrap().to_owned();
    assert!(
        commit_time.ends_with('Z') && !commit_time.contains('.'),
        "whole seconds: {commit_time}"
    );
}

#[test]
fn show_prints_only_rows_with_content() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let dep = repo.create("Dep", &[]);
    let id = repo.create(
        "Full",
        &[
            "-d",
            "line one\nline two",
            "--dep",
            &dep,
            "--parent",
            &epic,
            "--label",
            "l",
            "--accept",
            "make a",
            "--accept",
            "make b",
            "--files",
            "x/*",
        ],
    );
    let full = repo.run_ok(&["show", &id]).stdout;
    let row = |name: &str| full.lines().filter(|l| l.trim_start().starts_with(name)).count();
    assert!(full.starts_with(&format!("{id}  Full\n")), "{full}");
    assert_eq!(row("acceptance"), 2, "{full}");
    assert_eq!(row("files"), 1, "{full}");
    assert_eq!(row("blocked by"), 1, "{full}");
    assert_eq!(row("parent"), 1, "{full}");
    assert!(
        full.contains("    line one\n    line two\n"),
        "the description, indented: {full}"
    );
    assert!(
        full.contains("last change  create task \"Full\" (by test-agent)"),
        "{full}"
    );

    let bare = repo.run_ok(&["show", &dep]).stdout;
    for name in [
        "deps",
        "blocked by",
        "parent",
        "children",
        "labels",
        "acceptance",
        "files",
    ] {
        assert!(
            !bare.lines().any(|l| l.trim_start().starts_with(name)),
            "{name}: {bare}"
        );
    }
    let epic_view = repo.run_ok(&["show", &epic]).stdout;
    assert!(epic_view.contains(&format!("children     {id}")), "{epic_view}");
}

#[test]
fn notes_and_warnings_go_to_stderr_and_quiet_silences_them() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &["--dep", &a]);

    let run = repo.loom(&["update", &a, "--title", "A"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run}");
    assert_eq!(run.stderr, format!("{a}: nothing to change\n"));
    let run = repo.run_ok(&["-q", "update", &a, "--title", "A"]);
    assert_eq!(run.stdout, "");

    let run = repo.loom(&["dep", "add", &b, &a]);
    assert_eq!(run.code, 0, "adding a present dependency changes nothing: {run}");
    assert!(run.stderr.contains("nothing to change"), "{run}");

    let run = repo.loom(&["update", &a, "--rm-label", "never-had-it"]);
    assert_eq!(run.code, 0, "removing a missing label is ignored: {run}");

    let run = repo.run_ok(&["update", &a, "-d", "words"]);
    assert_eq!(run.stdout, format!("{a}  description\n"));
    repo.run_ok(&["update", &a, "-d", ""]);
    assert_eq!(
        repo.show(&a)["description"],
        json!(""),
        "an empty description clears it"
    );

    let run = repo.run_warn(&["cancel", &a]);
    assert!(run.stdout.contains(&a), "the result stays on stdout: {run}");
    let run = repo.run_ok(&["-q", "cancel", &a]);
    assert_eq!(run.stdout, "");
}

#[test]
fn errors_are_one_error_line_and_hints() {
    let repo = Repo::new();
    let run = repo.run_fail(1, &["show", "loom-0badc0de"]);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines[0], "error: no task matches \"loom-0badc0de\"");
    assert!(lines[1..].iter().all(|l| l.starts_with("hint: ")), "{run}");
    assert!(lines.len() >= 2, "{run}");

    let run = repo.run_fail(2, &["create", "One", "--idea", "--epic"]);
    assert!(run.stderr.contains("cannot be used with"), "{run}");
    let run = repo.run_fail(2, &["create", "two\nlines"]);
    assert!(run.stderr.contains("one line"), "{run}");
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let repo = Repo::new();
    for n in 0..3 {
        repo.create(&format!("Task {n}"), &[]);
    }
    for args in [
        &["list"][..],
        &["--json", "list"],
        &["graph", "--format", "dot"],
        &["status"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        // Nobody will ever read, so every write fails with a broken pipe.
        drop(reader);
        let child = repo
            .env
            .command(common::BIN, &repo.dir)
            .args(args)
            .stdout(Stdio::from(writer))
            .spawn()
            .unwrap();
        let run = common::finish(format!("{args:?} with stdout closed"), child, common::PROCESS_TIMEOUT);
        assert_eq!(run.code, 0, "{run}");
        assert_eq!(run.stderr, "", "{run}");
    }
}
