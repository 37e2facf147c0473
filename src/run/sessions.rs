//! Agent sessions as use cases: a runner begins a session when it starts an agent, records its
//! process, and ends it with a reason; anyone, on any clone, lists sessions and asks for one
//! to be killed, which the session's runner sees on its record and carries out.
//!
//! Each session is the commit chain `refs/loom/sessions/<session-id>` holding `session.json`
//! (see [`crate::model::agent_session`]). A session id is eight random lowercase hexadecimal
//! digits, made here and created with a create-only ref update, so two runners never share one;
//! commands take any unique abbreviation of at least four digits.
//!
//! Guarantees: every write states the tip it replaces (and, with a coordination remote, is
//! accepted by the remote before any local ref moves), and a lost race re-reads and re-applies
//! the change; an ended session changes no more (a second end or a kill request is refused
//! naming how it ended); a record that cannot be read is reported naming its ref, and the rest
//! are read.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::loom::{Actor, Error, Loom, Result, with_retries};
use crate::model::agent_session::{
    AgentSession, MIN_SESSION_PREFIX, SESSION_SCHEMA, SessionEnd, SessionId, is_session_hex,
};
use crate::model::{Entity, TaskId};
use crate::store::{self, CommitMessage, Expected, ObjectId, RefUpdate, Store};

/// What a runner knows when it begins a session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub task: TaskId,
    /// The agent name the session works under (its claim's holder), e.g. `<runner>/<n>`.
    pub agent: String,
    /// The runner's own name.
    pub runner: String,
    /// Which claim of the task the session works under.
    pub attempt: u32,
    /// The agent's process, when it is already started; else recorded later with
    /// [`Loom::session_started`] (the agent's environment names the session, so a runner
    /// usually begins the session first).
    pub pid: Option<u32>,
    /// The machine the agent runs on: its host name as `gethostname` gives it, which
    /// `git loom sessions kill` compares with its own before signalling the process.
    pub host: String,
    /// What is started, as a command line people read.
    pub command: String,
    pub worktree: PathBuf,
    /// Where the output is kept; `None`: [`Loom::session_log_path`] of the new session.
    pub log: Option<PathBuf>,
}

/// The sessions as read: every readable record, and the refs that could not be read.
#[derive(Debug, Default)]
pub struct SessionList {
    /// Oldest start first.
    pub sessions: Vec<AgentSession>,
    pub problems: Vec<store::Error>,
}

/// How many times a new session id is drawn when the one drawn is taken.
const NEW_ID_ATTEMPTS: u32 = 8;

impl Loom {
    /// Record a new running session, under a fresh id.
    pub fn session_begin(&self, new: &NewSession, actor: &Actor) -> Result<AgentSession> {
        if new.agent.trim().is_empty() {
            return Err(Error::Invalid("a session needs an agent name".into()));
        }
        for _ in 0..NEW_ID_ATTEMPTS {
            let random = getrandom::u32().map_err(|err| Error::Store(store::Error::Random(err)))?;
            let id = SessionId::from_random(random);
            let name = store::session_ref(&id);
            if self.store.tip(&name)?.is_some() {
                continue;
            }
            let session = AgentSession {
                schema: SESSION_SCHEMA,
                log: path_text(&new.log.clone().unwrap_or_else(|| self.session_log_path(id.as_str()))),
                id,
                task: new.task.clone(),
                agent: new.agent.clone(),
                runner: new.runner.clone(),
                attempt: new.attempt,
                command: new.command.clone(),
                worktree: path_text(&new.worktree),
                pid: new.pid,
                host: new.host.clone(),
                started: actor.now,
                last_seen: None,
                ended: None,
                kill_requested: None,
                extra: Default::default(),
            };
            let summary = format!("begin session {} on {} as {}", session.id, session.task, session.agent);
            match self.write_session(&name, None, &session, summary, "session-begin", actor) {
                // Drawn by another runner at the same moment: draw again.
                Err(err) if err.is_conflict() => continue,
                other => other?,
            }
            return Ok(session);
        }
        Err(Error::Internal(format!(
            "no free session id after {NEW_ID_ATTEMPTS} draws"
        )))
    }

