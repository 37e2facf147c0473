//! Proves an agent session end to end on real repositories: `next` claims the best ready task
//! (or resumes the one the agent holds), makes its linked worktree on `loom/<id>` in a directory
//! git ignores through `.git/info/exclude`, and prints a signal with the task, its acceptance
//! commands, what its dependencies produced, the latest handoff, where to work and how to report
//! back with the claim token; `handoff` is written only by the holder and records the task
//! branch's commits and files, and `handoffs` reads them back newest first; `worktree
//! list|remove|prune` never lose uncommitted or unmerged work and never touch the main
//! checkout's HEAD, index or files; `[signal] template` replaces the signal's layout; and `next`
//! exits 4 when there is nothing to do.

use crate::common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{AGENT, BIN, PROCESS_TIMEOUT, Repo, Run, as_agent, finish};
use serde_json::{Value, json};

/// Run `git-loom args` in the repository with `input` on stdin.
fn loom_stdin(repo: &Repo, args: &[&str], input: &str) -> Run {
    let mut command = repo.env.command(BIN, &repo.dir);
    let mut child = command.args(args).stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    finish(format!("git-loom {args:?} <stdin"), child, PROCESS_TIMEOUT)
}

/// Assert that `run` exited `code` and printed exactly `stdout` and `stderr`.
fn assert_run(run: &Run, code: i32, stdout: &str, stderr: &str) {
    let got = (run.code, run.stdout.as_str(), run.stderr.as_str());
    assert_eq!(got, (code, stdout, stderr), "{run}");
}

/// Assert that every part occurs in `text`.
fn assert_has(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} is missing from:\n{text}");
    }
}

/// Where a task's worktree is expected: `<main working tree>/.loom/worktrees/<id>`.
fn worktree_of(repo: &Repo, id: &str) -> String {
    let path = repo.dir.canonicalize().unwrap().join(".loom/worktrees").join(id);
    path.display().to_string()
}

/// `git worktree list --porcelain` as (path, branch ref) pairs, the main working tree first.
fn git_worktrees(repo: &Repo) -> Vec<(String, Option<String>)> {
    let out = repo.git(&["worktree", "list", "--porcelain"]);
    let blocks = out.split("\n\n").filter(|block| !block.trim().is_empty());
    blocks
        .map(|block| {
            let path = block.lines().find_map(|l| l.strip_prefix("worktree ")).unwrap();
            let branch = block.lines().find_map(|l| l.strip_prefix("branch "));
            (path.to_owned(), branch.map(str::to_owned))
        })
        .collect()
}

fn has_branch(repo: &Repo, id: &str) -> bool {
    repo.rev(&format!("refs/heads/loom/{id}")).is_some()
}

/// Commit `file`, holding one line, inside a worktree; returns the new commit.
fn commit_in(repo: &Repo, worktree: &str, file: &str, message: &str) -> String {
    let worktree = Path::new(worktree);
    let path = worktree.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("{message}\n")).unwrap();
    repo.env.git(worktree, &["add", file]);
    repo.env.git(worktree, &["commit", "-q", "-m", message]);
    repo.env.git(worktree, &["rev-parse", "HEAD"]).trim().to_owned()
}

/// The main checkout as a user sees it: HEAD, the index file's hash, `git status` and the bytes
/// of every tracked or untracked (not ignored) file.
#[derive(Debug, PartialEq, Eq)]
struct MainCheckout {
    head: String,
    head_ref: String,
    index_hash: String,
    status: String,
    files: Vec<(String, Vec<u8>)>,
}

fn main_checkout(repo: &Repo) -> MainCheckout {
    // Hash the index first; none of the commands below rewrites it.
    let index_hash = repo.git(&["hash-object", "--no-filters", ".git/index"]);
    let listed = repo.git(&["ls-files", "--cached", "--others", "--exclude-standard"]);
    let files = listed
        .lines()
        .map(|path| (path.to_owned(), std::fs::read(repo.dir.join(path)).unwrap()));
    MainCheckout {
        head: repo.git(&["rev-parse", "HEAD"]),
        head_ref: repo.git(&["symbolic-ref", "HEAD"]),
        index_hash,
        status: repo.git(&["--no-optional-locks", "status", "--porcelain", "--untracked-files=all"]),
        files: files.collect(),
    }
}

/// An object's keys, sorted, joined by spaces.
fn keys(value: &Value) -> String {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    keys.join(" ")
}

fn token_of(repo: &Repo, id: &str) -> String {
    repo.show(id)["claim"]["token"].as_str().unwrap().to_owned()
}

