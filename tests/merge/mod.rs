//! Proves the test-gated merge queue end to end on real repositories: a task finished in its
//! worktree is queued by `done`, and `git loom merge` lands exactly the candidate it tested
//! (a merge of the target's old tip and the branch), updating the user's checkout only when
//! it is clean, and advising a dirty one how to bring the work in without undoing it; a
//! conflicting branch or one that breaks the tests never reaches the target and goes back to
//! its agents with a handoff; a target that moves during a test leads to a rebuild on the new
//! tip, never to a lost commit; and the test cache answers a rebuilt candidate whose tree it
//! has judged. [`queue`] holds the rest: batches, order, the test command's source, dependents,
//! errors, and the way back for a task sent back. The helpers here serve both.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Repo, Run};
use serde_json::Value;

mod ci;
mod queue;

/// Where a task's worktree is: `<main working tree>/.loom/worktrees/<id>`.
fn worktree_of(repo: &Repo, id: &str) -> PathBuf {
    repo.dir.join(".loom/worktrees").join(id)
}

/// Write `files` (path, content) in `dir` and commit them there; returns the new commit.
fn commit_files(repo: &Repo, dir: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }
    repo.env.git(dir, &["add", "--all"]);
    repo.env.git(dir, &["commit", "-q", "-m", message]);
    repo.env.git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

/// A task worked to the end as an agent does: created (with `extra` flags), started with
/// `next`, `files` committed in its worktree, finished with `done` (which queues its merge).
/// Returns the task id and the branch tip that was queued.
fn finished_task(repo: &Repo, title: &str, extra: &[&str], files: &[(&str, &str)]) -> (String, String) {
    let id = repo.create(title, extra);
    let next = repo.loom(&["next"]);
    assert_eq!(next.code, 0, "{next}");
    assert!(next.stdout.contains(&id), "next started another task than {id}: {next}");
    let tip = commit_files(repo, &worktree_of(repo, &id), files, title);
    let done = repo.loom(&["done", &id]);
    assert_eq!(done.code, 0, "{done}");
    assert_eq!(repo.json(&["merge", "show", &id])["state"], "queued");
    (id, tip)
}

/// `git loom merge --json args…`: the run and its decisions, one JSON object per line.
fn merge(repo: &Repo, args: &[&str]) -> (Run, Vec<Value>) {
    let mut all = vec!["--json", "merge"];
    all.extend_from_slice(args);
    let run = repo.loom(&all);
    assert_eq!(run.code, 0, "{run}");
    let decisions = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}\n{run}")))
        .collect();
    (run, decisions)
}

/// The last decision of a run for each task (a request sent back to the queue in one round
/// is decided again in a later one).
fn last_decisions(decisions: &[Value]) -> BTreeMap<String, Value> {
    decisions
        .iter()
        .map(|decision| (decision["task"].as_str().unwrap().to_owned(), decision.clone()))
        .collect()
}

/// Set `[merge] test` through the command line, as a user does.
fn set_test(repo: &Repo, command: &str) {
    let run = repo.loom(&["config", "merge.test", command]);
    assert_eq!(run.code, 0, "{run}");
}

/// A test script outside the repository: it appends a line to `runs.log` next to it on every
/// invocation (so a test counts real runs), then runs `body`. Returns the command running it
/// and the log's path.
fn test_script(repo: &Repo, body: &str) -> (String, PathBuf) {
    let script = repo.env.root().join("merge-test.sh");
    let log = repo.env.root().join("runs.log");
    std::fs::write(&script, format!("echo run >> '{}'\n{body}\n", log.display())).unwrap();
    (format!("sh '{}'", script.display()), log)
}

/// How many times the script of [`test_script`] ran.
fn runs_in(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |text| text.lines().count())
}

fn rev(repo: &Repo, name: &str) -> String {
    repo.rev(name).unwrap_or_else(|| panic!("{name} does not resolve"))
}

