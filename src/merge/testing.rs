//! Testing a candidate merge: exactly one commit, checked out in the merge worktree, judged by
//! the repository's test command (`[merge] test`) and the acceptance checks of the tasks it
//! brings home, with the verdict kept in the test cache.
//!
//! The merge worktree is one linked worktree, `<git-common-dir>/loom/merge-worktree`, detached,
//! reused from one run to the next so that ignored build outputs (`target/`, `node_modules/`)
//! stay warm. It is never the user's checkout nor a task's: before each run it is made to hold
//! exactly the candidate (tracked files forced to the commit's, untracked files removed,
//! ignored ones kept). One deleted by hand, or no longer registered with git, is made again.
//! A bare repository gets one as well.
//!
//! The cache is keyed by the candidate's tree and the digest of the [`TestSpec`] (the test
//! command and every task's checks, by content): a pass recorded for that key answers without
//! checking anything out or running anything; a failure too, unless a retest is asked for
//! (flaky tests), whose result then replaces it. A cache record that cannot be read is a
//! warning in the outcome and is overwritten, never a reason to fail.
//!
//! Guarantees: runs stop at the first failure; the test command runs as `sh -c` at the root of
//! the worktree with `LOOM_MERGE_CANDIDATE` set, its standard error joined to its standard
//! output (so the kept tail reads in order), and is killed with its whole process group at the
//! timeout; each [`TestRun`]'s tail holds the last [`TAIL_LINES`] lines of its output. No
//! branch moves and nothing is printed: the caller sees progress through [`TestProgress`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::exec::{self, Ending, Exit, Running};
use crate::loom::{Actor, Error, Loom, Result};
use crate::model::meta::MergeSettings;
use crate::model::{Task, TestResult, TestRun};
use crate::session::{DEFAULT_CHECK_TIMEOUT, spec_of};
use crate::store::{self, CachedResult, ObjectId};
use crate::verify::{self, BeforeTree, CheckResult};

/// The merge worktree's directory, in the repository's `loom` directory.
pub const MERGE_WORKTREE_DIR: &str = "merge-worktree";

/// How many lines of output a [`TestRun`] keeps.
pub const TAIL_LINES: usize = 40;

/// How many bytes of output are kept to find the last [`TAIL_LINES`] lines in.
const TAIL_BYTES: usize = 16 * 1024;

/// The longest pause between two looks at a running test's output.
const OUTPUT_POLL: Duration = Duration::from_millis(100);

/// Names the encoding the digest is computed over: a change to how tests run that makes old
/// results meaningless changes this tag, and so every digest.
const DIGEST_FORMAT: &str = "git-loom test spec 1";

/// What a candidate must pass.
#[derive(Debug, Clone)]
pub struct TestSpec {
    /// The repository's test command (`[merge] test`); empty or blank: none.
    pub command: String,
    /// The tasks whose work the candidate brings home: their acceptance checks run too.
    pub tasks: Vec<Task>,
    /// How long the test command may run.
    pub timeout: Duration,
}

/// One task's part of the digest.
#[derive(Serialize)]
struct TaskPart<'a> {
    task: &'a str,
    /// `${STAGE_ID}` expands to it, so it is part of what runs.
    stage: Option<&'a str>,
    checks: verify::Spec,
    /// Fields that could not be read fail the run; what they said is part of the key.
    unreadable: Vec<(verify::CheckKind, String)>,
}

#[derive(Serialize)]
struct Canonical<'a> {
    format: &'static str,
    command: &'a str,
    tasks: Vec<TaskPart<'a>>,
}

impl TestSpec {
    /// The spec `[merge]` settings give for `tasks`.
    pub fn from_settings(settings: &MergeSettings, tasks: Vec<Task>) -> TestSpec {
        TestSpec {
            command: settings.test.clone(),
            tasks,
            timeout: Duration::from_secs(settings.test_timeout_secs),
        }
    }

    /// The test command, when there is one.
    fn command(&self) -> Option<&str> {
        Some(self.command.trim()).filter(|command| !command.is_empty())
    }

