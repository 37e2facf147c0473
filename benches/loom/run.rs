//! `git loom run`, measured: trivial tasks (the agent writes one file and commits) run to
//! merged, once one at a time (`-j 1`, 20 tasks) for the runner's own latency, and once 100
//! tasks at `-j 8` for throughput. The agent stamps the real clock when it starts and just
//! before it exits; the runner's `--json` events carry the times of its decisions, so
//! - **start overhead** (`-j 1`): one agent's exit to the next agent's start: `done` of the
//!   finished task (no checks), its session's end, the next claim, its worktree, signal and
//!   session record, and the spawn;
//! - **exit → merged**: an agent's exit to the merge engine's `merged` decision for its task
//!   (no test command, so no test time to subtract);
//! - **tasks per minute**: tasks over the wall time of the whole run, from the command's start
//!   to its exit.

use super::*;

/// The runs: (tasks, jobs).
const RUNS: &[(usize, usize)] = &[(20, 1), (100, 8)];
/// No run may take longer than this.
const DEADLINE: Duration = Duration::from_secs(900);

/// What one run measured.
struct RunFigures {
    tasks: usize,
    jobs: usize,
    wall: f64,
    merged: usize,
    start_overhead: Vec<f64>,
    exit_to_merged: Vec<f64>,
    agent_secs: f64,
}

fn seconds(at: &str) -> f64 {
    let at: jiff::Timestamp = at.parse().expect("event times are RFC 3339");
    at.as_nanosecond() as f64 / 1e9
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn p90(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[(values.len() * 9 / 10).min(values.len() - 1)]
}

fn one_run(work: &Path, tasks: usize, jobs: usize) -> RunFigures {
    let dir = work.join(format!("run-{tasks}-j{jobs}"));
    std::fs::create_dir_all(&dir).expect("the run's directory can be made");
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "start"]);
    assert!(
        loom_cmd(&dir)
            .args(["init", "-q"])
            .status()
            .expect("init runs")
            .success()
    );
    for n in 0..tasks {
        let out = loom_cmd(&dir)
            .args(["create", &format!("trivial {n}")])
            .output()
            .expect("create runs");
        assert!(out.status.success(), "create: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stamps = work.join(format!("stamps-{tasks}-{jobs}"));
    let agent = work.join(format!("agent-{tasks}-{jobs}.sh"));
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nset -e\necho \"$LOOM_TASK start $(date +%s.%N)\" >> '{stamps}'\n\
             echo done > \"$LOOM_TASK.txt\"\ngit add \"$LOOM_TASK.txt\"\ngit commit -q -m \"work of $LOOM_TASK\"\n\
             echo \"$LOOM_TASK end $(date +%s.%N)\" >> '{stamps}'\n",
            stamps = stamps.display()
        ),
    )
    .expect("the agent script can be written");
    let mut permissions = std::fs::metadata(&agent).expect("it exists").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&agent, permissions).expect("it can be made executable");

    let agent_arg = agent.to_string_lossy().into_owned();
    let jobs_arg = jobs.to_string();
    let started = Instant::now();
    let mut child = loom_cmd(&dir)
        .args([
            "--json", "--agent", &agent_arg, "run", "--name", "bench", "-j", &jobs_arg,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git loom run starts");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("piped"), &mut stdout).expect("its output reads");
    let status = child.wait().expect("it ends");
    let wall = started.elapsed().as_secs_f64();
    assert!(wall < DEADLINE.as_secs_f64(), "git loom run took {wall:.0} s");
    assert!(status.success(), "git loom run exited {status}");

    let mut merged_at: BTreeMap<String, f64> = BTreeMap::new();
    for line in stdout.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("one JSON event per line");
        if event["event"] == "merge" && event["state"] == "merged" {
            let task = event["task"].as_str().unwrap_or_default().to_owned();
            merged_at.insert(task, seconds(event["at"].as_str().unwrap_or_default()));
        }
    }
    let text = std::fs::read_to_string(&stamps).expect("the agents stamped their times");
    let mut starts: BTreeMap<String, f64> = BTreeMap::new();
    let mut ends: BTreeMap<String, f64> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let at: f64 = fields[2].parse().expect("date +%s.%N");
        match fields[1] {
            "start" => starts.insert(fields[0].to_owned(), at),
            _ => ends.insert(fields[0].to_owned(), at),
        };
    }
    let exit_to_merged = ends
        .iter()
        .filter_map(|(task, end)| Some(merged_at.get(task)? - end))
        .collect();
    let agent_secs = ends
        .iter()
        .filter_map(|(task, end)| Some(end - starts.get(task)?))
        .sum();
    let mut start_overhead = Vec::new();
    if jobs == 1 {
        let mut order: Vec<(f64, f64)> = starts
            .iter()
            .filter_map(|(task, start)| Some((*start, *ends.get(task)?)))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        start_overhead = order.windows(2).map(|pair| pair[1].0 - pair[0].1).collect();
    }
    RunFigures {
        tasks,
        jobs,
        wall,
        merged: merged_at.len(),
        start_overhead,
        exit_to_merged,
        agent_secs,
    }
}

/// The run section: both runs, as Markdown.
pub(super) fn run_section(work: &Path, machine: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{machine}. Each task's agent (`sh`) writes one file and commits it; no checks and no \
         merge test, so what is left is the runner and the merge engine. Times are medians \
         (p90 in brackets) over the tasks of the run.\n"
    );
    let _ = writeln!(
        out,
        "| tasks | -j | wall | tasks/min | agents' own time | start overhead (exit → next start, -j 1) | exit → merged |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for &(tasks, jobs) in RUNS {
        eprintln!("run: {tasks} tasks at -j {jobs} …");
        let figures = one_run(work, tasks, jobs);
        assert_eq!(figures.merged, figures.tasks, "every task merged");
        let overhead = match figures.start_overhead.is_empty() {
            true => "—".to_owned(),
            false => format!(
                "{} ms ({} ms)",
                ms(median(figures.start_overhead.clone()) * 1000.0),
                ms(p90(figures.start_overhead.clone()) * 1000.0)
            ),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} s | {:.0} | {:.1} s | {overhead} | {} ms ({} ms) |",
            figures.tasks,
            figures.jobs,
            figures.wall,
            figures.tasks as f64 / figures.wall * 60.0,
            figures.agent_secs,
            ms(median(figures.exit_to_merged.clone()) * 1000.0),
            ms(p90(figures.exit_to_merged.clone()) * 1000.0),
        );
    }
    out
}
