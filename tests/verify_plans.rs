//! Proves that plans are checked as their authors meant, end to end on real repositories: a
//! whole plan runs (`next` → real commits in the task's worktree → `verify` → `done`, the next
//! stage started from the merged work) with `working_dir: "."` and with a subfolder; every check
//! kind of the format runs (setup, truths, stderr_empty, before/after_stage, wiring tests,
//! variables) and one that fails or cannot run fails `verify`; `done` refuses uncommitted work
//! (exit 5, listing it) unless `--allow-dirty`, warns when the branch has no commits, and records
//! the commit it accepted; `verify` judges the committed tree of a task worktree, not stray files.

use crate::common;

use std::path::{Path, PathBuf};

use common::{AGENT, Repo, Run};
use serde_json::Value;

/// A plan from `fixtures/plans/verify`.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/plans/verify")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A repository with the plan `name` committed and imported.
fn planned(name: &str) -> Repo {
    planned_with(name, &[])
}

/// Like [`planned`], with `files` (path, content) committed with the plan.
fn planned_with(name: &str, files: &[(&str, &str)]) -> Repo {
    let repo = Repo::new();
    write(&repo.dir, "plan.md", &fixture(name));
    for (path, content) in files {
        write(&repo.dir, path, content);
    }
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "plan"]);
    let run = repo.loom(&["plan", "import", "plan.md"]);
    assert_eq!(run.code, 0, "{run}");
    repo
}

/// `next --json`: the task it started and its worktree.
fn next(repo: &Repo) -> (String, PathBuf) {
    let started = repo.loom(&["--json", "next"]);
    assert_eq!(started.code, 0, "{started}");
    let json = started.json();
    let id = json["task"]["id"].as_str().unwrap().to_owned();
    let worktree = PathBuf::from(json["worktree"].as_str().unwrap());
    assert!(worktree.is_dir(), "{started}");
    (id, worktree)
}

/// Claim a stage and create its worktree.
fn start(repo: &Repo, stage: &str) -> (String, PathBuf) {
    let claimed = repo.loom(&["--json", "claim", stage]);
    assert_eq!(claimed.code, 0, "{claimed}");
    let added = repo.loom(&["--json", "worktree", "add", stage]);
    assert_eq!(added.code, 0, "{added}");
    let json = added.json();
    (
        json["task"].as_str().unwrap().to_owned(),
        PathBuf::from(json["path"].as_str().unwrap()),
    )
}

fn git_in(repo: &Repo, dir: &Path, args: &[&str]) -> String {
    repo.env.git(dir, args)
}

fn loom_in(repo: &Repo, dir: &Path, args: &[&str]) -> Run {
    repo.env.loom(dir, args)
}

fn commit_all(repo: &Repo, dir: &Path, message: &str) -> String {
    git_in(repo, dir, &["add", "-A"]);
    git_in(repo, dir, &["commit", "-q", "-m", message]);
    git_in(repo, dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

/// The check lines `verify` printed, `pass|FAIL  kind  name`.
fn marks(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|line| line.starts_with("pass  ") || line.starts_with("FAIL  "))
        .collect()
}

fn greeter_script() -> &'static str {
    "#!/bin/sh\necho \"${GREETING}, world\"\n"
}

