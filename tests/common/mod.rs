//! Shared helpers for the integration tests: a hermetic environment (a temporary HOME, no user
//! or system git config, fixed identities and dates for the repository's own commits) holding a
//! scratch repository, and runners for real `git` and the built `git-loom` binary that return
//! stdout, stderr and the exit code, with assertions on all three. git-loom's clock can be moved
//! forward (through `GIT_LOOM_TEST_NOW`) so that tests step past a lease instead of sleeping.

mod daemon;
pub mod hub;

pub use daemon::{GitDaemon, unreachable_url};

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_git-loom");

/// The agent name every command runs as (through `LOOM_AGENT`).
pub const AGENT: &str = "test-agent";

/// How long any single process may run before the test fails.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// What a finished process printed and how it exited.
#[derive(Debug, Clone)]
pub struct Run {
    pub what: String,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{self}"))
    }
}

/// The environment variable that sets the clock of a `git-loom` command (meant for tests).
pub const TEST_NOW: &str = "GIT_LOOM_TEST_NOW";

/// The clock every `git-loom` command of one [`TestEnv`] runs by.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// The real clock, this far ahead.
    Ahead(SignedDuration),
    /// Stopped at one moment (moved only by [`TestEnv::advance_clock`]).
    Stopped(Timestamp),
}

/// A temporary directory holding a private HOME, plus a way to run processes hermetically.
pub struct TestEnv {
    tmp: TempDir,
    /// Shared by every process the environment starts, so that a lease means the same to its
    /// holder and to everyone judging it.
    clock: Mutex<Clock>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let tmp = tempfile::Builder::new().prefix("git-loom-test-").tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("home")).unwrap();
        TestEnv {
            tmp,
            clock: Mutex::new(Clock::Ahead(SignedDuration::ZERO)),
        }
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The moment a `git-loom` command started now would judge leases and retries at.
    pub fn now(&self) -> Timestamp {
        match *self.clock() {
            Clock::Ahead(ahead) => Timestamp::now() + ahead,
            Clock::Stopped(at) => at,
        }
    }

    /// Move git-loom's clock forward by `secs` seconds: what sleeping that long would do to
    /// leases and retry times, without the wait.
    pub fn advance_clock(&self, secs: f64) {
        let by = SignedDuration::from_secs_f64(secs);
        assert!(!by.is_negative(), "the clock only moves forward");
        let mut clock = self.clock();
        *clock = match *clock {
            Clock::Ahead(ahead) => Clock::Ahead(ahead + by),
            Clock::Stopped(at) => Clock::Stopped(at + by),
        };
    }

    /// Move git-loom's clock forward until `at` has passed (by 50 ms, as a sleep until `at`
    /// would); a clock already past `at` stays where it is.
    pub fn advance_clock_past(&self, at: Timestamp) {
        let wait = at.duration_since(self.now()) + SignedDuration::from_millis(50);
        if wait.is_positive() {
            self.advance_clock(wait.as_secs_f64());
        }
    }

    /// Stop git-loom's clock at the current moment: every later command runs at the same time,
    /// so durations it prints do not depend on how fast the test runs.
    pub fn stop_clock(&self) {
        let now = self.now();
        *self.clock() = Clock::Stopped(now);
    }

    /// The root of this environment's temporary directory.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    /// A command with a cleared environment and only the variables the tests control.
    pub fn command(&self, program: &str, dir: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Test Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .env("GIT_AUTHOR_DATE", "2005-04-07T22:13:13 +0000")
            .env("GIT_COMMITTER_DATE", "2005-04-07T22:13:13 +0000")
            .env("LOOM_AGENT", AGENT)
            .env("LANG", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match *self.clock() {
            Clock::Ahead(ahead) if ahead.is_zero() => {}
            Clock::Ahead(ahead) => {
                command.env(TEST_NOW, format!("+{}ms", ahead.as_millis()));
            }
            Clock::Stopped(at) => {
                command.env(TEST_NOW, at.to_string());
            }
        }
        command
    }

    /// Run `program args` in `dir` and wait for it (bounded by [`PROCESS_TIMEOUT`]).
    pub fn run(&self, program: &str, dir: &Path, args: &[&str]) -> Run {
        let what = describe(program, args);
        let child = self.command(program, dir).args(args).spawn().unwrap();
        finish(what, child, PROCESS_TIMEOUT)
    }

    /// Run `git-loom args` in `dir`.
    pub fn loom(&self, dir: &Path, args: &[&str]) -> Run {
        self.run(BIN, dir, args)
    }

    /// Run `git args` in `dir`, which must succeed; returns stdout.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let run = self.run("git", dir, args);
        assert_eq!(run.code, 0, "{run}");
        run.stdout
    }

    /// A fresh repository at `<root>/<name>`: `git init -b main` with one commit of a tracked
    /// file (`README.md`) and a tracked subdirectory file (`src/lib.txt`). Not loom-initialised.
    pub fn new_repo(&self, name: &str) -> PathBuf {
        let dir = self.root().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        self.git(&dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("README.md"), "# scratch\n").unwrap();
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/lib.txt"), "one\n").unwrap();
        self.git(&dir, &["add", "README.md", "src/lib.txt"]);
        self.git(&dir, &["commit", "-q", "-m", "initial"]);
        dir
    }
}

