//! Verifying a task's work: running its checks in a directory (its worktree) and reporting the
//! result of each, for `git loom verify`.
//!
//! A [`Spec`] lists the kinds of check a plan stage can carry (the Rust loom's), run in this
//! order by [`verify`]:
//!
//! 1. **before_stage** commands ([`Acceptance`]), run in the tree the work started from
//!    ([`Context::before`]); they state what held *before* the work (a test that failed, say),
//!    and fail with "not run" when no such tree is available;
//! 2. **acceptance** commands, each run as `sh -c <setup && command>`: every [`Spec::setup`]
//!    command runs first, in the same shell, so what it exports is visible to the check;
//! 3. **truths** and 4. **after_stage** commands, judged like acceptance, without setup;
//! 5. **artifacts**: paths or globs (rules in the `glob` module) that must each match at least
//!    one file, every matched file real ([`stub_reason`] gives the exact rule);
//! 6. **wiring** rules ([`Wiring`]): a regex that must match somewhere in a file;
//! 7. **wiring_tests** ([`WiringTest`]): named commands with success criteria.
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
//!   `"wiring"` or `"wiring_test"`;
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

/// A shell command whose result decides whether the work is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub command: String,
    /// Strings that must each appear in stdout (plain substrings, not patterns).
    #[serde(default)]
    pub stdout_contains: Vec<String>,
    /// Strings none of which may appear in stdout.
    #[serde(default)]
    pub stdout_not_contains: Vec<String>,
    /// The exit code that means success; 0 when not given.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Strings that must each appear in stderr.
    #[serde(default)]
    pub stderr_contains: Vec<String>,
    /// Whether stderr must be empty (false: stderr is not judged).
    #[serde(default)]
    pub stderr_empty: bool,
    /// Where to run, relative to the worktree; the spec's `working_dir` when not given.
    #[serde(default)]
    pub working_dir: Option<String>,
}

impl Acceptance {
    /// A command that must exit 0, with no other condition.
    pub fn new(command: impl Into<String>) -> Acceptance {
        Acceptance {
            command: command.into(),
            ..Acceptance::default()
        }
    }
}

/// A regex that must match somewhere in one file, showing that new code is actually wired in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wiring {
    /// The file to search, relative to the worktree.
    pub source: String,
    /// A regex in the syntax of the `regex` crate.
    pub pattern: String,
    /// What the rule shows, put at the front of the check's detail.
    #[serde(default)]
    pub description: Option<String>,
}

/// What a wiring test's result must look like; all optional, success (exit 0) by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessCriteria {
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub stdout_contains: Vec<String>,
    #[serde(default)]
    pub stdout_not_contains: Vec<String>,
    #[serde(default)]
    pub stderr_contains: Vec<String>,
    #[serde(default)]
    pub stderr_empty: Option<bool>,
}

/// A named command showing that components work together at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WiringTest {
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub success_criteria: SuccessCriteria,
    #[serde(default)]
    pub description: Option<String>,
}

impl WiringTest {
    /// The test as a command with expectations.
    fn as_acceptance(&self) -> Acceptance {
        let criteria = &self.success_criteria;
        Acceptance {
            command: self.command.clone(),
            stdout_contains: criteria.stdout_contains.clone(),
            stdout_not_contains: criteria.stdout_not_contains.clone(),
            exit_code: criteria.exit_code,
            stderr_contains: criteria.stderr_contains.clone(),
            stderr_empty: criteria.stderr_empty.unwrap_or(false),
            working_dir: None,
        }
    }
}

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
    pub acceptance: Vec<Acceptance>,
    #[serde(default)]
    pub truths: Vec<Acceptance>,
    /// Checks of the tree the work started from.
    #[serde(default)]
    pub before_stage: Vec<Acceptance>,
    #[serde(default)]
    pub after_stage: Vec<Acceptance>,
    /// Paths or globs relative to the working directory.
    #[serde(default)]
    pub artifacts: Vec<String>,
    #[serde(default)]
    pub wiring: Vec<Wiring>,
    #[serde(default)]
    pub wiring_tests: Vec<WiringTest>,
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
        let criteria = test.as_acceptance();
        record(commands.run(
            CheckKind::WiringTest,
            &test.name,
            vars.expand(&test.command),
            None,
            &criteria,
        ));
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
        criteria: &Acceptance,
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
mod tests {
    use super::*;

