//! The merge queue, measured: 16 queued branches with 0, 1 and 2 failing ones, served serially
//! (`--batch 1`), four at a time and all at once by the release binary, counting the test runs
//! from a log the test command itself appends to (cross-checked with the engine's summary) and
//! timing each `git loom merge` from start to exit; then the same queue again on a copy that
//! holds the first run's test cache.
//!
//! Every figure comes with two references: the bound `(k+1) + k·⌈log₂N⌉` of prefix bisection,
//! and the exact count a pure replay of the engine's rounds through `merge::bisect::decide`
//! predicts for the same failing positions (with the test cache modelled as the engine keeps
//! it). A run that lands a failing branch, or that counts more runs than the bound, is
//! reported, never hidden.

use std::collections::{BTreeMap, BTreeSet};

use git_loom::merge::bisect;

use super::*;

/// Branches in each queue.
pub(super) const QUEUE: usize = 16;
/// The batch sizes compared.
const BATCHES: &[usize] = &[1, 4, 16];
/// Where the failing branches sit in the queue (0-based), for k = 0, 1 and 2.
const BAD_SETS: &[&[usize]] = &[&[], &[5], &[5, 12]];
/// The fixed cost of one test run, in seconds, so that wall time reflects test runs.
pub(super) const TEST_SECS: &str = "0.2";
/// No `git loom merge` may run longer than this.
const MERGE_DEADLINE: Duration = Duration::from_secs(180);
/// The log each test run appends a line to, in the repository's git directory (the test
/// command runs in the merge worktree, and finds it through `--git-common-dir`).
const TEST_LOG: &str = "merge-test.log";

/// One measured run of the queue.
pub(super) struct QueueRun {
    pub(super) bad: usize,
    pub(super) batch: usize,
    /// Test runs counted from the test command's own log.
    pub(super) logged: usize,
    /// What the engine's summary says.
    pub(super) summary: Summary,
    pub(super) secs: f64,
    /// The bound: `(k+1) + k·⌈log₂N⌉` per batch of the initial queue, summed.
    pub(super) bound: usize,
    /// The runs a replay of the engine's rounds predicts, and its cache answers.
    pub(super) predicted: Prediction,
    /// Final states of the requests: merged, failed, other.
    pub(super) merged: usize,
    pub(super) failed: usize,
    pub(super) other: usize,
    /// Whether any failing branch's marker reached the target.
    pub(super) failure_landed: bool,
    /// The same queue again, on a copy made before this run, holding this run's test cache.
    pub(super) replay: Option<Box<QueueRun>>,
}

/// The engine's summary line, parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Summary {
    pub(super) merged: usize,
    pub(super) decided: usize,
    pub(super) test_runs: usize,
    pub(super) cache_hits: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Prediction {
    pub(super) runs: usize,
    pub(super) cache_hits: usize,
}

/// What the test cache holds in the replay: a result per (landed set, stacked prefix).
type Cache = BTreeMap<(BTreeSet<usize>, Vec<usize>), bool>;

/// Replay the engine's rounds on a queue whose `bad` requests fail: each round stacks up to
/// `batch` open requests on the target, `bisect::decide` picks the good prefix (landed) and the
/// culprit (failed), and the rest wait for the next round. A test of a (target, prefix) the
/// cache knows is answered from it unless it is a retest, as in the engine.
pub(super) fn predict(n: usize, bad: &[usize], batch: usize, cache: &mut Cache) -> Prediction {
    let mut open: Vec<usize> = (0..n).collect();
    let mut landed: BTreeSet<usize> = BTreeSet::new();
    let mut prediction = Prediction::default();
    while !open.is_empty() {
        let stack: Vec<usize> = open.iter().copied().take(batch).collect();
        let verdict = bisect::decide(stack.len(), |prefix, retest| {
            let key = (landed.clone(), stack[..prefix].to_vec());
            if !retest && let Some(passed) = cache.get(&key) {
                prediction.cache_hits += 1;
                return Ok::<_, ()>(*passed);
            }
            prediction.runs += 1;
            let passed = !stack[..prefix].iter().any(|request| bad.contains(request));
            cache.insert(key, passed);
            Ok(passed)
        })
        .expect("the replay's tests never fail to run");
        landed.extend(&stack[..verdict.good]);
        let decided = verdict.good + usize::from(verdict.culprit.is_some());
        open.drain(..decided);
    }
    prediction
}

