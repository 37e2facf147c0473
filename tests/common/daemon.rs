//! A real `git daemon` on 127.0.0.1 for the tests of coordination through a remote, and
//! addresses where nothing listens, for remotes that cannot be reached.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::TestEnv;

/// How long a `git daemon` may take to accept connections after it was started.
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `git daemon` serving every repository under one directory over `git://`, listening on
/// 127.0.0.1 only, on a port nobody else was using. Killed (by its own process id) when dropped.
pub struct GitDaemon {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl GitDaemon {
    /// Serve `base` with pushes allowed (`--enable=receive-pack`).
    pub fn start(env: &TestEnv, base: &Path) -> GitDaemon {
        GitDaemon::spawn(env, base, true)
    }

    /// Serve `base` for fetching only: every push is refused.
    pub fn start_read_only(env: &TestEnv, base: &Path) -> GitDaemon {
        GitDaemon::spawn(env, base, false)
    }

    fn spawn(env: &TestEnv, base: &Path, pushes: bool) -> GitDaemon {
        // Another process may grab the port between our probe and the daemon's bind: try again
        // on a new port when the daemon dies at once.
        // `git daemon` would run `git-daemon` as a child of its own and leave it behind when
        // killed: run the daemon itself, so that the process id held is the one listening.
        let exec_path = env.git(base, &["--exec-path"]);
        let program = Path::new(exec_path.trim()).join("git-daemon");
        let program = program.to_str().expect("a UTF-8 git exec path");
        let mut last_log = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = env.root().join(format!("daemon-{port}-{attempt}.log"));
            let mut command = env.command(program, base);
            command.args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"]);
            if pushes {
                command.arg("--enable=receive-pack");
            }
            command
                .arg(format!("--base-path={}", base.display()))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap());
            let child = command.spawn().expect("git daemon starts");
            let mut daemon = GitDaemon {
                child: Some(child),
                port,
                log,
            };
            if daemon.wait_until_listening() {
                return daemon;
            }
            last_log = daemon.log_text();
            daemon.stop();
        }
        panic!("git daemon never accepted connections on 127.0.0.1; its last log:\n{last_log}");
    }

    /// Wait (at most [`DAEMON_START_TIMEOUT`]) until the port accepts connections; `false` when
    /// the daemon exited or never listened.
    fn wait_until_listening(&mut self) -> bool {
        let deadline = Instant::now() + DAEMON_START_TIMEOUT;
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        while Instant::now() < deadline {
            let child = self.child.as_mut().expect("a running daemon");
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            if std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The URL of the repository `<base>/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }

    /// What the daemon wrote to stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Start a stopped daemon again on the same port, serving `base` (pushes allowed), so that
    /// URLs handed out before work again.
    pub fn restart(&mut self, env: &TestEnv, base: &Path) {
        self.stop();
        let exec_path = env.git(base, &["--exec-path"]);
        let program = Path::new(exec_path.trim()).join("git-daemon");
        // The port was just released; binding it again may take a few tries.
        for _ in 0..50 {
            let mut command = env.command(program.to_str().expect("a UTF-8 git exec path"), base);
            command
                .args([
                    "--export-all",
                    "--reuseaddr",
                    "--listen=127.0.0.1",
                    "--enable=receive-pack",
                ])
                .arg(format!("--base-path={}", base.display()))
                .arg(format!("--port={}", self.port))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&self.log).unwrap());
            self.child = Some(command.spawn().expect("git daemon starts"));
            if self.wait_until_listening() {
                return;
            }
            self.stop();
            thread::sleep(Duration::from_millis(20));
        }
        panic!("git daemon could not listen on 127.0.0.1:{} again", self.port);
    }

    /// Kill the daemon (by its process id) and wait for it; from then on its URLs are
    /// unreachable. Stopping twice is harmless.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port on 127.0.0.1 that was free a moment ago: the operating system's pick for a listener
/// bound to port 0, closed again at once.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a free port on 127.0.0.1");
    listener.local_addr().unwrap().port()
}

/// A `git://` URL on 127.0.0.1 where nothing listens, for a remote that cannot be reached.
pub fn unreachable_url(name: &str) -> String {
    format!("git://127.0.0.1:{}/{name}", free_port())
}