    /// Record the agent's process id, once it is started (now).
    pub fn session_started(&self, id: &str, pid: u32, actor: &Actor) -> Result<AgentSession> {
        self.change_session(id, actor, "session-started", |session| {
            session.record_process(pid, actor.now)?;
            Ok(Some(format!("session {} started as process {pid}", session.id)))
        })
    }

    /// Record that the session's runner saw it running now.
    pub fn session_seen(&self, id: &str, actor: &Actor) -> Result<AgentSession> {
        self.change_session(id, actor, "session-seen", |session| {
            session.seen(actor.now)?;
            Ok(Some(format!("session {} seen running", session.id)))
        })
    }

    /// End the session. An ended session is refused ([`Error::SessionEnded`], naming how it
    /// ended), so of two enders (its runner, and another runner that judged it lost) the first
    /// one's account stands.
    pub fn session_end(&self, id: &str, end: &SessionEnd, actor: &Actor) -> Result<AgentSession> {
        self.change_session(id, actor, "session-end", |session| {
            session.end(actor.now, end.clone())?;
            Ok(Some(format!("session {} ended: {}", session.id, end.reason)))
        })
    }

    /// Ask the session's runner to kill it. A second request leaves the first in place; a
    /// session that ended is refused.
    pub fn session_kill_request(&self, id: &str, actor: &Actor) -> Result<AgentSession> {
        self.change_session(id, actor, "session-kill", |session| {
            Ok(session
                .request_kill(actor.now, &actor.agent)?
                .then(|| format!("kill of session {} requested by {}", session.id, actor.agent)))
        })
    }

    /// The session `id` names (any unique abbreviation of at least four digits).
    pub fn session(&self, id: &str) -> Result<AgentSession> {
        let id = self.resolve_session(id)?;
        let name = store::session_ref(&id);
        let tip = self
            .store
            .tip(&name)?
            .ok_or_else(|| Error::UnknownSession { query: id.to_string() })?;
        Ok(read_session(&self.store, &id, tip)?)
    }

    /// The session `id` names, fetched first from the coordination remote when the last fetch
    /// is older than `max_age`: what a runner polls to see a kill requested on another clone.
    pub fn session_poll(&self, id: &str, max_age: Duration, actor: &Actor) -> Result<AgentSession> {
        self.refresh(max_age, actor)?;
        self.session(id)
    }

    /// The running sessions (every session when `all`), oldest first.
    pub fn sessions(&self, all: bool) -> Result<Vec<AgentSession>> {
        Ok(self.session_list(all)?.sessions)
    }