#[test]
fn a_session_claims_works_hands_off_and_resumes_in_the_task_worktree() {
    let repo = Repo::new();
    let a = repo.create("Design cart schema", &[]);
    repo.run_ok(&["claim", &a]);
    repo.run_ok(&["done", &a, "--output", "tables: cart, cart_item"]);
    let accept = ["--accept", "cargo test cart_api", "--files", "src/cart/**"];
    let b = repo.create("Cart API", &[&["-p", "p1", "--dep", &a][..], &accept].concat());
    let other = repo.create("Write user docs", &["-p", "p3"]);
    let before = main_checkout(&repo);

    let run = repo.loom(&as_agent("alice", &["next"]));
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run}");
    let claim = repo.show(&b)["claim"].clone();
    assert_eq!((&claim["agent"], &claim["attempt"]), (&json!("alice"), &json!(1)));
    let alice = token_of(&repo, &b);
    assert_eq!(repo.status_of(&other), "ready", "only B is claimed");

    let (path, branch) = (worktree_of(&repo, &b), format!("loom/{b}"));
    assert!(Path::new(&path).is_dir(), "{path}");
    let listed = git_worktrees(&repo);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[1], (path.clone(), Some(format!("refs/heads/{branch}"))));
    let exclude = std::fs::read_to_string(repo.dir.join(".git/info/exclude")).unwrap();
    assert!(exclude.lines().any(|line| line == "/.loom/"), "{exclude}");
    let status = repo.git(&["--no-optional-locks", "status", "--porcelain"]);
    assert_eq!(status, "", "the main checkout stays clean");
    assert_has(
        &run.stdout,
        &[
            &format!("# {b}: Cart API\n\nPriority p1, attempt 1."),
            "- `cargo test cart_api`",
            "- `src/cart/**`",
            &format!("- {a} (done): Design cart schema\n  Output: tables: cart, cart_item\n"),
            &format!("Work in `{path}`, on branch `{branch}`."),
            &format!("`git loom heartbeat {b} --token {alice} --progress"),
            &format!("`git loom handoff {b} --token {alice} --message"),
            &format!("`git loom done {b} --token {alice} --branch {branch} --output"),
            &format!("`git loom fail {b} --token {alice} --reason"),
        ],
    );
    assert!(!run.stdout.contains("Where the last session stopped"), "{run}");

    // Alice works in the worktree, then leaves a handoff and gives the task back.
    let tip = commit_in(&repo, &path, "src/cart/api.rs", "cart api: list");
    assert_eq!(repo.rev(&branch), Some(tip.clone()));
    let msg = "List endpoint done; totals are left.";
    let args = as_agent("alice", &["handoff", &b, "-m", msg, "--context-percent", "60"]);
    assert_run(&repo.loom(&args), 0, &format!("handoff recorded on {b}\n"), "");
    let handoff_ref = format!("refs/loom/handoffs/{b}");
    let format = "--format=%s|%(trailers:key=Loom-Op,valueonly,separator=)";
    let log = repo.git(&["log", format, &handoff_ref]);
    assert_eq!(log, format!("handoff by alice on {b}|handoff\n"));

    let handoff_lines = [
        msg,
        &format!("- {} cart api: list", &tip[..12]),
        "\nFiles changed:\n- src/cart/api.rs (+1 -0)\n",
    ];
    let shown = repo.run_ok(&["handoffs", &b]).stdout;
    assert!(shown.starts_with("### Handoff by alice at "), "{shown}");
    assert_has(&shown, &handoff_lines);
    assert_has(&shown, &["attempt 1 · context 60% used", "1 commit since its base"]);
    let handoffs = repo.json(&["handoffs", &b]);
    assert_eq!(handoffs.as_array().unwrap().len(), 1, "{handoffs}");
    let handoff = &handoffs[0];
    let fields = "agent at attempt context_percent message percent progress schema task work";
    assert_eq!(keys(handoff), fields);
    assert!(handoff["at"].as_str().unwrap().ends_with('Z'), "{handoff}");
    let mut expected = json!({
        "schema": 1, "task": b, "agent": "alice", "message": msg, "context_percent": 60,
        "progress": null, "percent": null, "attempt": 1,
        "work": {
            "branch": branch, "tip": tip, "base": repo.rev("main"), "commits_since_base": 1,
            "commits": [{"id": tip, "summary": "cart api: list"}],
            "files": [{"path": "src/cart/api.rs", "added": 1, "removed": 0}],
        },
    });
    expected["at"] = handoff["at"].clone();
    assert_eq!(handoff, &expected);
    let stored = repo.git(&["cat-file", "-p", &format!("{handoff_ref}:handoff.json")]);
    assert_eq!(serde_json::from_str::<Value>(&stored).unwrap(), expected);
    repo.run_ok(&as_agent("alice", &["release", &b]));

    // Bob takes the task over, in the same worktree, starting from alice's handoff.
    let run = repo.loom(&as_agent("bob", &["next"]));
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run}");
    let task = repo.show(&b);
    assert_eq!((&task["attempts"], &task["claim"]["attempt"]), (&json!(2), &json!(2)));
    assert_eq!(task["claim"]["agent"], "bob");
    let bob = token_of(&repo, &b);
    assert_eq!(git_worktrees(&repo), listed, "the worktree is reused, not made again");
    assert_eq!(repo.env.git(Path::new(&path), &["rev-parse", "HEAD"]).trim(), tip);
    let signal = run.stdout;
    assert_has(&signal, &handoff_lines);
    assert_has(
        &signal,
        &[
            "Priority p1, attempt 2.",
            "## Where the last session stopped\n\n### Handoff by alice at ",
            &format!("Work in `{path}`, on branch `{branch}`."),
            &format!("`git loom done {b} --token {bob} --branch {branch}"),
        ],
    );
    assert!(!signal.contains(&alice), "{signal}");

    // Asked again, bob resumes what he holds instead of claiming the other ready task.
    let run = repo.loom(&as_agent("bob", &["next"]));
    assert_run(&run, 0, &signal, &format!("resuming {b}, which bob already holds\n"));
    let run = repo.loom(&as_agent("bob", &["--json", "next"]));
    assert_eq!(run.code, 0, "{run}");
    let next = run.json();
    assert_eq!(keys(&next), "branch resumed signal task worktree");
    assert_eq!(next["resumed"], true);
    assert_eq!((&next["worktree"], &next["branch"]), (&json!(path), &json!(branch)));
    assert_eq!(next["signal"], signal.as_str());
    assert_eq!(next["task"]["id"], b.as_str());
    assert_eq!(next["task"]["status"], "claimed");
    assert_eq!(next["task"]["claim"]["token"], bob.as_str());
    assert_eq!(repo.status_of(&other), "ready", "nothing else was claimed");
    let claim = repo.git(&["cat-file", "-p", &format!("refs/loom/claims/{b}:claim.json")]);
    let claim: Value = serde_json::from_str(&claim).unwrap();
    assert_eq!((&claim["worktree"], &claim["branch"]), (&json!(path), &json!(branch)));
    assert_eq!(main_checkout(&repo), before);
}

