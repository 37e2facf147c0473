//! Verifying a task's work: running its checks in a directory (its worktree) and reporting the
//! result of each, for `git loom verify`.
//!
//! A [`Spec`] lists three kinds of check, run in this order by [`verify`]:
//!
//! 1. **acceptance** commands ([`Acceptance`]), each run as `sh -c <command>` in its own
//!    process group, killed with that group after [`Context::timeout`], and judged on its exit
//!    code and stdout;
//! 2. **artifacts**: paths or globs that must each match at least one file that is not a stub
//!    ([`is_stub`] gives the exact rule). `?` matches one character and `*` any run of
//!    characters within a path segment, `**` as a whole segment any number of segments
//!    (`src/**/*.rs`); anything without `*` or `?` is a literal path. The tree is walked without
//!    entering `.git` or following links to directories;
//! 3. **wiring** rules ([`Wiring`]): a regex that must match somewhere in a file.
//!
//! Every path is relative to the worktree; absolute paths and paths with `..` are refused.
//!
//! Guarantees: every check runs even when an earlier one failed, and its result says why it
//! failed; a check that cannot run (a missing file, a bad regex, a path leaving the worktree)
//! fails with a message instead of stopping the run. Only a worktree that cannot be used at all
//! is an error ([`VerifyError`]). Like the rest of the library, this module never prints and
//! never reads the process environment (the commands it starts inherit it, plus the additions in
//! [`Context::env`]); the only clock it reads is the monotonic one, for timeouts and durations.
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
//! - `kind`: `"acceptance"`, `"artifact"` or `"wiring"`;
//! - `name`: the command, the artifact path or glob as written, or `"<source>: /<pattern>/"`;
//! - `detail`: why the check passed or failed, in one line;
//! - `exit_code`: the command's exit code, `null` for other kinds and for a command that timed
//!   out, was killed by a signal or could not start;
//! - `stdout`, `stderr`: the last 4 KiB of each stream (empty for other kinds), opening with a
//!   line `[N earlier bytes cut]` when the stream was longer;
//! - `duration_ms`: how long the check took.

mod checks;
mod glob;
mod run;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

pub use checks::{STUB_SCAN_LIMIT, is_stub};
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
    /// Where to run, relative to the worktree; the worktree itself when not given.
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

/// Everything to check for one task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(default)]
    pub acceptance: Vec<Acceptance>,
    /// Paths or globs relative to the worktree.
    #[serde(default)]
    pub artifacts: Vec<String>,
    #[serde(default)]
    pub wiring: Vec<Wiring>,
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
    /// How long each acceptance command may run before it is killed.
    pub timeout: Duration,
}

/// Which kind of check a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Acceptance,
    Artifact,
    Wiring,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Acceptance => "acceptance",
            CheckKind::Artifact => "artifact",
            CheckKind::Wiring => "wiring",
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
    // Canonical, so that LOOM_WORKTREE is absolute and the same however the caller named it.
    let worktree = fs::canonicalize(&context.worktree).map_err(|source| VerifyError::Worktree {
        path: context.worktree.clone(),
        source,
    })?;
    if !worktree.is_dir() {
        return Err(VerifyError::NotADirectory { path: worktree });
    }
    let mut report = Report::default();
    let mut record = |result: CheckResult| {
        progress(&result);
        report.checks.push(result);
    };
    for acceptance in &spec.acceptance {
        record(run::acceptance(acceptance, context, &worktree));
    }
    for pattern in &spec.artifacts {
        let started = std::time::Instant::now();
        let mut result = checks::artifact(&worktree, pattern);
        result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        record(result);
    }
    for wiring in &spec.wiring {
        let started = std::time::Instant::now();
        let mut result = checks::wiring(&worktree, wiring);
        result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        record(result);
    }
    Ok(report)
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
