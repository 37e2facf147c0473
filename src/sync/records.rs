//! Reconciling the merge engine's records with a remote: merge requests, test results and the
//! candidates kept for inspection.
//!
//! Merge requests and test results are logs like handoffs: the same tip needs nothing, one side
//! descending from the other fast-forwards, and diverged chains are joined by a commit with
//! both tips as parents, so no attempt or run is lost from the history. The joining record is
//! a pure function of the two tips, so every clone writes the same tree: for a request, one
//! that says `merged` wins (the work is on the target; nothing may queue it again), then the
//! later change, then the one with more attempts; for a test result, the later run. A kept
//! candidate is only there to be looked at: diverged, the remote's is taken and nothing is
//! pushed.

use super::{Pair, Plan, Reconciler, Result, SyncReport, local_update, push_update, sync_message};
use crate::model::{Entity, MergeRequest, MergeState, TaskId, TestResult};
use crate::store::{self, Expected, ObjectId, Signature};

impl Reconciler<'_> {
    /// A merge request's chain.
    pub(super) fn reconcile_merge(
        &self,
        name: &str,
        pair: Pair,
        actor: &Signature,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some(id) = store::merge_id_from_ref(name) else {
            report
                .skipped
                .push((name.to_owned(), "the ref name is not a task id".into()));
            return Ok(());
        };
        let Some((local_tip, remote_tip)) = self.follow(name, &pair, plan, report)? else {
            return Ok(());
        };
        let key = |bytes: &[u8]| {
            let request = MergeRequest::from_blob(bytes, Some(&id)).ok();
            (
                request.as_ref().map(|r| r.state == MergeState::Merged),
                request.as_ref().map(|r| r.updated_at),
                request.map(|r| r.attempts.len()),
                bytes.to_vec(),
            )
        };
        self.join_logs::<MergeRequest, _>(name, Some(&id), local_tip, remote_tip, key, actor, plan, report)
    }

    /// A test result's chain.
    pub(super) fn reconcile_test_result(
        &self,
        name: &str,
        pair: Pair,
        actor: &Signature,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some((local_tip, remote_tip)) = self.follow(name, &pair, plan, report)? else {
            return Ok(());
        };
        let key = |bytes: &[u8]| {
            let result = TestResult::from_blob(bytes, None).ok();
            (result.map(|r| r.at), bytes.to_vec())
        };
        self.join_logs::<TestResult, _>(name, None, local_tip, remote_tip, key, actor, plan, report)
    }

    /// A kept candidate: the remote's wins when the two differ and neither contains the other.
    pub(super) fn reconcile_candidate(
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

    /// Join two diverged chains of the record `T` with a commit holding the record whose `key`
    /// is greater. A side that cannot be read is reported and left as it is.
    #[allow(clippy::too_many_arguments, reason = "the pieces of one join, each used once")]
    fn join_logs<T: Entity, K: Ord>(
        &self,
        name: &str,
        owner: Option<&TaskId>,
        local_tip: ObjectId,
        remote_tip: ObjectId,
        key: impl Fn(&[u8]) -> K,
        actor: &Signature,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<()> {
        let read = |tip| -> Result<Vec<u8>> {
            let version = self.store.read_version(name, tip)?;
            Ok(store::entity_file(name, &version, T::FILE)?.to_vec())
        };
        let (ours, theirs) = match (read(local_tip), read(remote_tip)) {
            (Ok(ours), Ok(theirs)) => (ours, theirs),
            (Err(super::Error::Store(store::Error::Corrupt { ref_name, problem })), _)
            | (_, Err(super::Error::Store(store::Error::Corrupt { ref_name, problem }))) => {
                report.skipped.push((ref_name, problem));
                return Ok(());
            }
            (Err(err), _) | (_, Err(err)) => return Err(err),
        };
        let later = if key(&ours) >= key(&theirs) { ours } else { theirs };
        let summary = format!("merge {}", name.strip_prefix("refs/loom/").unwrap_or(name));
        let message = match owner {
            Some(id) => sync_message(summary, id, actor),
            None => store::CommitMessage::version(summary, None, &actor.name, "sync"),
        };
        let commit = self
            .store
            .write_version(&[(T::FILE, &later)], &[local_tip, remote_tip], &message, actor)?;
        plan.local
            .push(local_update(name, Expected::Tip(local_tip), Some(commit)));
        plan.push
            .push(push_update(name, Expected::Tip(remote_tip), Some(commit)));
        Ok(())
    }
}
