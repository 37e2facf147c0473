//! The benchmark harness: every command scenario as a whole process, on generated task graphs
//! of 1,000, 10,000 and 100,000 tasks, beside git's own floors measured in the same run on the
//! same repository.
//!
//! Run with `cargo bench --bench loom`. It
//!
//! 1. builds (or reuses) fixture repositories under `target/bench-repos/<size>-<seed>`: a
//!    seeded graph of epics and their children, dependency chains, fan-in and fan-out, mixed
//!    priorities and states, created in-process through the library;
//! 2. times `create`, `show`, `claim ID`, `claim --next`, `heartbeat`, `done`, and `ready` and
//!    `list` cold and warm, with loose refs and with packed refs, beside three floors:
//!    `git --version` (starting a process), `git update-ref` (one atomic ref create) and
//!    `git for-each-ref` over `refs/loom/` (listing the refs and their tips);
//! 3. races 1, 4 and 16 `claim --next` processes on 1,000 ready tasks and counts double grants;
//! 4. compares `claim ID` and `create` at the smallest and the largest size;
//! 5. prints the results as Markdown and appends them to `doc/benchmarks.md`.
//!
//! Environment:
//! - `LOOM_BENCH_SIZES=1000,10000` — the sizes to measure (default `1000,10000,100000`);
//! - `LOOM_BENCH_SEED=42` — the seed of the graph generator;
//! - `LOOM_BENCH_NO_DOC=1` — print only, leave `doc/benchmarks.md` alone.
//!
//! Work copies live in `target/bench-repos/work-<pid>` and are removed at the end. Generating
//! the fixtures takes about two and a half minutes (two for 100,000 tasks) and is done once; a
//! run with every fixture cached takes about eight minutes on two cores.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use git_loom::model::state::Kind;
use git_loom::model::{Priority, Status};
use git_loom::ops::{Actor, Changes, ClaimOptions, Credentials, Loom, NewTask};
use git_loom::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_git-loom");
/// Bumped whenever the generator changes, so cached fixtures from an older one are rebuilt.
const GENERATOR: u32 = 1;
const DEFAULT_SIZES: &[usize] = &[1_000, 10_000, 100_000];
const DEFAULT_SEED: u64 = 42;
/// The most timed runs of one figure.
const RUNS: usize = 15;
/// The most timed runs of a cold read at 100,000 tasks or more, and their time budget.
const BIG_COLD_RUNS: usize = 5;
const BIG_COLD_BUDGET: Duration = Duration::from_secs(60);
/// The fewest timed runs of one figure, whatever the time budget.
const MIN_RUNS: usize = 3;
/// Once a figure has its fewest runs, no more are started after this much time.
const FIGURE_BUDGET: Duration = Duration::from_secs(15);
/// Epic children that have dependencies on their siblings: creating one reads the whole graph
/// (to rule out a cycle through the epic), so they are bounded and created first, while the
/// repository is still small.
const CHAINED_CHILDREN: usize = 1_500;
/// Ready tasks in the racing benchmark.
const RACE_TASKS: usize = 1_000;
/// No racing loop may run longer than this.
const RACE_DEADLINE: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// Processes

fn hermetic(command: &mut Command) -> &mut Command {
    command
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
        .env("LOOM_AGENT", "bench")
        .stdin(Stdio::null())
}

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

fn git_cmd(dir: &Path) -> Command {
    let mut command = Command::new("git");
    hermetic(&mut command).arg("-C").arg(dir);
    command
}

fn loom_cmd(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    hermetic(&mut command).arg("-C").arg(dir);
    command
}

/// Run a process to completion and return how long it took from start to exit.
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

fn actor(agent: &str) -> Actor {
    Actor {
        agent: agent.to_owned(),
        now: jiff::Timestamp::now(),
    }
}

// ---------------------------------------------------------------------------------------------
// Timing

/// One measured figure.
#[derive(Debug, Clone, Copy)]
struct Figure {
    median: f64,
    p90: f64,
    runs: usize,
}

fn figure(mut samples: Vec<Duration>) -> Figure {
    assert!(!samples.is_empty(), "a figure needs at least one run");
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    let n = samples.len();
    let median = if n % 2 == 1 {
        ms(samples[n / 2])
    } else {
        (ms(samples[n / 2 - 1]) + ms(samples[n / 2])) / 2.0
    };
    let p90 = ms(samples[((n as f64 * 0.9).ceil() as usize).clamp(1, n) - 1]);
    Figure { median, p90, runs: n }
}

