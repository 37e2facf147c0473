//! The queue's wider behaviour, end to end: a batch with a bad request bisected within the
//! bound of test runs; the test command taken from the shared settings, never from the branch
//! under test; a dependent's worktree holding its landed dependency; the serving order; the
//! errors of `merge show|retry|drop`; a task sent back (conflict, failure) finished again and
//! landed; and the tasks' own checks judging the candidate.

use super::{
    commit_files, finished_task, last_decisions, merge, outcomes, rev, runs_in, set_test, test_script, worktree_of,
};
use crate::common::Repo;

// Guards: a batch with one bad request landing it, failing good requests with it, or costing
// more test runs than the bisection's bound.
#[test]
fn a_batch_with_one_bad_request_lands_the_rest_within_the_bound() {
    let repo = Repo::new();
    let (command, log) = test_script(
        &repo,
        "if [ -e f5.txt ]; then echo 'f5.txt breaks the build'; exit 1; fi",
    );
    set_test(&repo, &command);
    let mut tasks = Vec::new();
    for index in 0..8 {
        let file = format!("f{index}.txt");
        let (id, _) = finished_task(&repo, &format!("Feature {index}"), &[], &[(&file, "work\n")]);
        tasks.push(id);
    }
    let bad = tasks[5].clone();

    let (run, decisions) = merge(&repo, &["--batch", "8"]);
    let last = last_decisions(&decisions);
    assert_eq!(last.len(), 8, "{run}");
    for (index, id) in tasks.iter().enumerate() {
        let expected = if *id == bad { "failed" } else { "merged" };
        assert_eq!(last[id]["state"], expected, "request {index}: {run}");
    }
    assert!(last[&bad]["note"].as_str().unwrap().contains(&command), "{run}");
    assert!(
        last[&bad]["tests"][0]["tail"]
            .as_str()
            .unwrap()
            .contains("f5.txt breaks the build")
    );

    // One bad request among N = 8: at most (k+1) + k·⌈log₂N⌉ = 2 + 3 = 5 runs, fewer than
    // testing each request alone.
    let runs = runs_in(&log);
    assert!(runs <= 5, "{runs} test runs");
    assert!(runs < 8, "{runs} test runs");

    for index in (0..8).filter(|index| *index != 5) {
        let file = format!("main:f{index}.txt");
        assert_eq!(repo.git(&["show", &file]), "work\n");
    }
    let bad_on_main = repo.env.run("git", &repo.dir, &["cat-file", "-e", "main:f5.txt"]);
    assert_ne!(bad_on_main.code, 0, "the bad work is not on main");
    assert_eq!(repo.json(&["merge", "show", &bad])["state"], "failed");
    assert_eq!(repo.status_of(&bad), "failed");
    // The target's history is a line of merges, each first parent the one before.
    let merges = repo.git(&["rev-list", "--merges", "--first-parent", "main"]);
    assert_eq!(merges.lines().count(), 7, "{merges}");
}

// Guards: a branch choosing the command it is tested with (the command comes from the shared
// settings in refs/loom/meta, never from the branch's files).
#[test]
fn a_branch_cannot_change_the_test_command_it_is_tested_with() {
    let repo = Repo::new();
    let (command, log) = test_script(
        &repo,
        "if [ -e bad.txt ]; then echo 'bad.txt is not allowed'; exit 1; fi",
    );
    set_test(&repo, &command);
    let settings = "[merge]\ntest = \"true\"\n";
    let (id, _) = finished_task(
        &repo,
        "Sneak it in",
        &[],
        &[
            ("bad.txt", "bad\n"),
            ("loom.toml", settings),
            (".loom.toml", settings),
            ("meta/loom.toml", settings),
        ],
    );
    let old_main = rev(&repo, "main");

    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions[0]["state"], "failed", "{run}");
    assert_eq!(decisions[0]["tests"][0]["name"].as_str(), Some(command.as_str()));
    assert!(runs_in(&log) >= 1, "the configured script ran");
    assert_eq!(rev(&repo, "main"), old_main);
    let attempt = &repo.json(&["merge", "show", &id])["attempts"][0];
    assert_eq!(attempt["tests"][0]["name"].as_str(), Some(command.as_str()));
    assert_eq!(repo.loom(&["config", "merge.test"]).stdout.trim(), command);
}

// Guards: a test script pinned to the target's version being replaced by the branch under
// test. A script inside the repository run as `sh ./check.sh` is part of the candidate: it is
// the repository's own code under test, and a branch may change it like any other file. A
// repository that wants the script fixed reads it from the target, as here.
#[test]
fn a_test_script_read_from_the_target_cannot_be_rewritten_by_the_branch() {
    let repo = Repo::new();
    std::fs::write(
        repo.dir.join("check.sh"),
        "if [ -e bad.txt ]; then echo 'bad.txt is not allowed'; exit 1; fi\n",
    )
    .unwrap();
    repo.git(&["add", "check.sh"]);
    repo.git(&["commit", "-q", "-m", "the check"]);
    set_test(&repo, "git show main:check.sh | sh");
    let (id, _) = finished_task(
        &repo,
        "Sneak it in",
        &[],
        &[("bad.txt", "bad\n"), ("check.sh", "exit 0\n")],
    );
    let old_main = rev(&repo, "main");

    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions[0]["state"], "failed", "{run}");
    let tail = decisions[0]["tests"][0]["tail"].as_str().unwrap();
    assert!(tail.contains("bad.txt is not allowed"), "{run}");
    assert_eq!(rev(&repo, "main"), old_main);
    assert_eq!(repo.json(&["merge", "show", &id])["state"], "failed");
}

