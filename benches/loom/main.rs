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
//! 5. measures a published claim and `sync` through `git daemon` on 127.0.0.1 (sizes up to
//!    10,000) beside plain `git push` / `git fetch`;
//! 6. runs a queue of 16 branches through `git loom merge` with 0, 1 and 2 failing ones,
//!    serially and batched, counting test runs against the bisection bound, and times building
//!    one merge candidate in process (gix) against `git merge-tree` (see `merge.rs` and
//!    `candidate.rs`);
//! 7. prints the results as Markdown and appends them to `doc/benchmarks.md`.
//!
//! Environment:
//! - `LOOM_BENCH_SIZES=1000,10000` — the sizes to measure (default `1000,10000,100000`);
//! - `LOOM_BENCH_SEED=42` — the seed of the graph generator;
//! - `LOOM_BENCH_NO_DOC=1` — print only, leave `doc/benchmarks.md` alone;
//! - `LOOM_BENCH_ONLY=merge` — run only the merge section (about two minutes, no fixtures);
//! - `LOOM_BENCH_ONLY=run` — run only `git loom run` on trivial tasks (see `run.rs`);
//!   `LOOM_BENCH_ONLY=reads` only the single-process scenarios, `LOOM_BENCH_ONLY=remote` only
//!   the scenarios through `git daemon`.
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

use git_loom::claims::{ClaimOptions, Credentials};
use git_loom::loom::{Actor, Loom};
use git_loom::model::state::Kind;
use git_loom::model::{Priority, Status};
use git_loom::store::Store;
use git_loom::tasks::{Changes, NewTask};

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
/// The largest graph measured through a remote.
const REMOTE_MAX_TASKS: usize = 10_000;
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

mod candidate;
mod generate;
mod merge;
mod remote;
mod run;
mod scenarios;

