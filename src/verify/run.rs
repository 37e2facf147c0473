//! Running one check command (acceptance, truth, before/after-stage, wiring test, dead code)
//! and judging its result.
//!
//! Guarantees: the command runs as `sh -c <script>` in the directory it is given (inside the
//! tree being checked) with stdin null, the caller's environment additions, then `LOOM_TASK`
//! and `LOOM_WORKTREE`; it never runs longer than the timeout plus a short grace for collecting
//! output; stdout and stderr are read concurrently, so a child that fills one pipe while the
//! other is being read cannot deadlock; `stdout_contains`, `stdout_not_contains`,
//! `stderr_contains` and `stderr_empty` are judged on the whole streams, while only their last
//! [`OUTPUT_TAIL_BYTES`] are kept for the report.
//!
//! On unix the command leads its own process group, and a timeout kills that whole group
//! (`kill -KILL -- -<pgid>`, the group of the process started here and no other), so
//! background processes it started die with it. The group is also killed when the command
//! exits but a process it started keeps its output open past the timeout; the check then fails,
//! since the run left a process behind. A process that left the group (with `setsid`, say) and
//! still holds the output is not waited for beyond a 2 s grace: the output read so far is
//! reported, and the thread reading it ends when that process closes it.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::glob::working_dir;
use super::{Check, CheckKind, CheckResult, Context};

/// How much of the end of stdout and of stderr a report keeps.
pub const OUTPUT_TAIL_BYTES: usize = 4096;

/// How long to wait for output pipes to close once their processes have been killed.
const READER_GRACE: Duration = Duration::from_secs(2);

/// The longest pause between two looks at whether the command has exited: short, so a quick
/// command is not held up, and long enough not to keep a core busy while a slow one runs.
const MAX_POLL: Duration = Duration::from_millis(20);

/// One output stream as read so far.
struct Capture {
    /// The end of the stream; up to twice [`OUTPUT_TAIL_BYTES`] so it is trimmed in batches.
    tail: Vec<u8>,
    total: u64,
    needles: Vec<Vec<u8>>,
    found: Vec<bool>,
    /// The last bytes of the stream, one fewer than the longest needle, so a needle split
    /// between two reads is still found.
    carry: Vec<u8>,
}

impl Capture {
    fn new(needles: &[String]) -> Capture {
        let needles: Vec<Vec<u8>> = needles.iter().map(|needle| needle.as_bytes().to_vec()).collect();
        let found = needles.iter().map(Vec::is_empty).collect();
        Capture {
            tail: Vec::new(),
            total: 0,
            needles,
            found,
            carry: Vec::new(),
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        if self.found.contains(&false) {
            let mut window = std::mem::take(&mut self.carry);
            window.extend_from_slice(chunk);
            for (needle, found) in self.needles.iter().zip(self.found.iter_mut()) {
                if !*found && window.windows(needle.len()).any(|part| part == needle.as_slice()) {
                    *found = true;
                }
            }
            let keep = self.needles.iter().map(Vec::len).max().unwrap_or(0).saturating_sub(1);
            self.carry = window.split_off(window.len().saturating_sub(keep));
        }
        self.tail.extend_from_slice(chunk);
        if self.tail.len() > 2 * OUTPUT_TAIL_BYTES {
            self.tail.drain(..self.tail.len() - OUTPUT_TAIL_BYTES);
        }
    }

    /// The kept end of the stream as text, opening with how many bytes were cut before it.
    fn text(&self) -> String {
        let mut kept = &self.tail[self.tail.len().saturating_sub(OUTPUT_TAIL_BYTES)..];
        if (kept.len() as u64) < self.total {
            // Start on a character boundary rather than with a broken character.
            while let Some((&byte, rest)) = kept.split_first()
                && byte & 0xC0 == 0x80
            {
                kept = rest;
            }
        }
        let cut = self.total - kept.len() as u64;
        let body = String::from_utf8_lossy(kept);
        if cut == 0 {
            body.into_owned()
        } else {
            format!("[{cut} earlier bytes cut]\n{body}")
        }
    }
}

/// A reader that panicked part-way through a push leaves at worst a slightly wrong tail or count,
/// which is better than losing the whole result, so a poisoned lock is used as it is.
fn lock(capture: &Mutex<Capture>) -> MutexGuard<'_, Capture> {
    capture.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Read `pipe` to its end on a thread of its own, counting it in `readers` once started.
fn spawn_reader(
    pipe: Option<impl Read + Send + 'static>,
    capture: &Arc<Mutex<Capture>>,
    done: &Sender<()>,
    readers: &mut usize,
) -> std::io::Result<()> {
    let Some(mut pipe) = pipe else {
        return Ok(());
    };
    let capture = Arc::clone(capture);
    let done = done.clone();
    thread::Builder::new().name("verify-output".to_owned()).spawn(move || {
        let mut buffer = [0u8; 8192];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => lock(&capture).push(&buffer[..read]),
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // The receiver may have given up waiting already; nothing is owed to it then.
        let _ = done.send(());
    })?;
    *readers += 1;
    Ok(())
}

/// How the command's process ended.
enum Ended {
    Exited(ExitStatus),
    TimedOut,
    /// It exited, but something it started held stdout or stderr open past the deadline.
    HeldOpen(ExitStatus),
    Failed(String),
}

/// Kill the command's process group. Only the group led by the child started here is named, and
/// errors are ignored: the group may already be gone, which is what was wanted.
fn kill_group(child: &Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    #[cfg(not(unix))]
    let _ = child;
}

/// Kill the group, then the child itself in case `kill` could not run, and reap it.
fn stop(child: &mut Child) {
    kill_group(child);
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_for_exit(child: &mut Child, deadline: Option<Instant>) -> Ended {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ended::Exited(status),
            Ok(None) => {}
            Err(err) => {
                stop(child);
                return Ended::Failed(format!("could not wait for the command: {err}"));
            }
        }
        let mut sleep = pause;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                stop(child);
                return Ended::TimedOut;
            }
            sleep = sleep.min(left);
        }
        thread::sleep(sleep);
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// Wait until `readers` readers have finished or `until` passes; how many are still reading.
fn wait_for_readers(done: &Receiver<()>, mut readers: usize, until: Option<Instant>) -> usize {
    while readers > 0 {
        let received = match until {
            Some(until) => done.recv_timeout(until.saturating_duration_since(Instant::now())),
            None => done.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(()) => readers -= 1,
            // Every sender gone means every reader has finished, whether or not it said so.
            Err(RecvTimeoutError::Disconnected) => return 0,
            Err(RecvTimeoutError::Timeout) => break,
        }
    }
    readers
}