#[test]
fn next_json_keeps_the_resume_note_on_stderr() {
    let repo = Repo::new();
    let id = repo.create("Held", &[]);
    repo.run_ok(&as_agent("alice", &["claim", &id]));
    let run = repo.loom(&as_agent("alice", &["--json", "next"]));
    assert_eq!((run.code, &run.json()["resumed"]), (0, &json!(true)), "{run}");
    // "--json never changes stderr": the note that says the task is resumed stays.
    let note = format!("resuming {id}, which alice already holds\n");
    assert_eq!(run.stderr, note, "{run}");
}

#[test]
fn commands_run_inside_a_task_worktree_act_on_the_main_working_tree() {
    let repo = Repo::new();
    let id = repo.create("Cart API", &[]);
    assert_eq!(repo.loom(&["next"]).code, 0);
    let path = worktree_of(&repo, &id);
    let worktree = Path::new(&path);
    commit_in(&repo, &path, "cart.rs", "cart");

    // An agent works, and so runs git-loom, from inside its worktree.
    let run = repo.env.loom(worktree, &["--json", "handoff", &id, "-m", "half"]);
    assert_eq!(run.code, 0, "{run}");
    let work = &run.json()["work"];
    assert_eq!(work["base"], json!(repo.rev("main")), "the base is main's tip: {work}");
    assert_eq!(work["commits_since_base"], 1, "{work}");
    assert_eq!(work["files"], json!([{"path": "cart.rs", "added": 1, "removed": 0}]));

    let run = repo.env.loom(worktree, &["worktree", "list"]);
    assert_run(&run, 0, &format!("{id}  loom/{id}  {path}  clean  +1 -0\n"), "");

    let run = repo.env.loom(worktree, &["next"]);
    assert_eq!(run.code, 0, "{run}");
    assert_has(&run.stdout, &[&format!("Work in `{path}`")]);
    assert!(!worktree.join(".loom").exists(), "no worktree nested in the worktree");
    assert_eq!(git_worktrees(&repo).len(), 2);
}

