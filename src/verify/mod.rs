//! Verifying a task's work: running its checks in a directory (its worktree) and reporting the
//! result of each, for `git loom verify`.
//!
//! A [`Spec`] lists the kinds of check a plan stage can carry (the Rust loom's), run in this
//! order by [`verify`]:
//!
//! 1. **before_stage** commands ([`Check`]), run in the tree the work started from
//!    ([`Context::before`]); they state what held *before* the work (a test that failed, say),
//!    and fail with "not run" when no such tree is available;
//! 2. **acceptance** commands, each run as `sh -c <setup && command>`: every [`Spec::setup`]
//!    command runs first, in the same shell, so what it exports is visible to the check;
//! 3. **truths** and 4. **after_stage** commands, judged like acceptance, without setup;
//! 5. **artifacts**: paths or globs (rules in the `glob` module) that must each match at least
//!    one file, every matched file real ([`stub_reason`] gives the exact rule);
//! 6. **wiring** rules ([`Wiring`]): a regex that must match somewhere in a file;
//! 7. **wiring_tests** ([`WiringTest`]): named commands with success criteria;
//! 8. **dead_code_check** ([`DeadCodeCheck`]): a command whose output must show no dead code;
//! 9. **regression_test** ([`RegressionTest`]): a test file that must hold given texts.
//!
//! Every command runs in its own process group, is killed with that group after
//! [`Context::timeout`], and is judged on its exit code, stdout and stderr. `${WORKTREE}`,
//! `${PROJECT_ROOT}` and `${STAGE_ID}` in a command are expanded first (see `vars`).
//!
//! Every path (commands' directory, artifacts, wiring sources) is relative to the stage's
//! [`Spec::working_dir`], itself relative to the worktree (`""`, `"."` and `"./"` name the
//! worktree); absolute paths and paths with `..` are refused.
//!
//! Guarantees: every check runs even when an earlier one failed, and its result says why it
//! failed; a check that cannot run (a missing file, a bad regex, a path leaving the worktree, a
//! before_stage check without a base tree, a check the caller could not read, listed in
//! [`Spec::unreadable`]) fails with a message instead of stopping the run or passing. Only a worktree that cannot be used at all is an error ([`VerifyError`]). Like the
//! rest of the library, this module never prints and never reads the process environment (the
//! commands it starts inherit it, plus the additions in [`Context::env`]); the only clock it
//! reads is the monotonic one, for timeouts and durations.
//!
//! A [`Report`] serializes (for `--json`) as:
//!
//! ```json
//! {
//!   "passed": false,
//!   "checks": [
//!     {
//!       "kind": "acceptance",
//!       "name": "cargo test",
//!       "passed": false,
//!       "detail": "exit code 101, expected 0",
//!       "exit_code": 101,
//!       "stdout": "[20480 earlier bytes cut]\n…",
//!       "stderr": "…",
//!       "duration_ms": 5230
//!     }
//!   ]
//! }
//! ```
//!
//! - `passed` (report): every check passed (true when there are none);
//! - `kind`: `"before_stage"`, `"acceptance"`, `"truth"`, `"after_stage"`, `"artifact"`,
//!   `"wiring"`, `"wiring_test"`, `"dead_code"` or `"regression_test"`;
//! - `name`: the command as written (before expansion, without setup), the artifact path or
//!   glob as written, `"<source>: /<pattern>/"`, or a wiring test's name;
//! - `detail`: why the check passed or failed, in one line;
//! - `exit_code`: the command's exit code, `null` for artifacts and wiring and for a command
//!   that timed out, was killed by a signal, could not start or was not run;
//! - `stdout`, `stderr`: the last 4 KiB of each stream (empty for other kinds), opening with a
//!   line `[N earlier bytes cut]` when the stream was longer;
//! - `duration_ms`: how long the check took.

mod checks;
mod glob;
mod run;
mod vars;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

pub use checks::{STUB_MARKERS, stub_reason};
pub use run::OUTPUT_TAIL_BYTES;

use crate::model::checks::{Check, DeadCodeCheck, RegressionTest, Wiring, WiringTest};

/// Everything to check for one task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// Where commands run and paths resolve, relative to the worktree; the worktree when not
    /// given (or `""`, `"."`, `"./"`).
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Commands run before every acceptance command, in its shell, joined with `&&`.
    #[serde(default)]
    pub setup: Vec<String>,
    #[serde(default)]
    pub acceptance: Vec<Check>,
    #[serde(default)]
    pub truths: Vec<Check>,
    /// Checks of the tree the work started from.
    #[serde(default)]
    pub before_stage: Vec<Check>,
    #[serde(default)]
    pub after_stage: Vec<Check>,
    /// Paths or globs relative to the working directory.
    #[serde(default)]
    pub artifacts: Vec<String>,
    #[serde(default)]
    pub wiring: Vec<Wiring>,
    #[serde(default)]
    pub wiring_tests: Vec<WiringTest>,
    #[serde(default)]
    pub dead_code_check: Option<DeadCodeCheck>,
    #[serde(default)]
    pub regression_test: Option<RegressionTest>,
    /// Checks that could not be read, each (kind, why): each fails, so a check lost to a
    /// malformed task is never a pass.
    #[serde(skip)]
    pub unreadable: Vec<(CheckKind, String)>,
}