/// Time `run` up to `max_runs` times (at least [`MIN_RUNS`]; no new run once the budget is
/// spent). `prepare` runs before each timed run, outside the timing. `run` gets the run's index.
fn measure(max_runs: usize, prepare: impl FnMut(), run: impl FnMut(usize) -> Duration) -> Figure {
    measure_within(max_runs, FIGURE_BUDGET, prepare, run)
}

/// [`measure`] with another time budget.
fn measure_within(
    max_runs: usize,
    budget: Duration,
    mut prepare: impl FnMut(),
    mut run: impl FnMut(usize) -> Duration,
) -> Figure {
    let start = Instant::now();
    let mut samples = Vec::with_capacity(max_runs);
    while samples.len() < max_runs && (samples.len() < MIN_RUNS || start.elapsed() < budget) {
        prepare();
        samples.push(run(samples.len()));
    }
    figure(samples)
}

// ---------------------------------------------------------------------------------------------
// The seeded graph generator

/// xorshift64*: small, fast and fully determined by its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Never zero, and different seeds spread apart.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Epic,
    Idea,
    Task,
}

/// What becomes of a planned task once it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Stays as created: pending (ready or blocked), an open epic, or an idea.
    Open,
    Done,
    Cancelled,
    /// Claimed, then failed once (retried after a backoff).
    Failed,
    /// Claimed, then failed with no retries allowed.
    Dead,
    /// Claimed by a worker that is still on it.
    Claimed,
}

#[derive(Debug, Clone)]
struct Planned {
    role: Role,
    priority: Priority,
    labels: Vec<usize>,
    /// Indices of earlier tasks this one depends on.
    deps: Vec<usize>,
    parent: Option<usize>,
    fate: Fate,
}

/// An epic and the consecutive tasks that are its children.
#[derive(Debug, Clone)]
struct Block {
    epic: usize,
    children: std::ops::Range<usize>,
    /// Whether its children depend on each other (and so are created with a whole-graph read).
    chained: bool,
}

/// A creation unit: a whole epic block, or one free task.
#[derive(Debug, Clone)]
enum Unit {
    Block(Block),
    Free(usize),
}

struct Plan {
    tasks: Vec<Planned>,
    units: Vec<Unit>,
}

impl Plan {
    /// The order tasks are created in: blocks whose children depend on each other first (they
    /// read the whole graph, so while it is small), then everything else in index order.
    fn creation_order(&self) -> impl Iterator<Item = &Unit> {
        let chained = |unit: &&Unit| matches!(unit, Unit::Block(block) if block.chained);
        self.units
            .iter()
            .filter(chained)
            .chain(self.units.iter().filter(move |unit| !chained(unit)))
    }

    fn fate_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for task in &self.tasks {
            let name = match (task.role, task.fate) {
                (Role::Epic, _) => "epic",
                (Role::Idea, Fate::Cancelled) => "idea dropped",
                (Role::Idea, _) => "idea",
                (Role::Task, Fate::Open) => "open",
                (Role::Task, Fate::Done) => "done",
                (Role::Task, Fate::Cancelled) => "cancelled",
                (Role::Task, Fate::Failed) => "failed",
                (Role::Task, Fate::Dead) => "dead",
                (Role::Task, Fate::Claimed) => "claimed",
            };
            *counts.entry(name).or_default() += 1;
        }
        counts
    }
}

fn priority(rng: &mut Rng) -> Priority {
    match rng.below(100) {
        0..8 => Priority::P0,
        8..30 => Priority::P1,
        30..75 => Priority::P2,
        _ => Priority::P3,
    }
}

fn labels(rng: &mut Rng) -> Vec<usize> {
    match rng.below(10) {
        0..2 => vec![],
        2..8 => vec![rng.below(8)],
        _ => {
            let a = rng.below(8);
            vec![a, (a + 1 + rng.below(7)) % 8]
        }
    }
}

