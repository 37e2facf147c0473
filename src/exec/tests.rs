//! Supervision of child processes: streams, tails, needles, stdin, environment, timeouts,
//! process groups and the long-running handle.

use std::time::{Duration, Instant};

use super::capture::Capture;
use super::*;

fn shell(script: &str) -> Spec {
    Spec::shell(script)
}

/// Run with a generous timeout, for commands that end by themselves.
fn finish(spec: &Spec) -> Outcome {
    run(spec, Some(Duration::from_secs(20))).unwrap()
}

/// Whether a process with this id is still running: a zombie waiting to be reaped (by an init
/// that may never do so in a container) is not.
fn running(pid: &str) -> bool {
    let stat = std::path::Path::new("/proc").join(pid).join("stat");
    if std::path::Path::new("/proc/self/stat").exists() {
        return std::fs::read_to_string(stat)
            .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')));
    }
    std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Whether the process is still running a few seconds on: a killed process closes its files
/// a moment before it is seen to have ended.
fn alive(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid) {
        if Instant::now() > deadline {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn exit_codes_and_signals_are_told_apart() {
    assert_eq!(finish(&shell("exit 3")).ending, Ending::Exited(Exit::Code(3)));
    assert_eq!(finish(&shell("true")).ending, Ending::Exited(Exit::Code(0)));
    assert_eq!(finish(&shell("kill -9 $$")).ending, Ending::Exited(Exit::Signal(9)));
    let program = finish(&Spec::program("printf", ["%s-%s", "a", "b"]));
    assert_eq!(program.stdout.text(), "a-b");
}

#[test]
fn a_program_that_cannot_start_is_an_error() {
    let err = run(&Spec::program("/nonexistent/program", ["x"]), None).unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }), "{err}");
    assert!(
        err.to_string().starts_with("could not start /nonexistent/program: "),
        "{err}"
    );
}

// Guards: the needles were once looked for only in the kept tail, so a line printed early in a
// long output was missed.
#[test]
fn needles_are_looked_for_beyond_the_kept_tail() {
    let mut spec = shell("echo 'EARLY MARKER'; head -c 100000 /dev/zero | tr '\\0' x");
    spec.stdout_needles = vec!["EARLY MARKER".to_owned(), "absent".to_owned()];
    let outcome = finish(&spec);
    assert_eq!(outcome.stdout.found, [true, false]);
    assert!(!outcome.stdout.text().contains("EARLY MARKER"));
    assert_eq!(outcome.stdout.total, 100_013);
}

#[test]
fn needles_split_between_reads_are_found() {
    let mut capture = Capture::new(4096, &["split needle".to_owned(), "absent".to_owned(), String::new()]);
    capture.push(b"first a spl");
    capture.push(b"it nee");
    capture.push(b"dle and more");
    let output = capture.output();
    assert_eq!(output.found, [true, false, true]);
    assert_eq!(output.text(), "first a split needle and more");
}

#[test]
fn environment_additions_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(dir.path()).unwrap();
    let spec = shell("printf '%s|%s|%s' \"$EXEC_A\" \"$EXEC_B\" \"$(pwd -P)\"")
        .dir(&dir)
        .env("EXEC_A", "first")
        .env("EXEC_B", "one")
        .env("EXEC_B", "later wins");
    assert_eq!(
        finish(&spec).stdout.text(),
        format!("first|later wins|{}", dir.display())
    );
}

#[test]
fn stdin_is_null() {
    let outcome = finish(&shell("cat; echo done"));
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    assert_eq!(outcome.stdout.text(), "done\n");
}

// Guards: a timeout that killed only the shell left its background processes running, holding
// the output pipes, so the run never ended.
#[test]
fn timeout_kills_the_whole_group() {
    let started = Instant::now();
    let outcome = run(&shell("sleep 30 & echo $!; sleep 30"), Some(Duration::from_secs(1))).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert!(outcome.duration >= Duration::from_secs(1));
    let background = outcome.stdout.text();
    assert!(!alive(background.trim()), "{background} survived");
}

