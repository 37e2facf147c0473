//! The runner's loop (`git loom run`): sweep, claim ready tasks up to the job count, start one
//! agent session per claim in the task's worktree, keep each claim alive while its agent
//! works, and when the agent ends let the checks decide (`done`), or hand off and fail, or
//! start a fresh session; the merge engine serves the queue beside it ([`super::merger`]).
//!
//! Guarantees:
//! - every session is recorded in refs before its agent starts, and ended with its reason;
//!   a session another runner left running (that runner died: its claim expired and this
//!   runner claimed the task) is ended as `runner_lost` and its worktree handed off before the
//!   new session starts, so the new agent resumes from what was left;
//! - every session that does not end in `done` leaves an automatic handoff naming its commits,
//!   its uncommitted changes and the end of its output;
//! - a fresh session asked for (the refresh file, or a handoff at the context budget) gives
//!   the claim back and claims the task again at once, without counting a failure: another
//!   runner may take it in between, which is as good;
//! - after an interrupt no session starts; running agents get the grace period (SIGTERM to
//!   their group), then are killed, and each is handed off and released before the run ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::agent::{self, Contract, SessionFiles};
use super::decide::{self, Completion, Standing, Stop};
use super::merger::Merger;
use super::options::{Clock, Control, RunEnd, RunEvent, RunOptions, RunReport, Summary};
use super::sessions::NewSession;
use crate::claims::{ClaimOptions, Credentials, Held, NextFilter};
use crate::exec::{Exit, Running};
use crate::loom::{Actor, Error, Loom, Result};
use crate::model::agent_session::{EndReason, SessionEnd};
use crate::model::{TaskId, View};

/// How often a runner with a coordination remote sweeps (each sweep fetches first).
const REMOTE_SWEEP_EVERY: Duration = Duration::from_secs(5);

/// How often a running session's record (kill requests) and handoffs are read.
const RECORD_EVERY: Duration = Duration::from_secs(1);

/// One running session.
pub(super) struct Live {
    pub(super) id: String,
    pub(super) agent: String,
    pub(super) task: TaskId,
    pub(super) token: String,
    pub(super) worktree: PathBuf,
    pub(super) branch: String,
    pub(super) files: SessionFiles,
    pub(super) process: Running,
    pub(super) started_at: Timestamp,
    pub(super) deadline: Option<(Instant, u64)>,
    pub(super) budget: Option<u8>,
    /// Why and since when the runner is stopping it, and when it kills it.
    pub(super) stop: Option<(Stop, Instant)>,
    pub(super) next_heartbeat: Instant,
    pub(super) next_record: Instant,
    pub(super) commits: Option<u32>,
    pub(super) last_line: Option<String>,
}

/// The runner's state across the loop.
pub(super) struct Runner<'a, F: FnMut(RunEvent)> {
    pub(super) loom: &'a Loom,
    pub(super) options: &'a RunOptions,
    pub(super) clock: &'a Clock,
    pub(super) events: F,
    pub(super) live: Vec<Live>,
    pub(super) started: usize,
    pub(super) heartbeat_every: Duration,
    pub(super) summary: Option<Summary>,
}

impl Loom {
    /// Run agents on the ready tasks until none is left (or forever with `watch`), or until
    /// `control` says stop; see the module docs. `merge_loom` serves the merge queue on a
    /// thread of its own (when `options.merge`).
    pub fn run_agents(
        &self,
        options: &RunOptions,
        control: &Control,
        clock: &Clock,
        merge_loom: Option<Loom>,
        events: impl FnMut(RunEvent),
    ) -> Result<RunReport> {
        let settings = self.settings();
        let ttl = settings.claims.ttl_secs.max(1);
        let heartbeat_every = Duration::from_secs(settings.claims.heartbeat_secs.min(ttl.div_ceil(3)).max(1));
        let mut runner = Runner {
            loom: self,
            options,
            clock,
            events,
            live: Vec::new(),
            started: 0,
            heartbeat_every,
            summary: None,
        };
        let merger = match (options.merge, merge_loom) {
            (true, Some(loom)) => Some(Merger::start(
                loom,
                options.runner.clone(),
                &options.host,
                clock.clone(),
            )),
            _ => None,
        };
        let result = runner.run(control, merger.as_ref());
        if let Some(merger) = merger {
            for event in merger.stop() {
                (runner.events)(event);
            }
        }
        // Whatever ended the loop, no agent is left behind unsupervised.
        runner.stop_all_now();
        let end = result?;
        Ok(RunReport {
            end,
            sessions: runner.started,
            summary: runner.summary.unwrap_or_default(),
        })
    }
}