/// Plan a graph of `size` tasks. About one task in 25 is an epic followed by 4–12 children;
/// free tasks continue chains (the previous free task), lean on a few hub tasks (fan-out),
/// depend on up to two of the 200 tasks before them, and now and then gather many (fan-in).
/// Earlier tasks are more likely done; a task is done only when everything it waits on is.
fn plan(size: usize, seed: u64) -> Plan {
    let mut rng = Rng::new(seed);
    let mut tasks: Vec<Planned> = Vec::with_capacity(size);
    let mut units = Vec::new();
    let expected_children = (size as f64 * 0.32).max(1.0);
    let chain_share = (CHAINED_CHILDREN as f64 / expected_children).min(1.0);
    let mut chained_children = 0;
    let mut hubs: Vec<usize> = Vec::new();
    let mut last_free: Option<usize> = None;
    // Closed-ness as the library will see it, to decide fates that are legal.
    let mut done: Vec<bool> = Vec::with_capacity(size);
    let mut closed: Vec<bool> = Vec::with_capacity(size);

    // The fate of a task that has just been planned (its deps are already decided).
    let decide = |rng: &mut Rng, deps: &[usize], done: &[bool], position: f64| -> Fate {
        let ready = deps.iter().all(|&d| done[d]);
        let roll = rng.unit();
        if !ready {
            return if roll < 0.04 { Fate::Cancelled } else { Fate::Open };
        }
        let p_done = 0.97 - 0.4 * position;
        let bands = [
            (p_done, Fate::Done),
            (0.04, Fate::Cancelled),
            (0.03, Fate::Failed),
            (0.006, Fate::Dead),
            (0.01, Fate::Claimed),
        ];
        let mut edge = 0.0;
        for (width, fate) in bands {
            edge += width;
            if roll < edge {
                return fate;
            }
        }
        Fate::Open
    };

    let mut i = 0;
    while i < size {
        let position = i as f64 / size as f64;
        if i.is_multiple_of(25) && i + 1 < size {
            // An epic and its children.
            let epic = i;
            let count = (4 + rng.below(9)).min(size - i - 1);
            let chained = chained_children + count <= CHAINED_CHILDREN && rng.chance(chain_share);
            if chained {
                chained_children += count;
            }
            tasks.push(Planned {
                role: Role::Epic,
                priority: priority(&mut rng),
                labels: labels(&mut rng),
                deps: vec![],
                parent: None,
                fate: Fate::Open,
            });
            done.push(false);
            closed.push(false);
            let children = epic + 1..epic + 1 + count;
            for child in children.clone() {
                let mut deps = Vec::new();
                if chained && child > epic + 1 {
                    if rng.chance(0.6) {
                        deps.push(child - 1);
                    }
                    if child > epic + 2 && rng.chance(0.25) {
                        let other = epic + 1 + rng.below(child - epic - 2);
                        if !deps.contains(&other) {
                            deps.push(other);
                        }
                    }
                }
                let fate = decide(&mut rng, &deps, &done, child as f64 / size as f64);
                done.push(fate == Fate::Done);
                closed.push(matches!(fate, Fate::Done | Fate::Cancelled));
                tasks.push(Planned {
                    role: Role::Task,
                    priority: priority(&mut rng),
                    labels: labels(&mut rng),
                    deps,
                    parent: Some(epic),
                    fate,
                });
            }
            // The library closes an epic once every child is closed and one of them is done.
            let all_closed = children.clone().all(|c| closed[c]);
            let any_done = children.clone().any(|c| done[c]);
            if all_closed && any_done {
                done[epic] = true;
                closed[epic] = true;
            }
            units.push(Unit::Block(Block {
                epic,
                children: children.clone(),
                chained,
            }));
            i = children.end;
            continue;
        }
        // A free task or idea.
        if rng.chance(0.05) {
            let fate = if rng.chance(0.2) { Fate::Cancelled } else { Fate::Open };
            tasks.push(Planned {
                role: Role::Idea,
                priority: priority(&mut rng),
                labels: labels(&mut rng),
                deps: vec![],
                parent: None,
                fate,
            });
            done.push(false);
            closed.push(fate == Fate::Cancelled);
            units.push(Unit::Free(i));
            i += 1;
            continue;
        }
        let is_dep = |tasks: &[Planned], d: usize| tasks[d].role != Role::Idea;
        let mut deps: Vec<usize> = Vec::new();
        let add = |deps: &mut Vec<usize>, d: usize| {
            if !deps.contains(&d) {
                deps.push(d);
            }
        };
        // A chain: the previous free task.
        if let Some(prev) = last_free
            && rng.chance(0.35)
        {
            add(&mut deps, prev);
        }
        // Fan-out: a few hub tasks many others wait on.
        if !hubs.is_empty() && rng.chance(0.25) {
            let recent = &hubs[hubs.len().saturating_sub(8)..];
            add(&mut deps, recent[rng.below(recent.len())]);
        }
        // Up to two of the 200 tasks before it.
        let window = i.min(200);
        if window > 0 {
            for _ in 0..rng.below(3) {
                let d = i - 1 - rng.below(window);
                if is_dep(&tasks, d) {
                    add(&mut deps, d);
                }
            }
        }
        // Fan-in: now and then a task that gathers many.
        if i > 50 && rng.chance(0.015) {
            let window = i.min(400);
            for _ in 0..5 + rng.below(8) {
                let d = i - 1 - rng.below(window);
                if is_dep(&tasks, d) {
                    add(&mut deps, d);
                }
            }
        }
        deps.sort_unstable();
        let fate = decide(&mut rng, &deps, &done, position);
        if rng.chance(0.03) {
            hubs.push(i);
        }
        done.push(fate == Fate::Done);
        closed.push(matches!(fate, Fate::Done | Fate::Cancelled));
        tasks.push(Planned {
            role: Role::Task,
            priority: priority(&mut rng),
            labels: labels(&mut rng),
            deps,
            parent: None,
            fate,
        });
        units.push(Unit::Free(i));
        last_free = Some(i);
        i += 1;
    }
    Plan { tasks, units }
}