    fn context(worktree: &std::path::Path) -> Context {
        Context {
            task: "loom-0000abcd".to_owned(),
            worktree: worktree.to_path_buf(),
            env: Vec::new(),
            timeout: Duration::from_secs(10),
            stage: None,
            before: BeforeTree::Unavailable("no base".to_owned()),
        }
    }

    #[test]
    fn every_check_runs_in_order_even_after_failures() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("src/lib.rs"), "pub mod verify;\n").unwrap();
        let spec = Spec {
            acceptance: vec![Acceptance::new("exit 1"), Acceptance::new("true")],
            artifacts: vec!["src/missing.rs".to_owned(), "src/*.rs".to_owned()],
            wiring: vec![Wiring {
                source: "src/lib.rs".to_owned(),
                pattern: "pub mod verify;".to_owned(),
                description: None,
            }],
            ..Spec::default()
        };
        let mut seen = Vec::new();
        let report = verify_with_progress(&spec, &context(dir.path()), |check| seen.push(check.name.clone())).unwrap();
        let kinds: Vec<CheckKind> = report.checks.iter().map(|check| check.kind).collect();
        assert_eq!(
            kinds,
            [
                CheckKind::Acceptance,
                CheckKind::Acceptance,
                CheckKind::Artifact,
                CheckKind::Artifact,
                CheckKind::Wiring
            ]
        );
        let passed: Vec<bool> = report.checks.iter().map(|check| check.passed).collect();
        assert_eq!(passed, [false, true, false, true, true]);
        assert_eq!(seen.len(), 5);
        assert!(!report.passed());
        assert_eq!(report.failures().count(), 2);
    }

    fn spec_in(dir: &str) -> Spec {
        Spec {
            working_dir: Some(dir.to_owned()),
            ..Spec::default()
        }
    }

    fn outcomes(report: &Report) -> Vec<(CheckKind, bool)> {
        report.checks.iter().map(|check| (check.kind, check.passed)).collect()
    }

    #[test]
    fn every_path_resolves_in_the_working_dir() {
        // Guards: `working_dir: "."` failed every check, and artifacts and wiring sources were
        // looked up at the worktree root instead of under the stage's working_dir.
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("app/src")).unwrap();
        fs::write(dir.path().join("app/src/lib.rs"), "pub mod api;\n").unwrap();
        fs::write(dir.path().join("top.txt"), "top\n").unwrap();
        for root in [".", "./", ""] {
            let spec = Spec {
                acceptance: vec![Acceptance::new("test -f top.txt")],
                artifacts: vec!["top.txt".to_owned()],
                ..spec_in(root)
            };
            let report = verify(&spec, &context(dir.path())).unwrap();
            assert!(report.passed(), "{root:?}: {:?}", report.checks);
        }
        let spec = Spec {
            acceptance: vec![Acceptance::new("test -f src/lib.rs && pwd -P")],
            artifacts: vec!["src/*.rs".to_owned()],
            wiring: vec![Wiring {
                source: "src/lib.rs".to_owned(),
                pattern: "pub mod api".to_owned(),
                description: None,
            }],
            ..spec_in("app")
        };
        let report = verify(&spec, &context(dir.path())).unwrap();
        assert!(report.passed(), "{:?}", report.checks);
        let app = fs::canonicalize(dir.path().join("app")).unwrap();
        assert_eq!(report.checks[0].stdout.trim(), app.display().to_string());

        // Guards: a working_dir leaving the worktree is refused, never used.
        for outside in ["..", "/tmp", "app/../.."] {
            let spec = Spec {
                acceptance: vec![Acceptance::new("true")],
                artifacts: vec!["x".to_owned()],
                ..spec_in(outside)
            };
            let report = verify(&spec, &context(dir.path())).unwrap();
            assert!(!report.passed());
            for check in &report.checks {
                assert!(check.detail.starts_with("working directory"), "{}", check.detail);
            }
        }
    }

    #[test]
    fn setup_runs_in_the_same_shell_before_each_acceptance_command() {
        // Guards: setup commands were ignored, so what they export was missing in the checks.
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec {
            setup: vec!["export FOO=bar".to_owned(), "export BAZ=\"$FOO-2\"".to_owned()],
            acceptance: vec![
                Acceptance::new("test \"$FOO\" = bar && echo \"$BAZ\""),
                Acceptance::new("test \"$BAZ\" = bar-2"),
            ],
            truths: vec![Acceptance::new("test -z \"$FOO\"")],
            ..Spec::default()
        };
        let report = verify(&spec, &context(dir.path())).unwrap();
        assert!(report.passed(), "{:?}", report.checks);
        assert_eq!(report.checks[0].stdout, "bar-2\n");
        assert_eq!(report.checks[0].name, "test \"$FOO\" = bar && echo \"$BAZ\"");

        let failing = Spec {
            setup: vec!["false".to_owned()],
            acceptance: vec![Acceptance::new("true")],
            ..Spec::default()
        };
        assert!(!verify(&failing, &context(dir.path())).unwrap().passed());
    }

    #[test]
    fn truths_after_stage_and_wiring_tests_run() {
        // Guards: `truths: ["false"]` said "no checks" and passed; after_stage and wiring_tests
        // were never run.
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec {
            truths: vec![Acceptance::new("false"), Acceptance::new("true")],
            after_stage: vec![Acceptance {
                stdout_contains: vec!["ready".to_owned()],
                ..Acceptance::new("echo ready")
            }],
            wiring_tests: vec![
                WiringTest {
                    name: "help lists the flag".to_owned(),
                    command: "echo '--backend'; echo warn >&2".to_owned(),
                    success_criteria: SuccessCriteria {
                        stdout_contains: vec!["--backend".to_owned()],
                        stderr_contains: vec!["warn".to_owned()],
                        ..SuccessCriteria::default()
                    },
                    description: None,
                },
                WiringTest {
                    name: "quiet".to_owned(),
                    command: "echo noise >&2".to_owned(),
                    success_criteria: SuccessCriteria {
                        stderr_empty: Some(true),
                        ..SuccessCriteria::default()
                    },
                    description: None,
                },
            ],
            ..Spec::default()
        };
        assert!(!spec.is_empty());
        let report = verify(&spec, &context(dir.path())).unwrap();
        assert_eq!(
            outcomes(&report),
            [
                (CheckKind::Truth, false),
                (CheckKind::Truth, true),
                (CheckKind::AfterStage, true),
                (CheckKind::WiringTest, true),
                (CheckKind::WiringTest, false),
            ]
        );
        assert_eq!(report.checks[3].name, "help lists the flag");
        assert_eq!(report.checks[4].detail, "stderr is not empty (6 bytes)");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][0]["kind"], "truth");
        assert_eq!(json["checks"][2]["kind"], "after_stage");
        assert_eq!(json["checks"][3]["kind"], "wiring_test");
    }

    #[test]
    fn stderr_empty_is_enforced() {
        // Guards: `stderr_empty: true` on an acceptance item was dropped and never judged.
        let dir = tempfile::tempdir().unwrap();
        let quiet = |command: &str| Acceptance {
            stderr_empty: true,
            ..Acceptance::new(command)
        };
        let spec = Spec {
            acceptance: vec![quiet("echo fine"), quiet("echo oops >&2")],
            ..Spec::default()
        };
        let report = verify(&spec, &context(dir.path())).unwrap();
        assert_eq!(
            outcomes(&report),
            [(CheckKind::Acceptance, true), (CheckKind::Acceptance, false)]
        );
        assert_eq!(report.checks[1].detail, "stderr is not empty (5 bytes)");
    }

    #[test]
    fn before_stage_runs_in_the_starting_tree_or_fails_as_not_run() {
        // Guards: before_stage checks were kept but never run, while verify reported a pass.
        let work = tempfile::tempdir().unwrap();
        let before = tempfile::tempdir().unwrap();
        fs::write(work.path().join("feature.rs"), "pub fn feature() {}\n").unwrap();
        let spec = Spec {
            before_stage: vec![Acceptance {
                exit_code: Some(1),
                ..Acceptance::new("cat feature.rs 2>/dev/null | grep -q feature")
            }],
            acceptance: vec![Acceptance::new("grep -q feature feature.rs")],
            ..Spec::default()
        };
        let unavailable = verify(&spec, &context(work.path())).unwrap();
        assert_eq!(
            outcomes(&unavailable),
            [(CheckKind::BeforeStage, false), (CheckKind::Acceptance, true)]
        );
        assert_eq!(unavailable.checks[0].detail, "not run: no base");
        assert!(!unavailable.passed());

        let with_base = Context {
            before: BeforeTree::Dir(before.path().to_path_buf()),
            ..context(work.path())
        };
        let report = verify(&spec, &with_base).unwrap();
        assert!(report.passed(), "{:?}", report.checks);
        // The same check against a starting tree that already had the feature fails.
        fs::write(before.path().join("feature.rs"), "pub fn feature() {}\n").unwrap();
        assert!(!verify(&spec, &with_base).unwrap().passed());
    }

    #[test]
    fn context_variables_are_expanded_in_commands() {
        // Guards: ${WORKTREE}, ${PROJECT_ROOT} and ${STAGE_ID} reached the shell unexpanded.
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("svc")).unwrap();
        fs::write(dir.path().join("svc/go.mod"), "module x\n").unwrap();
        let spec = Spec {
            setup: vec!["cd ${PROJECT_ROOT}".to_owned()],
            acceptance: vec![Acceptance::new("test -f go.mod && echo ${STAGE_ID}:${WORKTREE}")],
            ..Spec::default()
        };
        let context = Context {
            stage: Some("api-layer".to_owned()),
            ..context(dir.path())
        };
        let report = verify(&spec, &context).unwrap();
        assert!(report.passed(), "{:?}", report.checks);
        let root = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(report.checks[0].stdout, format!("api-layer:{}\n", root.display()));
    }

    #[test]
    fn empty_spec_passes_vacuously() {
        let dir = tempfile::tempdir().unwrap();
        let report = verify(&Spec::default(), &context(dir.path())).unwrap();
        assert!(report.passed());
        assert!(report.is_empty());
    }

    #[test]
    fn unusable_worktree_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert!(matches!(
            verify(&Spec::default(), &context(&missing)),
            Err(VerifyError::Worktree { .. })
        ));
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(matches!(
            verify(&Spec::default(), &context(&file)),
            Err(VerifyError::NotADirectory { .. })
        ));
    }

    #[test]
    fn report_json_names_are_stable() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec {
            acceptance: vec![Acceptance::new("echo out; echo err >&2; exit 2")],
            artifacts: vec!["nothing.txt".to_owned()],
            ..Spec::default()
        };
        let report = verify(&spec, &context(dir.path())).unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["passed"], false);
        let first = &json["checks"][0];
        assert_eq!(first["kind"], "acceptance");
        assert_eq!(first["name"], "echo out; echo err >&2; exit 2");
        assert_eq!(first["passed"], false);
        assert_eq!(first["detail"], "exit code 2, expected 0");
        assert_eq!(first["exit_code"], 2);
        assert_eq!(first["stdout"], "out\n");
        assert_eq!(first["stderr"], "err\n");
        assert!(first["duration_ms"].is_u64());
        let second = &json["checks"][1];
        assert_eq!(second["kind"], "artifact");
        assert_eq!(second["exit_code"], serde_json::Value::Null);
        assert_eq!(second["stdout"], "");
        let keys: Vec<&String> = second.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 8);
    }

    #[test]
    fn spec_reads_from_json_with_defaults() {
        let spec: Spec = serde_json::from_str(
            r#"{"acceptance": [{"command": "cargo test", "exit_code": 1}],
                "wiring": [{"source": "src/lib.rs", "pattern": "mod x"}]}"#,
        )
        .unwrap();
        assert_eq!(spec.acceptance[0].exit_code, Some(1));
        assert!(spec.acceptance[0].stdout_contains.is_empty());
        assert!(spec.artifacts.is_empty());
        assert_eq!(spec.wiring[0].description, None);
    }
}