// Guards: a dependent's worktree started from a target without its dependency's landed work.
#[test]
fn a_dependent_started_after_its_dependency_landed_has_its_work() {
    let repo = Repo::new();
    let schema = repo.create("Schema", &[]);
    let api = repo.create("API", &["--dep", &schema]);
    let next = repo.loom(&["next"]);
    assert_eq!(next.code, 0, "{next}");
    assert!(next.stdout.contains(&schema), "{next}");
    commit_files(
        &repo,
        &worktree_of(&repo, &schema),
        &[("schema.sql", "create table cart;\n")],
        "schema",
    );
    let done = repo.loom(&["done", &schema]);
    assert_eq!(done.code, 0, "{done}");
    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions[0]["state"], "merged", "{run}");

    let next = repo.loom(&["next"]);
    assert_eq!(next.code, 0, "{next}");
    assert!(next.stdout.contains(&api), "{next}");
    let worktree = worktree_of(&repo, &api);
    assert_eq!(
        std::fs::read_to_string(worktree.join("schema.sql")).unwrap(),
        "create table cart;\n"
    );
    let head = repo.env.git(&worktree, &["rev-parse", "HEAD"]);
    assert_eq!(head.trim(), rev(&repo, "main"), "started from the target's tip");
}

// Guards: the queue serving a request before an older one of the same priority, or before one
// of a higher priority queued later.
#[test]
fn the_queue_is_served_by_priority_then_age() {
    let repo = Repo::new();
    let (low, _) = finished_task(&repo, "Low", &["-p", "p2"], &[("low.txt", "low\n")]);
    let (first, _) = finished_task(&repo, "First p1", &["-p", "p1"], &[("one.txt", "one\n")]);
    let (urgent, _) = finished_task(&repo, "Urgent", &["-p", "p0"], &[("urgent.txt", "urgent\n")]);
    let (second, _) = finished_task(&repo, "Second p1", &["-p", "p1"], &[("two.txt", "two\n")]);
    let expected = [&urgent, &first, &second, &low];

    let queue = repo.json(&["merge", "queue"]);
    let listed: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["task"].as_str().unwrap())
        .collect();
    assert_eq!(listed, expected);
    let priorities: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["priority"].as_str().unwrap())
        .collect();
    assert_eq!(priorities, ["p0", "p1", "p1", "p2"]);

    let (run, decisions) = merge(&repo, &["--batch", "1"]);
    let served: Vec<&str> = decisions.iter().map(|d| d["task"].as_str().unwrap()).collect();
    assert_eq!(served, expected, "{run}");
    assert!(decisions.iter().all(|d| d["state"] == "merged"), "{run}");
    let subjects = repo.git(&["log", "--first-parent", "--format=%s", "-4", "main"]);
    let order: Vec<String> = expected
        .iter()
        .rev()
        .map(|id| format!("Merge loom/{id} into main"))
        .collect();
    assert_eq!(subjects.lines().collect::<Vec<_>>(), order);
    assert_eq!(repo.json(&["merge", "queue"]), serde_json::json!([]));
    assert_eq!(repo.json(&["merge", "queue", "--all"]).as_array().unwrap().len(), 4);
}

// Guards: `merge show|retry|drop` succeeding, or failing with the wrong exit code, on a task
// without a request, a request that cannot change, or an id that names nothing.
#[test]
fn merge_commands_refuse_what_they_cannot_do() {
    let repo = Repo::new();
    let (merged, _) = finished_task(&repo, "Landed", &[], &[("landed.txt", "landed\n")]);
    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions[0]["state"], "merged", "{run}");
    let plain = repo.create("Never finished", &[]);

    let run = repo.run_fail(1, &["merge", "show", &plain]);
    assert!(run.stderr.contains(&format!("{plain} has no merge request")), "{run}");
    assert!(run.stderr.contains("\nhint: "), "{run}");
    repo.run_fail(1, &["merge", "retry", &plain]);
    repo.run_fail(1, &["merge", "drop", &plain]);

    let before = repo.all_refs();
    let run = repo.run_fail(3, &["merge", "retry", &merged]);
    assert!(run.stderr.contains("is merged"), "{run}");
    assert_eq!(repo.all_refs(), before, "a refused retry writes nothing");

    for args in [["merge", "show"], ["merge", "retry"], ["merge", "drop"]] {
        let run = repo.run_fail(1, &[args[0], args[1], "loom-deadbeef"]);
        assert!(run.stderr.contains("no task matches"), "{run}");
    }
}