// ---------------------------------------------------------------------------------------------
// Building fixtures through the library

const GEN_AGENT: &str = "generator";
const WORKER_AGENT: &str = "worker";

fn new_task(index: usize, planned: &Planned, ids: &[Option<String>]) -> NewTask {
    let kind = match planned.role {
        Role::Epic => Kind::Epic,
        Role::Idea => Kind::Idea,
        Role::Task => Kind::Task,
    };
    let area = planned.labels.first().copied().unwrap_or(index % 8);
    let title = match planned.role {
        Role::Epic => format!("Epic {index}: area{area} milestone"),
        Role::Idea => format!("Idea {index}: explore area{area}"),
        Role::Task => format!("Task {index}: change area{area}"),
    };
    let mut new = NewTask::titled(title, kind);
    new.priority = Some(planned.priority);
    new.labels = planned.labels.iter().map(|l| format!("area{l}")).collect();
    if index.is_multiple_of(2) {
        new.description = format!("Generated task {index} of the benchmark graph, in area{area}.");
    }
    if planned.role == Role::Task {
        if index.is_multiple_of(3) {
            new.acceptance = vec!["cargo test".to_owned()];
        }
        if index.is_multiple_of(5) {
            new.files = vec![format!("src/area{area}/part{}.rs", index % 37)];
        }
    }
    new.deps = planned
        .deps
        .iter()
        .map(|&d| ids[d].clone().expect("dependencies are created first"))
        .collect();
    new.parent = planned
        .parent
        .map(|p| ids[p].clone().expect("an epic is created before its children"));
    if planned.fate == Fate::Dead {
        new.max_retries = Some(0);
    }
    new
}

fn apply_fate(loom: &Loom, id: &str, planned: &Planned) {
    let status = |status| {
        loom.update(
            id,
            &Changes {
                status: Some(status),
                ..Changes::default()
            },
            &actor(GEN_AGENT),
        )
        .unwrap_or_else(|err| panic!("{id} to {status:?}: {err}"));
    };
    let claim = || {
        loom.claim(id, &ClaimOptions::default(), &actor(WORKER_AGENT))
            .unwrap_or_else(|err| panic!("claim {id}: {err}"));
    };
    let fail = || {
        loom.fail(id, Credentials::default(), "tests failed", &actor(WORKER_AGENT))
            .unwrap_or_else(|err| panic!("fail {id}: {err}"));
    };
    match planned.fate {
        Fate::Open => {}
        Fate::Done => status(Status::Done),
        Fate::Cancelled => status(Status::Cancelled),
        Fate::Failed | Fate::Dead => {
            claim();
            fail();
        }
        Fate::Claimed => claim(),
    }
}

/// What a fixture holds, for the report.
struct FixtureInfo {
    dir: PathBuf,
    generation_secs: f64,
    generated_now: bool,
    /// Tasks by the status a user sees, right after generation.
    views: BTreeMap<String, usize>,
}

fn init_repository(dir: &Path, name: &str) -> Loom {
    std::fs::create_dir_all(dir).expect("the bench directory is writable");
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "initial commit"]);
    let store = Store::discover(dir).expect("the repository was just created");
    let (loom, _) = Loom::init(store, Some(name), &actor(GEN_AGENT)).expect("a new repository initialises");
    loom
}

