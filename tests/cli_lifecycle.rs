//! Proves the lifecycle commands around the plain task: `cancel` leaves dependents blocked and
//! warns naming them, `cancel --cascade` cancels every transitive dependent (and an epic's
//! children) in one step; the idea backlog (`idea`, `ideas`, `ideas --drop`, `promote`,
//! `promote --epic`) keeps ideas out of the way until promoted; and only epics take children.

use crate::common;

use common::{Repo, sorted_ids};
use serde_json::json;

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    ids.sort();
    ids
}

#[test]
fn cancel_leaves_dependents_blocked_and_names_them() {
    let repo = Repo::new();
    let root = repo.create("Root", &[]);
    let direct = repo.create("Direct", &["--dep", &root]);
    let indirect = repo.create("Indirect", &["--dep", &direct]);
    let unrelated = repo.create("Unrelated", &[]);
    let (tip_direct, tip_indirect) = (repo.tip(&direct), repo.tip(&indirect));

    let run = repo.run_warn(&["cancel", &root]);
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "only the cancelled task was written: {run}"
    );
    assert!(run.stdout.starts_with(&root), "{run}");
    assert!(run.stdout.contains("status pending -> cancelled"), "{run}");
    assert!(run.stderr.contains(&direct) && run.stderr.contains(&indirect), "{run}");
    assert!(
        run.stderr.contains("--cascade"),
        "the warning says how to cancel them too: {run}"
    );
    assert!(!run.stderr.contains(&unrelated), "{run}");

    assert_eq!(repo.status_of(&root), "cancelled");
    assert_eq!(repo.status_of(&direct), "blocked", "a cancelled dependency is not done");
    assert_eq!(repo.show(&direct)["blocked_by"], json!([root]));
    assert_eq!(repo.status_of(&indirect), "blocked");
    assert_eq!(repo.tip(&direct), tip_direct);
    assert_eq!(repo.tip(&indirect), tip_indirect);

    // Cancelling again changes nothing and says so.
    let tip = repo.tip(&root);
    let run = repo.loom(&["cancel", &root]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains("already cancelled"), "{run}");
    assert_eq!(repo.tip(&root), tip);

    // A cancelled task can be reopened.
    repo.run_ok(&["update", &root, "--status", "pending"]);
    assert_eq!(repo.status_of(&root), "ready");
}

#[test]
fn cancel_cascade_cancels_every_transitive_dependent_at_once() {
    let repo = Repo::new();
    let root = repo.create("Root", &[]);
    let direct = repo.create("Direct", &["--dep", &root]);
    let indirect = repo.create("Indirect", &["--dep", &direct]);
    let other_dep = repo.create("Other dependency", &[]);
    let diamond = repo.create("Diamond", &["--dep", &direct, "--dep", &other_dep]);
    let finished = repo.create("Finished dependent", &["--dep", &other_dep]);
    repo.run_ok(&["update", &other_dep, "--status", "done"]);
    repo.run_ok(&["update", &finished, "--status", "done"]);
    let finished_tip = repo.tip(&finished);

    let run = repo.run_ok(&["cancel", &root, "--cascade"]);
    for id in [&root, &direct, &indirect, &diamond] {
        assert_eq!(repo.status_of(id), "cancelled", "{id}");
        assert!(run.stdout.contains(id.as_str()), "{run}");
    }
    assert_eq!(run.stdout.lines().count(), 4, "{run}");
    assert_eq!(repo.status_of(&other_dep), "done");
    assert_eq!(repo.tip(&finished), finished_tip, "closed tasks are left alone");

    // One step: every cancelled task's newest commit is from the same operation.
    for id in [&direct, &indirect, &diamond] {
        let log = repo.json(&["log", id]);
        assert_eq!(log[0]["op"], json!("cancel"));
        let summary = log[0]["summary"].as_str().unwrap();
        assert!(summary.contains(&format!("cascade from {root}")), "{summary}");
    }
    assert_eq!(sorted_ids(&repo.json(&["list"])), Vec::<String>::new());
}

#[test]
fn cancelling_an_epic_with_cascade_cancels_its_children() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let one = repo.create("One", &["--parent", &epic]);
    let two = repo.create("Two", &["--parent", &epic]);
    let after_two = repo.create("After two", &["--dep", &two]);
    let done = repo.create("Done already", &["--parent", &epic]);
    repo.run_ok(&["update", &done, "--status", "done"]);
    assert_eq!(repo.status_of(&epic), "epic");

    // Without --cascade the children stay open.
    let plain = repo.create("Plain epic", &["--epic"]);
    let plain_child = repo.create("Plain child", &["--parent", &plain]);
    repo.loom(&["cancel", &plain]);
    assert_eq!(repo.status_of(&plain), "cancelled");
    assert_eq!(repo.status_of(&plain_child), "ready");

    repo.run_ok(&["cancel", &epic, "--cascade"]);
    for id in [&epic, &one, &two, &after_two] {
        assert_eq!(repo.status_of(id), "cancelled", "{id}");
    }
    assert_eq!(repo.status_of(&done), "done");
}

