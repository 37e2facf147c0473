//! The MCP tools: each one calls the same use case as its CLI command and answers with the
//! same `--json` shape (`crate::api`), as one line of compact JSON. A failure is a tool error
//! (`isError`) carrying the [`Failure`] the CLI would print — code, message and hints — and a
//! refusal the CLI reports on stdout with exit 5 (failing checks, uncommitted work) is a tool
//! error carrying that report.

use std::collections::BTreeMap;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use serde::Serialize;

use crate::api::{
    ErrorCode, Failure, GraphJson, MergeRequestJson, NextJson, StatusJson, TaskJson, UncommittedJson, VerifyReportJson,
    with_ready_json,
};
use crate::claims::{ClaimOptions, Held, NextFilter};
use crate::loom::{self, Loom, Snapshot};
use crate::model::state::Kind;
use crate::model::{Claim, Priority, Status, Task, TaskId};
use crate::session::{DoneOptions, DoneOutcome, NextOptions};
use crate::tasks::{Changes, EditOutcome, NewTask};

use super::LoomServer;
use super::params::*;

/// Why a tool call did not succeed.
pub(super) enum Refusal {
    /// An error, reported as the CLI reports it.
    Failure(Failure),
    /// A result that says no (checks failed, work uncommitted), as compact JSON.
    Report(String),
}

impl From<loom::Error> for Refusal {
    fn from(err: loom::Error) -> Self {
        Refusal::Failure(Failure::of(&err))
    }
}

type Reply = Result<String, Refusal>;

/// Invalid input caught before any use case runs, with the same code a use case would give.
fn invalid(message: String) -> Refusal {
    Refusal::Failure(Failure {
        code: ErrorCode::InvalidInput,
        message,
        hints: Vec::new(),
    })
}

fn compact<T: Serialize>(value: &T) -> Reply {
    serde_json::to_string(value).map_err(|err| {
        Refusal::Failure(Failure {
            code: ErrorCode::Internal,
            message: format!("cannot encode the result: {err}"),
            hints: Vec::new(),
        })
    })
}

fn priority(text: &str) -> Result<Priority, Refusal> {
    text.trim()
        .parse()
        .map_err(|err: crate::model::UnknownName| invalid(err.to_string()))
}

/// `p1`, or a range `p0..p1` in either order.
fn priorities(text: &str) -> Result<(Priority, Priority), Refusal> {
    let (low, high) = text.split_once("..").unwrap_or((text, text));
    let (low, high) = (priority(low)?, priority(high)?);
    Ok((low.min(high), low.max(high)))
}

fn status(text: &str) -> Result<Status, Refusal> {
    match text.trim() {
        derived @ ("ready" | "blocked" | "claimed") => Err(invalid(format!(
            "{derived} is derived, not stored: a pending task is ready when its dependencies are done; use status pending"
        ))),
        stored => stored
            .parse()
            .map_err(|err: crate::model::UnknownName| invalid(err.to_string())),
    }
}

/// The claim records a snapshot lists; unreadable ones are left out (`doctor` names them).
fn claims(loom: &Loom, snapshot: &Snapshot) -> BTreeMap<TaskId, Claim> {
    snapshot
        .live_claims()
        .filter_map(|(id, tip)| loom.read_claim(id, tip).ok().map(|claim| (id.clone(), claim)))
        .collect()
}

impl LoomServer {
    /// A task as JSON with its live claim, as the CLI prints an edited task.
    fn task_json(&self, task: &Task) -> Reply {
        let derived = self.loom.derive(task, self.now())?;
        let claim = match self.loom.live_claim(&task.id)? {
            Some((_, Ok(claim))) => Some(claim),
            _ => None,
        };
        compact(&TaskJson::new(task, &derived).with_claim(claim.as_ref()))
    }

    fn edited(&self, outcome: Result<EditOutcome, loom::Error>) -> Reply {
        self.task_json(&outcome?.task)
    }

    fn held(&self, held: &Held) -> Reply {
        let derived = self.loom.derive(&held.task, self.now())?;
        compact(&TaskJson::new(&held.task, &derived).with_claim(Some(&held.claim)))
    }

    fn create_task(&self, new: &NewTask) -> Reply {
        let task = self.loom.create(new, &self.actor())?;
        let derived = self.loom.derive(&task, self.now())?;
        compact(&TaskJson::new(&task, &derived))
    }
}

#[tool_router(vis = "pub(super)")]
impl LoomServer {
    #[tool(description = "Tasks ready to claim, best first")]
    fn ready(&self, Parameters(p): Parameters<ReadyParams>) -> CallToolResult {
        self.answer(|| {
            let snapshot = self.loom.snapshot(self.now())?;
            let mut ready = snapshot.ready();
            ready.truncate(p.limit.unwrap_or(usize::MAX));
            with_ready_json(&snapshot, &ready, |tasks| compact(&tasks))
        })
    }

    #[tool(description = "One task in full, with its claim")]
    fn show(&self, Parameters(p): Parameters<IdParams>) -> CallToolResult {
        self.answer(|| self.task_json(&self.loom.task(&p.id)?.task))
    }

