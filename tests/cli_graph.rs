//! Proves the dependency graph behaves as documented: `ready` orders work by priority, then by
//! how many open tasks transitively wait on it (`unblocks`), then age, then id, and honours
//! `--limit`; finishing dependencies makes tasks ready and finishing an epic's last child closes
//! the epic; an edge that would close a cycle is refused with exit 3, the cycle printed with
//! ` → `, and nothing written; `graph` exports summary, JSON, Mermaid and DOT.

use crate::common;

use common::{Repo, ids};
use serde_json::{Value, json};

fn ready_ids(repo: &Repo) -> Vec<String> {
    ids(&repo.json(&["ready"]))
}

#[test]
fn ready_orders_by_priority_then_unblocks_then_age() {
    let repo = Repo::new();
    // Oldest first, so age alone would put them in creation order.
    let low = repo.create("Low priority, oldest", &["-p", "p3"]);
    let lone_old = repo.create("Nothing waits on me (older)", &[]);
    let one = repo.create("One task waits on me", &[]);
    let _one_dependent = repo.create("Waits on one", &["--dep", &one]);
    let deep = repo.create("Two tasks wait on me, one through the other", &[]);
    let mid = repo.create("Waits on deep", &["--dep", &deep]);
    let _top = repo.create("Waits on mid", &["--dep", &mid]);
    let lone_new = repo.create("Nothing waits on me (newer)", &[]);
    let urgent = repo.create("Urgent, newest", &["-p", "p0"]);

    let ready = repo.json(&["ready"]);
    assert_eq!(
        ids(&ready),
        vec![
            urgent.clone(),
            deep.clone(),
            one.clone(),
            lone_old.clone(),
            lone_new.clone(),
            low.clone()
        ]
    );
    let unblocks: Vec<u64> = ready
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["unblocks"].as_u64().expect("ready --json carries unblocks"))
        .collect();
    assert_eq!(unblocks, vec![0, 2, 1, 0, 0, 0]);

    // The human table shows the same order.
    let table = repo.run_ok(&["ready"]).stdout;
    let order: Vec<&str> = table
        .lines()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(order, ids(&ready));
    assert!(table.lines().nth(1).unwrap().contains("unblocks 2"), "{table}");

    assert_eq!(
        ids(&repo.json(&["ready", "--limit", "2"])),
        vec![urgent.clone(), deep.clone()]
    );
    assert_eq!(ids(&repo.json(&["ready", "-n", "1"])), vec![urgent]);
    assert_eq!(repo.run_ok(&["ready", "--limit", "3"]).stdout.lines().count(), 3);

    // `show` and `list` do not carry the ready-only field.
    assert!(repo.show(&deep).get("unblocks").is_none());
}

#[test]
fn closed_tasks_do_not_count_as_unblocked() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &[]);
    let on_a = repo.create("Waits on A", &["--dep", &a]);
    let _on_b = repo.create("Waits on B", &["--dep", &b]);
    // Once the task waiting on A is cancelled, finishing A unblocks nothing, so the younger B
    // wins on unblocks.
    assert_eq!(ready_ids(&repo), vec![a.clone(), b.clone()]);
    repo.run_ok(&["cancel", &on_a]);
    let ready = repo.json(&["ready"]);
    assert_eq!(ids(&ready), vec![b, a]);
    assert_eq!(ready[0]["unblocks"], json!(1));
    assert_eq!(ready[1]["unblocks"], json!(0));
}

#[test]
fn ready_breaks_full_ties_by_id() {
    let repo = Repo::new();
    let template = repo.create("Template", &["-p", "p3"]);
    // Two tasks identical in priority, unblocks and age: only the id can order them.
    for id in ["loom-0000ffff", "loom-00000001"] {
        let mut task = repo.forged_task(&template, id);
        task["priority"] = json!("p0");
        task["created_at"] = json!("2020-01-01T00:00:00Z");
        task["updated_at"] = json!("2020-01-01T00:00:00Z");
        repo.write_task(id, &task);
    }
    assert_eq!(
        ready_ids(&repo),
        vec!["loom-00000001".to_owned(), "loom-0000ffff".to_owned(), template]
    );
}

