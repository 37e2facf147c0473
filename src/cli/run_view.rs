//! How `git loom run` shows its events: with `--json` one object per line on stdout; on a
//! terminal a live view on stderr (one line per running session: task, agent, elapsed time,
//! last heartbeat, percent, last output line; and a summary line), with the decisions printed
//! above it; piped, nothing but warnings and the closing summary.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use git_loom::api::{run_end_json, run_event_json};
use git_loom::loom::Result as LoomResult;
use git_loom::run::{Clock, RunEvent, RunReport, Summary};

use super::error::CommandError;
use super::ui::{Ui, sanitize};

/// One running session's line.
struct SessionLine {
    bar: ProgressBar,
    task: String,
    agent: String,
    heartbeat: String,
    percent: String,
    output: String,
}

impl SessionLine {
    fn redraw(&self) {
        self.bar.set_message(format!(
            "{}  {}  hb {}{}  {}",
            self.task, self.agent, self.heartbeat, self.percent, self.output
        ));
    }
}

struct Live {
    multi: MultiProgress,
    summary: ProgressBar,
    sessions: BTreeMap<String, SessionLine>,
}

pub struct View<'a> {
    ui: &'a mut Ui,
    clock: Clock,
    live: Option<Live>,
    /// A write to stdout failed (a closed pipe): stop writing, let the run finish.
    broken: bool,
}

fn summary_text(summary: &Summary) -> String {
    format!(
        "ready {}  running {}  queued {}  merged {}  done {}  failed {}  dead {}  blocked {}",
        summary.ready,
        summary.running,
        summary.queued,
        summary.merged,
        summary.done,
        summary.failed,
        summary.dead,
        summary.blocked
    )
}

impl<'a> View<'a> {
    pub fn new(ui: &'a mut Ui, clock: Clock) -> View<'a> {
        let live = (!ui.json && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let summary = multi.add(ProgressBar::new_spinner());
            summary.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .expect("a valid template because it is fixed"),
            );
            summary.enable_steady_tick(Duration::from_millis(200));
            summary.set_message("starting");
            Live {
                multi,
                summary,
                sessions: BTreeMap::new(),
            }
        });
        View {
            ui,
            clock,
            live,
            broken: false,
        }
    }

    fn print(&mut self, text: String) {
        if let Some(live) = &self.live {
            let _ = live.multi.println(text);
        }
    }

    pub fn show(&mut self, event: &RunEvent) {
        if let RunEvent::Warning { message } = event {
            match &self.live {
                Some(live) => live.multi.suspend(|| self.ui.warn(message)),
                None => self.ui.warn(message),
            }
            if !self.ui.json {
                return;
            }
        }
        if self.ui.json {
            if !self.broken {
                let line = run_event_json(event, (self.clock)()).to_string();
                self.broken = self.ui.line(line).and_then(|()| self.ui.flush()).is_err();
            }
            return;
        }
        if self.live.is_none() {
            return;
        }
        match event {
            RunEvent::Started {
                session,
                task,
                title,
                agent,
                attempt,
                ..
            } => {
                let live = self.live.as_mut().expect("checked above");
                let bar = live.multi.insert_before(&live.summary, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {elapsed:>4} {wide_msg}")
                        .expect("a valid template because it is fixed"),
                );
                bar.enable_steady_tick(Duration::from_millis(500));
                let line = SessionLine {
                    bar,
                    task: task.to_string(),
                    agent: agent.clone(),
                    heartbeat: "-".into(),
                    percent: String::new(),
                    output: String::new(),
                };
                line.redraw();
                live.sessions.insert(session.clone(), line);
                let text = format!(
                    "started  {task}  {}  as {agent} (attempt {attempt}, session {session})",
                    sanitize(title)
                );
                self.print(text);
            }
            RunEvent::Output { session, line } => self.update(session, |row| row.output = sanitize(line).into_owned()),
            RunEvent::Heartbeat { session, progress, .. } => {
                let at = (self.clock)().strftime("%H:%M:%S").to_string();
                self.update(session, |row| {
                    row.heartbeat = at;
                    if let Some(progress) = progress {
                        row.percent = format!(" ({progress})");
                    }
                });
            }
            RunEvent::Ended {
                session, task, summary, ..
            } => {
                if let Some(live) = self.live.as_mut()
                    && let Some(row) = live.sessions.remove(session)
                {
                    row.bar.finish_and_clear();
                    live.multi.remove(&row.bar);
                }
                self.print(format!("ended    {task}  session {session}: {}", sanitize(summary)));
            }
            RunEvent::Done { task, .. } => self.print(format!("done     {task}")),
            RunEvent::Failed { task, reason, dead, .. } => {
                let what = if *dead { "dead    " } else { "failed  " };
                self.print(format!("{what} {task}: {}", sanitize(reason)));
            }
            RunEvent::Released { task, .. } => self.print(format!("released {task}")),
            RunEvent::RunnerLost { session, task, agent } => {
                self.print(format!("resumed  {task}: session {session} ({agent}) lost its runner"))
            }
            RunEvent::Merge { task, state, note } => {
                self.print(format!("merge    {task}: {state} — {}", sanitize(note)))
            }
            RunEvent::Stopping { session, why } => self.print(format!("stopping session {session}: {why}")),
            RunEvent::Interrupted { kill } => self.print(match kill {
                true => "interrupted again: killing the agents now".into(),
                false => {
                    "interrupted: no new sessions; agents get their grace period (Ctrl-C again to kill them)".into()
                }
            }),
            RunEvent::Summary(summary) => {
                if let Some(live) = &self.live {
                    live.summary.set_message(summary_text(summary));
                }
            }
            RunEvent::Swept { .. } | RunEvent::Warning { .. } => {}
        }
    }

    fn update(&mut self, session: &str, change: impl FnOnce(&mut SessionLine)) {
        if let Some(row) = self.live.as_mut().and_then(|live| live.sessions.get_mut(session)) {
            change(row);
            row.redraw();
        }
    }

    /// Close the view and print how the run ended.
    pub fn finish(mut self, report: LoomResult<RunReport>) -> Result<RunReport, CommandError> {
        if let Some(live) = self.live.take() {
            for row in live.sessions.values() {
                row.bar.finish_and_clear();
            }
            live.summary.finish_and_clear();
            let _ = live.multi.clear();
        }
        let report = report?;
        if self.ui.json {
            if !self.broken {
                let _ = self.ui.line(run_end_json(&report, (self.clock)()).to_string());
            }
            return Ok(report);
        }
        let end = match report.end {
            git_loom::run::RunEnd::AllDone => "every task is done",
            git_loom::run::RunEnd::Stuck => "stopped: tasks are left that cannot progress",
            git_loom::run::RunEnd::Interrupted => "interrupted: every session was handed off and released",
        };
        let _ = self.ui.line(format!(
            "{end} ({} session{}): {}",
            report.sessions,
            if report.sessions == 1 { "" } else { "s" },
            summary_text(&report.summary)
        ));
        Ok(report)
    }
}
