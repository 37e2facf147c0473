//! Judging one command: exit codes, output conditions, environment and directory, what a
//! timeout and a process left behind are reported as, output tails in the report. How the
//! process is supervised is tested in `exec`.

use std::fs;
use std::time::Instant;

use super::*;

fn context(worktree: &Path, timeout: Duration) -> Context {
    Context {
        task: "loom-0000abcd".to_owned(),
        worktree: worktree.to_path_buf(),
        env: vec![("LOOM_EXTRA".to_owned(), "extra value".to_owned())],
        timeout,
        stage: None,
        before: super::super::BeforeTree::Unavailable("no base".to_owned()),
    }
}

/// Run in a fresh directory with a generous timeout, for commands that end by themselves.
fn run(acceptance: &Check) -> CheckResult {
    let dir = tempfile::tempdir().unwrap();
    let worktree = fs::canonicalize(dir.path()).unwrap();
    super::acceptance(acceptance, &context(&worktree, Duration::from_secs(20)), &worktree)
}

#[test]
fn exit_codes_decide() {
    let ok = run(&Check::new("true"));
    assert!(ok.passed, "{}", ok.detail);
    assert_eq!(ok.exit_code, Some(0));
    assert_eq!(ok.kind, CheckKind::Acceptance);
    assert_eq!(ok.name, "true");

    let failed = run(&Check::new("echo nope >&2; exit 3"));
    assert!(!failed.passed);
    assert_eq!(failed.exit_code, Some(3));
    assert_eq!(failed.detail, "exit code 3, expected 0");
    assert_eq!(failed.stderr, "nope\n");
}

#[test]
fn expected_exit_code_is_honoured() {
    let expect_two = |command: &str| Check {
        exit_code: Some(2),
        ..Check::new(command)
    };
    assert!(run(&expect_two("exit 2")).passed);
    let zero = run(&expect_two("true"));
    assert!(!zero.passed);
    assert_eq!(zero.detail, "exit code 0, expected 2");
}

#[test]
fn stdout_conditions() {
    let check = |command: &str| Check {
        stdout_contains: vec!["test result: ok".to_owned(), "2 passed".to_owned()],
        stdout_not_contains: vec!["FAILED".to_owned()],
        ..Check::new(command)
    };
    assert!(run(&check("echo 'test result: ok. 2 passed'")).passed);

    let missing = run(&check("echo 'test result: ok. 1 passed'"));
    assert!(!missing.passed);
    assert_eq!(missing.detail, "stdout does not contain \"2 passed\"");

    let forbidden = run(&check("echo 'test result: ok. 2 passed'; echo FAILED; exit 1"));
    assert!(!forbidden.passed);
    assert_eq!(forbidden.detail, "exit code 1, expected 0; stdout contains \"FAILED\"");

    // Text only on stderr does not count as stdout.
    assert!(!run(&check("echo 'test result: ok. 2 passed' >&2")).passed);
}

#[test]
fn stdout_is_searched_beyond_the_kept_tail() {
    let acceptance = Check {
        stdout_contains: vec!["EARLY MARKER".to_owned()],
        ..Check::new("echo 'EARLY MARKER'; head -c 100000 /dev/zero | tr '\\0' x")
    };
    let result = run(&acceptance);
    assert!(result.passed, "{}", result.detail);
    assert!(!result.stdout.contains("EARLY MARKER"));
}

#[test]
fn environment_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let worktree = fs::canonicalize(dir.path()).unwrap();
    fs::create_dir(worktree.join("sub")).unwrap();
    let script = "printf '%s|%s|%s|%s' \"$LOOM_TASK\" \"$LOOM_WORKTREE\" \"$LOOM_EXTRA\" \"$(pwd -P)\"";
    let context = context(&worktree, Duration::from_secs(20));

    let result = super::acceptance(&Check::new(script), &context, &worktree);
    assert!(result.passed, "{}", result.detail);
    let root = worktree.display();
    assert_eq!(result.stdout, format!("loom-0000abcd|{root}|extra value|{root}"));

    let in_sub = Check {
        working_dir: Some("sub".to_owned()),
        ..Check::new(script)
    };
    let result = super::acceptance(&in_sub, &context, &worktree);
    assert_eq!(result.stdout, format!("loom-0000abcd|{root}|extra value|{root}/sub"));

    let missing = Check {
        working_dir: Some("nowhere".to_owned()),
        ..Check::new("true")
    };
    let result = super::acceptance(&missing, &context, &worktree);
    assert!(!result.passed);
    assert_eq!(
        result.detail,
        "working directory nowhere does not exist in the worktree"
    );

    let outside = Check {
        working_dir: Some("..".to_owned()),
        ..Check::new("true")
    };
    assert!(
        super::acceptance(&outside, &context, &worktree)
            .detail
            .contains("leaves the worktree")
    );
}

#[test]
fn timeout_kills_the_command_and_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let worktree = fs::canonicalize(dir.path()).unwrap();
    let context = context(&worktree, Duration::from_secs(1));
    let started = Instant::now();
    // The background sleep holds the output pipes too: the run ends only if it is killed.
    let result = super::acceptance(&Check::new("sleep 30 & sleep 30"), &context, &worktree);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(!result.passed);
    assert_eq!(result.detail, "timed out after 1s");
    assert_eq!(result.exit_code, None);
    assert!(result.duration_ms >= 1000);
}

#[test]
fn a_process_left_holding_the_output_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let worktree = fs::canonicalize(dir.path()).unwrap();
    let context = context(&worktree, Duration::from_secs(1));
    let started = Instant::now();
    let result = super::acceptance(&Check::new("sleep 30 & echo started"), &context, &worktree);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(!result.passed);
    assert!(result.detail.contains("kept its output open"), "{}", result.detail);
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(result.stdout, "started\n");
}

#[test]
fn output_keeps_the_end_and_says_what_was_cut() {
    let result = run(&Check::new(
        "head -c 10000 /dev/zero | tr '\\0' a; echo END; head -c 5000 /dev/zero | tr '\\0' e >&2",
    ));
    assert!(result.passed, "{}", result.detail);
    let cut = 10004 - OUTPUT_TAIL_BYTES;
    assert!(
        result.stdout.starts_with(&format!("[{cut} earlier bytes cut]\n")),
        "{}",
        &result.stdout[..40]
    );
    assert!(result.stdout.ends_with("aEND\n"));
    assert!(
        result
            .stderr
            .starts_with(&format!("[{} earlier bytes cut]\n", 5000 - OUTPUT_TAIL_BYTES))
    );
}

#[test]
fn signals_and_durations_read_well() {
    let result = run(&Check::new("kill -9 $$"));
    assert!(!result.passed);
    assert_eq!(result.exit_code, None);
    assert_eq!(result.detail, "killed by signal 9");
    assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
    assert_eq!(seconds(Duration::from_millis(250)), "0.25s");
}