#[test]
fn a_task_becomes_ready_when_its_dependencies_are_done() {
    let repo = Repo::new();
    let first = repo.create("First", &[]);
    let second = repo.create("Second", &[]);
    let last = repo.create("Last", &["--dep", &first, "--dep", &second]);
    assert_eq!(repo.status_of(&last), "blocked");
    assert!(!ready_ids(&repo).contains(&last));

    repo.run_ok(&["update", &first, "--status", "done"]);
    let task = repo.show(&last);
    assert_eq!(task["status"], json!("blocked"));
    assert_eq!(task["blocked_by"], json!([second]));

    repo.run_ok(&["update", &second, "--status", "done"]);
    let task = repo.show(&last);
    assert_eq!(task["status"], json!("ready"));
    assert_eq!(task["blocked_by"], json!([]));
    assert_eq!(ready_ids(&repo), vec![last]);
}

#[test]
fn an_epic_closes_when_its_last_child_is_done() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let one = repo.create("Child one", &["--parent", &epic]);
    let two = repo.create("Child two", &["--parent", &epic]);
    let after = repo.create("After the epic", &["--dep", &epic]);
    assert_eq!(repo.status_of(&epic), "epic");
    assert_eq!(repo.status_of(&after), "blocked");
    assert!(!ready_ids(&repo).contains(&epic), "an epic is never ready work itself");

    // An epic with open children cannot be marked done by hand.
    let run = repo.run_fail(3, &["update", &epic, "--status", "done"]);
    assert!(run.stderr.contains("still open"), "{run}");

    repo.run_ok(&["update", &one, "--status", "done"]);
    assert_eq!(repo.status_of(&epic), "epic");
    let epic_tip = repo.tip(&epic);

    let run = repo.run_ok(&["update", &two, "--status", "done"]);
    assert!(
        run.stdout.contains(&epic),
        "the epic is written in the same step: {run}"
    );
    assert_eq!(repo.status_of(&epic), "done");
    assert_ne!(repo.tip(&epic), epic_tip);
    let log = repo.git(&["log", "-1", "--format=%B", &format!("refs/loom/tasks/{epic}")]);
    assert!(log.contains("all children closed"), "{log}");
    assert_eq!(repo.status_of(&after), "ready");
    assert_eq!(ready_ids(&repo), vec![after]);
}

#[test]
fn nested_epics_close_up_the_tree() {
    let repo = Repo::new();
    let outer = repo.create("Outer", &["--epic"]);
    let inner = repo.create("Inner", &["--epic", "--parent", &outer]);
    let leaf = repo.create("Leaf", &["--parent", &inner]);
    repo.run_ok(&["update", &leaf, "--status", "done"]);
    assert_eq!(repo.status_of(&inner), "done");
    assert_eq!(repo.status_of(&outer), "done");
}

/// Assert that `args` is refused as a cycle, printing `cycle`, and changes no ref.
fn assert_cycle_refused(repo: &Repo, args: &[&str], cycle: &[&str]) {
    let before = repo.all_refs();
    let run = repo.run_fail(3, args);
    let expected = cycle.join(" → ");
    assert!(run.stderr.contains("cycle"), "{run}");
    assert!(run.stderr.contains(&expected), "expected `{expected}`: {run}");
    assert_eq!(repo.all_refs(), before, "a refused edge writes nothing");
}

