//! `git loom run`: the orchestrator's front end. It resolves the agent preset and the run's
//! settings, imports `--plan`, installs the Ctrl-C handler (the first interrupt stops new
//! sessions and gives running agents the grace period, the second kills them), starts
//! diagnostics (`-v`, `LOOM_LOG`, on stderr only), and renders the run's events (see
//! `run_view`). Exit: 0 every task done (and merged unless `--no-merge`), 5 tasks left dead,
//! failed, blocked or unmerged, 130 after Ctrl-C.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;

use git_loom::run::{ClaudeFiles, Control, RunEnd, RunOptions, preset};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::run_view::View;
use super::ui::Ui;

/// Run agents on the ready tasks until every task is done and merged
///
/// Claims ready tasks up to -j at once, starts one agent session per task in the task's
/// worktree (its environment: LOOM_TASK, LOOM_TOKEN, LOOM_WORKTREE, LOOM_SIGNAL, LOOM_AGENT,
/// LOOM_SESSION, LOOM_ATTEMPT, LOOM_REFRESH), keeps its claim alive, and when the agent exits
/// runs `done` (the checks decide). A failing, crashing, timed-out or killed session is handed
/// off and failed, so the retry rules take over; the merge queue is served meanwhile. The
/// global --agent names the agent program here: a preset (`[agents.<name>]` in the settings,
/// or the built-in `claude` and `codex`) or a shell command line.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// How many sessions run at once (default: `[run] jobs`)
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    jobs: Option<u64>,
    /// Import this plan first (as `plan import`; importing it again changes nothing)
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// End when no task is ready, running, claimed, queued or waiting for a retry (the default)
    #[arg(long, conflicts_with = "watch")]
    until_done: bool,
    /// Keep running, starting sessions as tasks become ready, until Ctrl-C
    #[arg(long)]
    watch: bool,
    /// Do not serve the merge queue in this process (finished work stays queued)
    #[arg(long)]
    no_merge: bool,
    /// The runner's name; its sessions work as NAME/1, NAME/2, … (default: $LOOM_AGENT, git
    /// config loom.agent, or user.name@host)
    #[arg(long, value_name = "RUNNER")]
    name: Option<String>,
    /// Kill a session's agent after this many seconds (default: the preset's, else
    /// `[run] session_timeout_secs`; 0: no limit)
    #[arg(long, value_name = "SECS")]
    session_timeout: Option<u64>,
    /// Seconds an agent asked to stop (Ctrl-C, a fresh session, a kill) has before it is
    /// killed (default: `[run] grace_secs`)
    #[arg(long, value_name = "SECS")]
    grace: Option<u64>,
    /// Diagnostics on stderr (-v: debug, -vv: trace); LOOM_LOG takes a filter instead
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
}

/// Diagnostics go to stderr, never into the command's output.
fn init_tracing(verbose: u8) {
    let filter = match std::env::var("LOOM_LOG") {
        Ok(filter) if !filter.trim().is_empty() => tracing_subscriber::EnvFilter::new(filter),
        _ => tracing_subscriber::EnvFilter::new(match verbose {
            0 => "warn",
            1 => "git_loom=debug",
            _ => "git_loom=trace",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Count interrupts (SIGINT, and SIGTERM like a first one) on a thread of their own.
fn install_interrupts(control: &Control) -> Result<(), CommandError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|err| CommandError::new(Exit::Error, format!("cannot catch Ctrl-C: {err}")))?;
    let interrupts = Arc::clone(&control.interrupts);
    std::thread::Builder::new()
        .name("interrupts".into())
        .spawn(move || {
            for _ in signals.forever() {
                interrupts.fetch_add(1, Ordering::SeqCst);
            }
        })
        .map_err(|err| CommandError::new(Exit::Error, format!("cannot catch Ctrl-C: {err}")))?;
    Ok(())
}

pub fn run(args: &RunArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    init_tracing(args.verbose);
    if let Some(plan) = &args.plan {
        let (_, outcome, _) = super::cmd_plan::import(plan, false, false, context, ui)?;
        tracing::debug!(
            created = outcome.created.len(),
            updated = outcome.updated.len(),
            "plan imported"
        );
    }
    let loom = context.loom()?.follow_meta();
    let settings = loom.settings();
    let runner = context.identity(loom.store(), args.name.clone())?;
    let agent_value = context
        .agent_flag()
        .map(str::to_owned)
        .or_else(|| Some(settings.run.agent.clone()).filter(|agent| !agent.trim().is_empty()))
        .ok_or_else(|| {
            let mut err = CommandError::usage("name the agent to run with --agent PRESET|COMMAND");
            err.hints.push(format!(
                "presets: {} and any [agents.<name>] in the settings; `git loom config run.agent NAME` sets a default",
                preset::BUILTIN.join(", ")
            ));
            err
        })?;
    let main_tree = loom.store().repo().main_work_dir().unwrap_or_default();
    let agent = preset::resolve(&agent_value, &settings, &ClaudeFiles::in_tree(&main_tree));
    let timeout = args.session_timeout.unwrap_or(settings.run.session_timeout_secs);
    let options = RunOptions {
        agent,
        runner: runner.agent.clone(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        jobs: args.jobs.unwrap_or(settings.run.jobs).max(1) as usize,
        watch: args.watch,
        merge: !args.no_merge,
        session_timeout: (timeout > 0).then(|| Duration::from_secs(timeout)),
        grace: Duration::from_secs(args.grace.unwrap_or(settings.run.grace_secs)),
        context_budget: settings.run.context_budget,
        poll: Duration::from_millis(100),
        sweep_every: Duration::from_millis(500),
    };
    let merge_loom = match options.merge {
        true => Some(context.loom()?.follow_meta()),
        false => None,
    };
    let control = Control::default();
    install_interrupts(&control)?;
    let clock = context.clock();
    let mut view = View::new(ui, clock.clone());
    let report = loom.run_agents(&options, &control, &clock, merge_loom, |event| view.show(&event));
    let report = view.finish(report)?;
    Ok(match report.end {
        RunEnd::AllDone => Exit::Success,
        RunEnd::Stuck => Exit::ChecksFailed,
        RunEnd::Interrupted => Exit::Interrupted,
    })
}