impl Spec {
    /// Whether there is anything to check.
    pub fn is_empty(&self) -> bool {
        self.acceptance.is_empty()
            && self.truths.is_empty()
            && self.before_stage.is_empty()
            && self.after_stage.is_empty()
            && self.artifacts.is_empty()
            && self.wiring.is_empty()
            && self.wiring_tests.is_empty()
            && self.dead_code_check.is_none()
            && self.regression_test.is_none()
            && self.unreadable.is_empty()
    }
}

/// The tree `before_stage` checks run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforeTree {
    /// A checkout of the commit the work started from.
    Dir(PathBuf),
    /// Why there is none; each before_stage check fails with this reason.
    Unavailable(String),
}

/// Where and how to run the checks; supplied by the caller, since the library reads no
/// environment of its own.
#[derive(Debug, Clone)]
pub struct Context {
    /// The task's id, given to commands as `LOOM_TASK`.
    pub task: String,
    /// The directory holding the work; given to commands, made absolute, as `LOOM_WORKTREE`.
    pub worktree: PathBuf,
    /// Variables added to the environment the commands inherit. `LOOM_TASK` and
    /// `LOOM_WORKTREE` are set after these, so they always describe this run.
    pub env: Vec<(String, String)>,
    /// How long each command may run before it is killed.
    pub timeout: Duration,
    /// The plan stage the task comes from, for `${STAGE_ID}`.
    pub stage: Option<String>,
    /// Where `before_stage` checks run.
    pub before: BeforeTree,
}

/// Which kind of check a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    BeforeStage,
    Acceptance,
    Truth,
    AfterStage,
    Artifact,
    Wiring,
    WiringTest,
    DeadCode,
    RegressionTest,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::BeforeStage => "before_stage",
            CheckKind::Acceptance => "acceptance",
            CheckKind::Truth => "truth",
            CheckKind::AfterStage => "after_stage",
            CheckKind::Artifact => "artifact",
            CheckKind::Wiring => "wiring",
            CheckKind::WiringTest => "wiring_test",
            CheckKind::DeadCode => "dead_code",
            CheckKind::RegressionTest => "regression_test",
        }
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check. The field names are the JSON names (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub kind: CheckKind,
    pub name: String,
    pub passed: bool,
    pub detail: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
}

impl CheckResult {
    /// A failed result with nothing filled in yet: a check passes only by saying so.
    fn new(kind: CheckKind, name: String) -> CheckResult {
        CheckResult {
            kind,
            name,
            passed: false,
            detail: String::new(),
            exit_code: None,
            stdout: String::new(),
            stderr: String::new(),
            duration_ms: 0,
        }
    }
}

/// Every check's result, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Whether no check failed; true for a report with no checks, which a caller may want to
    /// treat differently (see [`Report::is_empty`]).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// The checks that failed, in order.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|check| !check.passed)
    }
}

/// Written by hand so the JSON carries the overall verdict next to the checks, sparing every
/// consumer from recomputing it.
impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut report = serializer.serialize_struct("Report", 2)?;
        report.serialize_field("passed", &self.passed())?;
        report.serialize_field("checks", &self.checks)?;
        report.end()
    }
}

/// Why no check could run at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot use the worktree {path}: {source}")]
    Worktree { path: PathBuf, source: std::io::Error },
    #[error("the worktree {path} is not a directory")]
    NotADirectory { path: PathBuf },
}

/// Run every check in `spec` in the worktree named by `context` and report each result.
pub fn verify(spec: &Spec, context: &Context) -> Result<Report, VerifyError> {
    verify_with_progress(spec, context, |_| {})
}

