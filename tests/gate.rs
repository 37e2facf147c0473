//! Proves `[merge] gate` end to end: an agent never starts without the work its task depends
//! on. Under `merged` a task whose dependencies are done waits until their work is merged
//! (`ready` leaves it out, `show` and `list` say it waits for a merge, `claim` refuses it with
//! exit 3); under `done` it is ready at once and its worktree starts from its dependencies'
//! branches merged onto the target, and when those branches conflict `next` and `worktree add`
//! fail with exit 3 naming the dependencies and paths, leaving no claim, branch or worktree.

use crate::common;

use std::path::Path;

use common::{Repo, as_agent, ids};
use serde_json::{Value, json};

/// Where a task's worktree is expected.
fn worktree_of(repo: &Repo, id: &str) -> std::path::PathBuf {
    repo.dir.canonicalize().unwrap().join(".loom/worktrees").join(id)
}

/// Commit `file` holding `content` inside a worktree.
fn commit_in(repo: &Repo, worktree: &Path, file: &str, content: &str) {
    std::fs::write(worktree.join(file), content).unwrap();
    repo.env.git(worktree, &["add", file]);
    repo.env
        .git(worktree, &["commit", "-q", "-m", &format!("write {file}")]);
}

/// Have `agent` take `id` with `next`, commit `file` with `content` in its worktree, and
/// finish it: the task ends done with its work on `loom/<id>`, not merged anywhere.
fn work_on(repo: &Repo, agent: &str, id: &str, file: &str, content: &str) {
    let session = repo.json(&as_agent(agent, &["next"]));
    assert_eq!(session["task"]["id"], json!(id), "{session}");
    commit_in(repo, &worktree_of(repo, id), file, content);
    repo.run_ok(&as_agent(agent, &["done", id]));
    assert_eq!(repo.show(id)["branch"], json!(format!("loom/{id}")));
}

/// Record `id`'s work as merged the way the merge engine does: a new version of its task
/// record with the `merged` mark, written here with plain git.
fn mark_merged(repo: &Repo, id: &str) {
    let mut task = repo.stored_task(id);
    let commit = repo.rev("refs/heads/main").unwrap();
    task["merged"] = json!({"commit": commit, "target": "main", "at": "2026-01-01T00:00:00Z"});
    let bytes = serde_json::to_vec_pretty(&task).unwrap();
    let ref_name = format!("refs/loom/tasks/{id}");
    let parent = repo.rev(&ref_name).unwrap();
    repo.write_entity(&ref_name, &[("task.json", &bytes)], Some(&parent));
}

fn ready_ids(repo: &Repo) -> Vec<String> {
    ids(&repo.json(&["ready"]))
}

// Guards: a dependent starting before its dependency's work is merged under gate `merged`,
// and the wait not being shown (JSON, `show`, `list`) or explained when `claim` refuses.
#[test]
fn under_gate_merged_a_dependent_waits_until_the_work_is_merged() {
    let repo = Repo::new();
    let run = repo.loom(&["config", "merge.gate", "merged"]);
    assert_eq!(run.code, 0, "{run}");
    let dep = repo.create("Lay the groundwork", &[]);
    let dependent = repo.create("Build on it", &["--dep", &dep]);
    work_on(&repo, "alice", &dep, "ground.txt", "groundwork\n");

    assert_eq!(ready_ids(&repo), Vec::<String>::new());
    let shown = repo.show(&dependent);
    assert_eq!(shown["status"], json!("blocked"));
    assert_eq!(shown["blocked_by"], json!([dep]));
    assert_eq!(shown["awaiting_merge"], json!([dep]));
    let human = repo.run_ok(&["show", &dependent]).stdout;
    assert!(human.contains(&format!("waiting for {dep} to be merged")), "{human}");
    let listed = repo.run_ok(&["list"]).stdout;
    let line = listed.lines().find(|line| line.starts_with(&dependent)).unwrap();
    assert!(line.contains("blocked (awaiting merge)"), "{listed}");

    let refs = repo.all_refs();
    let run = repo.loom(&as_agent("bob", &["claim", &dependent]));
    assert_eq!(run.code, 3, "{run}");
    assert!(
        run.stderr.contains(&format!(
            "{dependent} is not ready: the work of {dep} is not merged yet"
        )),
        "{run}"
    );
    assert!(run.stderr.contains("hint: "), "{run}");
    assert_eq!(repo.loom(&as_agent("bob", &["next"])).code, 4);
    assert_eq!(repo.all_refs(), refs, "refusals write nothing");

    mark_merged(&repo, &dep);
    assert_eq!(ready_ids(&repo), vec![dependent.clone()]);
    assert_eq!(repo.show(&dependent)["awaiting_merge"], json!([]));
    let human = repo.run_ok(&["show", &dep]).stdout;
    assert!(human.contains("merged") && human.contains("into main"), "{human}");
    repo.run_ok(&as_agent("bob", &["claim", &dependent]));
}

