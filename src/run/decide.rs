//! The runner's decisions, as pure functions of what it observed, so each rule is tested on its
//! own: how a session ended and what becomes of its task, when a session has used up its
//! context, and when a run is over.
//!
//! Guarantees: an agent's exit code is never taken as proof of success, only as leave to run
//! the checks (`done` decides); a session the runner stopped is judged by why it stopped it,
//! whatever the agent exited with; a fresh session asked for is never counted as a failure.

use crate::exec::Exit;
use crate::model::Task;
use crate::model::agent_session::EndReason;

/// Why the runner stopped a session itself, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It ran past its session timeout (seconds).
    Timeout(u64),
    /// Someone asked for it to be killed (`git loom sessions kill`).
    Killed,
    /// The runner was interrupted (Ctrl-C).
    Interrupted,
    /// The agent asked for a fresh session (the refresh file, or a handoff at its budget).
    Refresh,
}

/// What becomes of the task once its session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The agent exited 0: run `done`, whose checks decide.
    Done,
    /// Hand off and fail the claim with this reason, so the retry rules take over.
    Fail(String),
    /// Hand off and give the claim back, then start a fresh session on the task: no failure.
    Refresh,
    /// Hand off and give the claim back (the runner is stopping).
    Release,
}

/// How the session ended, for its record, and what becomes of its task. `refresh_asked` is
/// whether the agent asked for a fresh session (its refresh file exists) before it exited;
/// `kill_requested` whether its record carries a kill request (`sessions kill` may signal
/// the agent directly).
pub fn judge(exit: Exit, stopped: Option<Stop>, refresh_asked: bool, kill_requested: bool) -> (EndReason, Next) {
    let stopped = stopped.or(match (refresh_asked, kill_requested) {
        (_, true) => Some(Stop::Killed),
        (true, false) => Some(Stop::Refresh),
        (false, false) => None,
    });
    match stopped {
        Some(Stop::Refresh) => (EndReason::Refresh, Next::Refresh),
        Some(Stop::Interrupted) => (EndReason::Interrupted, Next::Release),
        Some(Stop::Killed) => (
            EndReason::Killed,
            Next::Fail("the session was killed on request".into()),
        ),
        Some(Stop::Timeout(secs)) => (
            EndReason::Timeout,
            Next::Fail(format!("the agent ran past the session timeout of {secs}s")),
        ),
        None => match exit {
            Exit::Code(0) => (EndReason::Exited { code: 0 }, Next::Done),
            Exit::Code(code) => (
                EndReason::Exited { code },
                Next::Fail(format!("the agent exited with status {code}")),
            ),
            Exit::Signal(signal) => (
                EndReason::Crashed { signal },
                Next::Fail(format!("the agent crashed (signal {signal})")),
            ),
            Exit::Unknown => (
                EndReason::Crashed { signal: 0 },
                Next::Fail("the agent ended without an exit status".into()),
            ),
        },
    }
}

/// The context percentage at which a session hands over to a fresh one: the stage's
/// `context_budget`, else the run's default (0: none).
pub fn context_budget(task: &Task, run_default: u64) -> Option<u8> {
    let stage = task
        .stage_data
        .context_budget
        .as_ref()
        .and_then(|stored| stored.ok().copied().flatten());
    let budget = stage.unwrap_or(run_default);
    u8::try_from(budget).ok().filter(|budget| (1..=100).contains(budget))
}

/// Whether a handoff reporting `context_percent` asks for a fresh session under `budget`.
pub fn over_budget(context_percent: Option<u8>, budget: Option<u8>) -> bool {
    matches!((context_percent, budget), (Some(used), Some(budget)) if used >= budget)
}