/// The outcome of every attempt `merge show --json` records, oldest first.
fn outcomes(request: &Value) -> Vec<String> {
    request["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["outcome"].as_str().unwrap().to_owned())
        .collect()
}

// Guards: the target moving to anything but the tested candidate (a commit rebuilt after the
// test, or one with other parents), the user's checkout being switched or left stale, and the
// landing not being recorded on the request and the task.
#[test]
fn a_clean_merge_lands_the_tested_candidate_and_updates_the_clean_checkout() {
    let repo = Repo::new();
    let (id, tip) = finished_task(&repo, "Add the cart", &[], &[("cart.txt", "cart\n")]);
    let old_main = rev(&repo, "main");

    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions.len(), 1, "{run}");
    let decision = &decisions[0];
    assert_eq!(decision["state"], "merged", "{run}");
    let landed = decision["landed"].as_str().unwrap();
    assert_eq!(
        decision["candidate"].as_str(),
        Some(landed),
        "the tested candidate lands itself"
    );

    let main = rev(&repo, "main");
    assert_eq!(main, landed);
    let request = repo.json(&["merge", "show", &id]);
    assert_eq!(request["state"], "merged");
    assert_eq!(request["merged"]["commit"].as_str(), Some(main.as_str()));
    assert_eq!(outcomes(&request), ["landed"]);
    assert_eq!(rev(&repo, &format!("refs/loom/candidates/{id}")), main);
    let parents = repo.git(&["rev-parse", "main^1", "main^2"]);
    assert_eq!(
        parents,
        format!("{old_main}\n{tip}\n"),
        "parents are [old main, branch tip]"
    );
    assert!(repo.rev("main^3").is_none(), "a merge of two parents");
    // The candidate's tree is the merge git itself computes for the same two commits.
    let git_tree = repo.git(&["merge-tree", "--write-tree", &old_main, &tip]);
    assert_eq!(rev(&repo, "main^{tree}"), git_tree.trim());

    // The user's checkout stays on main and, being clean, now holds the work.
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main\n");
    assert_eq!(rev(&repo, "HEAD"), main);
    assert_eq!(std::fs::read_to_string(repo.dir.join("cart.txt")).unwrap(), "cart\n");
    assert_eq!(repo.git(&["status", "--porcelain", "--untracked-files=all"]), "");
    assert!(run.stderr.contains("updated the checkout"), "{run}");

    let task = repo.show(&id);
    assert_eq!(task["status"], "done");
    assert_eq!(task["merged"]["commit"].as_str(), Some(main.as_str()), "{task}");
    assert_eq!(task["merged"]["target"], "main");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%B", "main"])
            .lines()
            .find(|line| line.starts_with("Loom-Task: ")),
        Some(format!("Loom-Task: {id}").as_str())
    );
}

// Guards: an engine that overwrites (or refuses to move the target over) a user's
// uncommitted change in the checkout of the target.
#[test]
fn a_dirty_checkout_is_left_alone_while_the_target_moves() {
    let repo = Repo::new();
    let (id, _) = finished_task(&repo, "Add the cart", &[], &[("cart.txt", "cart\n")]);
    let old_main = rev(&repo, "main");
    std::fs::write(repo.dir.join("README.md"), "# scratch\nmy own edit\n").unwrap();

    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions[0]["state"], "merged", "{run}");
    let main = rev(&repo, "main");
    assert_ne!(main, old_main, "the target moved");
    assert_eq!(decisions[0]["landed"].as_str(), Some(main.as_str()));
    assert!(
        run.stderr.contains("has uncommitted changes and was left as it was"),
        "{run}"
    );
    assert!(
        run.stderr.contains(&repo.dir.display().to_string()),
        "names the checkout: {run}"
    );

    assert_eq!(
        std::fs::read_to_string(repo.dir.join("README.md")).unwrap(),
        "# scratch\nmy own edit\n",
        "the uncommitted change is untouched"
    );
    assert!(
        !repo.dir.join("cart.txt").exists(),
        "the files are still those of the old tip"
    );
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main\n");
    assert_eq!(repo.json(&["merge", "show", &id])["state"], "merged");

    // Following the advice brings the landed work in and keeps the change.
    let advice = format!("`git read-tree -m -u {old_main} HEAD`");
    assert!(run.stderr.contains(&advice), "{run}");
    repo.git(&["read-tree", "-m", "-u", &old_main, "HEAD"]);
    assert_eq!(std::fs::read_to_string(repo.dir.join("cart.txt")).unwrap(), "cart\n");
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        " M README.md\n"
    );
}

// Guards: advice for a dirty checkout that loses work when followed. The checkout's HEAD
// names the moved target while its files are the old tip's, so committing or stashing first
// (as the advice once said) records the landed work as undone; with changes touching the files
// the work changed, the advice puts HEAD back on the old tip, where a stash is safe.
#[test]
fn a_dirty_checkout_touching_the_landed_files_is_recovered_as_advised() {
    let repo = Repo::new();
    let (_, _) = finished_task(&repo, "Edit the title", &[], &[("README.md", "# scratch\n\nmore\n")]);
    let old_main = rev(&repo, "main");
    std::fs::write(repo.dir.join("README.md"), "# my title\n").unwrap();

    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions[0]["state"], "merged", "{run}");
    let refused = repo
        .env
        .run("git", &repo.dir, &["read-tree", "-m", "-u", &old_main, "HEAD"]);
    assert_ne!(refused.code, 0, "{refused}");
    assert_eq!(
        std::fs::read_to_string(repo.dir.join("README.md")).unwrap(),
        "# my title\n"
    );

    assert!(
        run.stderr
            .contains(&format!("`git update-ref --no-deref HEAD {old_main}`")),
        "{run}"
    );
    assert!(run.stderr.contains("`git switch main`"), "{run}");
    repo.git(&["update-ref", "--no-deref", "HEAD", &old_main]);
    repo.git(&["stash", "-q"]);
    repo.git(&["switch", "-q", "main"]);
    let pop = repo.env.run("git", &repo.dir, &["stash", "pop", "-q"]);
    assert_eq!(pop.code, 1, "the change and the work touch the same line: {pop}");
    let merged = std::fs::read_to_string(repo.dir.join("README.md")).unwrap();
    assert!(merged.contains("# my title") && merged.contains("more"), "{merged}");
    assert_eq!(rev(&repo, "HEAD"), rev(&repo, "main"));
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main\n");
}