fn generate(dir: &Path, size: usize, seed: u64) -> BTreeMap<String, usize> {
    let plan = plan(size, seed);
    let loom = init_repository(dir, &format!("bench-{size}"));
    let mut ids: Vec<Option<String>> = vec![None; size];
    let mut created = 0;
    let mut next_report = Instant::now() + Duration::from_secs(10);
    let start = Instant::now();
    let mut create = |index: usize, ids: &mut Vec<Option<String>>| {
        let new = new_task(index, &plan.tasks[index], ids);
        let task = loom
            .create(&new, &actor(GEN_AGENT))
            .unwrap_or_else(|err| panic!("creating task {index}: {err}"));
        ids[index] = Some(task.id.to_string());
        created += 1;
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(10);
            eprintln!(
                "  … {created}/{size} tasks after {:.0} s",
                start.elapsed().as_secs_f64()
            );
        }
    };
    for unit in plan.creation_order() {
        match unit {
            Unit::Free(index) => {
                create(*index, &mut ids);
                let id = ids[*index].clone().expect("just created");
                apply_fate(&loom, &id, &plan.tasks[*index]);
            }
            Unit::Block(block) => {
                create(block.epic, &mut ids);
                for child in block.children.clone() {
                    create(child, &mut ids);
                }
                // Children change state only once all exist: an epic closes with its last
                // open child, and a closed epic takes no more children.
                for child in block.children.clone() {
                    let id = ids[child].clone().expect("just created");
                    apply_fate(&loom, &id, &plan.tasks[child]);
                }
            }
        }
    }
    let snapshot = loom.snapshot(jiff::Timestamp::now()).expect("the fixture reads back");
    assert_eq!(snapshot.tasks.len(), size, "every planned task exists");
    assert!(snapshot.problems.is_empty(), "the fixture reads cleanly");
    let planned = plan.fate_counts();
    let done = snapshot
        .tasks
        .values()
        .filter(|e| e.task.status() == Status::Done)
        .count();
    let planned_done = planned.get("done").copied().unwrap_or(0);
    assert!(
        done >= planned_done,
        "{done} tasks done, fewer than the {planned_done} planned"
    );
    snapshot
        .counts()
        .into_iter()
        .map(|(view, count)| (view.to_owned(), count))
        .collect()
}

fn fixture(repos: &Path, size: usize, seed: u64) -> FixtureInfo {
    let dir = repos.join(format!("{size}-{seed}"));
    let marker = repos.join(format!("{size}-{seed}.done"));
    let parse = |text: &str| -> Option<(f64, BTreeMap<String, usize>)> {
        let mut lines = text.lines();
        if lines.next()? != format!("generator {GENERATOR}") {
            return None;
        }
        let secs = lines.next()?.strip_prefix("seconds ")?.parse().ok()?;
        let views = lines
            .map(|line| {
                let (view, count) = line.split_once(' ')?;
                Some((view.to_owned(), count.parse().ok()?))
            })
            .collect::<Option<_>>()?;
        Some((secs, views))
    };
    if dir.is_dir()
        && let Some((generation_secs, views)) = std::fs::read_to_string(&marker).ok().as_deref().and_then(parse)
    {
        return FixtureInfo {
            dir,
            generation_secs,
            generated_now: false,
            views,
        };
    }
    eprintln!("generating {size} tasks (seed {seed}) in target/bench-repos/{size}-{seed} …");
    std::fs::remove_file(&marker).ok();
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("an old fixture can be removed");
    }
    let start = Instant::now();
    let views = generate(&dir, size, seed);
    let generation_secs = start.elapsed().as_secs_f64();
    eprintln!("  generated {size} tasks in {generation_secs:.1} s");
    let mut text = format!("generator {GENERATOR}\nseconds {generation_secs:.1}\n");
    for (view, count) in &views {
        let _ = writeln!(text, "{view} {count}");
    }
    std::fs::write(&marker, text).expect("the marker can be written");
    FixtureInfo {
        dir,
        generation_secs,
        generated_now: true,
        views,
    }
}

/// Copy a repository for measuring. Objects and loose refs are only ever replaced (written to a
/// new file and renamed), never changed in place, so they are hard-linked (falling back to a
/// copy); everything else (config, the read cache) is copied.
///
/// Hard links also keep the measurements clean: packing the copy's refs, and removing the copy
/// afterwards, only drop links instead of deleting files. On ext4 creating files for about a
/// minute after many files were deleted costs noticeably more (the inode allocator steps over
/// recently deleted inodes), which had made every write on a freshly packed copy up to twice
/// as slow.
fn copy_repository(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).expect("an old work copy can be removed");
    }
    std::fs::create_dir_all(to.join(".git")).expect("the work directory is writable");
    for entry in std::fs::read_dir(from.join(".git")).expect("the fixture has a .git directory") {
        let entry = entry.expect("the fixture is readable");
        let source = entry.path();
        let target = to.join(".git").join(entry.file_name());
        let linked = (entry.file_name() == "objects" || entry.file_name() == "refs")
            && Command::new("cp")
                .arg("-al")
                .arg(&source)
                .arg(&target)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !linked {
            if target.exists() {
                std::fs::remove_dir_all(&target).ok();
            }
            let status = Command::new("cp")
                .arg("-a")
                .arg(&source)
                .arg(&target)
                .status()
                .expect("cp runs");
            assert!(status.success(), "copying {}", entry.file_name().to_string_lossy());
        }
    }
}