#[test]
fn cancelling_the_last_open_child_closes_the_epic() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let one = repo.create("One", &["--parent", &epic]);
    let two = repo.create("Two", &["--parent", &epic]);
    repo.run_ok(&["update", &one, "--status", "done"]);
    repo.run_ok(&["cancel", &two]);
    assert_eq!(repo.status_of(&epic), "done", "all children closed and one done");

    // An epic whose only work was cancelled has not been achieved.
    let empty = repo.create("Abandoned", &["--epic"]);
    let only = repo.create("Only", &["--parent", &empty]);
    repo.run_ok(&["cancel", &only]);
    assert_eq!(repo.status_of(&empty), "epic");
}

#[test]
fn ideas_stay_in_the_backlog_until_promoted() {
    let repo = Repo::new();
    let run = repo.run_ok(&["idea", "Try a cache", "-d", "Maybe later", "--label", "perf"]);
    let idea = run.stdout.trim().to_owned();
    assert!(common::is_task_id(&idea), "{run}");
    let flagged = repo.create("Flagged idea", &["--idea"]);
    let task = repo.create("Real work", &[]);

    let shown = repo.show(&idea);
    assert_eq!(shown["status"], json!("idea"));
    assert_eq!(shown["description"], json!("Maybe later"));
    assert_eq!(shown["labels"], json!(["perf"]));

    assert_eq!(sorted_ids(&repo.json(&["ideas"])), sorted(&[&idea, &flagged]));
    let table = repo.run_ok(&["ideas"]).stdout;
    assert!(table.contains("Try a cache  [perf]"), "{table}");
    assert_eq!(
        sorted_ids(&repo.json(&["list"])),
        vec![task.clone()],
        "list hides ideas"
    );
    assert_eq!(
        sorted_ids(&repo.json(&["ready"])),
        vec![task.clone()],
        "ideas are never ready"
    );

    let run = repo.run_ok(&["promote", &idea]);
    assert!(run.stdout.contains("status idea -> pending"), "{run}");
    assert_eq!(repo.status_of(&idea), "ready");
    assert_eq!(sorted_ids(&repo.json(&["ready"])), sorted(&[&idea, &task]));
    assert_eq!(sorted_ids(&repo.json(&["ideas"])), vec![flagged.clone()]);

    let promoted = repo.json(&["promote", &flagged, "--epic"]);
    assert_eq!(promoted["status"], json!("epic"));
    let child = repo.create("Child of a promoted epic", &["--parent", &flagged]);
    assert_eq!(repo.show(&flagged)["children"], json!([child]));
    assert_eq!(repo.json(&["ideas"]), json!([]));
}

#[test]
fn dropping_an_idea_keeps_it_in_history() {
    let repo = Repo::new();
    let idea = repo.run_ok(&["idea", "Not worth it"]).stdout.trim().to_owned();
    let keep = repo.run_ok(&["idea", "Worth it"]).stdout.trim().to_owned();
    let run = repo.run_ok(&["ideas", "--drop", &idea]);
    assert!(run.stdout.contains(&idea), "{run}");
    assert_eq!(sorted_ids(&repo.json(&["ideas"])), vec![keep]);
    assert_eq!(repo.status_of(&idea), "cancelled");
    let log = repo.json(&["log", &idea]);
    assert_eq!(log.as_array().unwrap().len(), 2);
    assert_eq!(log[0]["op"], json!("drop"));
    assert_eq!(sorted_ids(&repo.json(&["list", "--status", "cancelled"])), vec![idea]);
}

#[test]
fn only_ideas_can_be_promoted_or_dropped() {
    let repo = Repo::new();
    let task = repo.create("A task", &[]);
    let epic = repo.create("An epic", &["--epic"]);
    let refs = repo.all_refs();
    for id in [&task, &epic] {
        let run = repo.run_fail(3, &["promote", id]);
        assert!(
            run.stderr.contains(&format!("{id} is")) && run.stderr.contains("not an idea"),
            "{run}"
        );
        let run = repo.run_fail(3, &["promote", id, "--epic"]);
        assert!(run.stderr.contains("not an idea"), "{run}");
        let run = repo.run_fail(3, &["ideas", "--drop", id]);
        assert!(run.stderr.contains("not an idea"), "{run}");
    }
    assert_eq!(repo.all_refs(), refs);
}