impl<F: FnMut(RunEvent)> Runner<'_, F> {
    pub(super) fn actor(&self, agent: &str) -> Actor {
        Actor {
            agent: agent.to_owned(),
            now: (self.clock)(),
        }
    }

    fn run(&mut self, control: &Control, merger: Option<&Merger>) -> Result<RunEnd> {
        let mut interrupts = 0;
        let mut next_sweep = Instant::now();
        // A sweep fetches from the coordination remote first: not every tick.
        let sweep_every = match self.loom.store().publish_remote() {
            Some(_) => REMOTE_SWEEP_EVERY.max(self.options.sweep_every),
            None => self.options.sweep_every,
        };
        let mut next_full_sweep = Instant::now();
        loop {
            let seen = control.interrupts();
            if seen > interrupts {
                interrupts = seen;
                (self.events)(RunEvent::Interrupted { kill: seen >= 2 });
                let grace = match seen {
                    1 => self.options.grace,
                    _ => Duration::ZERO,
                };
                for index in 0..self.live.len() {
                    self.ask_to_stop(index, Stop::Interrupted, grace);
                }
            }
            // A slot that came free is filled at once rather than at the next tick.
            if self.supervise()? {
                next_sweep = Instant::now();
            }
            if let Some(merger) = merger {
                for event in merger.drain() {
                    (self.events)(event);
                }
            }
            if interrupts > 0 {
                if self.live.is_empty() {
                    return Ok(RunEnd::Interrupted);
                }
            } else if Instant::now() >= next_sweep {
                next_sweep = Instant::now() + self.options.sweep_every;
                if Instant::now() >= next_full_sweep {
                    next_full_sweep = Instant::now() + sweep_every;
                    self.sweep();
                }
                self.fill()?;
                let standing = self.standing()?;
                if !self.options.watch {
                    match decide::completion(&standing, self.options.merge) {
                        Completion::Working => {}
                        Completion::AllDone => return Ok(RunEnd::AllDone),
                        Completion::Stuck => return Ok(RunEnd::Stuck),
                    }
                }
            }
            std::thread::sleep(self.options.poll);
        }
    }

    pub(super) fn warn(&mut self, message: String) {
        tracing::debug!("warning: {message}");
        (self.events)(RunEvent::Warning { message });
    }

    fn sweep(&mut self) {
        let actor = self.actor(&self.options.runner);
        match self.loom.sweep(&actor) {
            Ok(swept) if !swept.expired.is_empty() || !swept.revived.is_empty() => (self.events)(RunEvent::Swept {
                expired: swept.expired.into_iter().map(|(id, _)| id).collect(),
                revived: swept.revived,
            }),
            Ok(_) => {}
            Err(err) => self.warn(format!("sweep: {err}")),
        }
    }

    /// Start sessions until the job count is reached or nothing is ready.
    fn fill(&mut self) -> Result<()> {
        while self.live.len() < self.options.jobs {
            let agent = format!("{}/{}", self.options.runner, self.started + 1);
            let actor = self.actor(&agent);
            let held = self
                .loom
                .claim_next(&NextFilter::default(), &ClaimOptions::default(), &actor)?;
            let Some(held) = held else { break };
            self.begin(held, agent)?;
        }
        Ok(())
    }

    /// Start a session on a task just claimed as `agent`. A failure to start gives the claim
    /// back; an agent program that cannot be started ends the run (every task would fail).
    pub(super) fn begin(&mut self, held: Held, agent: String) -> Result<()> {
        self.started += 1;
        let token = held.claim.token.clone();
        let credentials = Credentials {
            token: Some(&token),
            force: false,
        };
        match self.prepare_and_spawn(&held, &agent) {
            Ok(live) => {
                self.live.push(live);
                Ok(())
            }
            Err(err) => {
                let actor = self.actor(&agent);
                if let Err(release) = self.loom.release(held.task.id.as_str(), credentials, &actor) {
                    self.warn(format!("could not give back {}: {release}", held.task.id));
                }
                Err(err)
            }
        }
    }

    fn prepare_and_spawn(&mut self, held: &Held, agent: &str) -> Result<Live> {
        let loom = self.loom;
        let id = held.task.id.clone();
        let token = held.claim.token.clone();
        self.end_lost_sessions(&id, &token, agent)?;
        let actor = self.actor(agent);
        let worktree = loom.worktree_add(id.as_str(), None, &actor)?;
        let (task, signal) = loom.signal(id.as_str(), Some(token.clone()))?;
        let new = NewSession {
            task: id.clone(),
            agent: agent.to_owned(),
            runner: self.options.runner.clone(),
            attempt: held.claim.attempt,
            pid: None,
            host: self.options.host.clone(),
            command: self.options.agent.display(),
            worktree: worktree.path.clone(),
            log: None,
        };
        let session = loom.session_begin(&new, &actor)?;
        let session_id = session.id.as_str().to_owned();
        let files = SessionFiles::beside(PathBuf::from(&session.log), &session_id);
        let contract = Contract {
            task: &id,
            token: &token,
            worktree: &worktree.path,
            agent,
            session: &session_id,
            attempt: held.claim.attempt,
        };
        let process = match agent::start(&self.options.agent, &signal, &files, &contract) {
            Ok(process) => process,
            Err(err) => {
                let end = SessionEnd {
                    reason: EndReason::Exited { code: 127 },
                    summary: Some(format!("could not start the agent: {err}")),
                };
                let _ = loom.session_end(&session_id, &end, &self.actor(agent));
                return Err(Error::Invalid(format!(
                    "could not start the agent `{}`: {err}",
                    self.options.agent.display()
                )));
            }
        };
        let pid = process.id();
        tracing::debug!(session = %session_id, task = %id, agent, pid, "agent started");
        if let Err(err) = loom.session_started(&session_id, pid, &self.actor(agent)) {
            self.warn(format!("session {session_id}: could not record process {pid}: {err}"));
        }
        let timeout = self.options.agent.timeout.or(self.options.session_timeout);
        let now = Instant::now();
        (self.events)(RunEvent::Started {
            session: session_id.clone(),
            task: id.clone(),
            title: task.title.clone(),
            agent: agent.to_owned(),
            attempt: held.claim.attempt,
            pid,
            worktree: worktree.path.clone(),
            log: files.log.clone(),
        });
        Ok(Live {
            id: session_id,
            agent: agent.to_owned(),
            task: id,
            token,
            worktree: worktree.path,
            branch: worktree.branch,
            files,
            process,
            started_at: session.started,
            deadline: timeout.map(|timeout| (now + timeout, timeout.as_secs())),
            budget: decide::context_budget(&task, self.options.context_budget),
            stop: None,
            next_heartbeat: now + self.heartbeat_every,
            next_record: now + RECORD_EVERY,
            commits: None,
            last_line: None,
        })
    }

    /// Ask session `index` to stop: SIGTERM to its group now, SIGKILL after `grace`.
    fn ask_to_stop(&mut self, index: usize, why: Stop, grace: Duration) {
        let live = &mut self.live[index];
        let kill_at = Instant::now() + grace;
        match &mut live.stop {
            // An interrupt overrides a refresh or timeout already under way (nothing restarts),
            // and a second one shortens the grace.
            Some((stop, at)) => {
                if why == Stop::Interrupted {
                    *stop = why;
                }
                *at = (*at).min(kill_at);
            }
            None => live.stop = Some((why, kill_at)),
        }
        #[cfg(unix)]
        live.process.signal_group(libc::SIGTERM);
        let (session, why) = (live.id.clone(), stop_words(why));
        (self.events)(RunEvent::Stopping { session, why });
    }

    /// Look at every running session once; whether any ended.
    fn supervise(&mut self) -> Result<bool> {
        let mut index = 0;
        let mut ended = false;
        while index < self.live.len() {
            match self.look_at(index)? {
                Some(exit) => {
                    let live = self.live.swap_remove(index);
                    self.finish(live, exit)?;
                    ended = true;
                }
                None => index += 1,
            }
        }
        Ok(ended)
    }

    /// One look at session `index`: `Some` once its agent has exited.
    fn look_at(&mut self, index: usize) -> Result<Option<Exit>> {
        let now = Instant::now();
        let exited = self.live[index]
            .process
            .try_wait()
            .map_err(|err| Error::Internal(err.to_string()))?;
        if let Some(exit) = exited {
            return Ok(Some(exit));
        }
        self.show_output(index);
        let live = &mut self.live[index];
        if let Some((_, kill_at)) = live.stop {
            if now >= kill_at {
                live.process.kill_group();
            }
            return Ok(None);
        }
        if let Some((deadline, secs)) = live.deadline
            && now >= deadline
        {
            self.ask_to_stop(index, Stop::Timeout(secs), self.options.grace);
            return Ok(None);
        }
        if live.files.refresh.exists() {
            self.ask_to_stop(index, Stop::Refresh, self.options.grace);
            return Ok(None);
        }
        if now >= live.next_record {
            live.next_record = now + RECORD_EVERY;
            if let Some(why) = self.asked_to_stop(index) {
                self.ask_to_stop(index, why, self.options.grace);
                return Ok(None);
            }
        }
        if now >= self.live[index].next_heartbeat {
            self.live[index].next_heartbeat = now + self.heartbeat_every;
            self.heartbeat(index);
        }
        Ok(None)
    }

    /// Whether the session's record asks for a kill, or its agent handed off at its budget.
    fn asked_to_stop(&mut self, index: usize) -> Option<Stop> {
        let live = &self.live[index];
        // A kill asked for on another clone arrives with a fetch (at most one per interval).
        let actor = self.actor(&live.agent);
        if let Ok(record) = self.loom.session_poll(&live.id, REMOTE_SWEEP_EVERY, &actor)
            && record.kill_requested.is_some()
        {
            return Some(Stop::Killed);
        }
        live.budget?;
        let handoff = self.loom.latest_handoff(&live.task).ok().flatten()?;
        let own = handoff.agent == live.agent && handoff.at >= live.started_at;
        (own && decide::over_budget(handoff.context_percent, live.budget)).then_some(Stop::Refresh)
    }

    fn show_output(&mut self, index: usize) {
        let live = &mut self.live[index];
        let (stdout, stderr) = live.process.tails();
        let line = agent::last_line(&stdout.text()).or_else(|| agent::last_line(&stderr.text()));
        if line.is_some() && line != live.last_line {
            live.last_line = line.clone();
            let session = live.id.clone();
            (self.events)(RunEvent::Output {
                session,
                line: line.unwrap_or_default(),
            });
        }
    }

    /// Renew the session's claim, with its commits as progress when they changed.
    fn heartbeat(&mut self, index: usize) {
        let target = self.loom.target_branch();
        let live = &self.live[index];
        let work = self
            .loom
            .store()
            .repo()
            .branch_work(&live.branch, target.as_deref().filter(|target| *target != live.branch))
            .ok()
            .flatten();
        let commits = work.as_ref().map_or(0, |work| work.commits_since_base);
        let progress = match (
            live.commits == Some(commits),
            work.as_ref().and_then(|work| work.commits.first()),
        ) {
            (false, Some((_, summary))) => Some(format!("{commits} commit(s), last: {summary}")),
            _ => None,
        };
        let actor = self.actor(&live.agent);
        let credentials = Credentials {
            token: Some(&live.token),
            force: false,
        };
        tracing::trace!(session = %live.id, commits, "heartbeat");
        let renewed = self
            .loom
            .heartbeat(live.task.as_str(), credentials, progress.clone(), None, &actor);
        let _ = self.loom.session_seen(&live.id, &actor);
        let (session, task) = (live.id.clone(), live.task.clone());
        match renewed {
            Ok(_) => {
                self.live[index].commits = Some(commits);
                (self.events)(RunEvent::Heartbeat {
                    session,
                    task,
                    commits,
                    progress,
                });
            }
            // The claim is gone (swept while this runner stalled, cancelled): the work is no
            // longer this session's to do.
            Err(err @ (Error::NotClaimed { .. } | Error::NotHolder { .. })) => {
                self.warn(format!("session {session} lost its claim on {task}: {err}"));
                self.ask_to_stop(index, Stop::Killed, self.options.grace);
            }
            Err(err) => self.warn(format!("heartbeat of {task}: {err}")),
        }
    }

    /// How the tasks stand; reports the summary when it changed.
    fn standing(&mut self) -> Result<Standing> {
        let now = (self.clock)();
        let snapshot = self.loom.snapshot(now)?;
        let queued = match self.options.merge {
            true => self
                .loom
                .merge_queue()?
                .entries
                .iter()
                .filter(|entry| entry.request.state.is_open())
                .count(),
            false => 0,
        };
        let mut standing = Standing {
            running: self.live.len(),
            queued,
            ..Standing::default()
        };
        let mut summary = Summary {
            running: self.live.len(),
            queued,
            ..Summary::default()
        };
        for entry in snapshot.tasks.values() {
            let task = &entry.task;
            match snapshot.derive(task).view {
                View::Ready => standing.ready += 1,
                View::Claimed => standing.claimed += 1,
                View::Failed => standing.failed += 1,
                View::Dead => standing.dead += 1,
                View::Blocked => standing.blocked += 1,
                View::Done => {
                    standing.finished += 1;
                    summary.done += 1;
                    match task.is_merged() {
                        true => summary.merged += 1,
                        false => standing.unmerged += 1,
                    }
                }
                View::Cancelled => standing.finished += 1,
                View::Idea | View::Epic => {}
            }
        }
        // A blocked task waits on something: it can still move while anything else can.
        summary.ready = standing.ready;
        summary.failed = standing.failed;
        summary.dead = standing.dead;
        summary.blocked = standing.blocked;
        if self.summary != Some(summary) {
            self.summary = Some(summary);
            (self.events)(RunEvent::Summary(summary));
        }
        Ok(standing)
    }

    /// Kill whatever still runs (the loop ended on an error), handing each off and releasing.
    fn stop_all_now(&mut self) {
        while let Some(mut live) = self.live.pop() {
            live.process.kill_group();
            let exit = live.process.try_wait().ok().flatten().unwrap_or(Exit::Unknown);
            live.stop = Some((Stop::Interrupted, Instant::now()));
            if let Err(err) = self.finish(live, exit) {
                self.warn(format!("while stopping: {err}"));
            }
        }
    }
}

fn stop_words(why: Stop) -> String {
    match why {
        Stop::Timeout(secs) => format!("ran past the session timeout ({secs}s)"),
        Stop::Killed => "a kill was requested".into(),
        Stop::Interrupted => "the runner was interrupted".into(),
        Stop::Refresh => "a fresh session was asked for".into(),
    }
}