/// The bound of prefix bisection for this queue served in batches of `batch`: the initial
/// queue cut into batches, `(k+1) + k·⌈log₂N⌉` for each (with its own N and k), summed. For a
/// batch of the whole queue that is the bound of the whole queue.
pub(super) fn bound(n: usize, bad: &[usize], batch: usize) -> usize {
    (0..n)
        .step_by(batch)
        .map(|start| {
            let end = (start + batch).min(n);
            let k = bad.iter().filter(|&&i| (start..end).contains(&i)).count();
            bisect::run_bound(end - start, k)
        })
        .sum()
}

/// The test command: log the run, take [`TEST_SECS`], fail when a `bad/` directory is in the
/// tree.
fn test_command() -> String {
    format!("echo run >> \"$(git rev-parse --git-common-dir)/{TEST_LOG}\"; sleep {TEST_SECS}; test ! -d bad")
}

fn loom(dir: &Path, args: &[&str]) -> String {
    let out = loom_cmd(dir).args(args).output().expect("git-loom runs");
    assert!(
        out.status.success(),
        "git loom {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A repository with `QUEUE` tasks, each done on its own branch `work/NN` (one new file each;
/// the `bad` ones also add `bad/NN`) and queued for `main`, in order.
fn queued_repository(dir: &Path, bad: &[usize]) {
    std::fs::create_dir_all(dir).expect("the work directory is writable");
    git(dir, &["init", "-q", "-b", "main"]);
    for i in 0..8 {
        std::fs::write(dir.join(format!("base-{i}.txt")), format!("base file {i}\n")).expect("writable");
    }
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "base"]);
    loom(dir, &["init", "-q"]);
    loom(dir, &["config", "merge.test", &test_command()]);
    let base = git(dir, &["rev-parse", "main"]);
    let mut stream = String::new();
    for i in 0..QUEUE {
        let message = format!("work {i:02}\n");
        let _ = write!(
            stream,
            "commit refs/heads/work/{i:02}\ncommitter bench <bench@example.invalid> 1700000000 +0000\n\
             data {}\n{message}from {base}\n",
            message.len()
        );
        let content = format!("work of request {i}\n");
        let _ = writeln!(
            stream,
            "M 100644 inline file-{i:02}.txt\ndata {}\n{content}",
            content.len()
        );
        if bad.contains(&i) {
            let _ = writeln!(stream, "M 100644 inline bad/{i:02}\ndata 4\nbad\n");
        }
    }
    fast_import(dir, stream.as_bytes());
    for i in 0..QUEUE {
        let created = loom(dir, &["create", &format!("request {i:02}"), "--json"]);
        let created: serde_json::Value = serde_json::from_str(&created).expect("create --json prints JSON");
        let id = created["id"].as_str().expect("a created task has an id").to_owned();
        loom(dir, &["claim", &id, "-q"]);
        loom(
            dir,
            &["done", &id, "--branch", &format!("work/{i:02}"), "--skip-verify", "-q"],
        );
    }
    let queue = loom(dir, &["merge", "queue", "--json"]);
    let queue: serde_json::Value = serde_json::from_str(&queue).expect("merge queue --json prints JSON");
    assert_eq!(
        queue.as_array().map(Vec::len),
        Some(QUEUE),
        "every request is queued: {queue}"
    );
}

/// Feed `stream` to `git fast-import` in `dir`.
pub(super) fn fast_import(dir: &Path, stream: &[u8]) {
    use std::io::Write as _;
    let mut child = git_cmd(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stream)
        .expect("git fast-import reads its stream");
    let status = child.wait().expect("git fast-import ends");
    assert!(status.success(), "git fast-import failed");
}

/// Copy a whole repository (working tree included) and refresh the copy's index, whose stat
/// data names the old files.
fn copy_whole(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(status.success(), "copying {}", from.display());
    let _ = git_cmd(to)
        .args(["update-index", "-q", "--refresh"])
        .stdout(Stdio::null())
        .status();
}

fn test_log_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join(".git").join(TEST_LOG)).map_or(0, |text| text.lines().count())
}