/// Wait for `child` at most `timeout`, killing it and failing the test if it runs longer.
pub fn finish(what: String, mut child: Child, timeout: Duration) -> Run {
    // A stream the caller redirected elsewhere reads as empty.
    let stdout = child.stdout.take().map(reader);
    let stderr = child.stderr.take().map(reader);
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(1));
    };
    Run {
        what,
        stdout: stdout.map(|h| h.join().unwrap()).unwrap_or_default(),
        stderr: stderr.map(|h| h.join().unwrap()).unwrap_or_default(),
        code: status.code().unwrap_or(-1),
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn describe(program: &str, args: &[&str]) -> String {
    let name = if program == BIN { "git-loom" } else { program };
    let mut text = name.to_owned();
    for arg in args {
        text.push(' ');
        text.push_str(&format!("{arg:?}"));
    }
    text
}

/// Whether `text` is a full task id: `loom-` and 8 lowercase hex digits.
pub fn is_task_id(text: &str) -> bool {
    text.strip_prefix("loom-")
        .is_some_and(|hex| hex.len() == 8 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// The `id` of every task object in a JSON array, in order.
pub fn ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|task| {
            task["id"]
                .as_str()
                .unwrap_or_else(|| panic!("no id: {task}"))
                .to_owned()
        })
        .collect()
}

/// The `id` of every task object in a JSON array, sorted, for listings whose order is not the
/// point.
pub fn sorted_ids(value: &Value) -> Vec<String> {
    let mut ids = ids(value);
    ids.sort();
    ids
}

/// `args` run as another agent, through the global `--agent` flag.
pub fn as_agent<'a>(agent: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--agent", agent];
    all.extend_from_slice(args);
    all
}

/// A scratch repository inside its own [`TestEnv`].
pub struct Repo {
    pub env: TestEnv,
    pub dir: PathBuf,
}

impl Repo {
    /// A repository with one commit, not yet loom-initialised.
    pub fn uninitialized() -> Repo {
        let env = TestEnv::new();
        let dir = env.new_repo("repo");
        Repo { env, dir }
    }

    /// A repository with one commit and `git loom init` already run.
    pub fn new() -> Repo {
        let repo = Repo::uninitialized();
        let run = repo.loom(&["init"]);
        assert_eq!(run.code, 0, "{run}");
        repo
    }

    /// Add an untracked file and a staged change, so tests can prove neither is disturbed.
    pub fn dirty(self) -> Repo {
        std::fs::write(self.dir.join("notes.txt"), "untracked\n").unwrap();
        std::fs::write(self.dir.join("src/lib.txt"), "one\ntwo (staged)\n").unwrap();
        self.git(&["add", "src/lib.txt"]);
        std::fs::write(self.dir.join("README.md"), "# scratch\nunstaged edit\n").unwrap();
        self
    }

    /// Run `git-loom args` in the repository, whatever the outcome.
    pub fn loom(&self, args: &[&str]) -> Run {
        self.env.loom(&self.dir, args)
    }

    /// Run `git-loom args`; it must exit 0 with nothing on stderr.
    pub fn run_ok(&self, args: &[&str]) -> Run {
        let run = self.loom(args);
        assert_eq!(run.code, 0, "expected success: {run}");
        assert_eq!(run.stderr, "", "expected a quiet stderr: {run}");
        run
    }

    /// Run `git-loom args`; it must exit 0 and print warnings (`warning: …`) on stderr.
    pub fn run_warn(&self, args: &[&str]) -> Run {
        let run = self.loom(args);
        assert_eq!(run.code, 0, "expected success: {run}");
        assert!(run.stderr.starts_with("warning: "), "expected a warning: {run}");
        run
    }

    /// Run `git-loom args`; it must exit `code` with an `error: …` on stderr and nothing on
    /// stdout.
    pub fn run_fail(&self, code: i32, args: &[&str]) -> Run {
        let run = self.loom(args);
        assert_eq!(run.code, code, "expected exit {code}: {run}");
        assert_eq!(run.stdout, "", "a failed command prints no result: {run}");
        assert!(run.stderr.starts_with("error: "), "expected an error message: {run}");
        run
    }

