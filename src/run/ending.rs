//! How a session ends, for the runner's loop ([`super::runner`]): recording the end, letting the
//! checks decide (`done`), or writing the automatic handoff and failing or releasing the claim,
//! and starting a fresh session on the same task when one was asked for; and ending the
//! sessions a lost runner left behind before a task starts again.
//!
//! Guarantees: every session that does not end in `done` leaves an automatic handoff naming its
//! commits, its uncommitted changes and the end of its output, written before the claim is
//! failed or released, so the next session (here or in another runner) starts from it.

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;

use super::agent::{self, LeftBehind};
use super::decide::{self, Next};
use super::options::RunEvent;
use super::runner::{Live, Runner};
use crate::claims::{ClaimOptions, Credentials};
use crate::exec::Exit;
use crate::loom::{Error, Result};
use crate::model::agent_session::{EndReason, SessionEnd};
use crate::model::{Status, TaskId};
use crate::session::{DoneOptions, DoneOutcome, HandoffNote};

impl<F: FnMut(RunEvent)> Runner<'_, F> {
    /// End the sessions on `task` that are still recorded as running: their runner is gone,
    /// since this runner now holds the task's claim. Their worktree is handed off first.
    pub(super) fn end_lost_sessions(&mut self, task: &TaskId, token: &str, agent: &str) -> Result<()> {
        let lost: Vec<_> = self
            .loom
            .task_sessions(task)?
            .sessions
            .into_iter()
            .filter(|session| session.is_running())
            .collect();
        for session in lost {
            let ended = format!(
                "its runner {} is gone (found by {})",
                session.runner, self.options.runner
            );
            let worktree = PathBuf::from(&session.worktree);
            let left = self.left_behind(
                &worktree,
                &PathBuf::from(&session.log),
                ended.clone(),
                task,
                session.started,
                &session.agent,
            );
            let actor = self.actor(agent);
            let note = HandoffNote {
                message: agent::handoff_message(session.id.as_str(), &session.agent, &left),
                context_percent: None,
            };
            let credentials = Credentials {
                token: Some(token),
                force: false,
            };
            if let Err(err) = self.loom.handoff(task.as_str(), &note, credentials, &actor) {
                self.warn(format!(
                    "could not hand off {task} for lost session {}: {err}",
                    session.id
                ));
            }
            let end = SessionEnd {
                reason: EndReason::RunnerLost,
                summary: Some(ended),
            };
            match self.loom.session_end(session.id.as_str(), &end, &actor) {
                Ok(_) | Err(Error::SessionEnded(_)) => {}
                Err(err) => return Err(err),
            }
            (self.events)(RunEvent::RunnerLost {
                session: session.id.as_str().to_owned(),
                task: task.clone(),
                agent: session.agent.clone(),
            });
        }
        Ok(())
    }

    /// What a session left behind in `worktree`, for its automatic handoff.
    pub(super) fn left_behind(
        &self,
        worktree: &std::path::Path,
        log: &std::path::Path,
        ended: String,
        task: &TaskId,
        since: Timestamp,
        agent: &str,
    ) -> LeftBehind {
        let repo = self.loom.store().repo();
        let own_words = self
            .loom
            .latest_handoff(task)
            .ok()
            .flatten()
            .filter(|handoff| handoff.agent == agent && handoff.at >= since)
            .map(|handoff| handoff.message);
        LeftBehind {
            ended,
            changes: repo.checkout_changes(worktree).unwrap_or_default(),
            diffstat: repo.checkout_diffstat(worktree).unwrap_or_default(),
            own_words,
            output_tail: agent::log_tail(log),
        }
    }

    /// The agent of `live` exited: record the end and decide what becomes of its task.
    pub(super) fn finish(&mut self, live: Live, exit: Exit) -> Result<()> {
        let Live {
            id,
            agent,
            task,
            token,
            worktree,
            files,
            process,
            started_at,
            stop,
            ..
        } = live;
        // Its output is read to the end (or for a second, if something it started holds it).
        let _ = process.wait(Some(Duration::from_secs(1)));
        let kill_requested = self
            .loom
            .session(&id)
            .is_ok_and(|record| record.kill_requested.is_some());
        let (reason, next) = decide::judge(exit, stop.map(|(why, _)| why), files.refresh.exists(), kill_requested);
        tracing::debug!(session = %id, task = %task, ?exit, %reason, ?next, "agent ended");
        let _ = std::fs::remove_file(&files.refresh);
        let actor = self.actor(&agent);
        let credentials = Credentials {
            token: Some(&token),
            force: false,
        };
        let mut summary = reason.to_string();
        let mut fail = None;
        match &next {
            Next::Done => {
                let outcome = self
                    .loom
                    .done(task.as_str(), credentials, &DoneOptions::default(), &actor, |_| {});
                match outcome {
                    Ok(DoneOutcome::Done { .. }) => summary = "done: the checks passed".into(),
                    Ok(DoneOutcome::ChecksFailed { checks, .. }) => {
                        let failed: Vec<String> = checks
                            .report
                            .checks
                            .iter()
                            .filter(|result| !result.passed)
                            .map(|result| result.name.clone())
                            .collect();
                        fail = Some(format!("the checks failed: {}", failed.join(", ")));
                    }
                    Ok(DoneOutcome::Uncommitted { state, .. }) => {
                        fail = Some(format!(
                            "the agent exited leaving {} uncommitted change(s)",
                            state.changes.len()
                        ));
                    }
                    // A write that landed although its transaction reported a lost race
                    // leaves the task done: only its holder could have made it so, and handing
                    // off or failing it now would undo finished work.
                    Err(err) => match self.loom.task(task.as_str()) {
                        Ok(entry) if entry.task.status() == Status::Done => {
                            tracing::debug!(task = %task, %err, "done reported an error but the task is done");
                            summary = "done: the checks passed".into();
                        }
                        _ => fail = Some(format!("done failed: {err}")),
                    },
                }
            }
            Next::Fail(why) => fail = Some(why.clone()),
            Next::Refresh | Next::Release => {}
        }
        if let Some(why) = &fail {
            summary = why.clone();
        }
        let end = SessionEnd {
            reason,
            summary: Some(summary.clone()),
        };
        if let Err(err) = self.loom.session_end(&id, &end, &actor) {
            self.warn(format!("could not end session {id}: {err}"));
        }
        (self.events)(RunEvent::Ended {
            session: id.clone(),
            task: task.clone(),
            reason,
            summary: summary.clone(),
        });
        if fail.is_none() && next == Next::Done {
            (self.events)(RunEvent::Done { session: id, task });
            return Ok(());
        }
        let left = self.left_behind(&worktree, &files.log, summary.clone(), &task, started_at, &agent);
        let note = HandoffNote {
            message: agent::handoff_message(&id, &agent, &left),
            context_percent: None,
        };
        if let Err(err) = self.loom.handoff(task.as_str(), &note, credentials, &actor) {
            self.warn(format!("could not hand off {task}: {err}"));
        }
        if let Some(why) = fail {
            match self.loom.fail(task.as_str(), credentials, &why, &actor) {
                Ok(outcome) => (self.events)(RunEvent::Failed {
                    session: id,
                    task,
                    reason: why,
                    dead: outcome.task.status() == Status::Dead,
                }),
                Err(err) => self.warn(format!("could not fail {task}: {err}")),
            }
            return Ok(());
        }
        match self.loom.release(task.as_str(), credentials, &actor) {
            Ok(_) => (self.events)(RunEvent::Released {
                session: id,
                task: task.clone(),
            }),
            Err(err) => self.warn(format!("could not give back {task}: {err}")),
        }
        if next == Next::Refresh {
            self.restart(&task)?;
        }
        Ok(())
    }

    /// Claim `task` again at once for a fresh session; someone else taking it first is fine.
    pub(super) fn restart(&mut self, task: &TaskId) -> Result<()> {
        let agent = format!("{}/{}", self.options.runner, self.started + 1);
        let actor = self.actor(&agent);
        match self.loom.claim(task.as_str(), &ClaimOptions::default(), &actor) {
            Ok(held) => self.begin(held, agent).map(|_| ()),
            Err(err) if err.is_conflict() => Ok(()),
            Err(Error::Claimed { .. } | Error::NotReady { .. } | Error::AwaitingMerge { .. }) => Ok(()),
            // It is released: the next look for ready work finds it.
            Err(err) => {
                self.warn(format!("could not claim {task} again for a fresh session: {err}"));
                Ok(())
            }
        }
    }
}