/// Run `git loom merge --batch N` in `dir` to its end (killed, by its own PID, past
/// [`MERGE_DEADLINE`]); its stdout, stderr and wall time.
fn run_merge(dir: &Path, batch: usize, scratch: &Path) -> (String, String, f64) {
    let stdout = scratch.with_extension("out");
    let stderr = scratch.with_extension("err");
    let mut child = loom_cmd(dir)
        .args(["merge", "--batch", &batch.to_string()])
        .stdout(std::fs::File::create(&stdout).expect("the scratch file can be made"))
        .stderr(std::fs::File::create(&stderr).expect("the scratch file can be made"))
        .spawn()
        .expect("git loom merge starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the merge process can be waited for") {
            break status;
        }
        if start.elapsed() > MERGE_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "git loom merge --batch {batch} in {} ran past {MERGE_DEADLINE:?}",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let secs = start.elapsed().as_secs_f64();
    let out = std::fs::read_to_string(&stdout).unwrap_or_default();
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(status.success(), "git loom merge --batch {batch}: {err}");
    (out, err, secs)
}

/// Parse "N merged, M decided, R test runs, C answered from the test cache".
fn parse_summary(stderr: &str) -> Summary {
    let line = stderr
        .lines()
        .find(|line| line.contains("test runs"))
        .unwrap_or_else(|| panic!("the merge run prints its summary: {stderr}"));
    let numbers: Vec<usize> = line
        .split(',')
        .map(|part| {
            part.split_whitespace()
                .find_map(|word| word.parse().ok())
                .unwrap_or_else(|| panic!("a number in {part:?}"))
        })
        .collect();
    assert_eq!(numbers.len(), 4, "the summary has four figures: {line}");
    Summary {
        merged: numbers[0],
        decided: numbers[1],
        test_runs: numbers[2],
        cache_hits: numbers[3],
    }
}

/// Serve the queue in `dir` and gather the figures.
fn serve(dir: &Path, bad: &[usize], batch: usize, predicted: Prediction, scratch: &Path) -> QueueRun {
    let before = test_log_lines(dir);
    let (out, err, secs) = run_merge(dir, batch, scratch);
    let logged = test_log_lines(dir) - before;
    let summary = parse_summary(&err);
    // One line per decision, "<task>  <state>  <note>"; a request's last line is its state.
    let mut states: BTreeMap<String, String> = BTreeMap::new();
    for line in out.lines() {
        let mut words = line.split_whitespace();
        if let (Some(task), Some(state)) = (words.next(), words.next()) {
            states.insert(task.to_owned(), state.to_owned());
        }
    }
    let merged = states.values().filter(|s| *s == "merged").count();
    let failed = states.values().filter(|s| *s == "failed").count();
    let failure_landed = !git(dir, &["ls-tree", "-d", "main", "bad"]).is_empty();
    for line in err.lines().filter(|line| line.starts_with("warning")) {
        eprintln!("    {line}");
    }
    QueueRun {
        bad: bad.len(),
        batch,
        logged,
        summary,
        secs,
        bound: bound(QUEUE, bad, batch),
        predicted,
        merged,
        failed,
        other: states.len() - merged - failed,
        failure_landed,
        replay: None,
    }
}

/// Every queue run: for each k, one queued repository, copied once per batch size (run) and
/// once more (the replay, given the run's test cache).
pub(super) fn merge_queue(work: &Path) -> Vec<QueueRun> {
    let mut runs = Vec::new();
    for bad in BAD_SETS {
        let base = work.join(format!("queue-k{}", bad.len()));
        let setup = Instant::now();
        queued_repository(&base, bad);
        eprintln!(
            "  {QUEUE} requests queued, {} failing, in {:.1} s",
            bad.len(),
            setup.elapsed().as_secs_f64()
        );
        for &batch in BATCHES {
            let dir = work.join(format!("queue-k{}-b{batch}", bad.len()));
            let again = work.join(format!("queue-k{}-b{batch}-again", bad.len()));
            copy_whole(&base, &dir);
            copy_whole(&base, &again);
            let mut cache = Cache::new();
            let predicted = predict(QUEUE, bad, batch, &mut cache);
            let mut run = serve(&dir, bad, batch, predicted, &dir.with_extension("merge"));
            // The replay: the same requests on the same target, with the first run's cache.
            git(
                &again,
                &[
                    "fetch",
                    "-q",
                    &dir.to_string_lossy(),
                    "refs/loom/tests/*:refs/loom/tests/*",
                ],
            );
            let predicted_again = predict(QUEUE, bad, batch, &mut cache);
            let replay = serve(&again, bad, batch, predicted_again, &again.with_extension("merge"));
            eprintln!(
                "  k={} batch {batch:>2}: {} runs ({} by the engine, {} predicted, bound {}) in {:.1} s; \
                 {} merged, {} failed; again with the cache: {} runs, {} cached, {:.1} s",
                bad.len(),
                run.logged,
                run.summary.test_runs,
                run.predicted.runs,
                run.bound,
                run.secs,
                run.merged,
                run.failed,
                replay.logged,
                replay.summary.cache_hits,
                replay.secs
            );
            run.replay = Some(Box::new(replay));
            runs.push(run);
        }
    }
    runs
}

