//! A started child process under supervision: its output is read as it comes, it can be looked
//! at, killed with its whole process group, or waited for with a deadline.
//!
//! Guarantees: on unix the child leads its own process group, and killing names that group
//! (`kill -KILL -- -<pgid>`, the group of the process started here and no other), so processes
//! it started die with it. A handle dropped before its child was waited for kills the group and
//! reaps the child: no process is left running unsupervised by accident.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::capture::{Capture, Output, lock, spawn_reader, wait_for_readers};
use super::{Ending, Error, Exit, Outcome, Result, Spec};

/// How long to wait for output pipes to close once their processes have been killed.
const READER_GRACE: Duration = Duration::from_secs(2);

/// The longest pause between two looks at whether the child has exited: short, so a quick
/// command is not held up, and long enough not to keep a core busy while a slow one runs.
const MAX_POLL: Duration = Duration::from_millis(20);

/// A running child and the capture of its output.
pub struct Running {
    child: Child,
    /// Set once the child has been reaped, so dropping the handle kills nothing.
    reaped: Option<Exit>,
    stdout: Arc<Mutex<Capture>>,
    stderr: Arc<Mutex<Capture>>,
    done: Receiver<()>,
    readers: usize,
    started: Instant,
}

impl Running {
    /// Start `spec` with stdin null and stdout and stderr read on threads of their own.
    pub fn spawn(spec: &Spec) -> Result<Running> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &spec.dir {
            command.current_dir(dir);
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        #[cfg(target_os = "linux")]
        if spec.die_with_parent {
            die_with_parent(&mut command);
        }
        let log = match &spec.log {
            Some(path) => Some(Arc::new(Mutex::new(open_log(path)?))),
            None => None,
        };

        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            program: spec.program.to_string_lossy().into_owned(),
            source,
        })?;
        let stdout = Arc::new(Mutex::new(Capture::new(spec.tail_bytes, &spec.stdout_needles)));
        let stderr = Arc::new(Mutex::new(Capture::new(spec.tail_bytes, &spec.stderr_needles)));
        let (done_tx, done) = mpsc::channel();
        let mut readers = 0;
        let reading = spawn_reader(child.stdout.take(), &stdout, log.as_ref(), &done_tx, &mut readers)
            .and_then(|()| spawn_reader(child.stderr.take(), &stderr, log.as_ref(), &done_tx, &mut readers));
        if let Err(source) = reading {
            stop(&mut child);
            return Err(Error::Read(source));
        }
        Ok(Running {
            child,
            reaped: None,
            stdout,
            stderr,
            done,
            readers,
            started,
        })
    }

    /// The child's process id (on unix also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// When the child was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// How the child ended, if it has; does not wait.
    pub fn try_wait(&mut self) -> Result<Option<Exit>> {
        if let Some(exit) = self.reaped {
            return Ok(Some(exit));
        }
        let status = self.child.try_wait().map_err(Error::Wait)?;
        self.reaped = status.map(Exit::from);
        Ok(self.reaped)
    }

    /// Kill the child's whole process group, and the child itself in case the group could not
    /// be named. The group may be gone already, which is what was wanted, so that is no error.
    pub fn kill_group(&mut self) {
        kill_group(&self.child);
        if self.reaped.is_none() {
            let _ = self.child.kill();
        }
    }

    /// Send `signal` to the child's whole process group (SIGTERM, to ask it to stop), while the
    /// child has not been reaped: once it has, its id may name another process.
    #[cfg(unix)]
    pub fn signal_group(&mut self, signal: i32) {
        if matches!(self.try_wait(), Ok(None)) {
            let group = libc::pid_t::try_from(self.child.id()).unwrap_or(0);
            if group > 0 {
                // SAFETY: kill(2) with a negative pid only sends a signal to that group; it
                // touches no memory of this process.
                unsafe {
                    libc::kill(-group, signal);
                }
            }
        }
    }

    /// The output read so far: (stdout, stderr).
    pub fn tails(&self) -> (Output, Output) {
        (lock(&self.stdout).output(), lock(&self.stderr).output())
    }

    /// Wait for the child to end and its output to be read, for at most `timeout` from now
    /// (`None`: no limit). Past the limit the group is killed and the outcome is
    /// [`Ending::TimedOut`]. When the child exits but something it started still holds its
    /// output open at the limit, that group is killed and the outcome is
    /// [`Ending::LeftBehind`]. Output still held open after that by a process that left the
    /// group is not waited for beyond a 2 s grace.
    pub fn wait(mut self, timeout: Option<Duration>) -> Result<Outcome> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let mut ending = match self.wait_for_exit(deadline) {
            Ok(ending) => ending,
            Err(err) => {
                self.stop();
                return Err(err);
            }
        };
        let readers_until = match ending {
            Ending::Exited(_) => deadline,
            _ => Instant::now().checked_add(READER_GRACE),
        };
        let left = wait_for_readers(&self.done, self.readers, readers_until);
        if left > 0
            && let Ending::Exited(exit) = ending
        {
            // The leader is reaped, but whatever holds the pipes open is still alive and most
            // likely in its group, which keeps the group's id from being reused by another
            // process.
            kill_group(&self.child);
            ending = Ending::LeftBehind(exit);
            wait_for_readers(&self.done, left, Instant::now().checked_add(READER_GRACE));
        }
        self.readers = 0;
        let (stdout, stderr) = self.tails();
        Ok(Outcome {
            ending,
            stdout,
            stderr,
            duration: self.started.elapsed(),
        })
    }

    fn wait_for_exit(&mut self, deadline: Option<Instant>) -> Result<Ending> {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(exit) = self.try_wait()? {
                return Ok(Ending::Exited(exit));
            }
            let mut sleep = pause;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.stop();
                    return Ok(Ending::TimedOut);
                }
                sleep = sleep.min(left);
            }
            thread::sleep(sleep);
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// Kill the group, then the child itself, and reap it.
    fn stop(&mut self) {
        if self.reaped.is_some() {
            return;
        }
        stop(&mut self.child);
        self.reaped = Some(Exit::Unknown);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kill the process group `child` leads. Only that group is named, and errors are ignored: the
/// group may already be gone, which is what was wanted.
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

/// Open (or create) `path` for appending, with its directory.
fn open_log(path: &std::path::Path) -> Result<std::fs::File> {
    let failed = |source| Error::Log {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)
}

/// Have the kernel kill the child when the thread that starts it dies (`PR_SET_PDEATHSIG`).
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the hook runs in the forked child before exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit), allocating nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died between the fork and the prctl: nobody would kill the child.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(137);
            }
            Ok(())
        });
    }
}

/// Kill the group, then the child itself in case `kill` could not run, and reap it.
fn stop(child: &mut Child) {
    kill_group(child);
    let _ = child.kill();
    let _ = child.wait();
}
