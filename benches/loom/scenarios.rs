//! The timed scenarios (every command beside its floor) and the racing `claim --next` run.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Floor {
    Version,
    UpdateRef,
    ForEachRef,
}

impl Floor {
    pub(super) fn name(self) -> &'static str {
        match self {
            Floor::Version => "git --version",
            Floor::UpdateRef => "git update-ref",
            Floor::ForEachRef => "git for-each-ref",
        }
    }
}

pub(super) struct Row {
    pub(super) operation: String,
    pub(super) tasks: usize,
    pub(super) layout: &'static str,
    pub(super) figure: Figure,
    /// `None` for a floor's own row.
    pub(super) floor: Option<Floor>,
}

/// The floors of one repository, as measured.
pub(super) struct Floors(BTreeMap<&'static str, f64>);

impl Floors {
    pub(super) fn of(&self, floor: Floor) -> f64 {
        self.0[floor.name()]
    }
}

pub(super) fn cache_file(dir: &Path) -> PathBuf {
    dir.join(".git/loom/tasks.cache")
}

/// The board: the ready and list tables as of the listed tips.
pub(super) fn board_file(dir: &Path) -> PathBuf {
    dir.join(".git/loom/board.cache")
}

/// Remove every local read cache, so the next read starts from the objects.
pub(super) fn remove_cache(dir: &Path) {
    for file in [cache_file(dir), board_file(dir)] {
        match std::fs::remove_file(file) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => panic!("removing a read cache: {err}"),
        }
    }
}

/// Measure every single-process scenario on `dir` (a work copy), appending rows.
pub(super) fn scenarios(dir: &Path, size: usize, layout: &'static str, rows: &mut Vec<Row>) -> Floors {
    let mut floors = Floors(BTreeMap::new());
    let push = |rows: &mut Vec<Row>, operation: &str, figure: Figure, floor: Option<Floor>| {
        eprintln!(
            "  {operation:<16} {size:>6} {layout:<6} {:>9.2} ms median, {:>9.2} ms p90 ({} runs)",
            figure.median, figure.p90, figure.runs
        );
        rows.push(Row {
            operation: operation.to_owned(),
            tasks: size,
            layout,
            figure,
            floor,
        });
    };

    // Ready tasks for the writes, chosen in-process before anything is timed: `claim ID` takes
    // the least urgent ones, `claim --next` the best ones.
    let ready: Vec<String> = {
        let loom = Loom::open(dir).expect("the work copy opens");
        let snapshot = loom.snapshot(jiff::Timestamp::now()).expect("the work copy reads");
        let ready: Vec<String> = snapshot.ready().iter().map(|r| r.entry.task.id.to_string()).collect();
        assert!(
            ready.len() >= 2 * RUNS,
            "the fixture has only {} ready tasks",
            ready.len()
        );
        ready
    };
    let by_id: Vec<String> = ready.iter().rev().take(RUNS).cloned().collect();
    let show_id = ready[ready.len() / 2].clone();

    // Floors for process start and reading every ref.
    let f = measure(RUNS, || {}, |_| time_process(git_cmd(dir).arg("--version")));
    floors.0.insert(Floor::Version.name(), f.median);
    push(rows, Floor::Version.name(), f, None);
    let f = measure(
        RUNS,
        || {},
        |_| time_process(git_cmd(dir).args(["for-each-ref", "--format=%(refname) %(objectname)", "refs/loom/"])),
    );
    floors.0.insert(Floor::ForEachRef.name(), f.median);
    push(rows, Floor::ForEachRef.name(), f, None);

    // Reads: cold (no read cache: every task read from its objects) and warm (nothing changed
    // since the previous run). One untimed cold read first brings the objects of the fresh copy
    // into the system's file cache, so the first timed run does not pay for the disk.
    remove_cache(dir);
    time_process(loom_cmd(dir).arg("list"));
    let (cold_runs, cold_budget) = match size {
        100_000.. => (BIG_COLD_RUNS, BIG_COLD_BUDGET),
        _ => (RUNS, FIGURE_BUDGET),
    };
    for command in ["ready", "list"] {
        let f = measure_within(
            cold_runs,
            cold_budget,
            || remove_cache(dir),
            |_| time_process(loom_cmd(dir).arg(command)),
        );
        push(rows, &format!("{command} cold"), f, Some(Floor::ForEachRef));
        assert!(cache_file(dir).exists(), "a cold {command} writes the read cache");
        assert!(board_file(dir).exists(), "a cold {command} writes the board");
        let f = measure(RUNS, || {}, |_| time_process(loom_cmd(dir).arg(command)));
        push(rows, &format!("{command} warm"), f, Some(Floor::ForEachRef));
        // The usual case between those two: one task changed since the last read.
        let f = measure(
            RUNS,
            || {},
            |n| {
                let retitle = loom_cmd(dir)
                    .args(["-q", "update", &show_id, "--title", &format!("retitled {n}")])
                    .output()
                    .expect("git-loom runs");
                assert!(retitle.status.success(), "update {show_id} succeeds");
                time_process(loom_cmd(dir).arg(command))
            },
        );
        push(rows, &format!("{command} after 1 change"), f, Some(Floor::ForEachRef));
    }
    // What agents call: the same listings as JSON, served from the board's JSON text.
    for command in ["ready", "list"] {
        time_process(loom_cmd(dir).args([command, "--json"]));
        let f = measure(RUNS, || {}, |_| time_process(loom_cmd(dir).args([command, "--json"])));
        push(rows, &format!("{command} --json warm"), f, Some(Floor::ForEachRef));
        let f = measure(
            RUNS,
            || {},
            |n| {
                let retitle = loom_cmd(dir)
                    .args(["-q", "update", &show_id, "--title", &format!("retitled json {n}")])
                    .output()
                    .expect("git-loom runs");
                assert!(retitle.status.success(), "update {show_id} succeeds");
                time_process(loom_cmd(dir).args([command, "--json"]))
            },
        );
        push(
            rows,
            &format!("{command} --json after 1 change"),
            f,
            Some(Floor::ForEachRef),
        );
    }
    let f = measure(RUNS, || {}, |_| time_process(loom_cmd(dir).args(["show", &show_id])));
    push(rows, "show ID", f, Some(Floor::Version));

    // Writes, beside one atomic ref create by git.
    let head = git(dir, &["rev-parse", "HEAD"]);
    let f = measure(
        RUNS,
        || {},
        |n| time_process(git_cmd(dir).args(["update-ref", &format!("refs/loom/bench/{n}"), &head, ""])),
    );
    floors.0.insert(Floor::UpdateRef.name(), f.median);
    push(rows, Floor::UpdateRef.name(), f, None);
    let f = measure(
        RUNS,
        || {},
        |n| time_process(loom_cmd(dir).args(["-q", "create", &format!("bench create {n}")])),
    );
    push(rows, "create", f, Some(Floor::UpdateRef));
    let mut claimed = 0;
    let f = measure(
        RUNS,
        || {},
        |n| {
            claimed += 1;
            time_process(loom_cmd(dir).args(["-q", "claim", &by_id[n]]))
        },
    );
    push(rows, "claim ID", f, Some(Floor::UpdateRef));
    // Heartbeat and done run on the tasks just claimed, as many as there are.
    let held = &by_id[..claimed];
    let f = measure(
        held.len(),
        || {},
        |n| time_process(loom_cmd(dir).args(["-q", "heartbeat", &held[n]])),
    );
    push(rows, "heartbeat ID", f, Some(Floor::UpdateRef));
    // The bookkeeping of finishing a task, not the task's own checks (some generated tasks have
    // `cargo test` as acceptance, which `done` would otherwise run first).
    let f = measure(
        held.len(),
        || {},
        |n| time_process(loom_cmd(dir).args(["-q", "done", "--skip-verify", &held[n]])),
    );
    push(rows, "done ID", f, Some(Floor::UpdateRef));
    let f = measure(
        RUNS,
        || {},
        |_| time_process(loom_cmd(dir).args(["-q", "claim", "--next"])),
    );
    push(rows, "claim --next", f, Some(Floor::UpdateRef));
    floors
}