// Guards: a conflicting branch reaching the target, or its task staying `done` with nobody
// told how to fix it.
#[test]
fn a_conflicting_branch_goes_back_to_its_task_with_a_rebase_handoff() {
    let repo = Repo::new();
    let (first, first_tip) = finished_task(&repo, "Title one", &[], &[("README.md", "# first title\n")]);
    let (second, second_tip) = finished_task(&repo, "Title two", &[], &[("README.md", "# second title\n")]);

    let (run, decisions) = merge(&repo, &[]);
    let last = last_decisions(&decisions);
    assert_eq!(last[&first]["state"], "merged", "{run}");
    assert_eq!(last[&second]["state"], "conflict", "{run}");
    assert_eq!(last[&second]["conflicts"], serde_json::json!(["README.md"]));

    let request = repo.json(&["merge", "show", &second]);
    assert_eq!(request["state"], "conflict");
    let attempts = request["attempts"].as_array().unwrap();
    assert_eq!(attempts.last().unwrap()["outcome"], "conflict");
    assert_eq!(attempts.last().unwrap()["conflicts"], serde_json::json!(["README.md"]));

    assert_eq!(repo.status_of(&second), "ready", "back to pending, ready to be taken");
    assert_eq!(repo.stored_task(&second)["status"], "pending");
    let handoff = repo.loom(&["handoffs", &second]);
    assert_eq!(handoff.code, 0, "{handoff}");
    assert!(handoff.stdout.to_lowercase().contains("rebase onto main"), "{handoff}");
    assert!(handoff.stdout.contains("README.md"), "{handoff}");

    assert_eq!(repo.git(&["show", "main:README.md"]), "# first title\n");
    assert_eq!(rev(&repo, "main^2"), first_tip);
    let second_in_main = repo
        .env
        .run("git", &repo.dir, &["merge-base", "--is-ancestor", &second_tip, "main"]);
    assert_eq!(
        second_in_main.code, 1,
        "main holds none of the conflicting work: {second_in_main}"
    );
}