/// Run the greeter plan whose stages resolve in `dir` ("" for the worktree root) end to end.
fn run_greeter_plan(plan: &str, dir: &str) {
    // The stage's folder exists before the work starts, as it does in a real project.
    let repo = match dir {
        "" => planned(plan),
        dir => planned_with(plan, &[(&format!("{dir}/README.md"), "The app.\n")]),
    };
    let at = |path: &str| {
        if dir.is_empty() {
            path.to_owned()
        } else {
            format!("{dir}/{path}")
        }
    };

    // Stage one: nothing is committed yet, so its checks fail, and done keeps the claim.
    let (greeter, worktree) = next(&repo);
    assert_eq!(repo.show("greeter")["id"], greeter.as_str());
    let early = loom_in(&repo, &worktree, &["done", &greeter]);
    assert_eq!(early.code, 5, "{early}");
    assert!(early.stdout.contains("pass  before_stage"), "{early}");

    write(&worktree, &at("bin/greet.sh"), greeter_script());
    let script = worktree.join(at("bin/greet.sh"));
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    if !dir.is_empty() {
        write(&worktree, &at("package.json"), "{\"name\": \"greeter\"}\n");
    }
    let commit = commit_all(&repo, &worktree, "greeter");

    let run = loom_in(&repo, &worktree, &["verify", &greeter]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run}");
    let expected = [
        "pass  before_stage  test -e bin/greet.sh",
        // Guards: plain commands ran before those with expectations, out of the plan's order.
        "pass  acceptance  sh bin/greet.sh",
        "pass  acceptance  echo ${STAGE_ID} in ${WORKTREE}",
        "pass  acceptance  test \"${PROJECT_ROOT}\" = \"$(pwd -P)\"",
        "pass  truth       test -x bin/greet.sh",
        "pass  after_stage  grep -q GREETING bin/greet.sh",
        "pass  artifact    bin/*.sh",
        "pass  wiring      bin/greet.sh: /echo \"\\$\\{?GREETING/",
        "pass  wiring_test  the script runs on its own",
    ];
    assert_eq!(marks(&run.stdout), expected, "{run}");

    let done = repo.loom(&["--json", "done", &greeter]);
    assert_eq!(done.code, 0, "{done}");
    assert_eq!(done.json()["commit"], commit.as_str(), "{done}");
    assert_eq!(repo.show(&greeter)["commit"], commit.as_str());
    assert_eq!(repo.status_of(&greeter), "done");

    // The work reaches the target branch; stage two starts from it.
    repo.git(&["merge", "-q", "--ff-only", &format!("loom/{greeter}")]);
    let (docs, worktree) = next(&repo);
    assert_eq!(repo.show("docs")["id"], docs.as_str());
    write(&worktree, &at("GREETER.md"), "Run `bin/greet.sh` to be greeted.\n");
    let commit = commit_all(&repo, &worktree, "docs");
    let run = loom_in(&repo, &worktree, &["done", &docs]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        marks(&run.stdout),
        [
            "pass  acceptance  grep -q \"bin/greet.sh\" GREETER.md",
            "pass  artifact    GREETER.md",
            "pass  artifact    bin/greet.sh",
        ],
        "{run}"
    );
    assert_eq!(repo.show(&docs)["commit"], commit.as_str());
    assert_eq!(repo.status_of(&docs), "done");
}

#[test]
fn a_whole_plan_runs_end_to_end_from_the_worktree_root() {
    // Guards: `working_dir: "."` (and `""`) failed every check with `working directory "." is
    // empty`, so no real plan could be finished.
    run_greeter_plan("root.md", "");
}

#[test]
fn a_whole_plan_runs_end_to_end_in_a_subfolder() {
    // Guards: artifacts and wiring sources were looked up at the worktree root instead of
    // under the stage's working_dir.
    run_greeter_plan("subdir.md", "app");
}

#[test]
fn every_check_kind_runs_and_an_unmet_one_fails() {
    // Guards: truths, setup, stderr_empty, before/after_stage and wiring_tests were never run
    // while verify reported a pass; `truths: ["false"]` said "has no checks".
    let repo = planned("kinds.md");
    let run = repo.loom(&["verify", "only-a-false-truth"]);
    assert_eq!(run.code, 5, "{run}");
    assert_eq!(marks(&run.stdout), ["FAIL  truth       false"], "{run}");
    assert!(!run.stderr.contains("has no checks"), "{run}");

    let stored = repo.stored_task(repo.show("noisy")["id"].as_str().unwrap());
    assert_eq!(
        stored["acceptance_checks"][0]["stderr_empty"], true,
        "import keeps stderr_empty"
    );
    let run = repo.loom(&["--json", "verify", "noisy"]);
    assert_eq!(run.code, 5, "{run}");
    let report = run.json();
    let details: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| check["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "stderr is not empty (5 bytes)",
            "exit code 0 as expected",
            "stdout does not contain \"bar\"",
            "exit code 1, expected 0",
            "stderr is not empty (5 bytes)",
        ],
        "{run}"
    );
    let kinds: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| check["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["acceptance", "acceptance", "acceptance", "after_stage", "wiring_test"]
    );

    // Without a task worktree, the work's starting point is where the main working tree's
    // commit left the target branch: its tip, checked out on its own for the check.
    let run = repo.loom(&["--json", "verify", "precondition"]);
    let report = run.json();
    assert_eq!(report["checks"][0]["kind"], "before_stage", "{run}");
    assert_eq!(report["checks"][0]["passed"], true, "{run}");
}