// Guards: a dependency cycle would deadlock the graph.
#[test]
fn an_edge_that_closes_a_cycle_is_refused() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &["--dep", &a]);
    let c = repo.create("C", &["--dep", &b]);
    let (tip_a, tip_b) = (repo.tip(&a), repo.tip(&b));

    assert_cycle_refused(&repo, &["dep", "add", &a, &b], &[&a, &b, &a]);
    assert_cycle_refused(&repo, &["update", &a, "--add-dep", &b], &[&a, &b, &a]);
    assert_cycle_refused(&repo, &["dep", "add", &a, &c], &[&a, &c, &b, &a]);
    assert_cycle_refused(&repo, &["dep", "add", &a, &a], &[&a, &a]);
    assert_cycle_refused(&repo, &["update", &b, "--add-dep", &b], &[&b, &b]);
    // Even an abbreviated id is reported in full.
    assert_cycle_refused(&repo, &["dep", "add", &a[..9], &b[5..]], &[&a, &b, &a]);
    assert_eq!(repo.tip(&a), tip_a, "refs/loom/tasks/{a} unchanged");
    assert_eq!(repo.tip(&b), tip_b, "refs/loom/tasks/{b} unchanged");

    // An edit that adds a cycle together with harmless changes writes none of them.
    assert_cycle_refused(
        &repo,
        &["update", &a, "--title", "renamed", "--add-dep", &c],
        &[&a, &c, &b, &a],
    );
    assert_eq!(repo.show(&a)["title"], json!("A"));

    // A legal edge still goes through.
    let d = repo.create("D", &[]);
    repo.run_ok(&["dep", "add", &a, &d]);
    assert_eq!(repo.show(&a)["deps"], json!([d]));
    repo.run_ok(&["dep", "rm", &a, &d]);
    assert_eq!(repo.show(&a)["deps"], json!([]));
}

#[test]
fn a_child_cannot_wait_on_its_own_epic() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let child = repo.create("Child", &["--parent", &epic]);
    assert_cycle_refused(&repo, &["dep", "add", &child, &epic], &[&child, &epic, &child]);
    // Nor can a task move into an epic it already waits on, through another task.
    let waiter = repo.create("Waits on the epic", &["--dep", &epic]);
    let outer = repo.create("Outer", &["--dep", &waiter]);
    assert_cycle_refused(
        &repo,
        &["update", &outer, "--parent", &epic],
        &[&epic, &outer, &waiter, &epic],
    );
}

#[test]
fn epics_wait_only_for_their_children() {
    let repo = Repo::new();
    let dep = repo.create("Dep", &[]);
    let run = repo.run_fail(2, &["create", "Epic", "--epic", "--dep", &dep]);
    assert!(run.stderr.contains("cannot have dependencies"), "{run}");
    let epic = repo.create("Epic", &["--epic"]);
    let run = repo.run_fail(3, &["dep", "add", &epic, &dep]);
    assert!(run.stderr.contains("cannot have dependencies"), "{run}");
    let task = repo.create("Task", &["--dep", &dep]);
    let run = repo.run_fail(3, &["update", &task, "--status", "epic"]);
    assert!(run.stderr.contains("it has dependencies"), "{run}");
}

