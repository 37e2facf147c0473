//! What a run is told (its options, the clock, the interrupt counter) and what it reports (its
//! events and its end), as plain values: the loop never prints, the front end renders these.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jiff::Timestamp;

use super::preset::AgentCommand;
use crate::model::TaskId;
use crate::model::agent_session::EndReason;

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub agent: AgentCommand,
    /// The runner's own name; its sessions work as `<runner>/<n>`.
    pub runner: String,
    /// The machine it runs on, recorded on every session.
    pub host: String,
    /// How many sessions run at once.
    pub jobs: usize,
    /// Keep going when nothing is left (rather than ending).
    pub watch: bool,
    /// Serve the merge queue in the same process.
    pub merge: bool,
    /// How long one session may run; a preset's own timeout wins.
    pub session_timeout: Option<Duration>,
    /// How long an agent asked to stop has before its group is killed.
    pub grace: Duration,
    /// The context budget of tasks whose stage sets none (0: none).
    pub context_budget: u64,
    /// How often running sessions are looked at.
    pub poll: Duration,
    /// How often expired claims are swept and the tasks' standing read.
    pub sweep_every: Duration,
}

/// The clock a run reads: its own, since a run lasts (tests move it with an offset).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// How the front end tells a run to stop: the number of interrupts (Ctrl-C) so far. The first
/// stops new sessions and asks running agents to end; the second kills them.
#[derive(Debug, Clone, Default)]
pub struct Control {
    pub interrupts: Arc<AtomicUsize>,
}

impl Control {
    pub fn interrupts(&self) -> usize {
        self.interrupts.load(Ordering::SeqCst)
    }
}

/// What a run reports as it goes.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// Claims were taken back and failed tasks revived by the sweep.
    Swept { expired: Vec<TaskId>, revived: Vec<TaskId> },
    /// A session left behind by a runner that is gone was ended, and its work handed off.
    RunnerLost {
        session: String,
        task: TaskId,
        agent: String,
    },
    /// A session started.
    Started {
        session: String,
        task: TaskId,
        title: String,
        agent: String,
        attempt: u32,
        pid: u32,
        worktree: PathBuf,
        log: PathBuf,
    },
    /// The last line a session's agent wrote changed.
    Output { session: String, line: String },
    /// The runner renewed a session's claim; `progress` is what its commits say.
    Heartbeat {
        session: String,
        task: TaskId,
        commits: u32,
        progress: Option<String>,
    },
    /// The runner asked a session to stop (it has the grace period, then it is killed).
    Stopping { session: String, why: String },
    /// A session ended.
    Ended {
        session: String,
        task: TaskId,
        reason: EndReason,
        summary: String,
    },
    /// The task's checks passed and it is done (queued for merging when it has work).
    Done { session: String, task: TaskId },
    /// The task failed through the retry rules (`dead` once past its limit).
    Failed {
        session: String,
        task: TaskId,
        reason: String,
        dead: bool,
    },
    /// The task was given back (refresh, interrupt).
    Released { session: String, task: TaskId },
    /// The merge engine decided a request.
    Merge { task: TaskId, state: String, note: String },
    /// The tasks' standing, when it changed.
    Summary(Summary),
    /// An interrupt was received: no new sessions start.
    Interrupted { kill: bool },
    /// Something went wrong that the run carries on after.
    Warning { message: String },
}

/// Counts the live view shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub ready: usize,
    pub running: usize,
    pub queued: usize,
    pub merged: usize,
    pub done: usize,
    pub failed: usize,
    pub dead: usize,
    pub blocked: usize,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every task is finished (and merged, when merging).
    AllDone,
    /// Nothing can move but tasks are dead, failed, blocked or unmerged.
    Stuck,
    /// Stopped by an interrupt; every session was handed off and released.
    Interrupted,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub end: RunEnd,
    pub sessions: usize,
    pub summary: Summary,
}
