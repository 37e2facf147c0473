//! An agent session: one start of an agent program on one task, kept as `session.json` in the
//! commit chain `refs/loom/sessions/<session-id>` (one commit per change, so the chain is the
//! session's history).
//!
//! The record says which task, under which agent name, started by which runner on which host
//! (with the process id), and how it ended. A session only moves forward: running, then ended
//! once, for good; a kill request is recorded once (the first one stands) and never taken back.
//! The rules live here, as a merge request's do: callers ask [`AgentSession::end`] and
//! [`AgentSession::request_kill`], and a move the rules forbid is an error, not a silent change.
//!
//! [`merge_sessions`] joins two histories of one session that diverged on two clones: the
//! result depends only on the two records (never on which is passed first), an ended side wins
//! over a running one, and a kill request on either side is kept.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::id::TaskId;

/// The version of the session blob layout this build reads and writes.
pub const SESSION_SCHEMA: u32 = 1;

/// How many hexadecimal digits a new session id has.
pub const SESSION_ID_DIGITS: usize = 8;

/// The shortest abbreviation of a session id that is looked up.
pub const MIN_SESSION_PREFIX: usize = 4;

/// A session id: lowercase hexadecimal digits ([`SESSION_ID_DIGITS`] of them when git-loom
/// makes one), so it is always a valid ref name component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// A session id as stored or typed in full.
    pub fn parse(text: &str) -> Result<SessionId, String> {
        if is_session_hex(text) && text.len() == SESSION_ID_DIGITS {
            Ok(SessionId(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a session id ({SESSION_ID_DIGITS} lowercase hexadecimal digits)"
            ))
        }
    }

    /// A new id from `random` bits.
    pub fn from_random(random: u32) -> SessionId {
        SessionId(format!("{random:08x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `text` could be (the start of) a session id.
pub fn is_session_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TryFrom<String> for SessionId {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        SessionId::parse(&text)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `session.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSession {
    pub schema: u32,
    pub id: SessionId,
    pub task: TaskId,
    /// The agent name the session works under (its claim's holder).
    pub agent: String,
    /// The runner that started it.
    pub runner: String,
    /// Which claim of the task the session works under (1 for the first).
    pub attempt: u32,
    /// What was started, as a command line people read.
    pub command: String,
    /// The task worktree the agent runs in.
    pub worktree: String,
    /// Where its output is kept, on `host`.
    pub log: String,
    /// The agent's process id on `host` (it leads its own process group), once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub host: String,
    /// When the agent was started (moved to the moment its process id is recorded).
    pub started: Timestamp,
    /// When its runner last saw it running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_requested: Option<KillRequest>,
    /// Fields written by another version of git-loom, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EndReason {
    /// The agent exited by itself with this code.
    Exited { code: i32 },
    /// The agent was ended by this signal it did not ask for.
    Crashed { signal: i32 },
    /// It ran past the session timeout and was stopped.
    Timeout,
    /// Someone asked for it to be killed (`git loom sessions kill`).
    Killed,
    /// Its runner was interrupted (Ctrl-C) and stopped it.
    Interrupted,
    /// The agent asked for a fresh session on the same task.
    Refresh,
    /// Its runner is gone; another runner found the session left behind.
    RunnerLost,
}

impl EndReason {
    /// The reason's name, as `--json` spells it.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Exited { .. } => "exited",
            EndReason::Crashed { .. } => "crashed",
            EndReason::Timeout => "timeout",
            EndReason::Killed => "killed",
            EndReason::Interrupted => "interrupted",
            EndReason::Refresh => "refresh",
            EndReason::RunnerLost => "runner_lost",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Exited { code } => write!(f, "exited {code}"),
            EndReason::Crashed { signal } => write!(f, "crashed (signal {signal})"),
            EndReason::RunnerLost => f.write_str("runner lost"),
            other => f.write_str(other.name()),
        }
    }
}

/// How a session ended, as its ender reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnd {
    #[serde(flatten)]
    pub reason: EndReason,
    /// What happened, in a sentence (the runner's account, or the tail of the output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// The end of a session, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    pub at: Timestamp,
    #[serde(flatten)]
    pub end: SessionEnd,
}

/// Someone asked the session's runner to kill it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillRequest {
    pub at: Timestamp,
    pub by: String,
}

/// A change the rules do not allow: an ended session changes no more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session {id} already ended ({reason})")]
pub struct AlreadyEnded {
    pub id: SessionId,
    pub reason: EndReason,
}

impl AgentSession {
    /// Whether the session has not ended.
    pub fn is_running(&self) -> bool {
        self.ended.is_none()
    }

    fn refuse_if_ended(&self) -> Result<(), AlreadyEnded> {
        match &self.ended {
            Some(ended) => Err(AlreadyEnded {
                id: self.id.clone(),
                reason: ended.end.reason,
            }),
            None => Ok(()),
        }
    }

    /// End the session at `at`; an ended session stays as it ended.
    pub fn end(&mut self, at: Timestamp, end: SessionEnd) -> Result<(), AlreadyEnded> {
        self.refuse_if_ended()?;
        self.ended = Some(Ended { at, end });
        Ok(())
    }

    /// Record that `by` asked for the session to be killed. Returns whether the record changed:
    /// a second request leaves the first in place.
    pub fn request_kill(&mut self, at: Timestamp, by: &str) -> Result<bool, AlreadyEnded> {
        self.refuse_if_ended()?;
        if self.kill_requested.is_some() {
            return Ok(false);
        }
        self.kill_requested = Some(KillRequest { at, by: by.to_owned() });
        Ok(true)
    }

    /// Record the agent's process, started at `at`.
    pub fn record_process(&mut self, pid: u32, at: Timestamp) -> Result<(), AlreadyEnded> {
        self.refuse_if_ended()?;
        self.pid = Some(pid);
        self.started = at;
        Ok(())
    }

    /// Record that the session was seen running at `at` (the time never moves backwards).
    pub fn seen(&mut self, at: Timestamp) -> Result<(), AlreadyEnded> {
        self.refuse_if_ended()?;
        self.last_seen = Some(self.last_seen.map_or(at, |seen| seen.max(at)));
        Ok(())
    }
}

/// Join two versions of one session whose histories diverged. The record that decides is the
/// ended one (a session never reopens); of two ended ones, the end its own runner reported
/// over a `runner_lost` judged from outside, then the earlier end; the rest goes by the
/// canonical bytes, so the choice is the same whichever side is `ours`. From the other side
/// come what only it knows: the first kill request, the later `last_seen`, the process id.
pub fn merge_sessions(ours: &AgentSession, theirs: &AgentSession) -> AgentSession {
    use super::Entity;
    use std::cmp::Reverse;
    let key = |session: &AgentSession| {
        (
            session.ended.is_some(),
            session
                .ended
                .as_ref()
                .map(|ended| ended.end.reason != EndReason::RunnerLost),
            session.ended.as_ref().map(|ended| Reverse(ended.at)),
            session.to_blob(),
        )
    };
    let (winner, other) = match key(ours) >= key(theirs) {
        true => (ours, theirs),
        false => (theirs, ours),
    };
    let mut merged = winner.clone();
    merged.kill_requested = match (&winner.kill_requested, &other.kill_requested) {
        (Some(a), Some(b)) => Some(if (a.at, &a.by) <= (b.at, &b.by) {
            a.clone()
        } else {
            b.clone()
        }),
        (a, b) => a.clone().or_else(|| b.clone()),
    };
    merged.last_seen = winner.last_seen.max(other.last_seen);
    if merged.pid.is_none() {
        merged.pid = other.pid;
        merged.started = winner.started.max(other.started);
    }
    merged.schema = winner.schema.max(other.schema);
    merged
}

impl super::Entity for AgentSession {
    const FILE: &'static str = "session.json";
    const SCHEMA: u32 = SESSION_SCHEMA;

    /// A session belongs to no task's ref: its own ref names its session id, which the reader
    /// checks.
    fn owner(&self) -> Option<&TaskId> {
        None
    }

    fn problem(&self) -> Option<String> {
        if self.agent.trim().is_empty() {
            return Some("names no agent".into());
        }
        None
    }
}

#[cfg(test)]
#[path = "agent_session_tests.rs"]
mod tests;