#[test]
fn graph_exports_json_mermaid_dot_and_summary() {
    let repo = Repo::new();
    let epic = repo.create("Ship it", &["--epic"]);
    let base = repo.create("Base \"quoted\"", &["--parent", &epic]);
    let top = repo.create("Top", &["--dep", &base, "--parent", &epic]);
    let idea = repo.run_ok(&["idea", "Maybe later"]).stdout.trim().to_owned();

    let graph = repo.json(&["graph"]);
    assert_eq!(
        graph,
        repo.run_ok(&["graph", "--format", "json"]).json(),
        "--json is --format json"
    );
    let mut nodes = ids(&graph["nodes"]);
    nodes.sort();
    let mut expected = vec![epic.clone(), base.clone(), top.clone()];
    expected.sort();
    assert_eq!(nodes, expected, "ideas are left out without --all");
    let node = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == json!(top))
        .unwrap();
    assert_eq!(node["status"], json!("blocked"));
    let edges: Vec<(String, String, String)> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap().to_owned();
            (field("from"), field("to"), field("kind"))
        })
        .collect();
    assert!(edges.contains(&(top.clone(), base.clone(), "dep".into())), "{edges:?}");
    assert!(
        edges.contains(&(epic.clone(), base.clone(), "child".into())),
        "{edges:?}"
    );
    assert!(
        edges.contains(&(epic.clone(), top.clone(), "child".into())),
        "{edges:?}"
    );
    assert_eq!(edges.len(), 3);
    assert_eq!(graph["critical_path"], json!([base, top, epic]), "first to last");
    assert_eq!(graph["cycle"], Value::Null);

    let all = repo.json(&["graph", "--all"]);
    assert!(ids(&all["nodes"]).contains(&idea));

    let mermaid = repo.run_ok(&["graph", "--format", "mermaid"]).stdout;
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    let m = |id: &str| id.replace('-', "_");
    assert!(mermaid.contains(&format!("{} --> {}", m(&base), m(&top))), "{mermaid}");
    assert!(mermaid.contains(&format!("{} -.-> {}", m(&top), m(&epic))), "{mermaid}");
    assert!(mermaid.contains("#quot;quoted#quot;"), "{mermaid}");

    let dot = repo.run_ok(&["graph", "--format", "dot"]).stdout;
    assert!(dot.starts_with("digraph {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for id in [&epic, &base, &top] {
        assert!(dot.contains(id.as_str()), "{dot}");
    }
    assert_eq!(dot.matches("->").count(), 3, "{dot}");
    assert!(dot.contains("style = dashed"), "child edges are dashed: {dot}");

    let summary = repo.run_ok(&["graph"]).stdout;
    assert!(summary.starts_with("3 tasks, 3 edges"), "{summary}");
    assert!(summary.contains(&format!(
        "critical path (3 open tasks, first to last): {base} → {top} → {epic}"
    )));
    for (id, title) in [(&epic, "Ship it"), (&base, "Base \"quoted\""), (&top, "Top")] {
        let line = summary
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("{summary}"));
        assert!(line.contains(title), "{line}");
    }
    assert!(!summary.contains(&idea));
    let top_line = summary.lines().find(|l| l.starts_with(top.as_str())).unwrap();
    assert!(top_line.contains(&format!("waits for {base}")), "{top_line}");

    let run = repo.run_fail(2, &["graph", "--format", "png"]);
    assert!(run.stderr.contains("png"), "{run}");
}

#[test]
fn graph_of_an_empty_project() {
    let repo = Repo::new();
    let graph = repo.json(&["graph"]);
    assert_eq!(graph["nodes"], json!([]));
    assert_eq!(graph["edges"], json!([]));
    assert_eq!(graph["critical_path"], json!([]));
    assert_eq!(repo.run_ok(&["graph", "--format", "mermaid"]).stdout, "flowchart TD\n");
    assert!(
        repo.run_ok(&["graph", "--format", "dot"])
            .stdout
            .starts_with("digraph {")
    );
    assert!(repo.run_ok(&["graph"]).stdout.starts_with("0 tasks"));
    assert_eq!(repo.json(&["ready"]), json!([]));
    assert_eq!(repo.json(&["list"]), json!([]));
}

#[test]
fn a_cycle_written_outside_git_loom_is_reported_not_fatal() {
    let repo = Repo::new();
    let template = repo.create("Template", &[]);
    let (x, y) = ("loom-0000aaaa", "loom-0000bbbb");
    for (id, dep) in [(x, y), (y, x)] {
        let mut task = repo.forged_task(&template, id);
        task["deps"] = json!([dep]);
        repo.write_task(id, &task);
    }
    let run = repo.run_warn(&["--json", "graph"]);
    assert!(run.stderr.contains("cycle"), "{run}");
    let graph = run.json();
    let cycle: Vec<&str> = graph["cycle"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(cycle.len(), 3, "{graph}");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&x) && cycle.contains(&y), "{graph}");
    assert_eq!(graph["critical_path"], json!([]));
    let mut by_id = ids(&graph["nodes"]);
    by_id.sort();
    assert_eq!(
        ids(&graph["nodes"]),
        by_id,
        "with a cycle, nodes are listed in id order"
    );
    assert_eq!(by_id.len(), 3);
    let summary = repo.run_warn(&["graph"]);
    assert!(summary.stderr.contains(" → "), "{summary}");
    for format in ["mermaid", "dot"] {
        repo.run_warn(&["graph", "--format", format]);
    }

    // The rest of the graph keeps working around it.
    assert_eq!(ready_ids(&repo), vec![template.clone()]);
    assert_eq!(repo.status_of(x), "blocked");
    let run = repo.run_fail(3, &["update", x, "--status", "done"]);
    assert!(run.stderr.contains(y), "{run}");
    let run = repo.run_warn(&["cancel", x]);
    assert!(run.stderr.contains(y), "the other half still waits: {run}");
    assert_eq!(repo.status_of(x), "cancelled");
}

