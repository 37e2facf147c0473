//! Claim benchmarks: how long a claim takes in-process and as a whole process (beside
//! `git update-ref` creating one ref, the floor for one atomic ref create by a process), and
//! how many claims per second 1, 4 and 16 racing `claim --next` processes achieve on 1,000
//! ready tasks, with loose and with packed refs, counting double grants.
//!
//! Run with `cargo bench --bench claims` (set `CLAIM_BENCH_TASKS` to change the task count).
//! Everything happens in local repositories in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use git_loom::model::state::Kind;
use git_loom::ops::{Actor, ClaimOptions, Loom, NewTask};
use git_loom::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_git-loom");
/// No racing loop may run longer than this.
const DEADLINE: Duration = Duration::from_secs(600);

fn git(dir: &Path, args: &[&str]) -> String {
    let out = hermetic(Command::new("git").arg("-C").arg(dir).args(args))
        .output()
        .expect("git runs because it is installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn hermetic(command: &mut Command) -> &mut Command {
    command
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
        .env("LOOM_AGENT", "bench")
}

fn actor(name: &str) -> Actor {
    Actor {
        agent: name.to_owned(),
        now: jiff::Timestamp::now(),
    }
}

/// A repository with `count` ready tasks, created in-process.
fn repository(root: &Path, name: &str, count: usize) -> (PathBuf, Vec<String>) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "initial commit"]);
    let store = Store::discover(&dir).expect("the repository was just created");
    let (loom, _) = Loom::init(store, Some(name), &actor("bench")).expect("a new repository initialises");
    let ids = (0..count)
        .map(|i| {
            let new = NewTask::titled(format!("task {i}"), Kind::Task);
            loom.create(&new, &actor("bench"))
                .expect("creating a task works")
                .id
                .to_string()
        })
        .collect();
    (dir, ids)
}

fn copy(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(status.success());
}

fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    let median = ms(samples[samples.len() / 2]);
    let p90 = ms(samples[((samples.len() as f64 * 0.9).ceil() as usize).min(samples.len()) - 1]);
    (median, p90)
}

fn time_process(command: &mut Command) -> Duration {
    let start = Instant::now();
    let out = command.output().expect("the process starts");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

/// `agents` processes loop `claim --next` until nothing is ready. Returns claims per second
/// and the number of double grants found afterwards.
fn race(dir: &Path, ids: &[String], agents: usize) -> (f64, usize) {
    let claimed = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for n in 0..agents {
            let claimed = &claimed;
            scope.spawn(move || {
                loop {
                    assert!(start.elapsed() < DEADLINE, "racing agents did not finish in time");
                    let out = hermetic(Command::new(BIN).arg("-C").arg(dir))
                        .args(["--agent", &format!("agent-{n}"), "-q", "claim", "--next"])
                        .output()
                        .expect("git-loom runs");
                    match out.status.code() {
                        Some(0) => {
                            claimed.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(4) => break,
                        _ => panic!("claim --next failed: {}", String::from_utf8_lossy(&out.stderr)),
                    }
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let total = claimed.load(Ordering::SeqCst);
    assert_eq!(total, ids.len(), "every task was claimed");
    let mut double = 0;
    for id in ids {
        let grants = git(dir, &["log", "--format=%s", &format!("refs/loom/tasks/{id}")])
            .lines()
            .filter(|line| line.starts_with("claim by "))
            .count();
        double += grants.saturating_sub(1);
    }
    (total as f64 / elapsed.as_secs_f64(), double)
}

/// `agents` processes each claim their own share of `ids` by id: no reading of the graph, only
/// the write path, so this shows what ref locking (and the `packed-refs` lock) costs under
/// contention. Returns claims per second.
fn race_by_id(dir: &Path, ids: &[String], agents: usize) -> f64 {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for (n, share) in ids.chunks(ids.len().div_ceil(agents)).enumerate() {
            scope.spawn(move || {
                for id in share {
                    assert!(start.elapsed() < DEADLINE, "claiming by id did not finish in time");
                    let out = hermetic(Command::new(BIN).arg("-C").arg(dir))
                        .args(["--agent", &format!("agent-{n}"), "-q", "claim", id])
                        .output()
                        .expect("git-loom runs");
                    assert!(
                        out.status.success(),
                        "claim {id}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    ids.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let tasks: usize = std::env::var("CLAIM_BENCH_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let root = tempfile::tempdir().expect("a temporary directory can be made");
    let (base, ids) = repository(root.path(), "base", tasks);
    println!(
        "git-loom claim benchmarks: {tasks} ready tasks, git {}",
        git(&base, &["--version"])
    );
    println!();

    // In-process: the library call alone, after the repository is open.
    let dir = root.path().join("in-process");
    copy(&base, &dir);
    let loom = Loom::open(&dir).expect("the copy opens");
    let samples: Vec<Duration> = ids
        .iter()
        .take(200)
        .map(|id| {
            let start = Instant::now();
            loom.claim(id, &ClaimOptions::default(), &actor("bench"))
                .expect("a ready task can be claimed");
            start.elapsed()
        })
        .collect();
    let (median, p90) = stats(samples);
    println!("| measurement | median ms | p90 ms | × floor |");
    println!("|---|---|---|---|");
    println!("| claim ID, in-process (200 claims) | {median:.2} | {p90:.2} | |");

    // Whole processes, beside `git update-ref` creating one ref, on the same repository.
    for layout in ["loose", "packed"] {
        let dir = root.path().join(format!("process-{layout}"));
        copy(&base, &dir);
        if layout == "packed" {
            git(&dir, &["pack-refs", "--all"]);
        }
        let head = git(&dir, &["rev-parse", "HEAD"]);
        let floor: Vec<Duration> = (0..30)
            .map(|n| {
                time_process(hermetic(&mut Command::new("git")).arg("-C").arg(&dir).args([
                    "update-ref",
                    &format!("refs/loom/bench/{n}"),
                    &head,
                    "",
                ]))
            })
            .collect();
        let claims: Vec<Duration> = ids[200..230]
            .iter()
            .map(|id| {
                time_process(
                    hermetic(&mut Command::new(BIN))
                        .arg("-C")
                        .arg(&dir)
                        .args(["-q", "claim", id]),
                )
            })
            .collect();
        let (floor_median, floor_p90) = stats(floor);
        let (median, p90) = stats(claims);
        println!("| git update-ref (create), {layout} refs | {floor_median:.2} | {floor_p90:.2} | 1.00 |");
        println!(
            "| git loom claim ID, {layout} refs | {median:.2} | {p90:.2} | {:.2} |",
            median / floor_median
        );
    }
    println!();

    println!("| processes | refs | claim --next, claims/s | double grants | claim ID (own share), claims/s |");
    println!("|---|---|---|---|---|");
    for layout in ["loose", "packed"] {
        for agents in [1, 4, 16] {
            let prepare = |name: &str| {
                let dir = root.path().join(format!("{name}-{layout}-{agents}"));
                copy(&base, &dir);
                if layout == "packed" {
                    git(&dir, &["pack-refs", "--all"]);
                }
                dir
            };
            let dir = prepare("race");
            let (rate, double) = race(&dir, &ids, agents);
            std::fs::remove_dir_all(&dir).ok();
            let dir = prepare("by-id");
            let by_id = race_by_id(&dir, &ids, agents);
            std::fs::remove_dir_all(&dir).ok();
            println!("| {agents} | {layout} | {rate:.1} | {double} | {by_id:.1} |");
        }
    }
}
