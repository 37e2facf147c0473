//! Library-level tests of testing a candidate: real repositories, real `git`, real processes.
//! A command's side effects (a line appended to a file outside the repository) prove whether it
//! ran, so a cache answer is told apart from a run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{TAIL_LINES, TestProgress, TestSpec};
use crate::loom::testing::{Fixture, actor};
use crate::loom::{Error, Loom};
use crate::model::state::Kind;
use crate::model::{Task, TestResult};
use crate::store::{self, ObjectId, test_result_ref};
use crate::tasks::NewTask;

/// Run `git args` in `dir`, isolated from the user's configuration, and return its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs because the tests need a git executable");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn oid(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.as_bytes()).expect("git printed an object id")
}

/// Commit `files` (path, content) in the main checkout; the commit and its tree.
fn commit(dir: &Path, files: &[(&str, &str)], message: &str) -> (ObjectId, ObjectId) {
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    (
        oid(&git(dir, &["rev-parse", "HEAD"])),
        oid(&git(dir, &["rev-parse", "HEAD^{tree}"])),
    )
}

/// A spec running `command` alone, with a generous timeout.
fn spec(command: &str) -> TestSpec {
    TestSpec {
        command: command.to_owned(),
        tasks: Vec::new(),
        timeout: Duration::from_secs(120),
    }
}

/// A file outside the repository a command appends a line to each time it runs, and the
/// command fragment doing it.
struct Counter {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Counter {
    fn new() -> Counter {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs");
        Counter { _dir: dir, path }
    }