/// Like [`verify`], handing each result to `progress` as soon as its check ends, so a caller
/// can show progress through slow commands without the library printing anything.
pub fn verify_with_progress(
    spec: &Spec,
    context: &Context,
    mut progress: impl FnMut(&CheckResult),
) -> Result<Report, VerifyError> {
    let worktree = canonical_dir(&context.worktree)?;
    let mut report = Report::default();
    let mut record = |result: CheckResult| {
        progress(&result);
        report.checks.push(result);
    };
    let working_dir = spec.working_dir.as_deref().unwrap_or("");
    let base = run::resolve_dir(&worktree, working_dir);
    let vars = vars::Variables::new(
        &worktree,
        base.as_deref().unwrap_or(&worktree),
        context.stage.as_deref(),
    );
    let commands = Commands {
        context,
        worktree: &worktree,
        base: &base,
        vars: &vars,
    };

    for (kind, why) in &spec.unreadable {
        record(not_run(*kind, "(unreadable)", why.clone()));
    }
    if !spec.before_stage.is_empty() {
        before_stage(spec, context, working_dir, &mut record)?;
    }
    let setup: Vec<String> = spec.setup.iter().map(|command| vars.expand(command)).collect();
    for acceptance in &spec.acceptance {
        let dir = acceptance
            .working_dir
            .as_deref()
            .map(|dir| run::resolve_dir(&worktree, dir));
        let mut script = setup.clone();
        script.push(vars.expand(&acceptance.command));
        record(commands.run(
            CheckKind::Acceptance,
            &acceptance.command,
            script.join(" && "),
            dir,
            acceptance,
        ));
    }
    for (kind, checks) in [
        (CheckKind::Truth, &spec.truths),
        (CheckKind::AfterStage, &spec.after_stage),
    ] {
        for check in checks {
            record(commands.run(kind, &check.command, vars.expand(&check.command), None, check));
        }
    }
    for pattern in &spec.artifacts {
        record(timed(CheckKind::Artifact, pattern, &base, |root| {
            checks::artifact(root, pattern)
        }));
    }
    for wiring in &spec.wiring {
        let name = format!("{}: /{}/", wiring.source, wiring.pattern);
        record(timed(CheckKind::Wiring, &name, &base, |root| {
            checks::wiring(root, wiring)
        }));
    }
    for test in &spec.wiring_tests {
        record(commands.run(
            CheckKind::WiringTest,
            &test.name,
            vars.expand(&test.check.command),
            None,
            &test.check,
        ));
    }
    if let Some(check) = &spec.dead_code_check {
        let script = checks::dead_code_script(&vars.expand(&check.command), check);
        let mut result = commands.run(CheckKind::DeadCode, &check.command, script, None, &Check::default());
        checks::explain_dead_code(&mut result);
        record(result);
    }
    if let Some(test) = &spec.regression_test {
        let name = test.file.clone();
        record(timed(CheckKind::RegressionTest, &name, &base, |root| {
            checks::regression_test(root, test)
        }));
    }
    Ok(report)
}

/// Canonical, so that LOOM_WORKTREE and `${WORKTREE}` are absolute and the same however the
/// caller named the directory.
fn canonical_dir(dir: &Path) -> Result<PathBuf, VerifyError> {
    let canonical = fs::canonicalize(dir).map_err(|source| VerifyError::Worktree {
        path: dir.to_path_buf(),
        source,
    })?;
    if !canonical.is_dir() {
        return Err(VerifyError::NotADirectory { path: canonical });
    }
    Ok(canonical)
}

/// What running commands in one tree needs.
struct Commands<'a> {
    context: &'a Context,
    worktree: &'a Path,
    /// The stage's working directory, or why it cannot be used.
    base: &'a Result<PathBuf, String>,
    vars: &'a vars::Variables,
}

impl Commands<'_> {
    /// Run `script` in `dir` (default: the working directory), judged by `criteria`.
    fn run(
        &self,
        kind: CheckKind,
        name: &str,
        script: String,
        dir: Option<Result<PathBuf, String>>,
        criteria: &Check,
    ) -> CheckResult {
        let dir = dir.unwrap_or_else(|| self.base.clone());
        match dir {
            Ok(dir) => run::run_job(
                &run::Job {
                    kind,
                    name: name.to_owned(),
                    script,
                    dir: &dir,
                    worktree: self.worktree,
                    criteria,
                },
                self.context,
            ),
            Err(detail) => not_run(kind, name, detail),
        }
    }
}

/// A failed result for a check that could not be run, saying why.
fn not_run(kind: CheckKind, name: &str, detail: String) -> CheckResult {
    let mut result = CheckResult::new(kind, name.to_owned());
    result.detail = detail;
    result
}

/// Run a check that reads files in the working directory, timing it.
fn timed(
    kind: CheckKind,
    name: &str,
    base: &Result<PathBuf, String>,
    check: impl FnOnce(&Path) -> CheckResult,
) -> CheckResult {
    let started = std::time::Instant::now();
    let mut result = match base {
        Ok(root) => check(root),
        Err(detail) => not_run(kind, name, detail.clone()),
    };
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

/// Run the before_stage checks in the tree the work started from, with that tree's own
/// variables, or fail each with the reason there is no such tree.
fn before_stage(
    spec: &Spec,
    context: &Context,
    working_dir: &str,
    record: &mut impl FnMut(CheckResult),
) -> Result<(), VerifyError> {
    let tree = match &context.before {
        BeforeTree::Dir(dir) => canonical_dir(dir)?,
        BeforeTree::Unavailable(reason) => {
            for check in &spec.before_stage {
                record(not_run(
                    CheckKind::BeforeStage,
                    &check.command,
                    format!("not run: {reason}"),
                ));
            }
            return Ok(());
        }
    };
    let base = run::resolve_dir(&tree, working_dir);
    let vars = vars::Variables::new(&tree, base.as_deref().unwrap_or(&tree), context.stage.as_deref());
    let commands = Commands {
        context,
        worktree: &tree,
        base: &base,
        vars: &vars,
    };
    for check in &spec.before_stage {
        let script = commands.vars.expand(&check.command);
        record(commands.run(CheckKind::BeforeStage, &check.command, script, None, check));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