    /// The running sessions (every session when `all`), oldest first, with the refs that
    /// could not be read.
    pub fn session_list(&self, all: bool) -> Result<SessionList> {
        let (tips, mut problems) = self.store.list(store::SESSIONS_PREFIX)?;
        let mut sessions = Vec::with_capacity(tips.len());
        for tip in tips {
            let Some(id) = store::session_id_from_ref(&tip.name) else {
                problems.push(store::Error::Corrupt {
                    ref_name: tip.name.clone(),
                    problem: "is not named after a session id".into(),
                });
                continue;
            };
            match read_session(&self.store, &id, tip.tip) {
                Ok(session) if all || session.is_running() => sessions.push(session),
                Ok(_) => {}
                Err(err) => problems.push(err),
            }
        }
        sessions.sort_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id)));
        Ok(SessionList { sessions, problems })
    }

    /// Every session of the task `id`, oldest first.
    pub fn task_sessions(&self, id: &TaskId) -> Result<SessionList> {
        let mut list = self.session_list(true)?;
        list.sessions.retain(|session| session.task == *id);
        Ok(list)
    }

    /// Where the output of session `id` is kept: `<git-dir>/loom/sessions/<id>.log`, in the
    /// repository's common git directory (shared by all its worktrees).
    pub fn session_log_path(&self, id: &str) -> PathBuf {
        self.store.local_dir().join("sessions").join(format!("{id}.log"))
    }

    /// The full id of the session `input` names.
    fn resolve_session(&self, input: &str) -> Result<SessionId> {
        let input = input.trim();
        let unknown = || Error::UnknownSession {
            query: input.to_owned(),
        };
        if let Ok(id) = SessionId::parse(input) {
            return Ok(id);
        }
        if input.len() < MIN_SESSION_PREFIX || !is_session_hex(input) {
            return Err(unknown());
        }
        let (tips, _) = self.store.list(store::SESSIONS_PREFIX)?;
        let mut found: Vec<SessionId> = tips
            .iter()
            .filter_map(|tip| store::session_id_from_ref(&tip.name))
            .filter(|id| id.as_str().starts_with(input))
            .collect();
        match found.len() {
            0 => Err(unknown()),
            1 => Ok(found.remove(0)),
            _ => Err(Error::AmbiguousSession {
                query: input.to_owned(),
                candidates: found.iter().map(ToString::to_string).collect(),
            }),
        }
    }

    /// Read the session `input` names, let `edit` change it (returning its commit's summary,
    /// or `None` when nothing changes), and write it with compare-and-swap, retrying a lost
    /// race.
    fn change_session(
        &self,
        input: &str,
        actor: &Actor,
        op: &str,
        edit: impl Fn(&mut AgentSession) -> Result<Option<String>>,
    ) -> Result<AgentSession> {
        let id = self.resolve_session(input)?;
        let name = store::session_ref(&id);
        with_retries(|| {
            let tip = self.store.tip(&name)?.ok_or_else(|| Error::UnknownSession {
                query: input.to_owned(),
            })?;
            let mut session = read_session(&self.store, &id, tip)?;
            let Some(summary) = edit(&mut session)? else {
                return Ok(session);
            };
            self.write_session(&name, Some(tip), &session, summary, op, actor)?;
            Ok(session)
        })
    }

    /// Write `session` as the version after `base` (`None`: the ref must not exist yet).
    fn write_session(
        &self,
        name: &str,
        base: Option<ObjectId>,
        session: &AgentSession,
        summary: String,
        op: &str,
        actor: &Actor,
    ) -> Result<()> {
        let mut message = CommitMessage::version(summary, Some(&session.task), &actor.agent, op);
        message.trailers.push(("Loom-Session", session.id.to_string()));
        let blob = session.to_blob();
        let parents: Vec<ObjectId> = base.into_iter().collect();
        let commit =
            self.store
                .write_version(&[(AgentSession::FILE, &blob)], &parents, &message, &actor.signature())?;
        let update = RefUpdate {
            name: name.to_owned(),
            expected: base.map_or(Expected::Absent, Expected::Tip),
            new: Some(commit),
        };
        crate::loom::publish::publish(&self.store, &[update], actor)
    }
}

/// Read the session at `tip` of its ref, which must hold the session the ref names.
fn read_session(store: &Store, id: &SessionId, tip: ObjectId) -> store::Result<AgentSession> {
    let name = store::session_ref(id);
    let (session, _) = store.read_entity::<AgentSession>(&name, tip, None)?;
    if session.id != *id {
        return Err(store::Error::Corrupt {
            ref_name: name,
            problem: format!("{} is for session {}", AgentSession::FILE, session.id),
        });
    }
    Ok(session)
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// What became of a direct signal to a session's agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signalled {
    /// SIGTERM went to the agent's process group.
    Sent,
    /// The agent runs on another machine: only its runner can end it.
    OtherHost,
    /// No process id is recorded yet.
    NoProcess,
    /// No live process leads a group under the recorded id: it is gone.
    Gone,
    /// The process under the recorded id started after the session recorded it: the id was
    /// handed to another program, which is left alone.
    NotTheAgent,
}

/// How much later than the record a process may seem to have started and still be the one
/// recorded: the record's time and the process table's are read from different clocks.
const START_SLACK: Duration = Duration::from_secs(2);

/// Send SIGTERM to the process group of `session`'s agent, when it runs on `this_host` and the
/// process alive under the recorded id is the agent (it leads its own group and started no
/// later than the session recorded it). The runner that owns the session records the end.
pub fn signal_session(session: &AgentSession, this_host: &str) -> Signalled {
    if session.host != this_host {
        return Signalled::OtherHost;
    }
    let Some(pid) = session.pid else {
        return Signalled::NoProcess;
    };
    let Some(process_started) = crate::exec::group::group_leader_started(pid) else {
        return Signalled::Gone;
    };
    let recorded = SystemTime::from(session.started);
    if process_started > recorded + START_SLACK {
        return Signalled::NotTheAgent;
    }
    match crate::exec::group::terminate_group(pid) {
        true => Signalled::Sent,
        false => Signalled::Gone,
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
