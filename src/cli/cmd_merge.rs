//! `git loom merge`: run the test-gated merge queue, and `merge queue|show|retry|drop` to look
//! at and steer its requests.
//!
//! A run prints one line per decided request (one JSON object per line with `--json`); on a
//! terminal, a long test shows live progress on stderr (request, elapsed time, last output
//! line), and nothing of it when stderr is piped.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use git_loom::api::{DecisionJson, MergeRequestJson};
use git_loom::loom::Loom;
use git_loom::loom::remote::{Exchange, check_remote, configured_remote, exchange};
use git_loom::merge::{Decision, MergeEvent, RunOptions, TestProgress};
use git_loom::model::MergeState;
use git_loom::repo::CheckoutUpdate;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::{self, Ui};

/// Land finished tasks' branches on the target through the test-gated merge queue
///
/// Each queued branch (queued by `done`) is merged onto the target's tip without a working
/// tree, the candidate commit is tested in a worktree of its own with `[merge] test` and the
/// tasks' checks, and only a candidate that passed becomes the target. A conflict or a failure
/// sends the task back to its agents with a handoff.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MergeArgs {
    #[command(subcommand)]
    action: Option<MergeAction>,
    /// Serve the queue until it is empty, then stop (the default)
    #[arg(long, conflicts_with = "watch")]
    once: bool,
    /// Keep serving the queue, looking for new requests every --interval seconds
    #[arg(long)]
    watch: bool,
    /// Seconds between looks at the queue with --watch
    #[arg(long, value_name = "SECS", default_value_t = 5, requires = "watch")]
    interval: u64,
    /// Stack up to N requests into one candidate (default: `[merge] batch`); a failing batch
    /// is bisected to find the culprit
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    batch: Option<u64>,
    /// Serve only requests for this target branch
    #[arg(long, value_name = "BRANCH")]
    target: Option<String>,
    /// Run as a CI job: sync `refs/loom/*` with the remote, make the local target the
    /// remote's before each round, fetch the queued branches, land each passing candidate on
    /// the remote first (with a lease on the tip it was built from), and sync again at the
    /// end. Exits 0 when the queue ran, failed requests included
    #[arg(long, conflicts_with = "watch")]
    ci: bool,
    /// The remote a CI run works against (default: the coordination remote, else `origin`)
    #[arg(long, value_name = "REMOTE", requires = "ci")]
    remote: Option<String>,
}

#[derive(Debug, Subcommand)]
enum MergeAction {
    /// List the merge requests: open ones in the order the engine serves them
    Queue {
        /// Also list merged, dropped, failed and conflicting requests
        #[arg(long)]
        all: bool,
    },
    /// Show one merge request with every attempt (candidates, tests, conflicts)
    Show {
        /// The task
        id: String,
    },
    /// Queue a request that conflicted, failed or was dropped again (at its branch's tip)
    Retry {
        /// The task
        id: String,
    },
    /// Take a request out of the queue (`retry` puts it back)
    Drop {
        /// The task
        id: String,
        /// Why, kept on the request
        #[arg(long, short, value_name = "TEXT")]
        reason: Option<String>,
    },
}