#[test]
fn a_process_left_holding_the_output_is_reported_and_killed() {
    let started = Instant::now();
    let outcome = run(&shell("sleep 30 & echo $!"), Some(Duration::from_secs(1))).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.ending, Ending::LeftBehind(Exit::Code(0)));
    let background = outcome.stdout.text();
    assert!(!alive(background.trim()), "{background} survived");
}

#[test]
fn tails_keep_the_end_and_say_what_was_cut() {
    let mut spec = shell("head -c 10000 /dev/zero | tr '\\0' a; echo END; head -c 5000 /dev/zero | tr '\\0' e >&2");
    spec.tail_bytes = 4096;
    let outcome = finish(&spec);
    assert_eq!(outcome.stdout.total, 10004);
    assert_eq!(outcome.stdout.tail.len(), 4096);
    let stdout = outcome.stdout.text();
    assert!(
        stdout.starts_with(&format!("[{} earlier bytes cut]\n", 10004 - 4096)),
        "{}",
        &stdout[..40]
    );
    assert!(stdout.ends_with("aEND\n"));
    assert!(
        outcome
            .stderr
            .text()
            .starts_with(&format!("[{} earlier bytes cut]\n", 5000 - 4096))
    );
}

#[test]
fn a_chatty_command_cannot_deadlock() {
    let outcome = finish(&shell(
        "head -c 1000000 /dev/zero >&2; head -c 1000000 /dev/zero; head -c 1000000 /dev/zero >&2",
    ));
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    assert_eq!((outcome.stdout.total, outcome.stderr.total), (1_000_000, 2_000_000));
}

#[test]
fn cuts_fall_on_character_boundaries() {
    let mut capture = Capture::new(4096, &[]);
    // 6000 bytes of three-byte characters: keeping the last 4096 would start one byte into
    // a character, so that byte is cut as well.
    capture.push("€".repeat(2000).as_bytes());
    let text = capture.output().text();
    assert!(!text.contains('\u{FFFD}'));
    assert!(text.starts_with("[1905 earlier bytes cut]\n€"), "{}", &text[..30]);
}

#[test]
fn a_running_child_can_be_looked_at_and_killed_with_its_group() {
    let mut running = Running::spawn(&shell("sleep 30 & echo $!; echo ready >&2; sleep 30")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.tails().1.total == 0 {
        assert!(Instant::now() < deadline, "no output");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(running.try_wait().unwrap(), None);
    let background = running.tails().0.text();
    running.kill_group();
    let outcome = running.wait(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Signal(9)));
    assert_eq!(outcome.stderr.text(), "ready\n");
    assert!(!alive(background.trim()), "{background} survived");
}

#[test]
fn a_dropped_handle_kills_its_group() {
    let running = Running::spawn(&shell("echo $$; sleep 30")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.tails().0.total == 0 {
        assert!(Instant::now() < deadline, "no output");
        std::thread::sleep(Duration::from_millis(5));
    }
    let shell_pid = running.tails().0.text();
    drop(running);
    assert!(!alive(shell_pid.trim()), "{shell_pid} survived");
}

// Guards: a session's log missing one of the streams, or being overwritten instead of appended.
#[test]
fn a_log_file_gets_both_streams_appended() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs").join("one.log");
    let mut spec = shell("echo out; echo err >&2");
    spec.log = Some(log.clone());
    let outcome = finish(&spec);
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    finish(&spec);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().filter(|line| *line == "out").count(), 2, "{text}");
    assert_eq!(text.lines().filter(|line| *line == "err").count(), 2, "{text}");
    assert_eq!(outcome.stdout.text(), "out\n", "the tail is kept as before");
}

// Guards: the SIGTERM a stopping runner sends missing the agent's children.
#[cfg(unix)]
#[test]
fn a_group_signal_reaches_the_whole_group() {
    let mut running = Running::spawn(&shell("sleep 30 & sleep 30; wait")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    running.signal_group(libc::SIGTERM);
    let started = Instant::now();
    let outcome = running.wait(Some(Duration::from_secs(10))).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "{outcome:?}");
    assert_eq!(outcome.ending, Ending::Exited(Exit::Signal(libc::SIGTERM)));
}