    /// The hex SHA-256 of a canonical encoding of everything that runs: the test command and
    /// each task's checks by content (tasks in id order, so the same set gives the same
    /// digest whatever order a batch stacked them in). The timeout is left out: it bounds a
    /// run, it does not change what a pass means.
    pub fn digest(&self) -> String {
        let mut tasks: Vec<TaskPart<'_>> = self
            .tasks
            .iter()
            .map(|task| {
                let mut checks = checks_of(task);
                let unreadable = std::mem::take(&mut checks.unreadable);
                TaskPart {
                    task: task.id.as_str(),
                    stage: task.stage(),
                    checks,
                    unreadable,
                }
            })
            // A task without checks adds nothing to run: the same tree brought home by another
            // set of such tasks is the same test.
            .filter(|part| !(part.checks.is_empty() && part.unreadable.is_empty()))
            .collect();
        tasks.sort_by(|a, b| a.task.cmp(b.task));
        let canonical = Canonical {
            format: DIGEST_FORMAT,
            command: self.command().unwrap_or(""),
            tasks,
        };
        let bytes = serde_json::to_vec(&canonical).expect("a test spec serializes because it is plain data");
        Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Whether there is nothing to run at all.
    pub fn is_empty(&self) -> bool {
        self.command().is_none() && self.tasks.iter().all(|task| checks_of(task).is_empty())
    }
}

/// The checks of `task` that make sense on a candidate merge: all but `before_stage`, which
/// describe the tree the work started from, not the one it lands in.
fn checks_of(task: &Task) -> verify::Spec {
    let mut spec = spec_of(task);
    spec.before_stage.clear();
    spec
}

/// What a running test shows, for a live display.
#[derive(Debug, Clone, Copy)]
pub enum TestProgress<'a> {
    /// The test command, or a task's checks, started.
    Started { name: &'a str },
    /// The newest line of output seen (looked at a few times a second, not every line).
    Output { name: &'a str, line: &'a str },
    /// A command ended (or was answered from the cache: `run.cached`).
    Finished { run: &'a TestRun },
}

/// How a candidate fared.
#[derive(Debug)]
pub struct TestOutcome {
    pub passed: bool,
    /// Each command that ran (or was answered from the cache), in order.
    pub runs: Vec<TestRun>,
    /// Whether the answer came from the test cache.
    pub cached: bool,
    /// What went wrong with the cache without changing the verdict: a record that could not
    /// be read (and was replaced), or a result that could not be recorded.
    pub warnings: Vec<Error>,
}

impl Loom {
    /// Where the merge worktree lives (it may not exist yet).
    pub fn merge_worktree_path(&self) -> PathBuf {
        self.store.local_dir().join(MERGE_WORKTREE_DIR)
    }

    /// Make the merge worktree hold exactly `commit` and return its directory; it is created,
    /// or made again when deleted or broken, as needed.
    pub fn checkout_candidate(&self, commit: ObjectId) -> Result<PathBuf> {
        // A commit that is not there would make the checkout fail, which must not be taken
        // for a broken worktree and cost its build caches.
        self.store.repo().tree_of(commit)?;
        self.hold_exactly(commit)
    }

    /// [`Loom::checkout_candidate`] for a commit known to exist.
    fn hold_exactly(&self, commit: ObjectId) -> Result<PathBuf> {
        let path = self.merge_worktree_path();
        let repo = self.store.repo();
        if self.merge_worktree_registered(&path)? && repo.checkout_exactly(&path, commit).is_ok() {
            return Ok(path);
        }
        // Missing, unregistered, or refusing the checkout (a stale index lock, files git no
        // longer recognises): start again from nothing. Only build caches are lost.
        if path.exists() {
            let _ = repo.remove_worktree(&path, true);
            if path.exists() {
                std::fs::remove_dir_all(&path)
                    .map_err(|err| Error::Internal(format!("cannot remove {}: {err}", path.display())))?;
            }
        }
        repo.prune_worktrees()?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| Error::Internal(format!("cannot create {}: {err}", parent.display())))?;
        }
        repo.add_detached_worktree(&path, commit)?;
        Ok(path)
    }

    /// Whether `path` is a checkout git knows as one of this repository's worktrees.
    fn merge_worktree_registered(&self, path: &Path) -> Result<bool> {
        if !path.join(".git").is_file() {
            return Ok(false);
        }
        let Ok(path) = path.canonicalize() else {
            return Ok(false);
        };
        Ok(self
            .store
            .repo()
            .worktrees()?
            .iter()
            .any(|worktree| worktree.path.canonicalize().is_ok_and(|known| known == path)))
    }

