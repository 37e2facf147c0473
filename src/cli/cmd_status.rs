//! `git loom status`: the state of the whole graph at a glance.

use clap::Args;

use git_loom::api::{AgentSessionJson, StatusJson};
use git_loom::model::View;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render;
use super::ui::Ui;

/// Summarize the graph: tasks by status, ready work, recent activity
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many recent changes to show
    #[arg(long, value_name = "N", default_value_t = 5)]
    recent: usize,
}

pub fn run(args: &StatusArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let snapshot = loom.snapshot(context.now())?;
    render::report_problems(ui, &snapshot);
    let counts = snapshot.counts();
    let ready = counts.get(View::Ready.as_str()).copied().unwrap_or(0);
    let claims = render::read_claims(&loom, &snapshot, ui);
    let sessions = loom.session_list(false)?;
    for problem in &sessions.problems {
        ui.warn(format!("skipping {problem}"));
    }
    if ui.json {
        let meta = loom.meta();
        let mut status = StatusJson::new(&meta.project, &snapshot, &claims, args.recent);
        status.sessions = Some(
            sessions
                .sessions
                .iter()
                .map(|session| AgentSessionJson::new(session, context.now()))
                .collect(),
        );
        ui.json_value(&status)?;
        return Ok(Exit::Success);
    }
    let recent = snapshot.recent(args.recent);
    let total = super::ui::count(snapshot.tasks.len(), "task", "tasks");
    ui.line(format!("project {}: {total}, {ready} ready", loom.meta().project))?;
    let rows: Vec<Vec<String>> = View::ALL
        .iter()
        .filter_map(|view| {
            let count = counts.get(view.as_str()).copied().unwrap_or(0);
            (count > 0).then(|| vec![format!("  {view}"), count.to_string()])
        })
        .collect();
    ui.table(&rows)?;
    if !snapshot.problems.is_empty() {
        ui.line(format!("  unreadable  {}", snapshot.problems.len()))?;
    }
    if !claims.is_empty() {
        ui.line("claims:")?;
        let rows: Vec<Vec<String>> = claims
            .iter()
            .map(|(id, claim)| vec![format!("  {id}"), render::claim_line(claim, context.now())])
            .collect();
        ui.table(&rows)?;
    }
    if !sessions.sessions.is_empty() {
        let running = super::ui::count(sessions.sessions.len(), "agent session", "agent sessions");
        ui.line(format!("{running} running:"))?;
        let rows: Vec<Vec<String>> = sessions
            .sessions
            .iter()
            .map(|session| {
                let mut row = super::cmd_sessions::row(session, context.now());
                row[0].insert_str(0, "  ");
                row
            })
            .collect();
        ui.table(&rows)?;
    }
    if !recent.is_empty() {
        ui.line("recent activity:")?;
        let rows: Vec<Vec<String>> = recent
            .iter()
            .map(|entry| {
                vec![
                    format!("  {}", render::time(entry.changed_at)),
                    entry.task.id.to_string(),
                    entry.last_agent.clone().unwrap_or_default(),
                    entry.last_change.clone(),
                ]
            })
            .collect();
        ui.table(&rows)?;
    }
    Ok(Exit::Success)
}