use candidate::*;
use generate::*;
use merge::*;
use remote::*;
use scenarios::*;

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
    let machine = format!(
        "git-loom {} (release build), git {git_version}, {uname}, {cores} cores",
        env!("CARGO_PKG_VERSION")
    );
    match std::env::var("LOOM_BENCH_ONLY").ok().as_deref().map(str::trim) {
        None | Some("") => {}
        Some("merge") => {
            eprintln!("git-loom bench, merge section only: seed {seed}, git {git_version}, {uname}, {cores} cores");
            let mut out = String::new();
            let _ = writeln!(
                out,
                "## {date} — merge queue (`LOOM_BENCH_ONLY=merge cargo bench --bench loom`)"
            );
            let _ = writeln!(out);
            out.push_str(&merge_section(&work, seed, &machine, run_start));
            std::fs::remove_dir_all(&work).ok();
            finish(root, &out, write_doc);
            return;
        }
        Some("run") => {
            eprintln!("git-loom bench, run section only: git {git_version}, {uname}, {cores} cores");
            let mut out = String::new();
            let _ = writeln!(
                out,
                "## {date} — git loom run (`LOOM_BENCH_ONLY=run cargo bench --bench loom`)"
            );
            let _ = writeln!(out);
            out.push_str(&run::run_section(&work, &machine));
            std::fs::remove_dir_all(&work).ok();
            finish(root, &out, write_doc);
            return;
        }
        Some("reads" | "remote") => {}
        Some(other) => {
            panic!("LOOM_BENCH_ONLY={other:?}: the sections that run alone are `merge`, `run`, `reads` and `remote`")
        }
    }
    // `reads`: the single-process scenarios alone; `remote`: the remote scenarios alone.
    let only = std::env::var("LOOM_BENCH_ONLY")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let runs = |section: &str| only.as_deref().is_none_or(|only| only == section);
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
    for (size, info) in fixtures.iter().filter(|_| runs("reads")) {
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
    let race_ids = match only {
        None => ready_repository(&race_base, RACE_TASKS, seed),
        Some(_) => Vec::new(),
    };
    let mut races = Vec::new();
    for layout in ["loose", "packed"].into_iter().filter(|_| only.is_none()) {
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
    // 4. Through a remote (sizes up to 10,000: the first push of a larger graph alone takes
    // minutes).
    let mut remote_rows = Vec::new();
    let mut remote_setups = Vec::new();
    for (size, info) in fixtures
        .iter()
        .filter(|(size, _)| *size <= REMOTE_MAX_TASKS && runs("remote"))
    {
        eprintln!("through git daemon on 127.0.0.1 with {size} tasks …");
        settle();
        let (rows, setup) = remote_scenarios(&info.dir, *size, &work);
        for row in &rows {
            eprintln!(
                "  {:<26} {size:>6} {:>9.2} ms median; {} {:.2} ms",
                row.operation, row.figure.median, row.floor_name, row.floor.median
            );
        }
        remote_rows.extend(rows);
        remote_setups.push(setup);
    }

    // 5. The merge queue and merge candidates, on repositories of their own.
    let merge_out = match only {
        None => merge_section(&work.join("merge"), seed, &machine, Instant::now()),
        Some(_) => String::new(),
    };

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
         and their tips). `cold` removes the local read caches (`.git/loom/tasks.cache`, the \
         parsed tasks, and `.git/loom/board.cache`, the tables) before each run (outside the \
         timing; one untimed cold read first loads the copy's objects into the file cache); \
         `warm` runs with nothing changed since the previous run; `after 1 change` runs right \
         after an untimed `update --title` of one task. `claim ID`, \
         `heartbeat ID` and `done ID` (with `--skip-verify`: the write, not the task's checks) act on the same fresh ready tasks; `claim --next` takes \
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
    if small != large && runs("reads") {
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

    if only.is_none() {
        let _ = writeln!(
            out,
            "Racing `claim --next` processes on {} ready tasks (a fresh repository per line, on \
         which one untimed `ready` has built the board), counting grants afterwards from every \
         task's history: exactly one `claim by` commit each; any extra is a double grant.",
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
    }
    let generated: Vec<String> = fixtures
        .iter()
        .filter(|(_, info)| info.generated_now)
        .map(|(size, info)| format!("{} tasks in {:.1} s", thousands(*size), info.generation_secs))
        .collect();
    if !remote_rows.is_empty() {
        let _ = writeln!(
            out,
            "Through a remote: a bare repository served by `git daemon` on 127.0.0.1. Clone A \
             (the fixture, `loom.remote` set, so each write is pushed before it lands) pushed \
             everything with a first `git loom sync`; clone B took it with its own first sync; \
             clone C mirrors the same refs with plain `git fetch origin \
             +refs/loom/*:refs/loom-remote/origin/*` for the floors. `claim ID (published)` is \
             A claiming a ready task (an atomic push of the claim and the task with leases) \
             beside `git push origin <oid>:refs/loom/bench/<n>` from A; `sync (10 tasks \
             changed)` is B's sync after A changed 10 tasks (untimed), beside C's fetch of the \
             same change. Median and p90 of up to {REMOTE_RUNS} runs (5 for the 10-change figure)."
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| tasks | refs on the remote | first sync, pushing everything (s) | first sync of a new clone (s) |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|");
        for setup in &remote_setups {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.1} |",
                thousands(setup.tasks),
                thousands(setup.remote_refs),
                setup.initial_sync_secs,
                setup.first_fetch_secs
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| operation | tasks | runs | median ms | p90 ms | floor | floor median ms | × floor |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---:|---:|");
        for row in &remote_rows {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} | {:.2} |",
                row.operation,
                thousands(row.tasks),
                row.figure.runs,
                ms(row.figure.median),
                ms(row.figure.p90),
                row.floor_name,
                ms(row.floor.median),
                row.figure.median / row.floor.median
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "Notes:");
    let _ = writeln!(out);
    if generated.is_empty() {
        let _ = writeln!(out, "- Every fixture was reused from an earlier run.");
    } else {
        let _ = writeln!(out, "- Generated in this run: {}.", generated.join(", "));
    }
    let _ = writeln!(out, "- The whole run took {:.0} s.", run_start.elapsed().as_secs_f64());
    if let Some(section) = &only {
        let _ = writeln!(out, "- Only the `{section}` section ran (`LOOM_BENCH_ONLY={section}`).");
    } else if remote_rows.is_empty() {
        let _ = writeln!(
            out,
            "- No remote scenarios: they run only for sizes up to {}.",
            thousands(REMOTE_MAX_TASKS)
        );
    }
    let double: usize = races.iter().map(|r| r.double).sum();
    if !races.is_empty() {
        let _ = writeln!(out, "- Double grants over all races: {double}.");
    }
    let _ = writeln!(out);
    if !merge_out.is_empty() {
        let _ = writeln!(out, "### Merge queue");
        let _ = writeln!(out);
        out.push_str(&merge_out);
    }
    finish(root, &out, write_doc);
}

/// Print the report and, unless told not to, append it to `doc/benchmarks.md`.
fn finish(root: &Path, out: &str, write_doc: bool) {
    let out = wrap_prose(out, 100);
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

/// The merge section: the queue runs, then the candidate builds, with the machine's load.
fn merge_section(work: &Path, seed: u64, machine: &str, start: Instant) -> String {
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let load_before = load();
    eprintln!("merge queue: {QUEUE} branches, 0, 1 and 2 failing, batches 1, 4 and 16 …");
    let runs = merge_queue(work);
    eprintln!("merge candidates in process and with git …");
    let (candidates, context) = candidate_builds(work, seed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{machine}; load average (1 min) {load_before} before, {} after; the section took {:.0} s.",
        load(),
        start.elapsed().as_secs_f64()
    );
    let _ = writeln!(out);
    queue_report(&mut out, &runs);
    candidate_report(&mut out, &candidates, &context);
    out
}