/// The merge queue's part of the report.
pub(super) fn queue_report(out: &mut String, runs: &[QueueRun]) {
    let _ = writeln!(
        out,
        "Queue of {QUEUE} branches, each done on its own branch (one new file each) and queued by \
         `done --branch`, served by `git loom merge --batch N` (one process, timed from start to \
         exit). The test command (`[merge] test`) appends a line to a log, sleeps {TEST_SECS} s \
         and fails when the tree holds a `bad/` directory, which the failing branches add (at \
         queue positions 6, and 6 and 13). *runs* counts the log's lines; *engine* is the test \
         runs in the engine's own summary; *predicted* replays the engine's rounds through \
         `merge::bisect::decide`; *bound* is `(k+1) + k·⌈log₂N⌉` for each batch of the queue \
         as first cut (N the batch size), summed (for batch 16, the bound of the whole queue). \
         *again* is the same queue on a copy made before the run, given the run's test cache \
         (`git fetch` of `refs/loom/tests/*`): the same requests on the same target make the same \
         trees, so every pass is answered from the cache; a cached failure is run once more \
         (the engine retests a failure blamed on a whole stack's single run, for flaky tests)."
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| failing k | batch | runs | engine | predicted | bound | wall s | merged | failed | \
         failure landed | again: runs | again: cached | again: wall s |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");
    for run in runs {
        let again = run.replay.as_deref();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            run.bad,
            run.batch,
            run.logged,
            run.summary.test_runs,
            run.predicted.runs,
            run.bound,
            run.secs,
            run.merged,
            run.failed,
            if run.failure_landed { "**yes**" } else { "no" },
            again.map_or("—".to_owned(), |a| a.logged.to_string()),
            again.map_or("—".to_owned(), |a| a.summary.cache_hits.to_string()),
            again.map_or("—".to_owned(), |a| format!("{:.1}", a.secs)),
        );
    }
    let _ = writeln!(out);
    let mut findings = Vec::new();
    for run in runs.iter().chain(runs.iter().filter_map(|r| r.replay.as_deref())) {
        let what = format!("k={} batch {}", run.bad, run.batch);
        if run.logged != run.summary.test_runs {
            findings.push(format!(
                "{what}: the log counts {} runs, the engine's summary {}",
                run.logged, run.summary.test_runs
            ));
        }
        if run.logged != run.predicted.runs || run.summary.cache_hits != run.predicted.cache_hits {
            findings.push(format!(
                "{what}: {} runs and {} cache answers, the replay of the rounds predicts {} and {}",
                run.logged, run.summary.cache_hits, run.predicted.runs, run.predicted.cache_hits
            ));
        }
        if run.logged > run.bound {
            findings.push(format!("{what}: {} runs exceed the bound {}", run.logged, run.bound));
        }
        if run.failure_landed || run.merged != QUEUE - run.bad || run.failed != run.bad || run.other != 0 {
            findings.push(format!(
                "{what}: {} merged, {} failed, {} left otherwise, a failing branch landed: {}",
                run.merged, run.failed, run.other, run.failure_landed
            ));
        }
    }
    if findings.is_empty() {
        let _ = writeln!(
            out,
            "Every run: the log, the engine's summary and the replay agree, no run exceeds its \
             bound, every passing branch lands and every failing one is refused."
        );
    } else {
        let _ = writeln!(out, "Findings:");
        let _ = writeln!(out);
        for finding in findings {
            let _ = writeln!(out, "- {finding}");
        }
    }
    let _ = writeln!(out);
}