    /// Run `git-loom --json args` successfully and parse stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run_ok(&all).json()
    }

    /// Create a task with `create TITLE extra…`; stdout must be exactly its id.
    pub fn create(&self, title: &str, extra: &[&str]) -> String {
        let mut args = vec!["create", title];
        args.extend_from_slice(extra);
        let run = self.run_ok(&args);
        let id = run
            .stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("no newline: {run}"));
        assert!(is_task_id(id), "create printed more than an id: {run}");
        id.to_owned()
    }

    /// `show --json ID`.
    pub fn show(&self, id: &str) -> Value {
        self.json(&["show", id])
    }

    /// The derived status `show --json` reports.
    pub fn status_of(&self, id: &str) -> String {
        self.show(id)["status"].as_str().unwrap().to_owned()
    }

    /// Run `git args` in the repository; it must succeed. Returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        self.env.git(&self.dir, args)
    }

    /// Run `git args` with `input` on stdin; it must succeed. Returns stdout, trimmed.
    pub fn git_stdin(&self, args: &[&str], input: &[u8]) -> String {
        let mut child = self
            .env
            .command("git", &self.dir)
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let run = finish(describe("git", args), child, PROCESS_TIMEOUT);
        assert_eq!(run.code, 0, "{run}");
        run.stdout.trim().to_owned()
    }

    /// The commit a ref points at, or `None` when it does not exist.
    pub fn rev(&self, name: &str) -> Option<String> {
        let run = self.env.run("git", &self.dir, &["rev-parse", "-q", "--verify", name]);
        (run.code == 0).then(|| run.stdout.trim().to_owned())
    }

    /// The tip of `refs/loom/tasks/<id>`.
    pub fn tip(&self, id: &str) -> String {
        self.rev(&format!("refs/loom/tasks/{id}"))
            .unwrap_or_else(|| panic!("no ref for {id}"))
    }

    /// Every ref and what it points at (`git for-each-ref`).
    pub fn all_refs(&self) -> String {
        self.git(&["for-each-ref", "--format=%(refname) %(objectname)"])
    }

    /// The `task.json` stored at the tip of a task's ref, read with plain git.
    pub fn stored_task(&self, id: &str) -> Value {
        let text = self.git(&["cat-file", "-p", &format!("refs/loom/tasks/{id}:task.json")]);
        serde_json::from_str(&text).unwrap()
    }

    /// Write `files` as a commit (on top of `parent`) with plain git and point `ref_name` at it.
    /// Returns the commit id.
    pub fn write_entity(&self, ref_name: &str, files: &[(&str, &[u8])], parent: Option<&str>) -> String {
        let mut tree = String::new();
        for (name, bytes) in files {
            let blob = self.git_stdin(&["hash-object", "-w", "--stdin"], bytes);
            tree.push_str(&format!("100644 blob {blob}\t{name}\n"));
        }
        let tree = self.git_stdin(&["mktree"], tree.as_bytes());
        let mut args = vec!["commit-tree", tree.as_str(), "-m", "written by hand"];
        if let Some(parent) = parent {
            args.extend(["-p", parent]);
        }
        let commit = self.git(&args).trim().to_owned();
        self.git(&["update-ref", ref_name, &commit]);
        commit
    }

    /// Replace `loom.toml` in `refs/loom/meta` with plain git, keeping `meta.json`, as a user
    /// editing it by hand (or damaging it) would.
    pub fn set_settings(&self, toml: &str) {
        let meta = self.git(&["cat-file", "-p", "refs/loom/meta:meta.json"]);
        let old = self
            .rev("refs/loom/meta")
            .expect("an initialised repository has refs/loom/meta");
        self.write_entity(
            "refs/loom/meta",
            &[("loom.toml", toml.as_bytes()), ("meta.json", meta.as_bytes())],
            Some(&old),
        );
    }

    /// Write a hand-made `task.json` under `refs/loom/tasks/<id>`.
    pub fn write_task(&self, id: &str, task: &Value) -> String {
        let bytes = serde_json::to_vec_pretty(task).unwrap();
        self.write_entity(&format!("refs/loom/tasks/{id}"), &[("task.json", &bytes)], None)
    }

    /// A copy of a real task's stored `task.json` with its id (and title) replaced, ready to be
    /// written under another ref with [`Repo::write_task`].
    pub fn forged_task(&self, template: &str, id: &str) -> Value {
        let mut task = self.stored_task(template);
        task["id"] = Value::String(id.to_owned());
        task["title"] = Value::String(format!("forged {id}"));
        task
    }

    /// Everything outside `refs/loom` that a user cares about, captured for comparison.
    pub fn outside_state(&self) -> OutsideState {
        // Read the index bytes before anything else, and keep git from refreshing it.
        let index = std::fs::read(self.dir.join(".git/index")).ok();
        let head_log = std::fs::read(self.dir.join(".git/logs/HEAD")).ok();
        let head_ref = self.env.run("git", &self.dir, &["symbolic-ref", "HEAD"]).stdout;
        let head = self.rev("HEAD");
        let refs = self.git(&[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads",
            "refs/tags",
            "refs/remotes",
            "refs/stash",
        ]);
        let status = self.git(&[
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "--untracked-files=all",
        ]);
        let mut files = BTreeMap::new();
        collect_files(&self.dir, &self.dir, &mut files);
        OutsideState {
            head_ref,
            head,
            index,
            head_log,
            refs,
            status,
            files,
        }
    }
}

/// HEAD, the index, branches and tags, `git status` and every working-tree file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideState {
    pub head_ref: String,
    pub head: Option<String>,
    pub index: Option<Vec<u8>>,
    pub head_log: Option<Vec<u8>>,
    pub refs: String,
    pub status: String,
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

fn collect_files(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path == root.join(".git") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            collect_files(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).unwrap().to_owned();
            files.insert(relative, std::fs::read(&path).unwrap());
        }
    }
}
