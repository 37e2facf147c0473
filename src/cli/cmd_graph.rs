//! `git loom graph`: the dependency graph as a summary, JSON, Mermaid or Graphviz DOT.

use std::collections::BTreeMap;

use clap::{Args, ValueEnum};

use git_loom::api::GraphJson;
use git_loom::graph::EdgeKind;
use git_loom::graph::export;
use git_loom::model::{TaskId, View};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render;
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

pub fn run(args: &GraphArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let view = loom.graph_view(context.now(), args.all)?;
    render::report_problems(ui, &view.snapshot);
    if let Some(cycle) = &view.cycle {
        ui.warn(format!("the graph has a cycle: {cycle}"));
    }
    let format = if ui.json { Format::Json } else { args.format };
    let rows = view.rows();
    let edges = &view.edges;
    let critical = &view.critical_path;
    match format {
        Format::Json => {
            let claims = render::read_claims(&loom, &view.snapshot, ui);
            ui.json_value(&GraphJson::new(&view, &claims))?
        }
        Format::Mermaid => ui.text(export::to_mermaid(&view.nodes(), edges))?,
        Format::Dot => ui.text(export::to_dot(&view.nodes(), edges))?,
        Format::Summary => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, derived) in &rows {
                *counts.entry(derived.view.as_str()).or_default() += 1;
            }
            let counts: Vec<String> = View::ALL
                .iter()
                .filter_map(|v| counts.get(v.as_str()).map(|n| format!("{n} {v}")))
                .collect();
            ui.line(format!(
                "{}, {}: {}",
                super::ui::count(rows.len(), "task", "tasks"),
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
            if !rows.is_empty() {
                ui.line("")?;
            }
            let mut waits: BTreeMap<&TaskId, Vec<String>> = BTreeMap::new();
            for (from, to, kind) in edges {
                let label = match kind {
                    EdgeKind::Dep => to.to_string(),
                    EdgeKind::Child => format!("{to} (child)"),
                };
                waits.entry(from).or_default().push(label);
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|(entry, derived)| {
                    let mut row = render::row(&entry.task, derived.view);
                    if let Some(on) = waits.get(&entry.task.id) {
                        let title = row.pop().unwrap_or_default();
                        row.push(format!("{title}  ← waits for {}", on.join(", ")));
                    }
                    row
                })
                .collect();
            ui.table(&table)?;
        }
    }
    Ok(Exit::Success)
}
