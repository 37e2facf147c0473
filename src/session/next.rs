//! `next` as one use case: start or resume an agent's working session.
//!
//! An agent that already holds a live claim resumes that task; otherwise the best ready task
//! is claimed (as `claim --next`), after checking what can be known before claiming (a
//! repository that cannot hold a worktree must not take a task away from agents that can).
//! Either way the task's worktree is made or found and its signal written. Should anything
//! after a fresh claim fail, the claim is given back, so the task is not stranded until its
//! lease runs out; the error says whether that worked.

use crate::claims::{ClaimOptions, Credentials, Held, NextFilter};
use crate::loom::{Actor, Error, Loom, Result};
use crate::model::{Claim, Task};

use super::worktree::TaskWorktree;

/// Which task a new session may claim.
#[derive(Debug, Clone, Default)]
pub struct NextOptions {
    /// Only tasks with this label (when claiming).
    pub label: Option<String>,
    /// Lease length for a new claim; the repository's `claims.ttl_secs` when `None`.
    pub ttl_secs: Option<u64>,
}

/// A session that is ready to work in.
#[derive(Debug, Clone)]
pub struct Session {
    /// Whether the agent already held the task (rather than claiming it now).
    pub resumed: bool,
    pub task: Task,
    /// The claim as it stands after the worktree was recorded on it.
    pub claim: Option<Claim>,
    pub worktree: TaskWorktree,
    /// The whole signal the session starts from.
    pub signal: String,
}

impl Loom {
    /// Start or resume `actor`'s session (see the module docs); `None` when the agent holds
    /// nothing and nothing is ready to claim.
    pub fn next_session(&self, options: &NextOptions, actor: &Actor) -> Result<Option<Session>> {
        let (held, resumed) = match self.claim_held_by(&actor.agent)? {
            Some(held) => (held, true),
            None => {
                self.worktree_preflight()?;
                let filter = NextFilter {
                    label: options.label.clone(),
                    priorities: None,
                };
                let claim = ClaimOptions {
                    ttl_secs: options.ttl_secs,
                };
                match self.claim_next(&filter, &claim, actor)? {
                    Some(held) => (held, false),
                    None => return Ok(None),
                }
            }
        };
        match self.start_session(&held, resumed, actor) {
            Ok(session) => Ok(Some(session)),
            Err(err) if !resumed => {
                // The claim was taken for this session only: give it back.
                let credentials = Credentials {
                    token: Some(&held.claim.token),
                    force: false,
                };
                let released = self.release(held.task.id.as_str(), credentials, actor);
                Err(Error::SessionAborted {
                    id: held.task.id,
                    source: Box::new(err),
                    release_error: released.err().map(|err| err.to_string()),
                })
            }
            Err(err) => Err(err),
        }
    }

    /// Make (or find) the worktree of the held task and write its signal.
    fn start_session(&self, held: &Held, resumed: bool, actor: &Actor) -> Result<Session> {
        let worktree = self.worktree_add(held.task.id.as_str(), None, actor)?;
        let (task, signal) = self.signal(held.task.id.as_str(), Some(held.claim.token.clone()))?;
        // Re-read: recording the worktree renewed the claim.
        let claim = self.live_claim_on(&task)?.and_then(|(_, claim)| claim.ok());
        Ok(Session {
            resumed,
            task,
            claim,
            worktree,
            signal,
        })
    }
}