    /// Test the commit `candidate`, whose tree is `tree`, against `spec` (see the module docs):
    /// from the cache when it holds a pass for (tree, spec), or a failure and `retest` is
    /// false; else by running it in the merge worktree and recording the result as `actor`.
    pub fn test_candidate(
        &self,
        candidate: ObjectId,
        tree: ObjectId,
        spec: &TestSpec,
        retest: bool,
        actor: &Actor,
        mut progress: impl FnMut(TestProgress<'_>),
    ) -> Result<TestOutcome> {
        let actual = self.store.repo().tree_of(candidate)?;
        if actual != tree {
            return Err(Error::Invalid(format!(
                "the candidate {candidate} holds the tree {actual}, not {tree}"
            )));
        }
        if spec.is_empty() {
            return Ok(TestOutcome {
                passed: true,
                runs: Vec::new(),
                cached: false,
                warnings: Vec::new(),
            });
        }
        let digest = spec.digest();
        let mut warnings = Vec::new();
        // Where the new result goes: `Some(None)` creates the ref, `Some(Some(tip))` replaces
        // that version, `None` does not record (the ref cannot even be read).
        let mut replaces = Some(None);
        match self.store.cached_test_result(&digest, tree) {
            Ok(None) => {}
            Ok(Some(CachedResult {
                tip,
                record: Ok(record),
            })) => {
                if record.passed || !retest {
                    return Ok(from_cache(record, warnings, &mut progress));
                }
                replaces = Some(Some(tip));
            }
            Ok(Some(CachedResult { tip, record: Err(err) })) => {
                warnings.push(Error::Store(err));
                replaces = Some(Some(tip));
            }
            Err(err @ store::Error::Corrupt { .. }) => {
                warnings.push(Error::Store(err));
                replaces = None;
            }
            Err(err) => return Err(err.into()),
        }

        let dir = self.hold_exactly(candidate)?;
        let (runs, recordable) = self.run_spec(&dir, candidate, spec, &mut progress)?;
        let passed = runs.iter().all(|run| run.passed);
        if recordable && let Some(replaces) = replaces {
            let result = TestResult {
                schema: crate::model::test_result::TEST_RESULT_SCHEMA,
                tree: tree.to_string(),
                spec: digest,
                command: spec.command().unwrap_or("").to_owned(),
                passed,
                runs: runs.clone(),
                at: actor.now,
                by: actor.agent.clone(),
                candidate: candidate.to_string(),
                extra: Default::default(),
            };
            if let Err(err) = self.store.record_test_result(&result, replaces, &actor.signature()) {
                warnings.push(err.into());
            }
        }
        Ok(TestOutcome {
            passed,
            runs,
            cached: false,
            warnings,
        })
    }

    /// Run the test command, then each task's checks, in `dir`, stopping at the first failure.
    /// The flag says whether the runs are a verdict on the tree worth recording (false when
    /// the test command could not even be started).
    fn run_spec(
        &self,
        dir: &Path,
        candidate: ObjectId,
        spec: &TestSpec,
        progress: &mut impl FnMut(TestProgress<'_>),
    ) -> Result<(Vec<TestRun>, bool)> {
        let candidate = candidate.to_string();
        let mut runs = Vec::new();
        if let Some(command) = spec.command() {
            let (run, started) = run_command(dir, command, &candidate, spec.timeout, progress)?;
            progress(TestProgress::Finished { run: &run });
            let passed = run.passed;
            runs.push(run);
            if !passed {
                return Ok((runs, started));
            }
        }
        let timeout = match self.settings().verify.timeout_secs {
            0 => DEFAULT_CHECK_TIMEOUT,
            secs => Duration::from_secs(secs),
        };
        for task in &spec.tasks {
            let checks = checks_of(task);
            if checks.is_empty() {
                continue;
            }
            let id = task.id.to_string();
            progress(TestProgress::Started {
                name: &format!("checks of {id}"),
            });
            let context = verify::Context {
                task: id.clone(),
                worktree: dir.to_path_buf(),
                env: vec![("LOOM_MERGE_CANDIDATE".to_owned(), candidate.clone())],
                timeout,
                stage: task.stage().map(str::to_owned),
                before: BeforeTree::Unavailable(String::new()),
            };
            let mut failed = false;
            verify::verify_with_progress(&checks, &context, |result| {
                let run = check_run(&id, result);
                progress(TestProgress::Finished { run: &run });
                failed |= !run.passed;
                runs.push(run);
            })
            .map_err(|err| Error::Internal(format!("cannot run the checks of {id}: {err}")))?;
            if failed {
                break;
            }
        }
        Ok((runs, true))
    }
}

/// The outcome a cached record gives, each run marked as answered from the cache.
fn from_cache(record: TestResult, warnings: Vec<Error>, progress: &mut impl FnMut(TestProgress<'_>)) -> TestOutcome {
    let runs: Vec<TestRun> = record
        .runs
        .into_iter()
        .map(|run| TestRun { cached: true, ..run })
        .collect();
    for run in &runs {
        progress(TestProgress::Finished { run });
    }
    TestOutcome {
        passed: record.passed,
        runs,
        cached: true,
        warnings,
    }
}

/// Run the test command in `dir`, showing its newest output line as it goes. The flag is false
/// when it could not be started (the run then fails, saying why).
fn run_command(
    dir: &Path,
    command: &str,
    candidate: &str,
    timeout: Duration,
    progress: &mut impl FnMut(TestProgress<'_>),
) -> Result<(TestRun, bool)> {
    progress(TestProgress::Started { name: command });
    let mut spec = exec::Spec::program("sh", ["-c".to_owned(), format!("exec 2>&1\n{command}")])
        .dir(dir)
        .env("LOOM_MERGE_CANDIDATE", candidate);
    spec.tail_bytes = TAIL_BYTES;
    let started = Instant::now();
    let mut running = match Running::spawn(&spec) {
        Ok(running) => running,
        Err(err) => {
            let run = TestRun {
                name: command.to_owned(),
                passed: false,
                exit_code: None,
                seconds: started.elapsed().as_secs_f64(),
                cached: false,
                tail: err.to_string(),
            };
            return Ok((run, false));
        }
    };
    let internal = |err: exec::Error| Error::Internal(format!("cannot run the test command: {err}"));
    let mut shown = String::new();
    let mut pause = Duration::from_millis(5);
    while running.try_wait().map_err(internal)?.is_none() {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        let (stdout, _) = running.tails();
        if let Some(line) = last_line(&stdout.tail)
            && line != shown
        {
            progress(TestProgress::Output {
                name: command,
                line: &line,
            });
            shown = line;
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(OUTPUT_POLL);
    }
    let outcome = running
        .wait(Some(timeout.saturating_sub(started.elapsed())))
        .map_err(internal)?;
    let mut output = outcome.stdout.text();
    output.push_str(&outcome.stderr.text());
    let (passed, exit_code, note) = match outcome.ending {
        Ending::Exited(Exit::Code(0)) => (true, Some(0), None),
        Ending::Exited(Exit::Code(code)) => (false, Some(code), None),
        Ending::Exited(Exit::Signal(signal)) => (false, None, Some(format!("killed by signal {signal}"))),
        Ending::Exited(Exit::Unknown) => (false, None, Some("ended without an exit code".to_owned())),
        Ending::TimedOut => (
            false,
            None,
            Some(format!("timed out after {}s: killed", timeout.as_secs_f64())),
        ),
        Ending::LeftBehind(exit) => (
            false,
            exit.code(),
            Some("exited, but left a process holding its output open until the timeout: killed".to_owned()),
        ),
    };
    if let Some(note) = note {
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(&note);
    }
    let run = TestRun {
        name: command.to_owned(),
        passed,
        exit_code,
        seconds: outcome.duration.as_secs_f64(),
        cached: false,
        tail: last_lines(&output, TAIL_LINES),
    };
    Ok((run, true))
}

/// A check's result as a test run: named after its task and kind, its tail the check's output
/// followed by why it passed or failed.
fn check_run(task: &str, result: &CheckResult) -> TestRun {
    let mut output = String::new();
    for part in [&result.stdout, &result.stderr, &result.detail] {
        if part.is_empty() {
            continue;
        }
        if !output.is_empty() && !output.ends_with('\n') {
            output.push('\n');
        }
        output.push_str(part);
    }
    TestRun {
        name: format!("{task} {}: {}", result.kind, result.name),
        passed: result.passed,
        exit_code: result.exit_code,
        seconds: result.duration_ms as f64 / 1000.0,
        cached: false,
        tail: last_lines(&output, TAIL_LINES),
    }
}

/// The last non-empty line of what was read so far.
fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .rev()
        .map(str::trim_end)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
}

/// The last `count` lines of `text`, without a trailing newline.
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
#[path = "testing_tests.rs"]
mod tests;
