//! Coordination through a remote: a real `git daemon` on 127.0.0.1 serving a bare repository,
//! with every git-loom figure beside plain git doing the same network work in the same run.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::Child;

use super::*;

/// Timed runs of each remote figure (every run talks to the daemon).
pub(super) const REMOTE_RUNS: usize = 9;
/// How long the daemon may take to accept connections.
const DAEMON_START: Duration = Duration::from_secs(10);

/// One remote figure with the plain-git floor measured beside it.
pub(super) struct RemoteRow {
    pub(super) operation: &'static str,
    pub(super) tasks: usize,
    pub(super) figure: Figure,
    pub(super) floor_name: &'static str,
    pub(super) floor: Figure,
}

/// Setup costs, reported as context.
pub(super) struct RemoteSetup {
    pub(super) tasks: usize,
    pub(super) initial_sync_secs: f64,
    pub(super) first_fetch_secs: f64,
    pub(super) remote_refs: usize,
}

/// A `git daemon` serving `base` on a free loopback port, stopped (by its own PID) on drop.
struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    fn start(base: &Path) -> Daemon {
        let port = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port exists")
            .port();
        // `git daemon` would run `git-daemon` as a child of its own, which killing the PID we
        // hold would leave behind: run it directly.
        let exec_path = git(base, &["--exec-path"]);
        let child = hermetic(&mut Command::new(Path::new(&exec_path).join("git-daemon")))
            .arg("--export-all")
            .arg("--enable=receive-pack")
            .arg("--reuseaddr")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let started = Instant::now();
        while TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(started.elapsed() < DAEMON_START, "git daemon did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child, port }
    }

    fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn timed(command: &mut Command) -> f64 {
    time_process(command).as_secs_f64()
}

/// Measure the remote scenarios for the fixture in `fixture_dir` (of `size` tasks), working in
/// `work`.
pub(super) fn remote_scenarios(fixture_dir: &Path, size: usize, work: &Path) -> (Vec<RemoteRow>, RemoteSetup) {
    let base = work.join(format!("remote-{size}"));
    std::fs::create_dir_all(&base).expect("the work directory is writable");
    let bare = base.join("loom.git");
    git(&base, &["init", "-q", "--bare", "loom.git"]);
    let daemon = Daemon::start(&base);
    let url = daemon.url("loom.git");

    // A: the fixture, publishing to the remote. B: a second clone of the coordination state.
    // C: plain git only, for the floors.
    let a = base.join("a");
    copy_repository(fixture_dir, &a);
    let (b, c) = (base.join("b"), base.join("c"));
    for dir in [&b, &c] {
        git(
            &base,
            &["init", "-q", "-b", "main", dir.to_str().expect("work paths are UTF-8")],
        );
    }
    for dir in [&a, &b, &c] {
        git(dir, &["remote", "add", "origin", &url]);
    }
    for dir in [&a, &b] {
        let out = loom_cmd(dir)
            .args(["-q", "remote", "origin"])
            .output()
            .expect("git-loom runs");
        assert!(out.status.success(), "git loom remote origin");
    }
    // The floor of the first sync: a plain atomic push of the same refs to a remote of its own
    // (one refspec pattern, so git's own argument list stays short).
    git(&base, &["init", "-q", "--bare", "floor.git"]);
    let floor_url = daemon.url("floor.git");
    let first_push_floor =
        time_process(git_cmd(&a).args(["push", "-q", "--atomic", &floor_url, "refs/loom/*:refs/loom/*"]));
    let first_sync = time_process(loom_cmd(&a).args(["-q", "sync"]));
    let initial_sync_secs = first_sync.as_secs_f64();
    let first_fetch_secs = timed(loom_cmd(&b).args(["-q", "sync"]));
    let fetch_refspec = "+refs/loom/*:refs/loom-remote/origin/*";
    git(&c, &["fetch", "-q", "origin", fetch_refspec]);
    let remote_refs = git(&bare, &["for-each-ref", "--format=x", "refs/loom/"])
        .lines()
        .count();

    let ready: Vec<String> = {
        let loom = Loom::open(&a).expect("the work copy opens");
        let snapshot = loom.snapshot(jiff::Timestamp::now()).expect("the work copy reads");
        snapshot.ready().iter().map(|r| r.entry.task.id.to_string()).collect()
    };
    assert!(
        ready.len() >= 2 * REMOTE_RUNS + 10,
        "the fixture has too few ready tasks"
    );
    let head = git(&a, &["rev-parse", "HEAD"]);
    let mut rows = vec![RemoteRow {
        operation: "first sync (every task new, 1 run)",
        tasks: size,
        figure: figure(vec![first_sync]),
        floor_name: "git push --atomic (same refs)",
        floor: figure(vec![first_push_floor]),
    }];

    // One claim published to the remote, beside a plain push of one new ref.
    let push_floor = measure(
        REMOTE_RUNS,
        || {},
        |n| time_process(git_cmd(&a).args(["push", "-q", "origin", &format!("{head}:refs/loom/bench/push-{n}")])),
    );
    let claim = measure(
        REMOTE_RUNS,
        || {},
        |n| time_process(loom_cmd(&a).args(["-q", "claim", &ready[n]])),
    );
    rows.push(RemoteRow {
        operation: "claim ID (published)",
        tasks: size,
        figure: claim,
        floor_name: "git push (1 new ref)",
        floor: push_floor,
    });

    // A sync with nothing to do, beside a plain fetch of the same refs with nothing new.
    let fetch_floor = measure(
        REMOTE_RUNS,
        || {},
        |_| time_process(git_cmd(&c).args(["fetch", "-q", "origin", fetch_refspec])),
    );
    let noop = measure(REMOTE_RUNS, || {}, |_| time_process(loom_cmd(&b).args(["-q", "sync"])));
    rows.push(RemoteRow {
        operation: "sync (nothing new)",
        tasks: size,
        figure: noop,
        floor_name: "git fetch (nothing new)",
        floor: fetch_floor,
    });

    // After 10 tasks changed on the remote (published by A, untimed): B's sync beside C's
    // plain fetch of the same change.
    let (mut sync_samples, mut fetch_samples) = (Vec::new(), Vec::new());
    let changed = &ready[REMOTE_RUNS..];
    for run in 0..REMOTE_RUNS.min(5) {
        for id in changed.iter().take(10) {
            let out = loom_cmd(&a)
                .args(["-q", "update", id, "--title", &format!("changed {run}")])
                .output()
                .expect("git-loom runs");
            assert!(
                out.status.success(),
                "update {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        fetch_samples.push(time_process(git_cmd(&c).args(["fetch", "-q", "origin", fetch_refspec])));
        sync_samples.push(time_process(loom_cmd(&b).args(["-q", "sync"])));
    }
    rows.push(RemoteRow {
        operation: "sync (10 tasks changed)",
        tasks: size,
        figure: figure(sync_samples),
        floor_name: "git fetch (10 refs changed)",
        floor: figure(fetch_samples),
    });
    drop(daemon);
    (
        rows,
        RemoteSetup {
            tasks: size,
            initial_sync_secs,
            first_fetch_secs,
            remote_refs,
        },
    )
}