// ---------------------------------------------------------------------------------------------
// Racing claims

/// A repository with `count` ready tasks, created in-process.
pub(super) fn ready_repository(dir: &Path, count: usize, seed: u64) -> Vec<String> {
    let loom = init_repository(dir, "race");
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let mut new = NewTask::titled(format!("task {i}"), Kind::Task);
            new.priority = Some(priority(&mut rng));
            loom.create(&new, &actor(GEN_AGENT))
                .expect("creating a task works")
                .id
                .to_string()
        })
        .collect()
}

pub(super) struct Race {
    pub(super) agents: usize,
    pub(super) layout: &'static str,
    pub(super) claims: usize,
    pub(super) secs: f64,
    pub(super) double: usize,
    pub(super) unclaimed: usize,
}

/// `agents` processes loop `claim --next` until nothing is ready; then every task's history is
/// read back to count grants: one `claim by` commit each, and any extra is a double grant.
pub(super) fn race(dir: &Path, ids: &[String], agents: usize, layout: &'static str) -> Race {
    // Agents start on a repository someone has looked at: the board `claim --next` starts
    // from is built by an untimed `ready` first, as it would be by any earlier read.
    let warm = loom_cmd(dir).args(["-q", "ready"]).output().expect("git-loom runs");
    assert!(warm.status.success(), "ready before the race succeeds");
    let claimed = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for n in 0..agents {
            let claimed = &claimed;
            scope.spawn(move || {
                loop {
                    assert!(start.elapsed() < RACE_DEADLINE, "racing agents did not finish in time");
                    let out = loom_cmd(dir)
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
    let secs = start.elapsed().as_secs_f64();
    let log = git(
        dir,
        &[
            "log",
            "--glob=refs/loom/tasks/*",
            "--format=%(trailers:key=Loom-Task,valueonly,separator=%x2C)%x09%s",
        ],
    );
    let mut grants: BTreeMap<&str, usize> = ids.iter().map(|id| (id.as_str(), 0)).collect();
    for line in log.lines() {
        if let Some((task, subject)) = line.split_once('\t')
            && subject.starts_with("claim by ")
            && let Some(count) = grants.get_mut(task)
        {
            *count += 1;
        }
    }
    Race {
        agents,
        layout,
        claims: claimed.load(Ordering::SeqCst),
        secs,
        double: grants.values().map(|g| g.saturating_sub(1)).sum(),
        unclaimed: grants.values().filter(|&&g| g == 0).count(),
    }
}
