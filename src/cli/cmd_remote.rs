//! `git loom remote`, `fetch`, `push` and `sync`: coordinating through a git remote.

use clap::Args;

use git_loom::api::{RemoteJson, SyncReportJson};
use git_loom::loom::remote::{Exchange, configured_remote, exchange, remote_for, set_remote};
use git_loom::store::{PushProgress, Store};
use git_loom::sync::SyncReport;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Show or set the coordination remote (git config loom.remote)
///
/// With a remote set, `fetch`, `push` and `sync` use it when none is named.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// A remote configured in this repository (`git remote add …`) to coordinate through
    name: Option<String>,
}

/// Fetch the remote's refs/loom/* and reconcile them into the local ones
///
/// The remote's refs are mirrored under refs/loom-remote/<remote>/; diverged task histories are
/// merged field by field; claims are taken as the remote has them. Nothing is pushed.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The remote (default: git config loom.remote)
    remote: Option<String>,
}

/// Push local loom changes the remote can fast-forward to
///
/// Every ref is pushed with a lease on the value the remote was last seen to hold, all in one
/// atomic push. When the remote has changes this clone has not reconciled, nothing is pushed:
/// run `git loom sync`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The remote (default: git config loom.remote)
    remote: Option<String>,
}

/// Fetch, reconcile and push until this clone and the remote agree
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The remote (default: git config loom.remote)
    remote: Option<String>,
}

pub fn run_remote(args: &RemoteArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    match &args.name {
        None => {
            let current = configured_remote(&store);
            if ui.json {
                ui.json_value(&RemoteJson::new(current.as_deref()))?;
            } else if let Some(remote) = &current {
                ui.line(remote)?;
            } else {
                ui.note("no coordination remote is set (set one with `git loom remote <name>`)");
            }
            Ok(Exit::Success)
        }
        Some(name) => {
            set_remote(&store, name)?;
            if ui.json {
                ui.json_value(&RemoteJson::new(Some(name)))?;
            } else {
                ui.line(format!("coordinating through {name}"))?;
            }
            Ok(Exit::Success)
        }
    }
}

pub fn run_fetch(args: &FetchArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    let remote = remote_for(&store, args.remote.as_deref())?;
    let actor = context.actor(&store)?;
    let report = exchange(&store, &remote, Exchange::Fetch, &actor)?;
    print_report(ui, &remote, &report)
}

pub fn run_push(args: &PushArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let mut store = context.store()?;
    let remote = remote_for(&store, args.remote.as_deref())?;
    let actor = context.actor(&store)?;
    let bar = push_bar(&mut store, ui);
    let report = exchange(&store, &remote, Exchange::Push, &actor);
    bar.finish_and_clear();
    let report = report?;
    print_report(ui, &remote, &report)
}

pub fn run_sync(args: &SyncArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let mut store = context.store()?;
    let remote = remote_for(&store, args.remote.as_deref())?;
    let actor = context.actor(&store)?;
    let bar = push_bar(&mut store, ui);
    let report = exchange(&store, &remote, Exchange::Sync, &actor);
    bar.finish_and_clear();
    let report = report?;
    print_report(ui, &remote, &report)
}

/// A progress bar on stderr for pushes of many refs, fed by the store; drawn only on a
/// terminal, and never with `--json` or `-q`.
fn push_bar(store: &mut Store, ui: &Ui) -> ProgressBar {
    let target = match ui.json || ui.quiet {
        true => ProgressDrawTarget::hidden(),
        false => ProgressDrawTarget::stderr(),
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("pushing {pos}/{len} refs {wide_bar} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let feed = bar.clone();
    store.on_push_progress(std::sync::Arc::new(move |progress: PushProgress| {
        // One push of a few refs is over before a bar would help.
        if progress.batches > 1 || progress.refs_total >= 1_000 {
            feed.set_length(progress.refs_total as u64);
            feed.set_position(progress.refs_done as u64);
            feed.set_message(format!(
                "(batch {}/{})",
                progress.batches_done.min(progress.batches),
                progress.batches
            ));
        }
    }));
    bar
}

fn print_report(ui: &mut Ui, remote: &str, report: &SyncReport) -> Result<Exit, CommandError> {
    for (name, why) in &report.skipped {
        ui.warn(format!("skipping {name}: {why}"));
    }
    if ui.json {
        ui.json_value(&SyncReportJson::new(remote, report))?;
        return Ok(Exit::Success);
    }
    for (id, conflicts) in &report.merged {
        match conflicts.is_empty() {
            true => ui.line(format!("merged {id}"))?,
            false => {
                let fields: Vec<&str> = conflicts.iter().map(|c| c.field.as_str()).collect();
                ui.line(format!("merged {id} (both changed: {})", fields.join(", ")))?
            }
        }
    }
    for (from, to) in &report.cycles_broken {
        ui.line(format!("dropped dependency {from} → {to}: it closed a cycle"))?;
    }
    for id in &report.claims_dropped {
        ui.line(format!("claim on {id} lost: the remote {remote} decided otherwise"))?;
    }
    ui.line(format!(
        "{remote}: {} fetched, {} fast-forwarded, {} merged, {} pushed",
        report.fetched,
        report.fast_forwarded.len() + report.taken_from_remote.len(),
        report.merged.len(),
        report.pushed.len()
    ))?;
    Ok(Exit::Success)
}