/// "1s", "1.5s": how a timeout is written in a report.
pub(super) fn seconds(duration: Duration) -> String {
    let text = format!("{:.3}", duration.as_secs_f64());
    format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
/// Run one acceptance command in `worktree` (absolute), or in its own `working_dir` there, and
/// judge it. The command runs as written: expanding variables and prefixing setup commands is
/// the caller's business (see [`run_job`]).
pub(super) fn acceptance(acceptance: &Check, context: &Context, worktree: &Path) -> CheckResult {
    let dir = match &acceptance.working_dir {
        None => Ok(worktree.to_path_buf()),
        Some(dir) => resolve_dir(worktree, dir),
    };
    let dir = match dir {
        Ok(dir) => dir,
        Err(detail) => {
            let mut result = CheckResult::new(CheckKind::Acceptance, acceptance.command.clone());
            result.detail = detail;
            return result;
        }
    };
    run_job(
        &Job {
            kind: CheckKind::Acceptance,
            name: acceptance.command.clone(),
            script: acceptance.command.clone(),
            dir: &dir,
            worktree,
            criteria: acceptance,
        },
        context,
    )
}

/// The directory a `working_dir` names inside `worktree` (absolute): values naming the root (`""`,
/// `"."`, `"./"`) name the worktree itself; absolute paths and paths through `..` are refused,
/// as is a directory that does not exist. The error is a one-line detail for a check.
pub(super) fn resolve_dir(worktree: &Path, dir: &str) -> Result<std::path::PathBuf, String> {
    let clean = working_dir(dir).map_err(|reason| format!("working directory {dir:?} {reason}"))?;
    if clean.is_empty() {
        return Ok(worktree.to_path_buf());
    }
    let full = worktree.join(&clean);
    if full.is_dir() {
        Ok(full)
    } else {
        Err(format!("working directory {clean} does not exist in the worktree"))
    }
}

/// One command to run and how to judge it.
pub(super) struct Job<'a> {
    pub kind: CheckKind,
    /// What the report calls it: the command as written, or a wiring test's name.
    pub name: String,
    /// What `sh -c` runs: the command with its variables expanded and any setup before it.
    pub script: String,
    pub dir: &'a Path,
    /// Given to the command as `LOOM_WORKTREE`.
    pub worktree: &'a Path,
    /// The expectations (exit code, output); its `command` and `working_dir` are not used.
    pub criteria: &'a Check,
}