/// Let the copy's writes reach the disk before anything is timed, so that the figures do not
/// pay for writing back what copying left behind.
fn settle() {
    let _ = Command::new("sync").status();
}

/// How long after many files were deleted (as generating a fixture does: every ref update
/// replaces a file) creating files on ext4 stays slower.
const RECENTLY_DELETED: Duration = Duration::from_secs(65);

// ---------------------------------------------------------------------------------------------
// Scenarios

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Floor {
    Version,
    UpdateRef,
    ForEachRef,
}

impl Floor {
    fn name(self) -> &'static str {
        match self {
            Floor::Version => "git --version",
            Floor::UpdateRef => "git update-ref",
            Floor::ForEachRef => "git for-each-ref",
        }
    }
}

struct Row {
    operation: String,
    tasks: usize,
    layout: &'static str,
    figure: Figure,
    /// `None` for a floor's own row.
    floor: Option<Floor>,
}

/// The floors of one repository, as measured.
struct Floors(BTreeMap<&'static str, f64>);

impl Floors {
    fn of(&self, floor: Floor) -> f64 {
        self.0[floor.name()]
    }
}

fn cache_file(dir: &Path) -> PathBuf {
    dir.join(".git/loom/tasks.cache")
}

fn remove_cache(dir: &Path) {
    match std::fs::remove_file(cache_file(dir)) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => panic!("removing the read cache: {err}"),
    }
}