    fn bump(&self) -> String {
        format!("echo ran >> '{}'", self.path.display())
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(&self.path).map_or(0, |text| text.lines().count())
    }
}

fn test(loom: &Loom, (candidate, tree): (ObjectId, ObjectId), spec: &TestSpec, retest: bool) -> super::TestOutcome {
    loom.test_candidate(candidate, tree, spec, retest, &actor("merger", 10), |_| {})
        .expect("the candidate is tested")
}

/// The record the cache holds for `spec` on `tree`, and its tip.
fn cached(loom: &Loom, spec: &TestSpec, tree: ObjectId) -> (TestResult, ObjectId) {
    let ref_name = test_result_ref(&spec.digest(), &tree.to_string());
    let tip = loom.store().tip(&ref_name).unwrap().expect("a result is recorded");
    let (record, _) = loom.store().read_entity::<TestResult>(&ref_name, tip, None).unwrap();
    (record, tip)
}

fn task_with_acceptance(fx: &Fixture, acceptance: &[&str]) -> Task {
    let mut new = NewTask::titled("feature", Kind::Task);
    new.acceptance = acceptance.iter().map(|command| (*command).to_owned()).collect();
    let id = fx.create(new, 1);
    fx.get(&id)
}

// Guards: a passing candidate being run again for a tree the cache already passed, and the
// result not being recorded under (spec digest, tree).
#[test]
fn a_pass_is_recorded_and_answers_the_next_run_without_running() {
    let fx = Fixture::new();
    let candidate = commit(fx.path(), &[("a.txt", "a\n")], "a");
    let counter = Counter::new();
    let spec = spec(&format!("{} && echo all good", counter.bump()));

    let mut events = Vec::new();
    let first = fx
        .loom
        .test_candidate(candidate.0, candidate.1, &spec, false, &actor("merger", 10), |event| {
            events.push(match event {
                TestProgress::Started { name } => format!("started {name}"),
                TestProgress::Output { .. } => "output".to_owned(),
                TestProgress::Finished { run } => format!("finished {} {}", run.name, run.passed),
            })
        })
        .unwrap();
    assert!(first.passed && !first.cached, "{first:?}");
    assert_eq!(first.runs.len(), 1);
    assert_eq!(first.runs[0].exit_code, Some(0));
    assert_eq!(first.runs[0].tail, "all good");
    assert_eq!(counter.runs(), 1);
    assert_eq!(events.first().unwrap(), &format!("started {}", spec.command));
    assert_eq!(events.last().unwrap(), &format!("finished {} true", spec.command));

    let (record, _) = cached(&fx.loom, &spec, candidate.1);
    assert!(record.passed);
    assert_eq!(record.candidate, candidate.0.to_string());
    assert_eq!(record.spec, spec.digest());
    assert_eq!(record.by, "merger");

    let second = test(&fx.loom, candidate, &spec, true);
    assert!(second.passed && second.cached, "{second:?}");
    assert!(second.runs.iter().all(|run| run.cached));
    assert_eq!(counter.runs(), 1, "a cached pass must not run the command again");
}

// Guards: a failure losing its output, its exit code, or being answered from the cache when a
// retest was asked for (a flaky test would then never get its second chance).
#[test]
fn a_failure_keeps_its_tail_and_is_retested_only_when_asked() {
    let fx = Fixture::new();
    let candidate = commit(fx.path(), &[("a.txt", "a\n")], "a");
    let counter = Counter::new();
    let spec = spec(&format!(
        "{}; for i in $(seq 1 60); do echo out$i; done; echo to-stderr >&2; exit 3",
        counter.bump()
    ));

    let first = test(&fx.loom, candidate, &spec, false);
    assert!(!first.passed && !first.cached);
    let run = &first.runs[0];
    assert_eq!(run.exit_code, Some(3));
    let lines: Vec<&str> = run.tail.lines().collect();
    assert_eq!(lines.len(), TAIL_LINES);
    assert_eq!(lines.last(), Some(&"to-stderr"), "stderr is joined to stdout in order");
    assert_eq!(lines[lines.len() - 2], "out60");
    assert!(!lines.contains(&"out1"));
    let (_, failed_tip) = cached(&fx.loom, &spec, candidate.1);

    let answered = test(&fx.loom, candidate, &spec, false);
    assert!(!answered.passed && answered.cached);
    assert_eq!(answered.runs[0].tail, run.tail);
    assert_eq!(counter.runs(), 1);

    let retested = test(&fx.loom, candidate, &spec, true);
    assert!(!retested.passed && !retested.cached);
    assert_eq!(counter.runs(), 2);
    let (_, new_tip) = cached(&fx.loom, &spec, candidate.1);
    assert_ne!(new_tip, failed_tip);
    let version = fx.loom.store().read_version("retest", new_tip).unwrap();
    assert_eq!(
        version.parents,
        [failed_tip],
        "a retest replaces the old result on top of it"
    );
}

// Guards: a task's acceptance checks being skipped on the candidate, run somewhere other than
// the exact candidate commit, or a failing check not failing the candidate.
#[test]
fn the_tasks_acceptance_checks_judge_the_candidate() {
    let fx = Fixture::new();
    commit(fx.path(), &[("a.txt", "a\n")], "base");
    let task = task_with_acceptance(
        &fx,
        &[
            "test -f feature.txt",
            "test \"$LOOM_MERGE_CANDIDATE\" = \"$(git rev-parse HEAD)\"",
        ],
    );
    let without = commit(fx.path(), &[("b.txt", "b\n")], "no feature");
    let spec = TestSpec {
        command: String::new(),
        tasks: vec![task.clone()],
        timeout: Duration::from_secs(120),
    };
    let failed = test(&fx.loom, without, &spec, false);
    assert!(!failed.passed);
    assert_eq!(
        failed.runs[0].name,
        format!("{} acceptance: test -f feature.txt", task.id)
    );
    assert!(!failed.runs[0].passed);

    let with = commit(fx.path(), &[("feature.txt", "f\n")], "feature");
    let passed = test(&fx.loom, with, &spec, false);
    assert!(passed.passed, "{passed:?}");
    assert_eq!(passed.runs.len(), 2);

    // A failing test command stops the run before the checks.
    let spec = TestSpec {
        command: "exit 1".into(),
        ..spec
    };
    let stopped = test(&fx.loom, with, &spec, false);
    assert!(!stopped.passed);
    assert_eq!(stopped.runs.len(), 1);
}

// Guards: the merge worktree being made afresh each run (cold build caches) or keeping
// untracked files of an earlier candidate (a test passing on files the candidate lacks).
#[test]
fn the_merge_worktree_is_reused_keeping_ignored_files_only() {
    let fx = Fixture::new();
    let first = commit(fx.path(), &[(".gitignore", "build/\n")], "ignore build");
    let warm = spec("mkdir -p build && echo cached > build/out && echo stray > untracked.txt");
    assert!(test(&fx.loom, first, &warm, false).passed);
    let dir = fx.loom.merge_worktree_path();
    assert!(dir.join("untracked.txt").is_file());

    let second = commit(fx.path(), &[("b.txt", "b\n")], "b");
    let check = spec("test -f build/out && test ! -e untracked.txt && test -f b.txt");
    let outcome = test(&fx.loom, second, &check, false);
    assert!(outcome.passed, "{outcome:?}");
    let common = PathBuf::from(git(fx.path(), &["rev-parse", "--git-common-dir"]));
    let common = fx.path().join(common).canonicalize().unwrap();
    assert_eq!(dir.canonicalize().unwrap(), common.join("loom").join("merge-worktree"));
}

// Guards: testing a candidate touching the user's checkout, index, HEAD or branches.
#[test]
fn the_users_checkout_and_branches_are_untouched() {
    let fx = Fixture::new();
    commit(fx.path(), &[("a.txt", "a\n")], "a");
    git(fx.path(), &["branch", "feature"]);
    let candidate = commit(fx.path(), &[("a.txt", "changed\n")], "b");
    git(fx.path(), &["reset", "-q", "--hard", "HEAD~1"]);
    std::fs::write(fx.path().join("a.txt"), "work in progress\n").unwrap();
    std::fs::write(fx.path().join("new.txt"), "untracked\n").unwrap();
    let before = (
        git(fx.path(), &["status", "--porcelain"]),
        git(fx.path(), &["rev-parse", "HEAD"]),
        git(fx.path(), &["for-each-ref", "refs/heads"]),
    );

    assert!(test(&fx.loom, candidate, &spec("grep changed a.txt"), false).passed);
    let after = (
        git(fx.path(), &["status", "--porcelain"]),
        git(fx.path(), &["rev-parse", "HEAD"]),
        git(fx.path(), &["for-each-ref", "refs/heads"]),
    );
    assert_eq!(before, after);
    assert_eq!(
        std::fs::read_to_string(fx.path().join("a.txt")).unwrap(),
        "work in progress\n"
    );
}

// Guards: a hanging test command holding the merge queue forever.
#[test]
fn a_command_past_its_timeout_is_killed_and_fails() {
    let fx = Fixture::new();
    let candidate = commit(fx.path(), &[("a.txt", "a\n")], "a");
    let spec = TestSpec {
        timeout: Duration::from_millis(300),
        ..spec("echo starting; sleep 30")
    };
    let outcome = test(&fx.loom, candidate, &spec, false);
    assert!(!outcome.passed);
    let run = &outcome.runs[0];
    assert_eq!(run.exit_code, None);
    assert!(run.seconds < 25.0, "{run:?}");
    assert!(
        run.tail.starts_with("starting\n") && run.tail.contains("timed out"),
        "{run:?}"
    );
}

// Guards: a result recorded for one test command answering for another (a changed command, or
// a task's changed checks, reusing a stale pass).
#[test]
fn a_changed_command_or_check_is_not_answered_from_the_cache() {
    let fx = Fixture::new();
    let candidate = commit(fx.path(), &[("a.txt", "a\n")], "a");
    let counter = Counter::new();
    let one = spec(&counter.bump());
    let two = spec(&format!("{} && true", counter.bump()));
    assert_ne!(one.digest(), two.digest());
    assert_eq!(one.digest(), spec(&counter.bump()).digest());
    assert!(test(&fx.loom, candidate, &one, false).passed);
    assert!(!test(&fx.loom, candidate, &two, false).cached);
    assert_eq!(counter.runs(), 2);

    // Checks are keyed by content: the same task with another acceptance command differs,
    // and the order tasks are given in does not matter.
    let a = task_with_acceptance(&fx, &["true"]);
    let b = task_with_acceptance(&fx, &["test -f a.txt"]);
    let mut a_changed = a.clone();
    a_changed.acceptance = vec!["false".into()];
    let with = |tasks: Vec<Task>| TestSpec { tasks, ..one.clone() };
    assert_ne!(with(vec![a.clone()]).digest(), with(vec![a_changed]).digest());
    assert_ne!(with(vec![a.clone()]).digest(), one.digest());
    assert_eq!(with(vec![a.clone(), b.clone()]).digest(), with(vec![b, a]).digest());
    assert_eq!(one.digest().len(), 64);
}

// Guards: a damaged cache record failing the merge, or being believed.
#[test]
fn a_corrupt_cache_record_is_a_warning_and_is_replaced() {
    let fx = Fixture::new();
    let candidate = commit(fx.path(), &[("a.txt", "a\n")], "a");
    let counter = Counter::new();
    let spec = spec(&counter.bump());
    let ref_name = test_result_ref(&spec.digest(), &candidate.1.to_string());
    fx.force_version(&ref_name, &[("result.json", b"{\"schema\": 1, \"passed\": tr")], None);
    let damaged = fx.tip(&ref_name).unwrap();

    let outcome = test(&fx.loom, candidate, &spec, false);
    assert!(outcome.passed && !outcome.cached);
    assert_eq!(counter.runs(), 1);
    assert_eq!(outcome.warnings.len(), 1);
    match &outcome.warnings[0] {
        Error::Store(store::Error::Corrupt { ref_name: named, .. }) => assert_eq!(named, &ref_name),
        other => panic!("expected a corrupt record warning, got {other:?}"),
    }
    let (record, tip) = cached(&fx.loom, &spec, candidate.1);
    assert!(record.passed);
    let version = fx.loom.store().read_version(&ref_name, tip).unwrap();
    assert_eq!(version.parents, [damaged]);
    assert!(test(&fx.loom, candidate, &spec, false).cached);
}

// Guards: a merge worktree deleted by hand (or no longer known to git) wedging every later run.
#[test]
fn a_deleted_merge_worktree_is_made_again() {
    let fx = Fixture::new();
    let first = commit(fx.path(), &[("a.txt", "a\n")], "a");
    assert!(test(&fx.loom, first, &spec("test -f a.txt"), false).passed);
    std::fs::remove_dir_all(fx.loom.merge_worktree_path()).unwrap();
    let second = commit(fx.path(), &[("b.txt", "b\n")], "b");
    assert!(test(&fx.loom, second, &spec("test -f b.txt"), false).passed);

    // Registered no more, but its directory still there.
    git(
        fx.path(),
        &["worktree", "remove", "--force", "--force"]
            .into_iter()
            .chain([fx.loom.merge_worktree_path().to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    std::fs::create_dir_all(fx.loom.merge_worktree_path().join("junk")).unwrap();
    std::fs::write(fx.loom.merge_worktree_path().join(".git"), "gitdir: /nowhere\n").unwrap();
    let third = commit(fx.path(), &[("c.txt", "c\n")], "c");
    assert!(test(&fx.loom, third, &spec("test -f c.txt && test ! -e junk"), false).passed);
}

// Guards: a candidate tested under the tree id of another commit, which would file its
// verdict under the wrong key.
#[test]
fn a_tree_that_is_not_the_candidates_is_refused() {
    let fx = Fixture::new();
    let first = commit(fx.path(), &[("a.txt", "a\n")], "a");
    let second = commit(fx.path(), &[("b.txt", "b\n")], "b");
    let err = fx
        .loom
        .test_candidate(second.0, first.1, &spec("true"), false, &actor("merger", 10), |_| {})
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

// Guards: a repository without a working tree (a bare clone on a server) being unable to test.
#[test]
fn a_bare_repository_tests_in_its_own_merge_worktree() {
    let fx = Fixture::new();
    let candidate = commit(fx.path(), &[("a.txt", "a\n")], "a");
    let bare = tempfile::tempdir().unwrap();
    let bare_path = bare.path().join("repo.git");
    git(
        fx.path(),
        &["clone", "-q", "--mirror", ".", bare_path.to_str().unwrap()],
    );
    let loom = Loom::open(&bare_path).unwrap();
    assert!(test(&loom, candidate, &spec("test -f a.txt"), false).passed);
    assert!(loom.merge_worktree_path().starts_with(&bare_path));
}

// Guards: a long test command showing nothing until it ends (a live display needs its output
// as it comes).
#[test]
fn a_running_command_reports_its_newest_output_line() {
    let fx = Fixture::new();
    let candidate = commit(fx.path(), &[("a.txt", "a\n")], "a");
    let spec = spec("echo compiling; sleep 1; echo finished");
    let mut lines = Vec::new();
    let outcome = fx
        .loom
        .test_candidate(candidate.0, candidate.1, &spec, false, &actor("merger", 10), |event| {
            if let TestProgress::Output { name, line } = event {
                assert_eq!(name, spec.command);
                lines.push(line.to_owned());
            }
        })
        .unwrap();
    assert!(outcome.passed);
    assert_eq!(lines.first().map(String::as_str), Some("compiling"), "{lines:?}");
    assert_eq!(outcome.runs[0].tail, "compiling\nfinished");
}

// Guards: asking for a commit the repository lacks throwing away the warm merge worktree.
#[test]
fn checking_out_a_missing_commit_keeps_the_merge_worktree() {
    let fx = Fixture::new();
    let candidate = commit(fx.path(), &[(".gitignore", "build/\n")], "a");
    let dir = fx.loom.checkout_candidate(candidate.0).unwrap();
    std::fs::create_dir_all(dir.join("build")).unwrap();
    std::fs::write(dir.join("build/out"), "warm\n").unwrap();
    let missing = oid(&"1".repeat(40));
    assert!(fx.loom.checkout_candidate(missing).is_err());
    assert!(dir.join("build/out").is_file());
}