/// How the tasks stand, as far as the end of a run is concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    pub ready: usize,
    /// Sessions this runner is running.
    pub running: usize,
    /// Live claims, this runner's and others'.
    pub claimed: usize,
    /// Open merge requests.
    pub queued: usize,
    /// Failed tasks waiting for their retry.
    pub failed: usize,
    pub dead: usize,
    pub blocked: usize,
    /// Done tasks (merged or not) and cancelled ones.
    pub finished: usize,
    /// Done tasks whose work is not on the target yet.
    pub unmerged: usize,
}

/// How a run that waits for completion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Something can still move: keep going.
    Working,
    /// Every task is finished (and merged, when merging).
    AllDone,
    /// Nothing can move, but tasks are dead, blocked or unmerged.
    Stuck,
}

/// Whether a run is over: nothing ready, running, claimed, queued or waiting for a retry.
pub fn completion(standing: &Standing, merging: bool) -> Completion {
    let moving = standing.ready + standing.running + standing.claimed + standing.queued + standing.failed;
    if moving > 0 {
        return Completion::Working;
    }
    let unfinished = standing.dead + standing.blocked + if merging { standing.unmerged } else { 0 };
    match unfinished {
        0 => Completion::AllDone,
        _ => Completion::Stuck,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards: an agent's own "success" (exit 0) being recorded as done without the checks.
    #[test]
    fn exit_zero_only_leads_to_the_checks() {
        assert_eq!(
            judge(Exit::Code(0), None, false, false),
            (EndReason::Exited { code: 0 }, Next::Done)
        );
    }

    #[test]
    fn failures_carry_their_reason() {
        let (reason, next) = judge(Exit::Code(3), None, false, false);
        assert_eq!(reason, EndReason::Exited { code: 3 });
        assert_eq!(next, Next::Fail("the agent exited with status 3".into()));
        let (reason, next) = judge(Exit::Signal(9), None, false, false);
        assert_eq!(reason, EndReason::Crashed { signal: 9 });
        assert!(matches!(next, Next::Fail(why) if why.contains("signal 9")));
        let (reason, _) = judge(Exit::Signal(9), Some(Stop::Timeout(5)), false, false);
        assert_eq!(reason, EndReason::Timeout);
    }

    // Guards: a refresh being counted as a failure, or a kill request being missed because the
    // agent died of the SIGTERM `sessions kill` sent it directly.
    #[test]
    fn what_was_asked_wins_over_how_the_agent_exited() {
        assert_eq!(
            judge(Exit::Code(0), None, true, false),
            (EndReason::Refresh, Next::Refresh)
        );
        assert_eq!(
            judge(Exit::Signal(15), Some(Stop::Refresh), false, false).1,
            Next::Refresh
        );
        assert_eq!(judge(Exit::Signal(15), None, false, true).0, EndReason::Killed);
        assert_eq!(
            judge(Exit::Signal(15), Some(Stop::Interrupted), false, false),
            (EndReason::Interrupted, Next::Release)
        );
    }

    #[test]
    fn a_budget_is_met_at_or_above_it() {
        assert!(over_budget(Some(40), Some(40)));
        assert!(over_budget(Some(90), Some(40)));
        assert!(!over_budget(Some(39), Some(40)));
        assert!(!over_budget(None, Some(40)));
        assert!(!over_budget(Some(99), None));
    }

    #[test]
    fn a_run_is_over_only_when_nothing_can_move() {
        let idle = Standing {
            finished: 3,
            ..Standing::default()
        };
        assert_eq!(completion(&idle, true), Completion::AllDone);
        for working in [
            Standing { ready: 1, ..idle },
            Standing { claimed: 1, ..idle },
            Standing { queued: 1, ..idle },
            Standing { failed: 1, ..idle },
        ] {
            assert_eq!(completion(&working, true), Completion::Working, "{working:?}");
        }
        assert_eq!(completion(&Standing { dead: 1, ..idle }, true), Completion::Stuck);
        let unmerged = Standing { unmerged: 1, ..idle };
        assert_eq!(completion(&unmerged, true), Completion::Stuck);
        assert_eq!(completion(&unmerged, false), Completion::AllDone);
    }
}
