//! Handoffs: the holder of a task leaves an account for whoever works on it next, appended to
//! `refs/loom/handoffs/<id>`. git-loom adds what it can see for itself (the claim's progress,
//! the task branch's commits and changed files), so the next session starts from facts as well
//! as from the previous agent's words.

use crate::claims::Credentials;
use crate::loom::publish::publish;
use crate::loom::{Actor, Error, Loom, Result, with_retries};
use crate::model::handoff::{CommitLine, FileChange, HANDOFF_SCHEMA, Handoff, MAX_LISTED_COMMITS, WorkState};
use crate::model::{Entity, TaskId};
use crate::store::{self, CommitMessage, Expected, RefUpdate};

/// What the agent writes into a handoff.
#[derive(Debug, Clone, Default)]
pub struct HandoffNote {
    pub message: String,
    pub context_percent: Option<u8>,
}

impl Loom {
    /// Append a handoff to a task the caller holds.
    pub fn handoff(
        &self,
        input: &str,
        note: &HandoffNote,
        credentials: Credentials<'_>,
        actor: &Actor,
    ) -> Result<Handoff> {
        if note.message.trim().is_empty() {
            return Err(Error::Invalid("a handoff needs a message".into()));
        }
        if note.context_percent.is_some_and(|percent| percent > 100) {
            return Err(Error::Invalid("--context-percent is a percentage, 0 to 100".into()));
        }
        let entry = self.task(input)?;
        let id = entry.task.id.clone();
        let claim = self.holder_check(&entry.task, credentials, actor)?.claim;
        let branch = claim.branch.clone().unwrap_or_else(|| Loom::task_branch(&entry.task));
        let target = self.target_branch();
        let work = self
            .store
            .repo()
            .branch_work(&branch, target.as_deref().filter(|target| *target != branch))?
            .map(|work| WorkState {
                branch: branch.clone(),
                tip: work.tip.to_string(),
                base: work.base.map(|base| base.to_string()),
                commits_since_base: work.commits_since_base,
                commits: work
                    .commits
                    .into_iter()
                    .take(MAX_LISTED_COMMITS)
                    .map(|(id, summary)| CommitLine {
                        id: id.to_string(),
                        summary,
                    })
                    .collect(),
                files: work
                    .files
                    .into_iter()
                    .map(|(path, added, removed)| FileChange { path, added, removed })
                    .collect(),
            });
        let handoff = Handoff {
            schema: HANDOFF_SCHEMA,
            task: id.clone(),
            agent: actor.agent.clone(),
            at: actor.now,
            message: note.message.trim_end().to_owned(),
            context_percent: note.context_percent,
            progress: claim.progress.clone(),
            percent: claim.percent,
            attempt: Some(claim.attempt),
            work,
            extra: Default::default(),
        };
        let name = store::handoff_ref(&id);
        with_retries(|| {
            let tip = self.store.tip(&name)?;
            if let Some(tip) = tip {
                // The new handoff's parent must be a readable handoff: never extend a chain
                // whose tip is missing or damaged.
                self.store.read_entity::<Handoff>(&name, tip, Some(&id))?;
            }
            let message = CommitMessage::version(
                format!("handoff by {} on {id}", actor.agent),
                Some(&id),
                &actor.agent,
                "handoff",
            );
            let parents: Vec<_> = tip.into_iter().collect();
            let commit = self.store.write_version(
                &[(Handoff::FILE, &handoff.to_blob())],
                &parents,
                &message,
                &actor.signature(),
            )?;
            publish(
                &self.store,
                &[RefUpdate {
                    name: name.clone(),
                    expected: tip.map_or(Expected::Absent, Expected::Tip),
                    new: Some(commit),
                }],
                actor,
            )
        })?;
        Ok(handoff)
    }

    /// A task's handoffs, newest first: only the latest unless `all`.
    pub fn handoffs(&self, input: &str, all: bool) -> Result<(TaskId, Vec<Handoff>)> {
        let id = self.resolve(input)?;
        let handoffs = match all {
            true => self.handoff_history(&id)?,
            false => self.latest_handoff(&id)?.into_iter().collect(),
        };
        Ok((id, handoffs))
    }

    /// The newest handoff of a task, if it has any.
    pub fn latest_handoff(&self, id: &TaskId) -> Result<Option<Handoff>> {
        let name = store::handoff_ref(id);
        let Some(tip) = self.store.tip(&name)? else {
            return Ok(None);
        };
        let version = self.store.read_version(&name, tip)?;
        Ok(Some(store::entity_of::<Handoff>(&name, &version, Some(id))?))
    }

    fn handoff_history(&self, id: &TaskId) -> Result<Vec<Handoff>> {
        let name = store::handoff_ref(id);
        let Some(tip) = self.store.tip(&name)? else {
            return Ok(Vec::new());
        };
        let mut seen = std::collections::HashSet::new();
        let mut handoffs = Vec::new();
        for version in self.store.history(&name, tip)? {
            let handoff = store::entity_of::<Handoff>(&name, &version, Some(id))?;
            // A commit joining two clones' chains repeats one of them: list each handoff once.
            if seen.insert(handoff.to_blob()) {
                handoffs.push(handoff);
            }
        }
        Ok(handoffs)
    }
}