#[test]
fn only_the_holder_leaves_handoffs_and_they_read_back_newest_first() {
    let repo = Repo::new();
    let id = repo.create("Cart API", &[]);
    let idle = repo.create("Nobody holds this", &[]);
    repo.run_ok(&["claim", &id]);
    let token = token_of(&repo, &id);
    let refs = repo.all_refs();
    let handoff_refs = || repo.git(&["for-each-ref", "refs/loom/handoffs"]);
    assert_eq!(handoff_refs(), "");

    let by_bob = as_agent("bob", &["handoff", &id, "-m", "not mine"]);
    let claimed = format!("{id} is claimed by {AGENT}, not by you");
    let not_claimed = format!("{idle} is not claimed");
    let refused = [
        (3, by_bob, claimed.as_str()),
        (3, vec!["handoff", &idle, "-m", "nobody's"], &not_claimed),
        (2, vec!["handoff", &id], "a handoff needs --message TEXT or --file FILE"),
        (2, vec!["handoff", &id, "-m", " \n"], "a handoff needs a message"),
        (2, vec!["handoff", &id, "-m", "x", "--context-percent", "101"], "101"),
        (1, vec!["handoff", &id, "--file", "no-such-note.md"], "no-such-note.md"),
    ];
    for (code, args, why) in refused {
        let run = repo.run_fail(code, &args);
        assert!(run.stderr.lines().next().unwrap().contains(why), "{run}");
    }
    assert_eq!(handoff_refs(), "", "a refused handoff writes nothing");
    assert_eq!(repo.all_refs(), refs);

    let note = repo.env.root().join("note.md");
    std::fs::write(&note, "First: from a file\n").unwrap();
    repo.run_ok(&["handoff", &id, "--file", note.to_str().unwrap()]);
    let args = ["handoff", &id, "--file", "-", "--context-percent", "30"];
    let run = loom_stdin(&repo, &args, "Second: from stdin\n\n- a list\n");
    assert_run(&run, 0, &format!("handoff recorded on {id}\n"), "");
    let args = as_agent("helper", &["handoff", &id, "--token", &token, "-m", "Third"]);
    repo.run_ok(&args);

    let all = repo.json(&["handoffs", &id, "--all"]);
    let summary: Vec<Value> = (all.as_array().unwrap().iter())
        .map(|h| json!([h["agent"], h["message"], h["context_percent"]]))
        .collect();
    let expected = [
        json!(["helper", "Third", null]),
        json!([AGENT, "Second: from stdin\n\n- a list", 30]),
        json!([AGENT, "First: from a file", null]),
    ];
    assert_eq!(summary, expected);
    let text = repo.run_ok(&["handoffs", &id, "--all"]).stdout;
    let at = |part: &str| text.find(part).unwrap_or_else(|| panic!("no {part:?} in:\n{text}"));
    assert!(at("Third") < at("Second: from stdin") && at("- a list") < at("First: from a file"));
    assert_eq!(text.matches("### Handoff by ").count(), 3, "{text}");
    let latest = repo.run_ok(&["handoffs", &id]).stdout;
    assert!(latest.starts_with("### Handoff by helper at "), "{latest}");
    assert!(!latest.contains("Second"), "{latest}");
    let log = repo.git(&["log", "--format=%an %s", &format!("refs/loom/handoffs/{id}")]);
    let line = |agent: &str| format!("{agent} handoff by {agent} on {id}\n");
    assert_eq!(log, [line("helper"), line(AGENT), line(AGENT)].concat());

    let run = repo.loom(&["handoffs", &idle]);
    assert_run(&run, 0, "", &format!("{idle} has no handoffs\n"));
    assert_eq!(repo.json(&["handoffs", &idle, "--all"]), json!([]));
}