#[test]
fn nodes_come_after_everything_they_wait_for() {
    let repo = Repo::new();
    // Created in an order that is not a valid work order.
    let epic = repo.create("Epic", &["--epic"]);
    let last = repo.create("Last", &["--parent", &epic]);
    let middle = repo.create("Middle", &["--parent", &epic]);
    let first = repo.create("First", &[]);
    repo.run_ok(&["dep", "add", &middle, &first]);
    repo.run_ok(&["dep", "add", &last, &middle]);
    let graph = repo.json(&["graph"]);
    let order = ids(&graph["nodes"]);
    let position = |id: &str| order.iter().position(|n| n == id).unwrap();
    for edge in graph["edges"].as_array().unwrap() {
        let (waiter, awaited) = (edge["from"].as_str().unwrap(), edge["to"].as_str().unwrap());
        assert!(
            position(awaited) < position(waiter),
            "{awaited} before {waiter}: {order:?}"
        );
    }
    assert_eq!(graph["critical_path"], json!([first, middle, last, epic]));
    let summary = repo.run_ok(&["graph"]).stdout;
    let rows: Vec<&str> = summary
        .lines()
        .skip(3)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(rows, order, "the summary lists tasks in the same order");
}

#[test]
fn critical_path_ties_go_to_smaller_ids() {
    let repo = Repo::new();
    let template = repo.create("Template", &[]);
    repo.run_ok(&["update", &template, "--status", "done"]);
    // Two chains of the same length: 0000000a <- 0000000b and 0000000c <- 0000000d.
    for (id, deps) in [
        ("loom-0000000d", vec!["loom-0000000c"]),
        ("loom-0000000c", vec![]),
        ("loom-0000000b", vec!["loom-0000000a"]),
        ("loom-0000000a", vec![]),
    ] {
        let mut task = repo.forged_task(&template, id);
        task["status"] = json!("pending");
        task["deps"] = json!(deps);
        repo.write_task(id, &task);
    }
    let graph = repo.json(&["graph"]);
    assert_eq!(graph["critical_path"], json!(["loom-0000000a", "loom-0000000b"]));
}

// Guards: `create --parent E --dep X` adds two waits-for edges at once (E waits for the new
// task, the new task waits for X); when X is E, or waits on E, that closes a cycle and must be
// refused like any other edge, not written as a deadlock.
#[test]
fn creating_a_child_that_waits_on_its_own_epic_is_refused() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let after = repo.create("Waits on the epic", &["--dep", &epic]);
    let refs = repo.all_refs();

    let run = repo.run_fail(3, &["create", "Child", "--parent", &epic, "--dep", &epic]);
    assert!(run.stderr.contains("cycle"), "{run}");
    assert!(run.stderr.contains(&epic), "{run}");
    let run = repo.run_fail(3, &["create", "Child", "--parent", &epic, "--dep", &after]);
    assert!(run.stderr.contains("cycle"), "{run}");
    assert_eq!(repo.all_refs(), refs, "nothing written");
    assert_eq!(repo.show(&epic)["children"], json!([]));
    assert_eq!(repo.json(&["graph"])["cycle"], Value::Null);
}