pub fn run(args: &MergeArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    if args.ci && args.action.is_none() {
        return run_ci(args, context, ui);
    }
    let loom = context.loom()?;
    match &args.action {
        Some(MergeAction::Queue { all }) => {
            let queue = loom.merge_queue()?;
            for problem in &queue.problems {
                ui.warn(problem.to_string());
            }
            let shown: Vec<_> = queue
                .entries
                .iter()
                .filter(|entry| *all || entry.request.state.is_open())
                .collect();
            if ui.json {
                let rows: Vec<MergeRequestJson<'_>> = shown.iter().map(|entry| MergeRequestJson::row(entry)).collect();
                ui.json_value(&rows)?;
                return Ok(Exit::Success);
            }
            if shown.is_empty() {
                ui.note(match all {
                    true => "no merge requests",
                    false => "the merge queue is empty",
                });
                return Ok(Exit::Success);
            }
            let table: Vec<Vec<String>> = shown
                .iter()
                .map(|entry| {
                    let request = &entry.request;
                    vec![
                        request.task.to_string(),
                        request.state.to_string(),
                        entry.priority.map_or("-", |priority| priority.as_str()).to_owned(),
                        format!("{} → {}", request.branch, request.target),
                        entry.title.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            ui.table(&table)?;
            Ok(Exit::Success)
        }
        Some(MergeAction::Show { id }) => {
            let entry = loom.merge_request(id)?;
            if ui.json {
                ui.json_value(&MergeRequestJson::whole(&entry))?;
                return Ok(Exit::Success);
            }
            let request = &entry.request;
            ui.line(format!(
                "{}  {}  {}",
                request.task,
                request.state,
                entry.title.as_deref().unwrap_or("")
            ))?;
            ui.line(format!("branch   {} at {}", request.branch, request.tip))?;
            ui.line(format!("target   {}", request.target))?;
            ui.line(format!("queued   {}", request.queued_at))?;
            if let Some(merged) = &request.merged {
                ui.line(format!("merged   {} at {}", merged.commit, merged.at))?;
            }
            if let Some(note) = &request.note {
                ui.line(format!("note     {note}"))?;
            }
            for attempt in &request.attempts {
                ui.line(format!(
                    "attempt  {}  {} by {} on {}{}",
                    attempt.at,
                    attempt.outcome,
                    attempt.by,
                    short(&attempt.base),
                    attempt
                        .candidate
                        .as_deref()
                        .map_or(String::new(), |candidate| format!(", candidate {}", short(candidate)))
                ))?;
                for path in &attempt.conflicts {
                    ui.line(format!("  conflict  {path}"))?;
                }
                for test in &attempt.tests {
                    ui.line(format!(
                        "  {}  {}  {:.1}s{}",
                        if test.passed { "pass" } else { "FAIL" },
                        test.name,
                        test.seconds,
                        if test.cached { " (cached)" } else { "" }
                    ))?;
                    if !test.passed {
                        for line in test.tail.lines() {
                            ui.line(format!("    {line}"))?;
                        }
                    }
                }
            }
            Ok(Exit::Success)
        }
        Some(MergeAction::Retry { id }) => {
            let actor = context.actor(loom.store())?;
            let request = loom.merge_retry(id, &actor)?;
            report_state(ui, &request.task.to_string(), request.state, &request.tip)?;
            Ok(Exit::Success)
        }
        Some(MergeAction::Drop { id, reason }) => {
            let actor = context.actor(loom.store())?;
            let request = loom.merge_drop(id, reason.as_deref(), &actor)?;
            report_state(ui, &request.task.to_string(), request.state, &request.tip)?;
            Ok(Exit::Success)
        }
        None => run_engine(args, context, &loom, None, ui),
    }
}

fn report_state(ui: &mut Ui, task: &str, state: MergeState, tip: &str) -> Result<(), CommandError> {
    if ui.json {
        ui.json_value(&serde_json::json!({ "task": task, "state": state, "tip": tip }))?;
    } else {
        ui.line(format!("{task}  {state}"))?;
    }
    Ok(())
}

/// `merge --ci`: the queue as a job of its own against a remote.
fn run_ci(args: &MergeArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let mut store = context.store()?;
    let remote = match &args.remote {
        Some(remote) => remote.clone(),
        None => configured_remote(&store)
            .filter(|remote| !remote.trim().is_empty())
            .unwrap_or_else(|| "origin".to_owned()),
    };
    check_remote(&store, &remote)?;
    store.set_publish_remote(Some(remote.clone()));
    let actor = context.actor(&store)?;
    let report = exchange(&store, &remote, Exchange::Sync, &actor)?;
    ui.note(format!("synced with {remote} ({} refs fetched)", report.fetched));
    let loom = Loom::load(store)?;
    let exit = run_engine(args, context, &loom, Some(remote.clone()), ui)?;
    // The test cache and the kept candidates are written locally: publish them.
    exchange(loom.store(), &remote, Exchange::Sync, &actor)?;
    Ok(exit)
}

/// Run the engine once, or keep running it with `--watch`.
fn run_engine(
    args: &MergeArgs,
    context: &Context<'_>,
    loom: &Loom,
    remote: Option<String>,
    ui: &mut Ui,
) -> Result<Exit, CommandError> {
    let options = RunOptions {
        batch: args.batch.map(|batch| batch as usize),
        target: args.target.clone(),
        remote,
        // Unique to this process, so that two engines under one agent name do not both
        // believe they hold the merge lease.
        holder: Some(format!(
            "{} on {} (process {})",
            context.actor(loom.store())?.agent,
            gethostname::gethostname().to_string_lossy(),
            std::process::id()
        )),
    };
    let live = Live::new(ui.json || ui.quiet);
    loop {
        // A watching engine runs for hours: each pass acts at its own time.
        let actor = match args.watch {
            true => git_loom::loom::Actor {
                now: jiff::Timestamp::now(),
                ..context.actor(loom.store())?
            },
            false => context.actor(loom.store())?,
        };
        let mut lines: Vec<Result<(), CommandError>> = Vec::new();
        let mut target = String::new();
        let report = loom.merge_run(&options, &actor, |event| match event {
            MergeEvent::Building {
                target: building,
                tasks,
                ..
            } => {
                building.clone_into(&mut target);
                live.say(format!(
                    "building a candidate of {} on {building}",
                    ui::count(tasks.len(), "request", "requests")
                ));
            }
            MergeEvent::Testing {
                tasks,
                candidate,
                retest,
            } => {
                live.start(format!(
                    "{}testing {} ({})",
                    if retest { "re" } else { "" },
                    tasks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    short(&candidate.to_string())
                ));
            }
            MergeEvent::Progress(progress) => live.progress(&progress),
            MergeEvent::Decided(decision) => {
                live.clear();
                lines.push(print_decision(ui, decision));
            }
            MergeEvent::Checkout(update) => {
                live.clear();
                match update {
                    CheckoutUpdate::FastForwarded { dir } => {
                        ui.note(format!("updated the checkout in {}", dir.display()));
                    }
                    // HEAD names the moved branch while the index and files are still the
                    // old tip's: a commit or a stash made now would record the landed work as
                    // undone, so the advice brings the work in first.
                    CheckoutUpdate::LeftDirty { dir, old } => ui.warn(format!(
                        "the target moved, but its checkout in {dir} has uncommitted changes and was left as it \
                         was: its files are still those of {old} (`git status` shows the landed work as undone \
                         there, and a commit made now would undo it). Bring the work in with \
                         `git read-tree -m -u {old} HEAD` there: it keeps your changes, and refuses, changing \
                         nothing, when they touch files the work changed; then `git update-ref --no-deref HEAD \
                         {old}` puts the checkout back on its old tip, where you can stash them before \
                         `git switch {target}` and `git stash pop`",
                        dir = dir.display(),
                    )),
                    CheckoutUpdate::Blocked { dir, old, reason } => ui.warn(format!(
                        "the target moved, but its checkout in {dir} could not be updated: {reason}; its files are \
                         still those of {old}: once that is out of the way, `git read-tree -m -u {old} HEAD` there \
                         brings the work in",
                        dir = dir.display(),
                    )),
                    CheckoutUpdate::NotCheckedOut => {}
                }
            }
        })?;
        live.clear();
        for line in lines {
            line?;
        }
        for problem in &report.problems {
            ui.warn(problem);
        }
        if !args.watch {
            if !ui.json {
                let merged = report
                    .decisions
                    .iter()
                    .filter(|d| d.state == MergeState::Merged)
                    .count();
                ui.note(match report.decisions.is_empty() {
                    true => "the merge queue is empty".to_owned(),
                    false => format!(
                        "{} merged, {} decided, {} test runs, {} answered from the test cache",
                        merged,
                        report.decisions.len(),
                        report.test_runs,
                        report.cache_hits
                    ),
                });
            }
            return Ok(Exit::Success);
        }
        ui.flush()?;
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
    }
}

fn print_decision(ui: &mut Ui, decision: &Decision) -> Result<(), CommandError> {
    if ui.json {
        let line = serde_json::to_string(&DecisionJson::from(decision)).map_err(std::io::Error::from)?;
        ui.line(line)?;
    } else {
        ui.line(format!("{}  {}  {}", decision.task, decision.state, decision.note))?;
    }
    ui.flush()?;
    Ok(())
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Live progress on stderr while a candidate is tested; hidden when stderr is no terminal, or
/// with `--json` or `-q`.
struct Live {
    bar: ProgressBar,
    started: std::cell::Cell<Instant>,
    label: std::cell::RefCell<String>,
}

impl Live {
    fn new(silent: bool) -> Live {
        let target = match silent {
            true => ProgressDrawTarget::hidden(),
            false => ProgressDrawTarget::stderr(),
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Live {
            bar,
            started: std::cell::Cell::new(Instant::now()),
            label: std::cell::RefCell::new(String::new()),
        }
    }

    fn say(&self, text: String) {
        self.bar.set_message(text);
        self.bar.tick();
    }

    fn start(&self, label: String) {
        self.started.set(Instant::now());
        self.say(label.clone());
        *self.label.borrow_mut() = label;
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }

    fn progress(&self, progress: &TestProgress<'_>) {
        let elapsed = self.started.get().elapsed().as_secs();
        let detail = match progress {
            TestProgress::Output { line, .. } => ui::sanitize(line).chars().take(80).collect::<String>(),
            TestProgress::Started { name } => format!("running {name}"),
            TestProgress::Finished { run } => format!("{} {}", run.name, if run.passed { "passed" } else { "failed" }),
        };
        self.bar
            .set_message(format!("{} {elapsed}s  {detail}", self.label.borrow()));
    }

    fn clear(&self) {
        self.bar.disable_steady_tick();
        self.bar.finish_and_clear();
        self.bar.reset();
    }
}