    #[tool(
        description = "Start or resume a session: the task you hold, else claim the best ready one; with its worktree and signal (the prompt to work from). null when nothing is ready"
    )]
    fn next(&self, Parameters(p): Parameters<NextParams>) -> CallToolResult {
        self.answer(|| {
            let options = NextOptions {
                label: p.label,
                ttl_secs: p.ttl,
            };
            match self.loom.next_session(&options, &self.actor())? {
                None => compact(&serde_json::Value::Null),
                Some(session) => {
                    let derived = self.loom.derive(&session.task, self.now())?;
                    compact(&NextJson::new(&session, &derived))
                }
            }
        })
    }

    #[tool(description = "Claim a task by id, or the best ready one without id (null when nothing is ready)")]
    fn claim(&self, Parameters(p): Parameters<ClaimParams>) -> CallToolResult {
        self.answer(|| {
            let options = ClaimOptions { ttl_secs: p.ttl };
            let actor = self.actor();
            let held = match p.id {
                Some(id) if p.label.is_none() && p.priority.is_none() => self.loom.claim(&id, &options, &actor)?,
                Some(_) => {
                    return Err(invalid(
                        "label and priority choose among ready tasks: leave out id to use them".to_owned(),
                    ));
                }
                None => {
                    let filter = NextFilter {
                        label: p.label,
                        priorities: p.priority.as_deref().map(priorities).transpose()?,
                    };
                    match self.loom.claim_next(&filter, &options, &actor)? {
                        Some(held) => held,
                        None => return compact(&serde_json::Value::Null),
                    }
                }
            };
            self.held(&held)
        })
    }

    #[tool(description = "Extend the lease on a task you hold, reporting progress")]
    fn heartbeat(&self, Parameters(p): Parameters<HeartbeatParams>) -> CallToolResult {
        self.answer(|| {
            if p.percent.is_some_and(|percent| percent > 100) {
                return Err(invalid("percent must be 0 to 100".to_owned()));
            }
            let claim = self.loom.heartbeat(
                &p.id,
                credentials(p.token.as_deref()),
                p.progress,
                p.percent,
                &self.actor(),
            )?;
            let task = self.loom.task(claim.task.as_str())?.task;
            self.held(&Held { task, claim })
        })
    }

    #[tool(description = "Leave a handoff for the next session on a task you hold")]
    fn handoff(&self, Parameters(p): Parameters<HandoffParams>) -> CallToolResult {
        self.answer(|| {
            if p.context_percent.is_some_and(|percent| percent > 100) {
                return Err(invalid("context_percent must be 0 to 100".to_owned()));
            }
            let note = crate::session::HandoffNote {
                message: p.message,
                context_percent: p.context_percent,
            };
            let handoff = self
                .loom
                .handoff(&p.id, &note, credentials(p.token.as_deref()), &self.actor())?;
            compact(&handoff)
        })
    }

    #[tool(description = "Record a task you hold as done; its checks run first and must pass")]
    fn done(&self, Parameters(p): Parameters<DoneParams>) -> CallToolResult {
        self.answer(|| {
            let options = DoneOptions {
                output: p.output,
                branch: p.branch,
                skip_verify: p.skip_verify,
                allow_dirty: p.allow_dirty,
                worktree: p.worktree.as_deref().map(|path| self.path(path)),
            };
            let outcome = self
                .loom
                .done(&p.id, credentials(p.token.as_deref()), &options, &self.actor(), |_| {})?;
            match outcome {
                DoneOutcome::Done { outcome, .. } => self.task_json(&outcome.task),
                DoneOutcome::Uncommitted { task, state } => {
                    Err(Refusal::Report(compact(&UncommittedJson::new(&task, &state))?))
                }
                DoneOutcome::ChecksFailed { task, checks } => Err(Refusal::Report(compact(&VerifyReportJson::new(
                    &task,
                    &checks.state,
                    &checks.checked,
                    &checks.report,
                ))?)),
            }
        })
    }

    #[tool(description = "Record that a task you hold failed: retried after a backoff, or dead")]
    fn fail(&self, Parameters(p): Parameters<FailParams>) -> CallToolResult {
        self.answer(|| {
            self.edited(
                self.loom
                    .fail(&p.id, credentials(p.token.as_deref()), &p.reason, &self.actor()),
            )
        })
    }

    #[tool(description = "Give a task you hold back, ready for someone else")]
    fn release(&self, Parameters(p): Parameters<ReleaseParams>) -> CallToolResult {
        self.answer(|| self.edited(self.loom.release(&p.id, credentials(p.token.as_deref()), &self.actor())))
    }

    #[tool(description = "Create a task (or an epic)")]
    fn create(&self, Parameters(p): Parameters<CreateParams>) -> CallToolResult {
        self.answer(|| {
            let new = NewTask {
                description: p.description.unwrap_or_default(),
                priority: p.priority.as_deref().map(priority).transpose()?,
                deps: p.deps,
                parent: p.parent,
                labels: p.labels,
                acceptance: p.accept,
                files: p.files,
                ..NewTask::titled(p.title, if p.epic { Kind::Epic } else { Kind::Task })
            };
            self.create_task(&new)
        })
    }

    #[tool(description = "Change a task's title, description, priority, labels or status")]
    fn update(&self, Parameters(p): Parameters<UpdateParams>) -> CallToolResult {
        self.answer(|| {
            let changes = Changes {
                title: p.title,
                description: p.description,
                priority: p.priority.as_deref().map(priority).transpose()?,
                add_labels: p.add_labels,
                rm_labels: p.rm_labels,
                status: p.status.as_deref().map(status).transpose()?,
                ..Changes::default()
            };
            self.edited(self.loom.update(&p.id, &changes, &self.actor()))
        })
    }

    #[tool(description = "Make a task wait for another (or stop waiting, with remove)")]
    fn dep(&self, Parameters(p): Parameters<DepParams>) -> CallToolResult {
        self.answer(|| {
            let changes = match p.remove {
                true => Changes {
                    rm_deps: vec![p.dep],
                    ..Changes::default()
                },
                false => Changes {
                    add_deps: vec![p.dep],
                    ..Changes::default()
                },
            };
            self.edited(self.loom.update(&p.id, &changes, &self.actor()))
        })
    }

    #[tool(description = "The task graph: tasks, edges, work order, critical path")]
    fn graph(&self, Parameters(p): Parameters<GraphParams>) -> CallToolResult {
        self.answer(|| {
            let view = self.loom.graph_view(self.now(), p.all)?;
            let claims = claims(&self.loom, &view.snapshot);
            compact(&GraphJson::new(&view, &claims))
        })
    }

    #[tool(description = "Counts by status, live claims and recent activity")]
    fn status(&self, Parameters(p): Parameters<StatusParams>) -> CallToolResult {
        self.answer(|| {
            let snapshot = self.loom.snapshot(self.now())?;
            let claims = claims(&self.loom, &snapshot);
            let project = self.loom.meta().project.clone();
            compact(&StatusJson::new(&project, &snapshot, &claims, p.recent.unwrap_or(5)))
        })
    }

    #[tool(description = "Run a task's checks in its worktree (an error result when one fails)")]
    fn verify(&self, Parameters(p): Parameters<VerifyParams>) -> CallToolResult {
        self.answer(|| {
            let task = self.loom.task(&p.id)?.task;
            let state = self
                .loom
                .work_state(&task, p.worktree.as_deref().map(|path| self.path(path)))?;
            let (checked, report) = self.loom.verify_task(&task, &state, Vec::new(), |_| {})?;
            let json = compact(&VerifyReportJson::new(&task, &state, &checked, &report))?;
            match report.passed() {
                true => Ok(json),
                false => Err(Refusal::Report(json)),
            }
        })
    }

    #[tool(description = "Add an idea to the backlog (not claimable until promoted)")]
    fn idea(&self, Parameters(p): Parameters<IdeaParams>) -> CallToolResult {
        self.answer(|| {
            let new = NewTask {
                description: p.description.unwrap_or_default(),
                labels: p.labels,
                ..NewTask::titled(p.title, Kind::Idea)
            };
            self.create_task(&new)
        })
    }

    #[tool(description = "The merge queue: open requests in serving order")]
    fn merge_queue(&self, Parameters(p): Parameters<MergeQueueParams>) -> CallToolResult {
        self.answer(|| {
            let queue = self.loom.merge_queue()?;
            let rows: Vec<MergeRequestJson<'_>> = queue
                .entries
                .iter()
                .filter(|entry| p.all || entry.request.state.is_open())
                .map(MergeRequestJson::row)
                .collect();
            compact(&rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Refusal, priorities, status};
    use crate::api::ErrorCode;
    use crate::model::{Priority, Status};

    fn code(refusal: Refusal) -> ErrorCode {
        match refusal {
            Refusal::Failure(failure) => failure.code,
            Refusal::Report(report) => panic!("a report, not a failure: {report}"),
        }
    }

    // Guards: a priority range read backwards, or a bad one accepted as some priority.
    #[test]
    fn priorities_read_one_or_a_range_in_either_order() {
        let p0: Priority = "p0".parse().unwrap();
        let p1: Priority = "p1".parse().unwrap();
        assert_eq!(priorities("p1").ok(), Some((p1, p1)));
        assert_eq!(priorities("p1..p0").ok(), Some((p0, p1)));
        assert_eq!(code(priorities("urgent").err().unwrap()), ErrorCode::InvalidInput);
    }

    // Guards: an update storing a derived status (ready, blocked, claimed).
    #[test]
    fn derived_statuses_are_refused_as_invalid_input() {
        assert_eq!(status("pending").ok(), Some(Status::Pending));
        for derived in ["ready", "blocked", "claimed", "sleeping"] {
            assert_eq!(
                code(status(derived).err().unwrap()),
                ErrorCode::InvalidInput,
                "{derived}"
            );
        }
    }
}