// Guards: a task sent back for a conflict that cannot be finished again (its request stuck
// in `conflict`, or the rebased tip not queued).
#[test]
fn a_conflict_resolved_by_rebasing_as_advised_lands_on_the_next_run() {
    let repo = Repo::new();
    let (first, _) = finished_task(&repo, "Title one", &[], &[("README.md", "# first title\n")]);
    let (second, _) = finished_task(&repo, "Title two", &[], &[("README.md", "# second title\n")]);
    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(last_decisions(&decisions)[&second]["state"], "conflict", "{run}");

    let next = repo.loom(&["next"]);
    assert_eq!(next.code, 0, "{next}");
    assert!(next.stdout.contains(&second), "{next}");
    assert!(
        next.stdout.contains("README.md"),
        "the handoff is in the signal: {next}"
    );
    let worktree = worktree_of(&repo, &second);
    let rebase = repo.env.run("git", &worktree, &["rebase", "main"]);
    assert_ne!(rebase.code, 0, "the rebase stops at the conflict: {rebase}");
    std::fs::write(worktree.join("README.md"), "# first and second title\n").unwrap();
    repo.env.git(&worktree, &["add", "README.md"]);
    repo.env
        .git(&worktree, &["-c", "core.editor=true", "rebase", "--continue"]);
    let rebased = repo.env.git(&worktree, &["rev-parse", "HEAD"]).trim().to_owned();
    let done = repo.loom(&["done", &second]);
    assert_eq!(done.code, 0, "{done}");
    let request = repo.json(&["merge", "show", &second]);
    assert_eq!(request["state"], "queued");
    assert_eq!(request["tip"].as_str(), Some(rebased.as_str()));

    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions.len(), 1, "{run}");
    assert_eq!(decisions[0]["state"], "merged", "{run}");
    assert_eq!(repo.git(&["show", "main:README.md"]), "# first and second title\n");
    assert_eq!(
        outcomes(&repo.json(&["merge", "show", &second])),
        ["conflict", "landed"]
    );
    assert_eq!(repo.json(&["merge", "show", &first])["state"], "merged");
}

// Guards: a task failed by the merge tests that cannot come back (its retry never ready, or
// its fixed tip not queued again).
#[test]
fn a_failed_task_retried_after_its_backoff_lands_once_fixed() {
    let repo = Repo::new();
    let (command, _) = test_script(&repo, "if [ -e broken.txt ]; then echo broken; exit 1; fi");
    set_test(&repo, &command);
    let (id, _) = finished_task(
        &repo,
        "Break it",
        &[],
        &[("broken.txt", "oops\n"), ("good.txt", "good\n")],
    );
    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions[0]["state"], "failed", "{run}");
    let retry_after: jiff::Timestamp = repo.show(&id)["retry_after"].as_str().unwrap().parse().unwrap();

    repo.env.advance_clock_past(retry_after);
    let next = repo.loom(&["next"]);
    assert_eq!(next.code, 0, "{next}");
    assert!(next.stdout.contains(&id), "{next}");
    let worktree = worktree_of(&repo, &id);
    repo.env.git(&worktree, &["rm", "-q", "broken.txt"]);
    repo.env.git(&worktree, &["commit", "-q", "-m", "fix"]);
    let done = repo.loom(&["done", &id]);
    assert_eq!(done.code, 0, "{done}");
    assert_eq!(repo.json(&["merge", "show", &id])["state"], "queued");

    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions[0]["state"], "merged", "{run}");
    assert_eq!(repo.git(&["show", "main:good.txt"]), "good\n");
    assert_eq!(repo.status_of(&id), "done");
    assert_eq!(outcomes(&repo.json(&["merge", "show", &id])), ["failed", "landed"]);
}

// Guards: a task's acceptance checks skipped on the candidate: work that passed alone but
// breaks once merged with what landed before it must not land.
#[test]
fn a_tasks_checks_run_on_the_candidate_and_stop_it() {
    let repo = Repo::new();
    let (first, _) = finished_task(&repo, "Take the slot", &[], &[("slot.txt", "first\n")]);
    // Its check passes in its own worktree (no slot.txt there) but not with the first task's
    // work merged in.
    let (second, _) = finished_task(
        &repo,
        "Needs a free slot",
        &["--accept", "test ! -e slot.txt"],
        &[("other.txt", "other\n")],
    );
    let (run, decisions) = merge(&repo, &[]);
    let last = last_decisions(&decisions);
    assert_eq!(last[&first]["state"], "merged", "{run}");
    assert_eq!(last[&second]["state"], "failed", "{run}");
    let tests = last[&second]["tests"].as_array().unwrap();
    assert!(
        tests
            .iter()
            .any(|test| test["passed"] == false && test["name"].as_str().unwrap().contains("test ! -e slot.txt")),
        "{run}"
    );
    let missing = repo.env.run("git", &repo.dir, &["cat-file", "-e", "main:other.txt"]);
    assert_ne!(missing.code, 0, "the second task's work did not land");
}
