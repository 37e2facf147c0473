//! Reconciling the runners' records with a remote: agent sessions and the merge lease.
//!
//! A session's chain is joined like a handoff log when two clones changed it without seeing
//! each other (a kill request written on one, the end written by the runner on the other): a
//! commit with both tips as parents whose `session.json` is [`merge_sessions`] of the two, so
//! an ended session stays ended and a kill request is never lost, and every clone writes the
//! same record. The merge lease is decided by the remote, like a claim: a local version that
//! descends from the remote's (renewals not pushed yet) is pushed; any other difference takes
//! the remote's, because an engine only holds the lease the remote accepted.

use super::{Pair, Plan, Reconciler, Result, SyncReport, local_update, push_update};
use crate::model::Entity;
use crate::model::agent_session::{AgentSession, merge_sessions};
use crate::store::{self, CommitMessage, Expected, ObjectId, Signature};

impl Reconciler<'_> {
    /// A session's chain.
    pub(super) fn reconcile_session(
        &self,
        name: &str,
        pair: Pair,
        actor: &Signature,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some(id) = store::session_id_from_ref(name) else {
            report
                .skipped
                .push((name.to_owned(), "the ref name is not a session id".into()));
            return Ok(());
        };
        let Some((local_tip, remote_tip)) = self.follow(name, &pair, plan, report)? else {
            return Ok(());
        };
        let read = |tip: ObjectId| self.store.read_entity::<AgentSession>(name, tip, None);
        let (ours, theirs) = match (read(local_tip), read(remote_tip)) {
            (Ok((ours, _)), Ok((theirs, _))) => (ours, theirs),
            (Err(store::Error::Corrupt { ref_name, problem }), _)
            | (_, Err(store::Error::Corrupt { ref_name, problem })) => {
                report.skipped.push((ref_name, problem));
                return Ok(());
            }
            (Err(err), _) | (_, Err(err)) => return Err(err.into()),
        };
        let merged = merge_sessions(&ours, &theirs);
        let message = CommitMessage::version(format!("merge session {id}"), Some(&merged.task), &actor.name, "sync");
        let blob = merged.to_blob();
        let commit = self.store.write_version(
            &[(AgentSession::FILE, &blob)],
            &[local_tip, remote_tip],
            &message,
            actor,
        )?;
        plan.local
            .push(local_update(name, Expected::Tip(local_tip), Some(commit)));
        plan.push
            .push(push_update(name, Expected::Tip(remote_tip), Some(commit)));
        Ok(())
    }

    /// A lease that is not a claim (the merge lease): the remote decides.
    pub(super) fn reconcile_lease(
        &self,
        name: &str,
        pair: Pair,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<()> {
        if let Some((local_tip, remote_tip)) = self.follow(name, &pair, plan, report)? {
            plan.local
                .push(local_update(name, Expected::Tip(local_tip), Some(remote_tip)));
            report.taken_from_remote.push(name.to_owned());
        }
        Ok(())
    }
}