#[test]
fn before_stage_without_a_starting_point_is_not_a_pass() {
    // Guards: a check that cannot run must not be reported as passing.
    let repo = planned("kinds.md");
    let id = repo.show("precondition")["id"].as_str().unwrap().to_owned();
    let elsewhere = repo.env.root().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let run = repo.loom(&["--json", "verify", &id, "--worktree", elsewhere.to_str().unwrap()]);
    assert_eq!(run.code, 5, "{run}");
    let check = &run.json()["checks"][0];
    assert_eq!(check["passed"], false);
    assert!(check["detail"].as_str().unwrap().starts_with("not run: "), "{check}");
}

#[test]
fn done_refuses_uncommitted_work_unless_allowed_and_records_the_commit() {
    // Guards: done accepted work that was never committed and recorded no commit.
    let repo = planned("kinds.md");
    let (task, worktree) = start(&repo, "nothing");
    write(&worktree, "notes.txt", "draft\n");
    let refused = loom_in(&repo, &worktree, &["done", &task]);
    assert_eq!(refused.code, 5, "{refused}");
    let listing = format!(
        "{task}: uncommitted changes in {}:\n  ?? notes.txt\n",
        worktree.display()
    );
    assert_eq!(refused.stdout, listing, "{refused}");
    assert!(refused.stderr.contains("--allow-dirty"), "{refused}");
    let refused = loom_in(&repo, &worktree, &["--json", "done", &task]);
    assert_eq!(refused.code, 5, "{refused}");
    assert_eq!(refused.json()["uncommitted"], serde_json::json!(["?? notes.txt"]));
    assert_eq!(repo.status_of(&task), "claimed");

    // Guards: a branch with no commits ahead of its base was recorded done without a word.
    let allowed = loom_in(&repo, &worktree, &["--json", "done", &task, "--allow-dirty"]);
    assert_eq!(allowed.code, 0, "{allowed}");
    assert!(allowed.stderr.contains("warning: "), "{allowed}");
    assert!(allowed.stderr.contains("no commits beyond"), "{allowed}");
    let head = git_in(&repo, &worktree, &["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(allowed.json()["commit"], head.as_str());
    let stored = repo.stored_task(&task);
    assert_eq!(stored["commit"], head.as_str());
    assert_eq!(stored["done_with_uncommitted"], serde_json::json!(["?? notes.txt"]));
    let log = repo.loom(&["log", &task]).stdout;
    assert!(log.contains(&format!("done by {AGENT} at commit {head}")), "{log}");
}

#[test]
fn verify_judges_the_committed_tree_of_a_task_worktree() {
    // Guards: verify and done judged stray files in the worktree instead of the committed work.
    let repo = planned("kinds.md");
    let (task, worktree) = start(&repo, "committed");
    // An uncommitted file is not the work.
    write(&worktree, "lib/answer.txt", "42\n");
    let run = loom_in(&repo, &worktree, &["verify", &task]);
    assert_eq!(run.code, 5, "{run}");
    assert!(
        run.stderr.contains("1 uncommitted change(s), which are not checked"),
        "{run}"
    );
    assert_eq!(marks(&run.stdout), ["FAIL  artifact    lib/answer.txt"], "{run}");
    let json = loom_in(&repo, &worktree, &["--json", "verify", &task]).json();
    let head = git_in(&repo, &worktree, &["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(json["checked_commit"], head.as_str());
    assert_eq!(json["uncommitted"], serde_json::json!(["?? lib/answer.txt"]));

    // Committed, it is; an uncommitted edit breaking it afterwards does not count either.
    commit_all(&repo, &worktree, "answer");
    write(&worktree, "lib/answer.txt", "TODO\n");
    let run = loom_in(&repo, &worktree, &["verify", &task]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(marks(&run.stdout), ["pass  artifact    lib/answer.txt"], "{run}");
    let leftovers = repo.git(&["worktree", "list", "--porcelain"]);
    assert!(
        !leftovers.contains("loom/verify"),
        "the temporary checkout is removed:\n{leftovers}"
    );
}

#[test]
fn a_working_dir_leaving_the_worktree_is_refused_at_import() {
    // Guards: `working_dir: ".."` or an absolute path was accepted and used.
    let repo = Repo::new();
    let plan = fixture("root.md").replace("working_dir: \".\"", "working_dir: \"../elsewhere\"");
    write(&repo.dir, "plan.md", &plan);
    let run = repo.loom(&["plan", "import", "plan.md"]);
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr
            .contains("stage `greeter` has working_dir \"../elsewhere\", which leaves the worktree through `..`"),
        "{run}"
    );
    let tasks: Value = repo.json(&["list"]);
    assert_eq!(tasks, serde_json::json!([]));
}