#[test]
fn worktrees_keep_unfinished_work_and_leave_the_main_checkout_alone() {
    let repo = Repo::new();
    std::fs::write(repo.dir.join("notes.txt"), "mine, untracked\n").unwrap();
    let titles = ["merged", "unmerged", "done", "done unmerged", "open", "cancelled"];
    let ids: Vec<String> = titles.iter().map(|title| repo.create(title, &[])).collect();
    let [merged, unmerged, done, done_unmerged, open, cancelled] = &ids[..] else {
        unreachable!()
    };
    let before = main_checkout(&repo);

    let paths: Vec<String> = ids.iter().map(|id| worktree_of(&repo, id)).collect();
    for (id, path) in ids.iter().zip(&paths) {
        let run = repo.loom(&["worktree", "add", id]);
        assert_run(&run, 0, &format!("{id}  loom/{id}  {path}\n"), "");
        assert_eq!(repo.show(id)["branch"], format!("loom/{id}"));
    }
    let again = repo.json(&["worktree", "add", merged]);
    let branch = format!("loom/{merged}");
    let want = json!({"task": merged, "path": paths[0], "branch": branch, "created": false, "started_from": []});
    assert_eq!(again, want);
    assert_eq!(git_worktrees(&repo).len(), 7);
    let dir = |i: usize| Path::new(&paths[i]).to_owned();
    commit_in(&repo, &paths[0], "a.txt", "work a");
    commit_in(&repo, &paths[1], "b.txt", "work b");
    commit_in(&repo, &paths[3], "d.txt", "work d");
    std::fs::write(dir(0).join("scratch.txt"), "not committed\n").unwrap();

    // Every column has the same width on every row, so each row is known exactly.
    let row = |i: usize, state: &str| format!("{0}  loom/{0}  {1}  {state}", ids[i], paths[i]);
    let sorted = |text: String| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let mut expected = vec![
        row(0, "dirty  +1 -0"),
        row(1, "clean  +1 -0"),
        row(2, "clean  +0 -0"),
        row(3, "clean  +1 -0"),
        row(4, "clean  +0 -0"),
        row(5, "clean  +0 -0"),
    ];
    expected.sort();
    assert_eq!(sorted(repo.run_ok(&["worktree", "list"]).stdout), expected);
    let list = repo.json(&["worktree", "list"]);
    let path = &paths[0];
    let entry = json!({"task": merged, "path": path, "branch": branch, "dirty": true, "ahead": 1, "behind": 0});
    assert!(list.as_array().unwrap().contains(&entry), "{list}");

    let not_merged = "its branch is not merged into the target branch";
    let kept = |id: &str, i: usize, why: &str| {
        format!(
            "warning: kept {id}'s worktree {}: {why} (use --force to remove it anyway)\n",
            paths[i]
        )
    };
    let run = repo.loom(&["worktree", "remove", merged]);
    assert_run(&run, 3, "", &kept(merged, 0, "it has uncommitted changes"));
    std::fs::remove_file(dir(0).join("scratch.txt")).unwrap();
    let run = repo.loom(&["worktree", "remove", merged]);
    assert_run(&run, 3, "", &kept(merged, 0, not_merged));
    let run = repo.loom(&["--json", "worktree", "remove", unmerged]);
    assert_eq!(run.code, 3, "{run}");
    let removal = json!([{"task": unmerged, "path": paths[1], "removed": false, "branch_deleted": false,
                          "kept_because": not_merged}]);
    assert_eq!(run.json(), removal);
    assert!(dir(0).is_dir() && dir(1).is_dir() && has_branch(&repo, merged) && has_branch(&repo, unmerged));
    assert_eq!(main_checkout(&repo), before);

    // Once merged into main, the worktree goes, and its branch with it.
    repo.git(&["merge", "-q", "--no-edit", &branch]);
    let before = main_checkout(&repo);
    let list = repo.run_ok(&["worktree", "list"]).stdout;
    assert_has(&list, &[&row(1, "clean  +1 -1"), &row(4, "clean  +0 -1")]);
    let removed = |id: &str, i: usize| format!("removed {id}'s worktree {} and its branch", paths[i]);
    let run = repo.loom(&["worktree", "remove", merged]);
    assert_run(&run, 0, &format!("{}\n", removed(merged, 0)), "");
    assert!(!dir(0).exists() && !has_branch(&repo, merged));
    let run = repo.loom(&["worktree", "remove", unmerged, "--force"]);
    assert_run(&run, 0, &format!("{}\n", removed(unmerged, 1)), "");
    assert!(!dir(1).exists() && !has_branch(&repo, unmerged));

    // A worktree with no commits of its own is done with a warning; one with commits quietly.
    repo.run_ok(&["claim", done]);
    repo.run_warn(&["done", done]);
    repo.run_ok(&["claim", done_unmerged]);
    repo.run_ok(&["done", done_unmerged]);
    repo.run_ok(&["cancel", cancelled]);
    let run = repo.loom(&["worktree", "prune"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stderr, kept(done_unmerged, 3, not_merged));
    let mut expected = vec![removed(done, 2), removed(cancelled, 5)];
    expected.sort();
    assert_eq!(sorted(run.stdout), expected);
    for (id, i, stays) in [
        (done, 2, false),
        (done_unmerged, 3, true),
        (open, 4, true),
        (cancelled, 5, false),
    ] {
        assert_eq!(dir(i).is_dir(), stays, "{id}");
        assert_eq!(has_branch(&repo, id), stays, "{id}");
    }
    let mut left: Vec<String> = git_worktrees(&repo).into_iter().map(|(path, _)| path).collect();
    left[1..].sort();
    let main = repo.dir.canonicalize().unwrap().display().to_string();
    let mut linked = [paths[3].clone(), paths[4].clone()];
    linked.sort();
    assert_eq!(left, [&[main][..], &linked].concat());

    let missing = repo.create("Based on nothing", &[]);
    let run = repo.loom(&["worktree", "add", &missing, "--base", "no-such-branch"]);
    assert!(run.code == 1 || run.code == 2, "{run}");
    let error = "error: the base branch \"no-such-branch\" does not exist";
    assert!(run.stderr.starts_with(error), "{run}");
    assert!(!Path::new(&worktree_of(&repo, &missing)).exists() && !has_branch(&repo, &missing));
    assert_eq!(main_checkout(&repo), before);
}

#[test]
fn a_signal_template_replaces_the_layout_and_keeps_unknown_placeholders() {
    let repo = Repo::new();
    let dep = repo.create("Design cart schema", &[]);
    repo.run_ok(&["claim", &dep]);
    repo.run_ok(&["done", &dep, "--output", r#"{"tables": 4}"#]);
    let id = repo.create("Cart API", &["--dep", &dep, "--accept", "cargo test cart_api"]);
    let template = "Task {{id}}: {{ title }}\n\n{{acceptance}}\n\n{{dependencies}}\n\n\
                    Keep {{x}} and {{ custom.thing }}\n\n{{report}}\n";
    std::fs::write(repo.dir.join("prompt.md"), template).unwrap();
    repo.set_settings("[signal]\ntemplate = \"prompt.md\"\n");

    let text = repo.run_ok(&["signal", &id]).stdout;
    let head = format!(
        "Task {id}: Cart API\n\n## Acceptance (each must succeed; `git loom verify` runs them)\n\n\
         - `cargo test cart_api`\n\n## What it builds on\n\n- {dep} (done): Design cart schema\n  \
         Output: `{{\"tables\":4}}`\n\nKeep {{{{x}}}} and {{{{ custom.thing }}}}\n\n## Reporting back\n\n"
    );
    assert!(
        text.starts_with(&head),
        "expected it to start with\n{head}\ngot:\n{text}"
    );
    assert_has(&text, &[&format!("`git loom done {id} --branch loom/{id} --output")]);
    assert!(!text.contains(&format!("# {id}: Cart API")), "{text}");
    assert!(!text.contains("## Where to work"), "{text}");
    assert_eq!(repo.json(&["signal", &id]), json!({"task": id, "signal": text}));

    // `next` renders the same template, with the claim's token in the reporting commands.
    let run = repo.loom(&["next"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.starts_with(&format!("Task {id}: Cart API\n")), "{run}");
    let done = format!("`git loom done {id} --token {} --branch", token_of(&repo, &id));
    assert_has(&run.stdout, &[&done]);

    repo.set_settings("[signal]\ntemplate = \"prompts/missing.md\"\n");
    let run = repo.run_fail(1, &["signal", &id]);
    assert_has(&run.stderr, &["prompts/missing.md", "[signal] template"]);
}

#[test]
fn next_exits_4_when_nothing_is_ready_and_nothing_is_held() {
    let repo = Repo::new();
    let held = repo.create("Held by carol", &[]);
    repo.run_ok(&as_agent("carol", &["claim", &held]));
    let waiting = repo.create("Waits for it", &["--dep", &held]);
    let refs = repo.all_refs();
    for (args, stdout) in [(vec!["next"], ""), (vec!["--json", "next"], "null\n")] {
        let run = repo.loom(&as_agent("bob", &args));
        assert_run(&run, 4, stdout, "nothing is ready to claim\n");
    }
    assert_eq!(repo.all_refs(), refs, "nothing was written");
    assert_eq!(repo.status_of(&waiting), "blocked");
    assert!(!repo.dir.join(".loom").exists());
    assert_eq!(git_worktrees(&repo).len(), 1);
}