#[test]
fn only_epics_take_children() {
    let repo = Repo::new();
    let task = repo.create("A task", &[]);
    let idea = repo.run_ok(&["idea", "An idea"]).stdout.trim().to_owned();
    let done_epic = repo.create("Done epic", &["--epic"]);
    let finished = repo.create("Finished", &["--parent", &done_epic]);
    repo.run_ok(&["update", &finished, "--status", "done"]);
    assert_eq!(repo.status_of(&done_epic), "done");
    let refs = repo.all_refs();

    for parent in [&task, &idea, &done_epic] {
        let run = repo.run_fail(3, &["create", "Child", "--parent", parent]);
        assert!(run.stderr.contains(&format!("{parent} is")), "{run}");
        assert!(run.stderr.contains("not an epic"), "{run}");
    }
    let other = repo.create("Other", &[]);
    let refs_with_other = repo.all_refs();
    assert_ne!(refs, refs_with_other);
    let run = repo.run_fail(3, &["update", &other, "--parent", &task]);
    assert!(run.stderr.contains("not an epic"), "{run}");
    assert_eq!(repo.all_refs(), refs_with_other, "a refused child writes nothing");
    assert_eq!(repo.show(&task)["children"], json!([]));
}

#[test]
fn moving_a_child_between_epics_updates_both() {
    let repo = Repo::new();
    let from = repo.create("From", &["--epic"]);
    let to = repo.create("To", &["--epic"]);
    let child = repo.create("Child", &["--parent", &from]);
    let stays = repo.create("Stays", &["--parent", &from]);
    let run = repo.run_ok(&["update", &child, "--parent", &to]);
    assert_eq!(run.stdout.lines().count(), 3, "child and both epics written: {run}");
    assert_eq!(repo.show(&from)["children"], json!([stays]));
    assert_eq!(repo.show(&to)["children"], json!([child]));
    assert_eq!(repo.show(&child)["parent"], json!(to));
}

#[test]
fn cascade_also_works_on_an_already_cancelled_task() {
    let repo = Repo::new();
    let root = repo.create("Root", &[]);
    let dependent = repo.create("Dependent", &["--dep", &root]);
    repo.run_warn(&["cancel", &root]);
    let root_tip = repo.tip(&root);

    let run = repo.run_ok(&["cancel", &root, "--cascade"]);
    assert_eq!(
        run.stdout.trim(),
        format!("{dependent}  status pending -> cancelled; cascade from {root}")
    );
    assert_eq!(repo.status_of(&dependent), "cancelled");
    assert_eq!(repo.tip(&root), root_tip, "the root itself is not rewritten");

    let run = repo.loom(&["cancel", &root, "--cascade"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains(&format!("{root}: already cancelled")), "{run}");

    // --json prints the task and no note.
    let run = repo.run_ok(&["--json", "cancel", &root]);
    assert_eq!(run.json()["status"], json!("cancelled"));

    // A done task cannot be cancelled.
    let done = repo.create("Done", &[]);
    repo.run_ok(&["update", &done, "--status", "done"]);
    let run = repo.run_fail(3, &["cancel", &done, "--cascade"]);
    assert!(
        run.stderr
            .contains(&format!("cannot move {done} from done to cancelled")),
        "{run}"
    );
}

#[test]
fn leaving_an_epic_can_finish_it() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let finished = repo.create("Finished", &["--parent", &epic]);
    let open = repo.create("Still open", &["--parent", &epic]);
    repo.run_ok(&["update", &finished, "--status", "done"]);
    assert_eq!(repo.status_of(&epic), "epic");

    let run = repo.run_ok(&["update", &open, "--no-parent"]);
    assert!(run.stdout.contains("all children closed"), "{run}");
    assert_eq!(repo.status_of(&epic), "done");
    assert_eq!(repo.show(&epic)["children"], json!([finished]));

    // Moving the last open child to another epic finishes the old one too.
    let old = repo.create("Old", &["--epic"]);
    let new = repo.create("New", &["--epic"]);
    let done_child = repo.create("Done child", &["--parent", &old]);
    let moving = repo.create("Moving", &["--parent", &old]);
    repo.run_ok(&["update", &done_child, "--status", "done"]);
    repo.run_ok(&["update", &moving, "--parent", &new]);
    assert_eq!(repo.status_of(&old), "done");
    assert_eq!(repo.status_of(&new), "epic");
}

#[test]
fn an_epic_with_open_children_names_them() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let one = repo.create("One", &["--parent", &epic]);
    let two = repo.create("Two", &["--parent", &epic]);
    let run = repo.run_fail(3, &["update", &epic, "--status", "done"]);
    let mut open = [one.as_str(), two.as_str()];
    open.sort_unstable();
    assert!(
        run.stderr.contains(&format!(
            "cannot move epic {epic} to done: {}, {} still open",
            open[0], open[1]
        )),
        "{run}"
    );
    // An epic without children may be closed by hand.
    let empty = repo.create("Empty", &["--epic"]);
    repo.run_ok(&["update", &empty, "--status", "done"]);
    assert_eq!(repo.status_of(&empty), "done");
}