// Guards: gate `done` holding dependents back, and a dependent's worktree starting from the
// bare target without the work it depends on.
#[test]
fn under_gate_done_the_dependents_worktree_starts_from_its_dependencies_work() {
    let repo = Repo::new();
    let first = repo.create("First half", &[]);
    let second = repo.create("Second half", &[]);
    let both = repo.create("Put them together", &["--dep", &first, "--dep", &second]);
    work_on(&repo, "alice", &first, "first.txt", "first\n");
    work_on(&repo, "alice", &second, "second.txt", "second\n");
    assert_eq!(repo.show(&both)["awaiting_merge"], json!([]));
    assert_eq!(ready_ids(&repo), vec![both.clone()]);
    let main_before = repo.rev("refs/heads/main").unwrap();

    let session = repo.json(&as_agent("bob", &["next"]));
    assert_eq!(session["task"]["id"], json!(both), "{session}");
    let worktree = worktree_of(&repo, &both);
    assert_eq!(std::fs::read_to_string(worktree.join("first.txt")).unwrap(), "first\n");
    assert_eq!(
        std::fs::read_to_string(worktree.join("second.txt")).unwrap(),
        "second\n"
    );
    for dep in [&first, &second] {
        let tip = repo.rev(&format!("refs/heads/loom/{dep}")).unwrap();
        let branch = format!("loom/{both}");
        repo.git(&["merge-base", "--is-ancestor", &tip, &branch]);
    }
    assert_eq!(
        repo.rev("refs/heads/main").unwrap(),
        main_before,
        "the target never moves"
    );
    assert_eq!(
        repo.env.git(&worktree, &["status", "--porcelain"]),
        "",
        "the worktree starts clean"
    );
}

// Guards: an agent starting on a dependent whose dependencies' work does not merge, or a
// failed start leaving a claim, branch or worktree behind.
#[test]
fn conflicting_dependencies_stop_the_dependent_before_it_starts() {
    let repo = Repo::new();
    let first = repo.create("One way", &[]);
    let second = repo.create("The other way", &[]);
    let both = repo.create("Reconcile", &["--dep", &first, "--dep", &second]);
    work_on(&repo, "alice", &first, "shared.txt", "one way\n");
    work_on(&repo, "alice", &second, "shared.txt", "the other way\n");
    let branch = format!("refs/heads/loom/{both}");

    let run = repo.loom(&as_agent("bob", &["next"]));
    assert_eq!(run.code, 3, "{run}");
    for part in [both.as_str(), first.as_str(), second.as_str(), "shared.txt"] {
        assert!(run.stderr.contains(part), "{part:?} is missing: {run}");
    }
    assert!(
        run.stderr.contains(&format!("the claim on {both} was released")),
        "{run}"
    );
    assert_eq!(repo.show(&both)["claim"], Value::Null);
    assert_eq!(repo.rev(&branch), None);
    assert!(!worktree_of(&repo, &both).exists());

    let run = repo.loom(&["worktree", "add", &both]);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("shared.txt"), "{run}");
    assert_eq!(repo.rev(&branch), None);
    assert!(!worktree_of(&repo, &both).exists());
    assert_eq!(
        repo.git(&["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        3
    );
}
