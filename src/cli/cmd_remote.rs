//! `git loom remote`, `fetch`, `push` and `sync`: coordinating through a git remote.

use clap::Args;
use serde::Serialize;

use git_loom::ops::{Reconciler, SyncReport};
use git_loom::store::{Store, is_valid_remote_name};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// The git config key naming the coordination remote.
const REMOTE_KEY: &str = "loom.remote";

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

#[derive(Serialize)]
struct RemoteJson<'a> {
    remote: Option<&'a str>,
}

pub fn run_remote(args: &RemoteArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    match &args.name {
        None => {
            let current = store.repo().config_string(REMOTE_KEY);
            if ui.json {
                ui.json_value(&RemoteJson {
                    remote: current.as_deref(),
                })?;
            } else if let Some(remote) = &current {
                ui.line(remote)?;
            } else {
                ui.note("no coordination remote is set (set one with `git loom remote <name>`)");
            }
            Ok(Exit::Success)
        }
        Some(name) => {
            check_remote(&store, name)?;
            store.repo().set_local_config(REMOTE_KEY, name)?;
            if ui.json {
                ui.json_value(&RemoteJson { remote: Some(name) })?;
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
    let report = Reconciler::new(&store).fetch(&remote, &actor)?;
    print_report(ui, &remote, &report)
}

pub fn run_push(args: &PushArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    let remote = remote_for(&store, args.remote.as_deref())?;
    let actor = context.actor(&store)?;
    let report = Reconciler::new(&store).push(&remote, &actor)?;
    print_report(ui, &remote, &report)
}

pub fn run_sync(args: &SyncArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    let remote = remote_for(&store, args.remote.as_deref())?;
    let actor = context.actor(&store)?;
    let report = Reconciler::new(&store).sync(&remote, &actor)?;
    print_report(ui, &remote, &report)
}

/// The remote named on the command line, else the configured one.
fn remote_for(store: &Store, named: Option<&str>) -> Result<String, CommandError> {
    let remote = match named {
        Some(name) => name.to_owned(),
        None => store.repo().config_string(REMOTE_KEY).ok_or_else(|| {
            CommandError::usage("no remote named and no coordination remote set")
                .hint("name one (`git loom sync origin`) or set one with `git loom remote origin`")
        })?,
    };
    check_remote(store, &remote)?;
    Ok(remote)
}

fn check_remote(store: &Store, name: &str) -> Result<(), CommandError> {
    if !is_valid_remote_name(name) {
        return Err(CommandError::usage(format!(
            "{name:?} cannot be used as a coordination remote: use a remote name made of letters, digits, `-`, `_` and `.`"
        )));
    }
    if !store.has_remote(name) {
        return Err(
            CommandError::new(Exit::Error, format!("no remote named {name:?} in this repository"))
                .hint(format!("add it first: git remote add {name} <url>")),
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct ReportJson<'a> {
    remote: &'a str,
    rounds: u32,
    fetched: usize,
    fast_forwarded: &'a [String],
    merged: Vec<MergedJson<'a>>,
    cycles_broken: Vec<[&'a str; 2]>,
    claims_dropped: Vec<&'a str>,
    taken_from_remote: &'a [String],
    pushed: &'a [String],
    skipped: Vec<[&'a str; 2]>,
}

#[derive(Serialize)]
struct MergedJson<'a> {
    id: &'a str,
    both_changed: Vec<&'a str>,
}

fn print_report(ui: &mut Ui, remote: &str, report: &SyncReport) -> Result<Exit, CommandError> {
    for (name, why) in &report.skipped {
        ui.warn(format!("skipping {name}: {why}"));
    }
    if ui.json {
        ui.json_value(&ReportJson {
            remote,
            rounds: report.rounds,
            fetched: report.fetched,
            fast_forwarded: &report.fast_forwarded,
            merged: report
                .merged
                .iter()
                .map(|(id, conflicts)| MergedJson {
                    id: id.as_str(),
                    both_changed: conflicts.iter().map(|c| c.field.as_str()).collect(),
                })
                .collect(),
            cycles_broken: report
                .cycles_broken
                .iter()
                .map(|(from, to)| [from.as_str(), to.as_str()])
                .collect(),
            claims_dropped: report.claims_dropped.iter().map(|id| id.as_str()).collect(),
            taken_from_remote: &report.taken_from_remote,
            pushed: &report.pushed,
            skipped: report
                .skipped
                .iter()
                .map(|(name, why)| [name.as_str(), why.as_str()])
                .collect(),
        })?;
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
