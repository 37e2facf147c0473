//! Publishing a write: with a coordination remote, the remote accepts it before any local ref
//! moves; without one, the local transaction is the whole write.
//!
//! With a remote, the new versions (already written as objects) are pushed in one atomic push,
//! each ref with a lease on the value the remote was last seen to hold (the mirror under
//! `refs/loom-remote/<remote>/`). Only when the remote accepts do the local refs move, with the
//! usual compare-and-swap on the tips the operation read. So:
//! - a claim is exclusive across every clone of the remote: its create-only lease fails when
//!   another clone's claim got there first;
//! - a holder whose claim was swept and granted again elsewhere is refused on its next
//!   heartbeat, release, done or fail, and its work is not recorded;
//! - nothing changes locally that the remote did not accept: an unreachable remote is an error
//!   naming it, and leaves the local refs as they were.
//!
//! Once the remote accepted, the write is reported as done whatever happens locally: a local
//! ref that another command of this clone moved meanwhile is settled to the remote's value (see
//! [`settle`]), never turned into a lost race.
//!
//! A refused push means the remote moved: the remote's refs are fetched and reconciled, and the
//! write reports a conflict, so the operation re-reads and re-applies itself (or, for
//! `claim --next`, moves to another candidate).

use super::remote::{Exchange, exchange};
use super::{Actor, Error, Result};
use crate::store::{self, Expected, PushOutcome, PushUpdate, RefUpdate, Store};

/// Move `updates` locally, after the coordination remote (if the store has one) accepted them.
pub(crate) fn publish(store: &Store, updates: &[RefUpdate], actor: &Actor) -> Result<()> {
    let signature = actor.signature();
    if let Some(remote) = store.publish_remote() {
        let mut pushes = Vec::with_capacity(updates.len());
        for update in updates {
            let mirrored = store.tip(&store::tracking_ref(remote, &update.name))?;
            // The remote's version must be part of what is pushed, or a lease that matches
            // would let the push replace work this clone has not seen.
            if let Some(remote_tip) = mirrored {
                let builds_on_it = match update.expected {
                    Expected::Tip(local_tip) => store.is_ancestor(&update.name, remote_tip, local_tip)?,
                    Expected::Absent => false,
                };
                // A deletion (of a claim) must find on the remote exactly the version it judged:
                // a sweep that saw an expired lease must not delete a newer heartbeat.
                let judged_it = update.expected == Expected::Tip(remote_tip);
                let acceptable = match update.new {
                    Some(_) => builds_on_it,
                    None => judged_it,
                };
                if !acceptable {
                    exchange(store, remote, Exchange::Fetch, actor)?;
                    return Err(conflict(&update.name));
                }
            }
            let mut expected_there = mirrored.map_or(Expected::Absent, Expected::Tip);
            if mirrored.is_none() && update.new.is_none() {
                // Deleting what the remote never had (a claim taken offline) has nothing to
                // send. The mirror alone cannot prove that: the record of a push can be lost to
                // a concurrent writer, and a claim left on the remote would hold a finished
                // task. So the remote itself is asked.
                let Expected::Tip(local_tip) = update.expected else {
                    continue;
                };
                match store.remote_tip(remote, &update.name)? {
                    None => continue,
                    Some(there) if there == local_tip => expected_there = Expected::Tip(there),
                    Some(_) => {
                        exchange(store, remote, Exchange::Fetch, actor)?;
                        return Err(conflict(&update.name));
                    }
                }
            }
            pushes.push(PushUpdate {
                name: update.name.clone(),
                expected: expected_there,
                new: update.new,
            });
        }
        // A remote that has never seen this repository's meta gets it with the first write,
        // so that clones of it can read what is pushed.
        let meta_pushed = pushes.iter().any(|push| push.name == store::META_REF);
        if !meta_pushed
            && store.tip(&store::tracking_ref(remote, store::META_REF))?.is_none()
            && let Some(meta) = store.tip(store::META_REF)?
        {
            pushes.push(PushUpdate {
                name: store::META_REF.to_owned(),
                expected: Expected::Absent,
                new: Some(meta),
            });
        }
        match store.push_loom(remote, &pushes, &signature)? {
            PushOutcome::Accepted => {}
            PushOutcome::Rejected(refused) => {
                exchange(store, remote, Exchange::Fetch, actor)?;
                let names: Vec<&str> = refused.iter().map(|(name, _)| name.as_str()).collect();
                return Err(conflict(&names.join(", ")));
            }
        }
        // The write happened: the remote holds it. Another command of this clone may have
        // brought some of it here already (its fetch saw the push), so a local ref that moved
        // is settled rather than reported as a lost race, which would make the caller retry,
        // or give up on, a write that is already recorded.
        return match store.apply(updates, &signature) {
            Err(store::Error::Conflict { .. }) => settle(store, updates, &signature),
            other => Ok(other?),
        };
    }
    store.apply(updates, &signature)?;
    Ok(())
}

/// Bring each local ref of an accepted write to what the remote now holds, unless it already
/// holds that or a later version. A task ref that diverged (a write made here `--offline`
/// meanwhile) is left for the next sync to join; a claim ref takes the remote's value when it
/// still holds the claim this write replaced (the remote decides claims).
fn settle(store: &Store, updates: &[RefUpdate], signature: &store::Signature) -> Result<()> {
    for update in updates {
        for _ in 0..SETTLE_ATTEMPTS {
            let local = store.tip(&update.name)?;
            if local == update.new {
                break;
            }
            let take = match (local, update.new) {
                (None, _) => true,
                (Some(local), Some(new)) if store.is_ancestor(&update.name, new, local)? => false,
                // A claim here that is not the one this write replaced was granted after it
                // (the write's lease held on the remote): it is someone's, and stays.
                (Some(local), _) if store::claim_id_from_ref(&update.name).is_some() => match update.expected {
                    Expected::Absent => true,
                    Expected::Tip(old) => local == old || store.is_ancestor(&update.name, old, local)?,
                },
                (Some(local), Some(new)) => store.is_ancestor(&update.name, local, new)?,
                (Some(_), None) => true,
            };
            if !take {
                break;
            }
            let step = RefUpdate {
                name: update.name.clone(),
                expected: local.map_or(Expected::Absent, Expected::Tip),
                new: update.new,
            };
            match store.apply(std::slice::from_ref(&step), signature) {
                Err(store::Error::Conflict { .. }) => continue,
                other => {
                    other?;
                    break;
                }
            }
        }
    }
    super::cache::board::forget(&store.local_dir());
    Ok(())
}

/// How often one local ref is read and moved again while other commands keep moving it.
const SETTLE_ATTEMPTS: u32 = 8;

fn conflict(ref_name: &str) -> Error {
    Error::Store(store::Error::Conflict {
        ref_name: ref_name.to_owned(),
    })
}
