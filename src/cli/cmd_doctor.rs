//! `git loom doctor`: report damaged or leftover coordination state, and mend what is safe.

use clap::Args;

use git_loom::api::DoctorReportJson;
use git_loom::project::{self, DoctorReport};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Check the coordination state and say what mends each problem found
///
/// Checks packed-refs, every ref under refs/loom/ (objects readable through their history,
/// blobs valid, of a known schema, naming the id their ref names), claims on finished or
/// missing tasks, stale locks and temporary files of dead writers, the read caches against the
/// refs, and, with a coordination remote, the mirror against the remote (read-only). Prints one
/// line per finding with the command that mends it. Exits 0 when healthy, 1 when findings are
/// left.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Remove what can be removed without losing anything: void and orphaned claims, stale
    /// locks, temporary files and disagreeing caches (never a task's history)
    #[arg(long)]
    fix: bool,
}

pub fn run(args: &DoctorArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    let actor = context.actor(&store)?;
    let report = project::doctor(store, args.fix, &actor)?;
    if ui.json {
        ui.json_value(&DoctorReportJson::from(&report))?;
    } else {
        print(&report, ui)?;
    }
    Ok(match report.healthy() {
        true => Exit::Success,
        false => Exit::Error,
    })
}

fn print(report: &DoctorReport, ui: &mut Ui) -> Result<(), CommandError> {
    for finding in &report.findings {
        let line = match finding.fixed {
            true => format!(
                "fixed  {}  {}: {}",
                finding.kind.as_str(),
                finding.subject,
                finding.message
            ),
            false => format!(
                "{}  {}: {}  (fix: {})",
                finding.kind.as_str(),
                finding.subject,
                finding.message,
                finding.fix
            ),
        };
        ui.line(line)?;
    }
    let left = report.findings.iter().filter(|finding| !finding.fixed).count();
    let fixed = report.findings.len() - left;
    let checked = format!(
        "checked {} tasks, {} claims, {} handoffs",
        report.tasks, report.claims, report.handoffs
    );
    match (left, fixed) {
        (0, 0) => ui.note(format!("healthy: {checked}")),
        (0, fixed) => ui.note(format!("healthy after fixing {fixed}: {checked}")),
        (left, _) => {
            let fixable = report.findings.iter().filter(|f| f.fixable && !f.fixed).count();
            let mut text = format!("{left} finding{} left ({checked})", if left == 1 { "" } else { "s" });
            if fixable > 0 {
                text.push_str(&format!("; `git loom doctor --fix` mends {fixable} of them"));
            }
            ui.note(text);
        }
    }
    Ok(())
}
