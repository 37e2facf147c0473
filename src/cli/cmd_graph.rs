//! `git loom graph`: the dependency graph as a summary, JSON, Mermaid or Graphviz DOT.

use std::collections::BTreeMap;

use clap::{Args, ValueEnum};
use serde::Serialize;

use git_loom::graph::EdgeKind;
use git_loom::graph::export::{self, Node};
use git_loom::loom::TaskEntry;
use git_loom::model::{Derived, TaskId, View};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render::{self, TaskJson};
use super::ui::Ui;

/// Show the dependency graph
///
/// Without --all, ideas and cancelled tasks are left out.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum, default_value_t = Format::Summary)]
    format: Format,
    /// Include ideas and cancelled tasks
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Summary,
    Json,
    Mermaid,
    Dot,
}

#[derive(Serialize)]
struct GraphJson<'a> {
    nodes: Vec<TaskJson<'a>>,
    edges: Vec<EdgeJson<'a>>,
    critical_path: &'a [TaskId],
    cycle: Option<&'a [TaskId]>,
}

#[derive(Serialize)]
struct EdgeJson<'a> {
    from: &'a TaskId,
    to: &'a TaskId,
    kind: String,
}

pub fn run(args: &GraphArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let mut snapshot = loom.snapshot(context.now())?;
    render::report_problems(ui, &snapshot);
    let derived: BTreeMap<TaskId, Derived> = snapshot
        .tasks
        .values()
        .map(|entry| (entry.task.id.clone(), snapshot.derive(&entry.task)))
        .collect();
    if !args.all {
        snapshot
            .tasks
            .retain(|id, _| !matches!(derived[id].view, View::Idea | View::Cancelled));
    }
    let graph = snapshot.graph();
    let edges = graph.edges();
    let is_open = |id: &TaskId| snapshot.status_of(id).is_some_and(|s| !s.is_closed());
    let mut critical = graph.critical_path(is_open);
    critical.reverse();
    let cycle = graph.find_cycle();
    if let Some(cycle) = &cycle {
        ui.warn(format!("the graph has a cycle: {cycle}"));
    }
    let format = if ui.json { Format::Json } else { args.format };
    let entries: Vec<&TaskEntry> = match graph.work_order() {
        Some(order) => order.iter().filter_map(|id| snapshot.tasks.get(id)).collect(),
        None => snapshot.tasks.values().collect(),
    };
    let nodes: Vec<Node> = entries
        .iter()
        .map(|entry| Node {
            id: entry.task.id.clone(),
            title: entry.task.title.clone(),
            view: derived[&entry.task.id].view,
        })
        .collect();
    let claims = match format {
        Format::Json => render::read_claims(&loom, &snapshot, ui),
        _ => BTreeMap::new(),
    };
    match format {
        Format::Json => ui.json_value(&GraphJson {
            nodes: entries
                .iter()
                .map(|entry| {
                    TaskJson::new(&entry.task, &derived[&entry.task.id]).with_claim(claims.get(&entry.task.id))
                })
                .collect(),
            edges: edges
                .iter()
                .map(|(from, to, kind)| EdgeJson {
                    from,
                    to,
                    kind: kind.to_string(),
                })
                .collect(),
            critical_path: &critical,
            cycle: cycle.as_ref().map(|c| c.0.as_slice()),
        })?,
        Format::Mermaid => ui.text(export::to_mermaid(&nodes, &edges))?,
        Format::Dot => ui.text(export::to_dot(&nodes, &edges))?,
        Format::Summary => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for node in &nodes {
                *counts.entry(node.view.as_str()).or_default() += 1;
            }
            let counts: Vec<String> = View::ALL
                .iter()
                .filter_map(|v| counts.get(v.as_str()).map(|n| format!("{n} {v}")))
                .collect();
            ui.line(format!(
                "{}, {}: {}",
                super::ui::count(nodes.len(), "task", "tasks"),
                super::ui::count(edges.len(), "edge", "edges"),
                counts.join(", ")
            ))?;
            if !critical.is_empty() {
                let ids: Vec<&str> = critical.iter().map(TaskId::as_str).collect();
                ui.line(format!(
                    "critical path ({}, first to last): {}",
                    super::ui::count(critical.len(), "open task", "open tasks"),
                    ids.join(" → ")
                ))?;
            }
            if !nodes.is_empty() {
                ui.line("")?;
            }
            let mut waits: BTreeMap<&TaskId, Vec<String>> = BTreeMap::new();
            for (from, to, kind) in &edges {
                let label = match kind {
                    EdgeKind::Dep => to.to_string(),
                    EdgeKind::Child => format!("{to} (child)"),
                };
                waits.entry(from).or_default().push(label);
            }
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|entry| {
                    let mut row = render::row(&entry.task, derived[&entry.task.id].view);
                    if let Some(on) = waits.get(&entry.task.id) {
                        let title = row.pop().unwrap_or_default();
                        row.push(format!("{title}  ← waits for {}", on.join(", ")));
                    }
                    row
                })
                .collect();
            ui.table(&rows)?;
        }
    }
    Ok(Exit::Success)
}
