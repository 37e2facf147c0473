//! Child processes under supervision, in one place: check commands (verify) today; test runs,
//! agents and hooks as they come.
//!
//! A [`Spec`] says what to start (`sh -c SCRIPT`, or a program with arguments), where, with
//! which additions to the environment, how much of each output stream to keep and which strings
//! to look for in all of it. [`run`] starts it and waits with a timeout; [`Running`] is the same
//! for a long-running child the caller looks at from time to time.
//!
//! Guarantees:
//! - stdin is null; stdout and stderr are read concurrently, so a child that fills one pipe
//!   while the other is being read cannot deadlock;
//! - only the last `tail_bytes` of each stream are kept, while the needles are looked for in
//!   the whole streams;
//! - on unix the child leads its own process group, and a timeout kills that whole group, so
//!   background processes it started die with it. The group is also killed when the child
//!   exits but a process it started keeps its output open past the timeout
//!   ([`Ending::LeftBehind`]). A process that left the group (with `setsid`, say) and still
//!   holds the output is not waited for beyond a 2 s grace: the output read so far is
//!   reported, and the thread reading it ends when that process closes it;
//! - with a log file, everything either stream carries is appended to it as it is read, so a
//!   child's whole output survives even when only its tail is kept in memory;
//! - nothing here reads the environment of this process: what the child gets beyond what it
//!   inherits is passed in.
//!
//! Judging an outcome (what counts as passing) is the caller's business.

mod capture;
mod child;
pub mod group;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

pub use capture::Output;
pub use child::Running;

/// Why a child could not be supervised.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start reading the command's output: {0}")]
    Read(#[source] std::io::Error),
    #[error("could not wait for the command: {0}")]
    Wait(#[source] std::io::Error),
    #[error("could not open the log {path}: {source}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to start and how to capture it.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// The directory to run in; `None`: this process's.
    pub dir: Option<PathBuf>,
    /// Added to the environment the child inherits, in order (a later one wins).
    pub env: Vec<(OsString, OsString)>,
    /// How many bytes of the end of stdout and of stderr to keep.
    pub tail_bytes: usize,
    /// Strings looked for in the whole of stdout; [`Output::found`] says which appeared.
    pub stdout_needles: Vec<String>,
    /// Strings looked for in the whole of stderr.
    pub stderr_needles: Vec<String>,
    /// A file both streams are appended to as they are read (a session's log), besides the
    /// tails kept in memory; created when missing.
    pub log: Option<PathBuf>,
    /// On Linux, the child is killed (SIGKILL) when the thread that started it dies, so a
    /// supervisor killed with `kill -9` leaves no child running unsupervised.
    pub die_with_parent: bool,
}

/// How much of each stream a [`Spec`] keeps unless told otherwise.
pub const DEFAULT_TAIL_BYTES: usize = 4096;

impl Spec {
    /// `program` with `args`.
    pub fn program(program: impl Into<OsString>, args: impl IntoIterator<Item = impl Into<OsString>>) -> Spec {
        Spec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            dir: None,
            env: Vec::new(),
            tail_bytes: DEFAULT_TAIL_BYTES,
            stdout_needles: Vec::new(),
            stderr_needles: Vec::new(),
            log: None,
            die_with_parent: false,
        }
    }

    /// `sh -c script`.
    pub fn shell(script: impl Into<OsString>) -> Spec {
        Spec::program("sh", [OsString::from("-c"), script.into()])
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Spec {
        self.dir = Some(dir.into());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Spec {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// How a child's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Killed by this signal (unix).
    Signal(i32),
    /// Neither an exit code nor a signal is known.
    Unknown,
}

impl Exit {
    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(code) => Some(code),
            _ => None,
        }
    }
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Exit {
        if let Some(code) = status.code() {
            return Exit::Code(code);
        }
        #[cfg(unix)]
        if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
            return Exit::Signal(signal);
        }
        Exit::Unknown
    }
}

/// How a supervised run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(Exit),
    /// Still running at the deadline: its group was killed.
    TimedOut,
    /// It exited, but something it started held stdout or stderr open past the deadline; that
    /// group was killed.
    LeftBehind(Exit),
}

/// The result of a supervised run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ending: Ending,
    pub stdout: Output,
    pub stderr: Output,
    /// From the start to the end of reading its output.
    pub duration: Duration,
}

/// Start `spec` and wait for it for at most `timeout` (see [`Running::wait`]).
pub fn run(spec: &Spec, timeout: Option<Duration>) -> Result<Outcome> {
    Running::spawn(spec)?.wait(timeout)
}

#[cfg(test)]
mod tests;
