//! Running one check command (acceptance, truth, before/after-stage, wiring test, dead code)
//! and judging its result.
//!
//! Guarantees: the command runs as `sh -c <script>` in the directory it is given (inside the
//! tree being checked) under [`crate::exec`]'s supervision, with the caller's environment
//! additions, then `LOOM_TASK` and `LOOM_WORKTREE`; it never runs longer than the timeout plus a
//! short grace for collecting output. `stdout_contains`, `stdout_not_contains`,
//! `stderr_contains` and `stderr_empty` are judged on the whole streams, while only their last
//! [`OUTPUT_TAIL_BYTES`] are kept for the report. A command that exits but leaves a process
//! holding its output open past the timeout fails: the run left a process behind.

use std::path::Path;
use std::time::{Duration, Instant};

use super::glob::working_dir;
use super::{Check, CheckKind, CheckResult, Context};
use crate::exec::{self, Ending, Exit, Output};

/// How much of the end of stdout and of stderr a report keeps.
pub const OUTPUT_TAIL_BYTES: usize = 4096;

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
    let mut spec = exec::Spec::shell(&job.script).dir(job.dir);
    spec.env = context
        .env
        .iter()
        .map(|(key, value)| (key.into(), value.into()))
        .collect();
    spec = spec.env("LOOM_TASK", &context.task).env("LOOM_WORKTREE", job.worktree);
    spec.tail_bytes = OUTPUT_TAIL_BYTES;
    spec.stdout_needles = [&acceptance.stdout_contains[..], &acceptance.stdout_not_contains[..]].concat();
    spec.stderr_needles = acceptance.stderr_contains.clone();

    match exec::run(&spec, Some(context.timeout)) {
        Ok(outcome) => {
            result.stdout = outcome.stdout.text();
            result.stderr = outcome.stderr.text();
            judge(
                acceptance,
                context.timeout,
                &outcome.ending,
                &outcome.stdout,
                &outcome.stderr,
                &mut result,
            );
        }
        Err(err) => result.detail = err.to_string(),
    }
    result.duration_ms = elapsed_ms(started);
    result
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Decide pass or fail. `stdout.found` holds, in order, whether each `stdout_contains` and then
/// each `stdout_not_contains` string appeared.
fn judge(
    acceptance: &Check,
    timeout: Duration,
    ending: &Ending,
    stdout: &Output,
    stderr: &Output,
    result: &mut CheckResult,
) {
    let exit = match *ending {
        Ending::Exited(exit) => exit,
        Ending::TimedOut => {
            result.detail = format!("timed out after {}", seconds(timeout));
            return;
        }
        Ending::LeftBehind(exit) => {
            result.exit_code = exit.code();
            result.detail = format!(
                "timed out after {}: the command exited, but a process it started kept its output open",
                seconds(timeout)
            );
            return;
        }
    };
    result.exit_code = exit.code();
    let expected = acceptance.exit_code.unwrap_or(0);
    let mut problems = Vec::new();
    match exit {
        Exit::Code(code) if code == expected => {}
        Exit::Code(code) => problems.push(format!("exit code {code}, expected {expected}")),
        Exit::Signal(signal) => problems.push(format!("killed by signal {signal}")),
        Exit::Unknown => problems.push("ended without an exit code".to_owned()),
    }
    let found = &stdout.found;
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

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