// Guards: a candidate that fails the repository's test command reaching the target, and the
// failure not reaching the task (retry rules, handoff with the output).
#[test]
fn a_branch_that_breaks_the_tests_never_reaches_the_target() {
    let repo = Repo::new();
    let (command, log) = test_script(
        &repo,
        "if [ -e broken.txt ]; then echo 'assertion failed: broken.txt is here'; exit 7; fi",
    );
    set_test(&repo, &command);
    let (id, _) = finished_task(&repo, "Break it", &[], &[("broken.txt", "oops\n")]);
    let old_main = rev(&repo, "main");

    let (run, decisions) = merge(&repo, &[]);
    assert_eq!(decisions.len(), 1, "{run}");
    assert_eq!(decisions[0]["state"], "failed", "{run}");
    assert_eq!(decisions[0]["landed"], Value::Null);
    assert_eq!(rev(&repo, "main"), old_main, "the target did not move");
    assert!(!repo.dir.join("broken.txt").exists());
    // One failing run of a lone request is retested once before it is blamed (a flake).
    assert_eq!(runs_in(&log), 2);

    let request = repo.json(&["merge", "show", &id]);
    assert_eq!(request["state"], "failed");
    let attempt = request["attempts"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(attempt["outcome"], "failed");
    assert_eq!(attempt["tests"][0]["name"].as_str(), Some(command.as_str()));
    assert_eq!(attempt["tests"][0]["passed"], false);
    assert_eq!(attempt["tests"][0]["exit_code"], 7);
    assert!(
        attempt["tests"][0]["tail"]
            .as_str()
            .unwrap()
            .contains("assertion failed: broken.txt is here"),
        "{request}"
    );
    let human = repo.run_ok(&["merge", "show", &id]);
    assert!(human.stdout.contains("FAIL"), "{human}");
    assert!(human.stdout.contains("assertion failed: broken.txt is here"), "{human}");

    let task = repo.show(&id);
    assert_eq!(task["status"], "failed", "{task}");
    assert!(task["retry_after"].is_string(), "a retry time: {task}");
    assert_eq!(task["retries"], 1);
    assert!(task["extra"].get("merged").is_none(), "{task}");
    let handoff = repo.loom(&["handoffs", &id]);
    assert_eq!(handoff.code, 0, "{handoff}");
    assert!(
        handoff.stdout.contains("assertion failed: broken.txt is here"),
        "{handoff}"
    );
    assert!(handoff.stdout.contains(&command), "names what failed: {handoff}");
}

// Guards: a candidate landed over a target that moved while it was tested (losing the commit
// that moved it), or a request dropped instead of being built again on the new tip.
#[test]
fn a_target_moved_during_the_test_is_built_again_without_losing_a_commit() {
    let repo = Repo::new();
    let marker = repo.env.root().join("moved-once");
    // On its first run only, the test commits to main in the user's checkout, as a person
    // would while the engine works.
    let (command, log) = test_script(
        &repo,
        &format!(
            "if [ ! -e '{marker}' ]; then\n  touch '{marker}'\n  cd '{dir}' && echo moved > moved.txt && \
             git add moved.txt && git commit -q -m moved || exit 1\nfi\nexit 0",
            marker = marker.display(),
            dir = repo.dir.display(),
        ),
    );
    set_test(&repo, &command);
    let (id, tip) = finished_task(&repo, "Add the cart", &[], &[("cart.txt", "cart\n")]);

    let (run, decisions) = merge(&repo, &[]);
    let states: Vec<&str> = decisions.iter().map(|d| d["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["queued", "merged"], "{run}");
    assert_eq!(runs_in(&log), 2, "the rebuilt candidate (a new tree) was tested again");

    let main = rev(&repo, "main");
    assert_eq!(decisions[1]["landed"].as_str(), Some(main.as_str()));
    let moved = rev(&repo, "main^1");
    assert_eq!(repo.git(&["log", "-1", "--format=%s", &moved]), "moved\n");
    assert_eq!(rev(&repo, "main^2"), tip);
    assert_eq!(repo.git(&["show", "main:moved.txt"]), "moved\n");
    assert_eq!(repo.git(&["show", "main:cart.txt"]), "cart\n");

    let request = repo.json(&["merge", "show", &id]);
    assert_eq!(outcomes(&request), ["target_moved", "landed"]);
    assert_eq!(request["attempts"][1]["base"].as_str(), Some(moved.as_str()));
    // Guards: the human listing naming outcomes as Rust spells them (`TargetMoved`).
    let text = repo.run_ok(&["merge", "show", &id]);
    assert!(text.stdout.contains(" target_moved by "), "{text}");
    assert!(text.stdout.contains(" landed by "), "{text}");
    assert_eq!(request["merged"]["commit"].as_str(), Some(main.as_str()));
    // The checkout moved by the test was clean: it follows the target.
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main\n");
    assert_eq!(rev(&repo, "HEAD"), main);
    assert!(repo.dir.join("cart.txt").exists());
}

// Guards: a rebuilt candidate whose tree was already judged being run again (the cache key is
// the tree and the test spec, not the commit).
#[test]
fn a_rebuilt_candidate_with_a_tested_tree_is_answered_from_the_cache() {
    let repo = Repo::new();
    let marker = repo.env.root().join("moved-once");
    // The target moves by an empty commit: the candidate built again holds the same tree.
    let (command, log) = test_script(
        &repo,
        &format!(
            "if [ ! -e '{marker}' ]; then\n  touch '{marker}'\n  git -C '{dir}' commit -q --allow-empty -m moved \
             || exit 1\nfi\nexit 0",
            marker = marker.display(),
            dir = repo.dir.display(),
        ),
    );
    set_test(&repo, &command);
    let (id, _) = finished_task(&repo, "Add the cart", &[], &[("cart.txt", "cart\n")]);

    let run = repo.loom(&["merge"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stderr
            .contains("1 merged, 2 decided, 1 test runs, 1 answered from the test cache"),
        "{run}"
    );
    assert_eq!(runs_in(&log), 1, "the second candidate was not run");
    assert_eq!(repo.git(&["log", "-1", "--format=%s", "main^1"]), "moved\n");

    let request = repo.json(&["merge", "show", &id]);
    assert_eq!(outcomes(&request), ["target_moved", "landed"]);
    let [moved, landed] = [&request["attempts"][0], &request["attempts"][1]];
    assert_ne!(moved["candidate"], landed["candidate"], "a new candidate commit");
    assert_eq!(moved["tests"][0]["cached"], Value::Null, "run: {request}");
    assert_eq!(landed["tests"][0]["cached"], true, "{request}");
    assert_eq!(landed["candidate"].as_str(), Some(rev(&repo, "main").as_str()));
    let text = repo.run_ok(&["merge", "show", &id]);
    assert!(text.stdout.contains("(cached)"), "{text}");
}
