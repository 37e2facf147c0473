//! Proves git-loom keeps to `refs/loom/` and survives bad data there: a task ref holding
//! invalid JSON, a blob of a newer schema, a blob naming another id, a tree without
//! `task.json` or a ref whose name is not an id is reported by name while every other task keeps
//! working; a `refs/loom/meta` of a newer schema makes every command refuse; reftable
//! repositories are refused; and no command ever changes HEAD, the index, branches, tags,
//! `git status` or a working-tree file.

use crate::common;

use common::{Repo, sorted_ids};
use serde_json::json;

const BAD_REF: &str = "refs/loom/tasks/loom-deadbeef";

/// Two healthy tasks (one waiting on the other) and a task ref whose blob is not JSON.
fn repo_with_corrupt_task() -> (Repo, String, String) {
    let repo = Repo::new();
    let a = repo.create("Healthy A", &[]);
    let b = repo.create("Healthy B", &["--dep", &a]);
    repo.write_entity(BAD_REF, &[("task.json", b"{ this is not json")], None);
    (repo, a, b)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Assert `args` succeeds, warns naming `bad_ref` on stderr, and returns the run.
fn warns_about(repo: &Repo, args: &[&str], bad_ref: &str) -> common::Run {
    let run = repo.run_warn(args);
    assert!(run.stderr.contains(bad_ref), "the warning names the ref: {run}");
    run
}

// Guards: one unreadable task must not take the whole graph down.
#[test]
fn a_corrupt_task_is_isolated_and_named() {
    let (repo, a, b) = repo_with_corrupt_task();

    let run = repo.run_fail(1, &["show", "loom-deadbeef"]);
    assert!(run.stderr.contains(BAD_REF), "{run}");
    assert!(run.stderr.contains("not valid"), "{run}");
    let run = repo.run_fail(1, &["--json", "show", "dead"]);
    assert!(run.stderr.contains(BAD_REF), "prefixes reach the same error: {run}");

    let list = warns_about(&repo, &["--json", "list"], BAD_REF);
    assert_eq!(sorted_ids(&list.json()), sorted(vec![a.clone(), b.clone()]));
    let table = warns_about(&repo, &["list", "--all"], BAD_REF);
    assert!(table.stdout.contains(&a) && table.stdout.contains(&b), "{table}");
    let ready = warns_about(&repo, &["--json", "ready"], BAD_REF);
    assert_eq!(sorted_ids(&ready.json()), vec![a.clone()]);
    let status = warns_about(&repo, &["--json", "status"], BAD_REF).json();
    assert_eq!(status["total"], json!(2));
    assert_eq!(status["unreadable"], json!([BAD_REF]));
    let human = warns_about(&repo, &["status"], BAD_REF);
    assert!(human.stdout.contains("unreadable"), "{human}");
    for format in ["summary", "json", "mermaid", "dot"] {
        let graph = warns_about(&repo, &["graph", "--format", format], BAD_REF);
        assert!(graph.stdout.contains(&a) && graph.stdout.contains(&b), "{graph}");
        assert!(!graph.stdout.contains("deadbeef"), "{graph}");
    }
    warns_about(&repo, &["ideas"], BAD_REF);

    // Writing other tasks still works, including edits that read the whole graph.
    let c = repo.create("Created next to the corrupt one", &["--dep", &a]);
    repo.run_ok(&["update", &b, "--title", "Renamed B", "--add-label", "x"]);
    repo.run_ok(&["dep", "add", &c, &b]);
    repo.run_ok(&["update", &a, "--status", "done"]);
    assert_eq!(repo.status_of(&b), "ready");
    repo.run_ok(&["cancel", &b, "--cascade"]);
    assert_eq!(repo.status_of(&c), "cancelled");

    // The corrupt ref itself was never touched.
    let tip = repo.rev(BAD_REF).unwrap();
    let blob = repo.git(&["cat-file", "-p", &format!("{BAD_REF}:task.json")]);
    assert_eq!(blob, "{ this is not json");
    let run = repo.run_fail(1, &["update", "loom-deadbeef", "--title", "fixed"]);
    assert!(run.stderr.contains(BAD_REF), "{run}");
    let run = repo.run_fail(1, &["create", "Waits on garbage", "--dep", "loom-deadbeef"]);
    assert!(run.stderr.contains(BAD_REF), "{run}");
    assert_eq!(repo.rev(BAD_REF), Some(tip));
}

#[test]
fn a_task_of_a_newer_schema_is_reported_not_misread() {
    let repo = Repo::new();
    let a = repo.create("Healthy", &[]);
    let mut future = repo.forged_task(&a, "loom-0000f00d");
    future["schema"] = json!(2);
    future["something_new"] = json!({"nested": true});
    repo.write_task("loom-0000f00d", &future);
    let bad_ref = "refs/loom/tasks/loom-0000f00d";
    let tip = repo.rev(bad_ref).unwrap();

    let run = repo.run_fail(1, &["show", "loom-0000f00d"]);
    assert!(run.stderr.contains(bad_ref) && run.stderr.contains("schema 2"), "{run}");
    assert!(run.stderr.contains("newer"), "{run}");
    let list = warns_about(&repo, &["--json", "list"], bad_ref);
    assert_eq!(sorted_ids(&list.json()), vec![a.clone()]);
    warns_about(&repo, &["ready"], bad_ref);
    warns_about(&repo, &["graph"], bad_ref);
    let run = repo.run_fail(1, &["update", "loom-0000f00d", "--title", "downgrade"]);
    assert!(run.stderr.contains("newer"), "{run}");
    assert_eq!(repo.rev(bad_ref), Some(tip), "a newer task is never rewritten");
}

#[test]
fn odd_refs_under_the_task_namespace_are_reported() {
    let repo = Repo::new();
    let a = repo.create("Healthy", &[]);
    // A blob that names another id than its ref.
    let imposter = repo.forged_task(&a, "loom-11111111");
    repo.write_task("loom-22222222", &imposter);
    // A tree without task.json.
    repo.write_entity("refs/loom/tasks/loom-33333333", &[("other.txt", b"hello")], None);
    // A ref whose name is not an id at all.
    let tip = repo.tip(&a);
    repo.git(&["update-ref", "refs/loom/tasks/not-an-id", &tip]);

    let run = repo.run_warn(&["--json", "list"]);
    assert_eq!(sorted_ids(&run.json()), vec![a.clone()]);
    for name in [
        "refs/loom/tasks/loom-22222222",
        "refs/loom/tasks/loom-33333333",
        "refs/loom/tasks/not-an-id",
    ] {
        assert!(run.stderr.contains(name), "{name}: {run}");
    }
    let run = repo.run_fail(1, &["show", "loom-22222222"]);
    assert!(run.stderr.contains("loom-11111111"), "{run}");
    let run = repo.run_fail(1, &["show", "loom-33333333"]);
    assert!(run.stderr.contains("task.json is missing"), "{run}");
    assert_eq!(repo.status_of(&a), "ready");
}

#[test]
fn a_newer_repository_schema_is_refused_by_every_command() {
    let repo = Repo::new();
    let a = repo.create("Task", &[]);
    let meta_tip = repo.rev("refs/loom/meta").unwrap();
    let meta = json!({"schema": 99, "project": "future", "created_at": "2030-01-01T00:00:00Z"});
    let bytes = serde_json::to_vec_pretty(&meta).unwrap();
    let future_tip = repo.write_entity("refs/loom/meta", &[("meta.json", &bytes)], Some(&meta_tip));
    let refs = repo.all_refs();

    for args in [
        &["init"][..],
        &["init", "--name", "older"],
        &["create", "More"],
        &["show", &a],
        &["list"],
        &["ready"],
        &["status"],
        &["update", &a, "--title", "x"],
        &["dep", "add", &a, &a],
        &["cancel", &a],
        &["idea", "An idea"],
        &["ideas"],
        &["promote", &a],
        &["graph", "--format", "dot"],
        &["log", &a],
        &["--json", "list"],
    ] {
        let run = repo.run_fail(1, args);
        assert!(run.stderr.contains("newer"), "{run}");
        assert!(run.stderr.contains("99"), "{run}");
    }
    assert_eq!(repo.all_refs(), refs, "nothing was written");
    assert_eq!(repo.rev("refs/loom/meta"), Some(future_tip));
}

#[test]
fn a_reftable_repository_is_refused() {
    let env = common::TestEnv::new();
    let dir = env.root().join("reftable");
    std::fs::create_dir(&dir).unwrap();
    env.git(&dir, &["init", "-q", "-b", "main", "--ref-format=reftable"]);
    let run = env.loom(&dir, &["init"]);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with("error: ") && run.stderr.contains("reftable"),
        "{run}"
    );
    let run = env.loom(&dir, &["list"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("reftable"), "{run}");
    let refs = env.git(&dir, &["for-each-ref", "refs/loom"]);
    assert_eq!(refs, "", "nothing was written");
}

/// Run `args` and assert that nothing outside `refs/loom` changed.
fn untouched(repo: &Repo, args: &[&str]) -> common::Run {
    let before = repo.outside_state();
    let run = repo.loom(args);
    assert!(matches!(run.code, 0 | 3), "{run}");
    let after = repo.outside_state();
    assert_eq!(after, before, "outside state changed by {run}");
    run
}

fn id_of(run: &common::Run) -> String {
    assert_eq!(run.code, 0, "{run}");
    let id = run.stdout.trim().to_owned();
    assert!(common::is_task_id(&id), "{run}");
    id
}

// Guards: loom data must never leak into the user's checkout, index or branches.
#[test]
fn nothing_outside_refs_loom_is_ever_touched() {
    let repo = Repo::uninitialized().dirty();
    let status = repo.git(&[
        "--no-optional-locks",
        "status",
        "--porcelain=v1",
        "--untracked-files=all",
    ]);
    assert!(status.contains("M  src/lib.txt"), "a staged change: {status}");
    assert!(status.contains(" M README.md"), "an unstaged change: {status}");
    assert!(status.contains("?? notes.txt"), "an untracked file: {status}");

    untouched(&repo, &["init"]);
    untouched(&repo, &["init", "--name", "renamed"]);
    let epic = id_of(&untouched(&repo, &["create", "Epic", "--epic", "--label", "e"]));
    let a = id_of(&untouched(
        &repo,
        &[
            "create", "A", "-d", "desc", "-p", "p1", "--parent", &epic, "--label", "l1", "--label", "l2", "--accept",
            "true", "--accept", "false", "--files", "src/*",
        ],
    ));
    let b = untouched(&repo, &["--json", "create", "B", "--dep", &a]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = id_of(&untouched(&repo, &["create", "C", "--dep", &b, "--parent", &epic]));
    let idea = id_of(&untouched(&repo, &["create", "Idea flag", "--idea"]));
    let idea2 = id_of(&untouched(&repo, &["idea", "Idea cmd", "-d", "x", "--label", "i"]));
    let idea3 = id_of(&untouched(&repo, &["idea", "Idea to drop"]));
    for args in [
        vec!["show", a.as_str()],
        vec!["--json", "show", &b],
        vec!["list"],
        vec!["list", "--all", "--json"],
        vec!["list", "--status", "blocked", "--label", "l1"],
        vec!["ready"],
        vec!["ready", "--json", "--limit", "1"],
        vec!["status"],
        vec!["--json", "status"],
        vec![
            "update",
            &a,
            "--title",
            "A2",
            "-p",
            "p0",
            "--add-label",
            "l3",
            "--rm-label",
            "l1",
        ],
        vec!["update", &b, "--description", "more"],
        vec!["dep", "add", &a, &b],
        vec!["dep", "add", &c, &a],
        vec!["dep", "rm", &c, &a],
        vec!["update", &c, "--add-dep", &a, "--rm-dep", &b],
        vec!["update", &a, "--status", "pending"],
        vec!["update", &a, "--status", "done"],
        vec!["update", &a, "--status", "pending"],
        vec!["ideas"],
        vec!["--json", "ideas"],
        vec!["ideas", "--drop", &idea3],
        vec!["promote", &idea],
        vec!["promote", &idea2, "--epic"],
        vec!["promote", &a],
        vec!["graph"],
        vec!["graph", "--format", "json"],
        vec!["graph", "--format", "mermaid", "--all"],
        vec!["graph", "--format", "dot"],
        vec!["log", &a],
        vec!["log", &a, "--patch"],
        vec!["--json", "log", &b, "-p"],
        vec!["cancel", &b],
        vec!["update", &b, "--status", "pending"],
        vec!["cancel", &b, "--cascade"],
        vec!["cancel", &epic, "--cascade"],
        vec!["list", "--all"],
    ] {
        untouched(&repo, &args);
    }
    assert_eq!(repo.status_of(&c), "cancelled");
    assert_eq!(repo.status_of(&idea), "ready");

    // Everything git-loom wrote lives under refs/loom.
    let refs = repo.all_refs();
    for line in refs.lines() {
        let name = line.split(' ').next().unwrap();
        assert!(name == "refs/heads/main" || name.starts_with("refs/loom/"), "{refs}");
    }
    let log = repo.git(&["log", "--format=%s", "main"]);
    assert_eq!(log, "initial\n", "the branch has only its own commit");
}

#[test]
fn the_outside_state_check_notices_real_changes() {
    // The guard above is only worth something if it sees the changes it guards against.
    let repo = Repo::uninitialized().dirty();
    let clean = repo.outside_state();
    std::fs::write(repo.dir.join("notes.txt"), "edited\n").unwrap();
    assert_ne!(repo.outside_state(), clean, "a working-tree edit");
    let edited = repo.outside_state();
    repo.git(&["add", "notes.txt"]);
    assert_ne!(repo.outside_state(), edited, "an index change");
    let staged = repo.outside_state();
    repo.git(&["branch", "side"]);
    assert_ne!(repo.outside_state(), staged, "a new branch");
    let branched = repo.outside_state();
    repo.git(&["symbolic-ref", "HEAD", "refs/heads/side"]);
    assert_ne!(repo.outside_state(), branched, "HEAD moved");
}

// Guards: a command that needs an unreadable task must name its ref (as documented), not claim
// the task does not exist; that holds for commands that read the whole graph too.
#[test]
fn every_command_needing_a_corrupt_task_names_its_ref() {
    let (repo, a, _b) = repo_with_corrupt_task();
    let refs = repo.all_refs();
    for args in [
        vec!["show", "loom-deadbeef"],
        vec!["update", "loom-deadbeef", "--title", "x"],
        vec!["create", "Waits on garbage", "--dep", "loom-deadbeef"],
        vec!["update", "loom-deadbeef", "--add-dep", &a],
        vec!["update", &a, "--add-dep", "loom-deadbeef"],
        vec!["dep", "add", &a, "loom-deadbeef"],
        vec!["cancel", "loom-deadbeef"],
    ] {
        let run = repo.run_fail(1, &args);
        assert!(
            run.stderr.contains(BAD_REF) && !run.stderr.contains("no task matches"),
            "the error names the unreadable ref: {run}"
        );
    }
    assert_eq!(repo.all_refs(), refs);
}

// Guards: a dependency on a task whose ref is gone (deleted with plain git, say) must not strand
// the dependent forever: it can still be removed by its full id.
#[test]
fn a_dependency_on_a_vanished_task_can_be_removed() {
    let repo = Repo::new();
    let gone = repo.create("Will vanish", &[]);
    let waiting = repo.create("Waits", &["--dep", &gone]);
    repo.git(&["update-ref", "-d", &format!("refs/loom/tasks/{gone}")]);
    let task = repo.show(&waiting);
    assert_eq!(
        task["status"],
        json!("blocked"),
        "a missing dependency never counts as done"
    );
    assert_eq!(task["blocked_by"], json!([gone]));

    repo.run_ok(&["dep", "rm", &waiting, &gone]);
    let task = repo.show(&waiting);
    assert_eq!(task["deps"], json!([]));
    assert_eq!(task["status"], json!("ready"));
}

#[test]
fn a_repository_without_commits_keeps_an_unborn_head() {
    let env = common::TestEnv::new();
    let dir = env.root().join("empty");
    std::fs::create_dir(&dir).unwrap();
    env.git(&dir, &["init", "-q", "-b", "main"]);
    for args in [&["init"][..], &["create", "First"], &["list"], &["graph"]] {
        let run = env.loom(&dir, args);
        assert_eq!(run.code, 0, "{run}");
    }
    let head = env.run("git", &dir, &["rev-parse", "-q", "--verify", "HEAD"]);
    assert_ne!(head.code, 0, "HEAD is still unborn: {head}");
    assert_eq!(env.git(&dir, &["symbolic-ref", "HEAD"]), "refs/heads/main\n");
    assert_eq!(env.git(&dir, &["for-each-ref", "refs/heads", "refs/tags"]), "");
    assert!(!dir.join(".git/index").exists(), "no index was written");
}