/// Run one command as described by `job` and judge it.
pub(super) fn run_job(job: &Job<'_>, context: &Context) -> CheckResult {
    let started = Instant::now();
    let acceptance = job.criteria;
    let mut result = CheckResult::new(job.kind, job.name.clone());
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&job.script)
        .current_dir(job.dir)
        .envs(context.env.iter().map(|(key, value)| (key, value)))
        .env("LOOM_TASK", &context.task)
        .env("LOOM_WORKTREE", job.worktree)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);

    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            result.detail = format!("could not start sh: {err}");
            result.duration_ms = elapsed_ms(started);
            return result;
        }
    };
    let needles = [&acceptance.stdout_contains[..], &acceptance.stdout_not_contains[..]].concat();
    let stdout = Arc::new(Mutex::new(Capture::new(&needles)));
    let stderr = Arc::new(Mutex::new(Capture::new(&acceptance.stderr_contains)));
    let (done_tx, done_rx) = mpsc::channel();
    let mut readers = 0;
    let reading = spawn_reader(child.stdout.take(), &stdout, &done_tx, &mut readers)
        .and_then(|()| spawn_reader(child.stderr.take(), &stderr, &done_tx, &mut readers));
    if let Err(err) = reading {
        stop(&mut child);
        result.detail = format!("could not start reading the command's output: {err}");
        result.duration_ms = elapsed_ms(started);
        return result;
    }
    drop(done_tx);

    let deadline = started.checked_add(context.timeout);
    let mut ended = wait_for_exit(&mut child, deadline);
    let readers_until = match ended {
        Ended::Exited(_) => deadline,
        _ => Instant::now().checked_add(READER_GRACE),
    };
    let left = wait_for_readers(&done_rx, readers, readers_until);
    if left > 0
        && let Ended::Exited(status) = ended
    {
        // The leader is reaped, but whatever holds the pipes open is still alive and most likely
        // in its group, which keeps the group's id from being reused by another process.
        kill_group(&child);
        ended = Ended::HeldOpen(status);
        wait_for_readers(&done_rx, left, Instant::now().checked_add(READER_GRACE));
    }

    let stdout = lock(&stdout);
    let stderr = lock(&stderr);
    result.stdout = stdout.text();
    result.stderr = stderr.text();
    judge(acceptance, context.timeout, &ended, &stdout.found, &stderr, &mut result);
    result.duration_ms = elapsed_ms(started);
    result
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Decide pass or fail. `found` holds, in order, whether each `stdout_contains` and then each
/// `stdout_not_contains` string appeared.
fn judge(
    acceptance: &Check,
    timeout: Duration,
    ended: &Ended,
    found: &[bool],
    stderr: &Capture,
    result: &mut CheckResult,
) {
    let status = match ended {
        Ended::Exited(status) => status,
        Ended::TimedOut => {
            result.detail = format!("timed out after {}", seconds(timeout));
            return;
        }
        Ended::HeldOpen(status) => {
            result.exit_code = status.code();
            result.detail = format!(
                "timed out after {}: the command exited, but a process it started kept its output open",
                seconds(timeout)
            );
            return;
        }
        Ended::Failed(reason) => {
            result.detail = reason.clone();
            return;
        }
    };
    result.exit_code = status.code();
    let expected = acceptance.exit_code.unwrap_or(0);
    let mut problems = Vec::new();
    match status.code() {
        Some(code) if code == expected => {}
        Some(code) => problems.push(format!("exit code {code}, expected {expected}")),
        None => problems.push(match signal(status) {
            Some(signal) => format!("killed by signal {signal}"),
            None => "ended without an exit code".to_owned(),
        }),
    }
    let (contains, not_contains) = found.split_at(acceptance.stdout_contains.len().min(found.len()));
    for (text, &seen) in acceptance.stdout_contains.iter().zip(contains) {
        if !seen {
            problems.push(format!("stdout does not contain {text:?}"));
        }
    }
    for (text, &seen) in acceptance.stdout_not_contains.iter().zip(not_contains) {
        if seen {
            problems.push(format!("stdout contains {text:?}"));
        }
    }
    for (text, &seen) in acceptance.stderr_contains.iter().zip(&stderr.found) {
        if !seen {
            problems.push(format!("stderr does not contain {text:?}"));
        }
    }
    if acceptance.stderr_empty && stderr.total > 0 {
        problems.push(format!("stderr is not empty ({} bytes)", stderr.total));
    }
    result.passed = problems.is_empty();
    result.detail = if result.passed {
        format!("exit code {expected} as expected")
    } else {
        problems.join("; ")
    };
}

#[cfg(unix)]
fn signal(status: &ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

#[cfg(not(unix))]
fn signal(_status: &ExitStatus) -> Option<i32> {
    None
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