/// Measure every single-process scenario on `dir` (a work copy), appending rows.
fn scenarios(dir: &Path, size: usize, layout: &'static str, rows: &mut Vec<Row>) -> Floors {
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
        let f = measure(RUNS, || {}, |_| time_process(loom_cmd(dir).arg(command)));
        push(rows, &format!("{command} warm"), f, Some(Floor::ForEachRef));
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
    let f = measure(
        held.len(),
        || {},
        |n| time_process(loom_cmd(dir).args(["-q", "done", &held[n]])),
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
fn ready_repository(dir: &Path, count: usize, seed: u64) -> Vec<String> {
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

struct Race {
    agents: usize,
    layout: &'static str,
    claims: usize,
    secs: f64,
    double: usize,
    unclaimed: usize,
}

/// `agents` processes loop `claim --next` until nothing is ready; then every task's history is
/// read back to count grants: one `claim by` commit each, and any extra is a double grant.
fn race(dir: &Path, ids: &[String], agents: usize, layout: &'static str) -> Race {
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

// ---------------------------------------------------------------------------------------------
// Report

fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}

/// Wrap the prose lines of a Markdown text at `width` columns (tables and headings stay as they
/// are; a code span is never split).
fn wrap_prose(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.len() <= width || line.starts_with('|') || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let indent = if line.starts_with("- ") { "  " } else { "" };
        let mut words = Vec::new();
        let (mut word, mut in_code) = (String::new(), false);
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            }
            if c == ' ' && !in_code {
                words.push(std::mem::take(&mut word));
            } else {
                word.push(c);
            }
        }
        words.push(word);
        let mut current = String::new();
        for word in words.into_iter().filter(|w| !w.is_empty()) {
            if !current.trim().is_empty() && current.chars().count() + 1 + word.chars().count() > width {
                out.push_str(current.trim_end());
                out.push('\n');
                current = indent.to_owned();
            } else if !current.trim().is_empty() {
                current.push(' ');
            }
            current.push_str(&word);
        }
        out.push_str(current.trim_end());
        out.push('\n');
    }
    out
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let run_start = Instant::now();
    let sizes: Vec<usize> = match std::env::var("LOOM_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .replace('_', "")
                    .parse()
                    .expect("LOOM_BENCH_SIZES is a list of numbers")
            })
            .collect(),
        Err(_) => DEFAULT_SIZES.to_vec(),
    };
    let seed: u64 = std::env::var("LOOM_BENCH_SEED")
        .ok()
        .map(|s| s.parse().expect("LOOM_BENCH_SEED is a number"))
        .unwrap_or(DEFAULT_SEED);
    let write_doc = std::env::var_os("LOOM_BENCH_NO_DOC").is_none();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repos = root.join("target").join("bench-repos");
    std::fs::create_dir_all(&repos).expect("target/bench-repos can be made");
    let work = repos.join(format!("work-{}", std::process::id()));

    let git_version = git(root, &["--version"]);
    let git_version = git_version
        .strip_prefix("git version ")
        .unwrap_or(&git_version)
        .to_owned();
    let uname = Command::new("uname")
        .arg("-sm")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let date = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    eprintln!("git-loom bench: sizes {sizes:?}, seed {seed}, git {git_version}, {uname}, {cores} cores");

    // 1. Fixtures.
    let fixtures: Vec<(usize, FixtureInfo)> = sizes.iter().map(|&size| (size, fixture(&repos, size, seed))).collect();
    if fixtures.iter().any(|(_, info)| info.generated_now) {
        settle();
        eprintln!(
            "waiting {} s after generating, for the filesystem to settle …",
            RECENTLY_DELETED.as_secs()
        );
        std::thread::sleep(RECENTLY_DELETED);
    }

    // 2. Every scenario, per size and refs layout, on a fresh work copy.
    let mut rows = Vec::new();
    let mut floors: BTreeMap<(usize, &'static str), Floors> = BTreeMap::new();
    for (size, info) in &fixtures {
        for layout in ["loose", "packed"] {
            eprintln!("measuring {size} tasks, {layout} refs …");
            let dir = work.join(format!("{size}-{layout}"));
            copy_repository(&info.dir, &dir);
            if layout == "packed" {
                git(&dir, &["pack-refs", "--all"]);
            }
            settle();
            let measured = scenarios(&dir, *size, layout, &mut rows);
            floors.insert((*size, layout), measured);
        }
    }

    // 3. Racing claims.
    eprintln!("racing claim --next on {RACE_TASKS} ready tasks …");
    let race_base = work.join("race-base");
    let race_ids = ready_repository(&race_base, RACE_TASKS, seed);
    let mut races = Vec::new();
    for layout in ["loose", "packed"] {
        for agents in [1, 4, 16] {
            let dir = work.join(format!("race-{layout}-{agents}"));
            copy_repository(&race_base, &dir);
            if layout == "packed" {
                git(&dir, &["pack-refs", "--all"]);
            }
            settle();
            let result = race(&dir, &race_ids, agents, layout);
            eprintln!(
                "  {agents:>2} processes, {layout}: {} claims in {:.1} s, {} double grants",
                result.claims, result.secs, result.double
            );
            races.push(result);
        }
    }
    // Nothing is removed while measuring (see `copy_repository`).
    std::fs::remove_dir_all(&work).ok();
    settle();

    // The report.
    let mut out = String::new();
    let sizes_text = sizes.iter().map(|&s| thousands(s)).collect::<Vec<_>>().join(", ");
    let _ = writeln!(out, "## {date} — benchmark harness (`cargo bench --bench loom`)");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "git-loom {} (release build), git {git_version}, {uname}, {cores} cores. Sizes {sizes_text}; \
         graph seed {seed}.",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Fixtures are generated in-process through the library and kept in \
         `target/bench-repos/<size>-<seed>`: one task in 25 is an epic holding the next 4–12 tasks \
         (in epics picked at random, up to {} children in all depend on earlier siblings), free tasks continue chains, \
         lean on hub tasks (fan-out), depend on up to two of the 200 tasks before them and now \
         and then gather 5–12 (fan-in); priorities p0–p3; earlier tasks are more likely done, \
         and some are cancelled, failed, dead, claimed or ideas. Each size is measured with \
         loose refs (as written) and with packed refs (`git pack-refs --all`), each on its own \
         copy. Copies hard-link the fixture's objects and refs, and nothing is deleted while \
         measuring, which starts at least a minute after any generation: on ext4, creating files \
         shortly after many were deleted is markedly slower, which had made writes on freshly packed copies \
         up to twice as slow. Every figure is a whole process from start to exit: median and 90th percentile \
         of up to {RUNS} runs ({BIG_COLD_RUNS} for cold reads at 100,000 tasks, within {} s; any other \
         figure stops early after {} s once it has {MIN_RUNS} runs). The floor beside each is measured in \
         the same run on the same copy: `git --version` (starting a process), \
         `git update-ref refs/loom/bench/<n> <oid> \"\"` (one atomic ref create) and \
         `git for-each-ref --format='%(refname) %(objectname)' refs/loom/` (listing the refs \
         and their tips). `cold` removes `.git/loom/tasks.cache` before each run (outside the \
         timing; one untimed cold read first loads the copy's objects into the file cache); `warm` runs with nothing changed since the previous run. `claim ID`, \
         `heartbeat ID` and `done ID` act on the same fresh ready tasks; `claim --next` takes \
         the best ready ones.",
        thousands(CHAINED_CHILDREN),
        BIG_COLD_BUDGET.as_secs(),
        FIGURE_BUDGET.as_secs()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| tasks | generated in | tasks by status after generation |");
    let _ = writeln!(out, "|---|---|---|");
    for (size, info) in &fixtures {
        let views = info
            .views
            .iter()
            .filter(|(_, count)| **count > 0)
            .map(|(view, count)| format!("{view} {count}"))
            .collect::<Vec<_>>()
            .join(", ");
        let when = if info.generated_now { "" } else { " (cached)" };
        let _ = writeln!(
            out,
            "| {} | {:.1} s{when} | {views} |",
            thousands(*size),
            info.generation_secs
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| operation | tasks | refs | runs | median ms | p90 ms | floor | × floor |"
    );
    let _ = writeln!(out, "|---|---:|---|---:|---:|---:|---|---:|");
    for row in &rows {
        let (floor_name, ratio) = match row.floor {
            None => ("—".to_owned(), "1.00".to_owned()),
            Some(floor) => {
                let base = floors[&(row.tasks, row.layout)].of(floor);
                (floor.name().to_owned(), format!("{:.2}", row.figure.median / base))
            }
        };
        let operation = match row.floor {
            None => format!("*{}*", row.operation),
            Some(_) => format!("`{}`", row.operation),
        };
        let _ = writeln!(
            out,
            "| {operation} | {} | {} | {} | {} | {} | {floor_name} | {ratio} |",
            thousands(row.tasks),
            row.layout,
            row.figure.runs,
            ms(row.figure.median),
            ms(row.figure.p90),
        );
    }
    let _ = writeln!(out);

    // 4. Write cost against the size of the graph.
    let (small, large) = (
        *sizes.iter().min().expect("at least one size"),
        *sizes.iter().max().expect("at least one size"),
    );
    if small != large {
        let _ = writeln!(
            out,
            "Write cost against graph size: median ms at {} and at {} tasks, same run.",
            thousands(small),
            thousands(large)
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| operation | refs | ms at {} | ms at {} | ratio | × floor at {} | × floor at {} |",
            thousands(small),
            thousands(large),
            thousands(small),
            thousands(large)
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
        for operation in ["claim ID", "create"] {
            for layout in ["loose", "packed"] {
                let find = |size: usize| {
                    rows.iter()
                        .find(|r| r.operation == operation && r.layout == layout && r.tasks == size)
                        .map(|r| r.figure.median)
                        .expect("every scenario is measured at every size")
                };
                let floor = |size: usize| floors[&(size, layout)].of(Floor::UpdateRef);
                let (a, b) = (find(small), find(large));
                let _ = writeln!(
                    out,
                    "| `{operation}` | {layout} | {} | {} | {:.2} | {:.2} | {:.2} |",
                    ms(a),
                    ms(b),
                    b / a,
                    a / floor(small),
                    b / floor(large)
                );
            }
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(
        out,
        "Racing `claim --next` processes on {} ready tasks (a fresh repository per line), \
         counting grants afterwards from every task's history: exactly one `claim by` commit \
         each; any extra is a double grant.",
        thousands(RACE_TASKS)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| processes | refs | claims | seconds | claims/s | double grants | never claimed |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|");
    for r in &races {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {} | {} |",
            r.agents,
            r.layout,
            r.claims,
            r.secs,
            r.claims as f64 / r.secs,
            r.double,
            r.unclaimed
        );
    }
    let _ = writeln!(out);
    let generated: Vec<String> = fixtures
        .iter()
        .filter(|(_, info)| info.generated_now)
        .map(|(size, info)| format!("{} tasks in {:.1} s", thousands(*size), info.generation_secs))
        .collect();
    let _ = writeln!(out, "Notes:");
    let _ = writeln!(out);
    if generated.is_empty() {
        let _ = writeln!(out, "- Every fixture was reused from an earlier run.");
    } else {
        let _ = writeln!(out, "- Generated in this run: {}.", generated.join(", "));
    }
    let _ = writeln!(out, "- The whole run took {:.0} s.", run_start.elapsed().as_secs_f64());
    let _ = writeln!(
        out,
        "- No remote scenarios (push, fetch): remotes are not implemented yet."
    );
    let double: usize = races.iter().map(|r| r.double).sum();
    let _ = writeln!(out, "- Double grants over all races: {double}.");

    let out = wrap_prose(&out, 100);
    println!();
    print!("{out}");
    if write_doc {
        let path = root.join("doc").join("benchmarks.md");
        let mut doc = std::fs::read_to_string(&path).expect("doc/benchmarks.md is readable");
        if !doc.ends_with('\n') {
            doc.push('\n');
        }
        doc.push('\n');
        doc.push_str(&out);
        std::fs::write(&path, doc).expect("doc/benchmarks.md is writable");
        eprintln!("appended to doc/benchmarks.md");
    }
}
