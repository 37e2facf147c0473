//! The merge lease as use cases: an engine takes `refs/loom/leases/merge` before it serves the
//! queue, renews it while it runs, and gives it back when it stops, so that with a coordination
//! remote one engine at a time serves the queue, whichever clone it runs in.
//!
//! Guarantees: every write states the version it replaces, and with a coordination remote the
//! remote accepts it before the local ref moves, so of two engines that find the lease free
//! exactly one takes it (the other's write is refused, it re-reads, and finds the winner's);
//! a lease its holder stopped renewing runs out by itself, and anyone may take it then; only
//! its holder renews or releases it. A new holder's lease starts a chain of its own (the old
//! one stays reachable as nothing but garbage), so the ref's history is one holder's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::SignedDuration;

use crate::loom::{Actor, Error, Loom, Result, with_retries};
use crate::model::{Entity, MergeLease};
use crate::store::{self, CommitMessage, Expected, ObjectId, RefUpdate};

/// How long a merge engine's lease runs without a renewal.
pub const MERGE_LEASE_TTL: Duration = Duration::from_secs(120);

/// How often a running engine renews its lease: well within its time to live, so a slow
/// remote does not let it run out.
const RENEW_EVERY: Duration = Duration::from_secs(30);

impl Loom {
    /// The merge lease as stored, if any engine ever took one.
    pub fn merge_lease(&self) -> Result<Option<MergeLease>> {
        Ok(self.read_lease()?.map(|(lease, _)| lease))
    }

    /// Take the merge lease for `holder` for `ttl`, or renew it when `holder` has it. Returns
    /// `false`, writing nothing, when someone else holds a lease that has not run out. With a
    /// coordination remote, a lease this clone sees held is looked up on the remote first: it
    /// may have been released or taken over there since the last fetch.
    pub fn merge_lease_acquire(&self, holder: &str, ttl: Duration, actor: &Actor) -> Result<bool> {
        if self.try_acquire_lease(holder, ttl, actor)? {
            return Ok(true);
        }
        match self.refresh(Duration::ZERO, actor)? {
            true => self.try_acquire_lease(holder, ttl, actor),
            false => Ok(false),
        }
    }

    fn try_acquire_lease(&self, holder: &str, ttl: Duration, actor: &Actor) -> Result<bool> {
        let ttl = signed(ttl)?;
        with_retries(|| {
            let Some((lease, tip)) = self.read_lease()? else {
                let lease = MergeLease::new(holder, actor.now, ttl);
                self.write_lease(None, None, &lease, format!("{holder} took the merge lease"), actor)?;
                return Ok(true);
            };
            if lease.holder == holder {
                self.write_renewal(&lease, tip, ttl, actor)?;
                return Ok(true);
            }
            if lease.is_held_at(actor.now) {
                return Ok(false);
            }
            let taken = MergeLease::new(holder, actor.now, ttl);
            let summary = format!("{holder} took the merge lease after {}'s ran out", lease.holder);
            self.write_lease(Some(tip), None, &taken, summary, actor)?;
            Ok(true)
        })
    }

    /// Renew `holder`'s lease for `ttl` from now. Returns `false`, writing nothing, when the
    /// lease is no longer `holder`'s (it ran out and another engine took it).
    pub fn merge_lease_renew(&self, holder: &str, ttl: Duration, actor: &Actor) -> Result<bool> {
        let ttl = signed(ttl)?;
        with_retries(|| {
            let Some((lease, tip)) = self.read_lease()? else {
                return Ok(false);
            };
            if lease.holder != holder {
                return Ok(false);
            }
            self.write_renewal(&lease, tip, ttl, actor)?;
            Ok(true)
        })
    }

    /// Extend `lease` (at `tip`) by `ttl` from now, for its own holder.
    fn write_renewal(&self, lease: &MergeLease, tip: ObjectId, ttl: SignedDuration, actor: &Actor) -> Result<()> {
        let renewed = lease.renewed(actor.now, ttl);
        let summary = format!("{} renewed the merge lease", lease.holder);
        self.write_lease(Some(tip), Some(tip), &renewed, summary, actor)
    }

    /// Give the lease back, so the next engine need not wait for it to run out. Only its
    /// holder releases it: returns `false`, writing nothing, for anyone else.
    pub fn merge_lease_release(&self, holder: &str, actor: &Actor) -> Result<bool> {
        with_retries(|| {
            let Some((lease, tip)) = self.read_lease()? else {
                return Ok(false);
            };
            if lease.holder != holder || !lease.is_held_at(actor.now) {
                return Ok(lease.holder == holder);
            }
            let released = lease.released(actor.now);
            self.write_lease(
                Some(tip),
                Some(tip),
                &released,
                format!("{holder} released the merge lease"),
                actor,
            )?;
            Ok(true)
        })
    }

    /// Run `serve` holding the merge lease as `holder`: taken first (refused with
    /// [`Error::MergeLeaseHeld`] naming the holder when another engine has it), renewed every
    /// [`RENEW_EVERY`] while `serve` runs, released after. `serve` is told, through the flag it
    /// gets, when a renewal found the lease taken by another engine, so it stops landing work.
    pub(crate) fn holding_merge_lease<T>(
        &self,
        holder: &str,
        actor: &Actor,
        serve: impl FnOnce(&AtomicBool) -> Result<T>,
    ) -> Result<T> {
        if !self.merge_lease_acquire(holder, MERGE_LEASE_TTL, actor)? {
            let lease = self.merge_lease()?;
            return Err(Error::MergeLeaseHeld {
                holder: lease.as_ref().map(|l| l.holder.clone()).unwrap_or_default(),
                expires: lease.map_or(actor.now, |l| l.expires),
            });
        }
        let started = Instant::now();
        // The actor's time is the command's; renewals act at that time plus what has passed.
        let at = |started: Instant| Actor {
            agent: actor.agent.clone(),
            now: actor.now + SignedDuration::try_from(started.elapsed()).unwrap_or(SignedDuration::ZERO),
        };
        let lost = AtomicBool::new(false);
        let result = std::thread::scope(|scope| {
            let (stop, stopped) = mpsc::channel::<()>();
            let lost = &lost;
            scope.spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(RENEW_EVERY) {
                    // A renewal that fails (an unreachable remote) is tried again at the next
                    // turn: the lease has time to live left for several of them.
                    if let Ok(false) = self.merge_lease_renew(holder, MERGE_LEASE_TTL, &at(started)) {
                        lost.store(true, Ordering::SeqCst);
                        break;
                    }
                }
            });
            let result = serve(lost);
            drop(stop);
            result
        });
        // Not given back, the lease runs out by itself: a failed release only delays the next
        // engine, so the run's own result is what is reported.
        let _ = self.merge_lease_release(holder, &at(started));
        result
    }

    fn read_lease(&self) -> Result<Option<(MergeLease, ObjectId)>> {
        let Some(tip) = self.store.tip(store::MERGE_LEASE_REF)? else {
            return Ok(None);
        };
        let (lease, _) = self
            .store
            .read_entity::<MergeLease>(store::MERGE_LEASE_REF, tip, None)?;
        Ok(Some((lease, tip)))
    }

    /// Write `lease` in place of the version at `expected`, on top of `parent`.
    fn write_lease(
        &self,
        expected: Option<ObjectId>,
        parent: Option<ObjectId>,
        lease: &MergeLease,
        summary: String,
        actor: &Actor,
    ) -> Result<()> {
        let message = CommitMessage::version(summary, None, &actor.agent, "merge-lease");
        let parents: Vec<ObjectId> = parent.into_iter().collect();
        let commit = self.store.write_version(
            &[(MergeLease::FILE, &lease.to_blob())],
            &parents,
            &message,
            &actor.signature(),
        )?;
        let update = RefUpdate {
            name: store::MERGE_LEASE_REF.to_owned(),
            expected: expected.map_or(Expected::Absent, Expected::Tip),
            new: Some(commit),
        };
        crate::loom::publish::publish(&self.store, &[update], actor)
    }
}

fn signed(ttl: Duration) -> Result<SignedDuration> {
    SignedDuration::try_from(ttl).map_err(|_| Error::Invalid(format!("a lease of {ttl:?} is too long")))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use crate::loom::Error;
    use crate::loom::testing::{Fixture, actor};
    use crate::store;

    const TTL: Duration = Duration::from_secs(60);

    // Guards: a second engine taking a lease that still runs, one that ran out staying blocked,
    // and a holder's renewal or release being done by anyone else.
    #[test]
    fn acquire_renew_expire_and_steal_after_expiry() {
        let fixture = Fixture::new();
        let loom = &fixture.loom;
        assert!(loom.merge_lease().unwrap().is_none(), "no lease before any engine ran");
        assert!(loom.merge_lease_acquire("a", TTL, &actor("a", 10)).unwrap());
        assert!(!loom.merge_lease_acquire("b", TTL, &actor("b", 20)).unwrap());
        assert!(!loom.merge_lease_renew("b", TTL, &actor("b", 20)).unwrap());
        assert!(!loom.merge_lease_release("b", &actor("b", 20)).unwrap());
        assert_eq!(loom.merge_lease().unwrap().unwrap().holder, "a");

        assert!(loom.merge_lease_renew("a", TTL, &actor("a", 60)).unwrap());
        assert_eq!(
            loom.merge_lease().unwrap().unwrap().expires,
            crate::loom::testing::at(120)
        );
        assert!(
            !loom.merge_lease_acquire("b", TTL, &actor("b", 119)).unwrap(),
            "the renewal holds"
        );
        let before = fixture.tip(store::MERGE_LEASE_REF);
        assert!(
            loom.merge_lease_acquire("b", TTL, &actor("b", 120)).unwrap(),
            "ran out: taken"
        );
        let lease = loom.merge_lease().unwrap().unwrap();
        assert_eq!(
            (lease.holder.as_str(), lease.acquired),
            ("b", crate::loom::testing::at(120))
        );
        assert_ne!(fixture.tip(store::MERGE_LEASE_REF), before);
        assert!(
            !loom.merge_lease_renew("a", TTL, &actor("a", 121)).unwrap(),
            "a lost it"
        );

        assert!(loom.merge_lease_release("b", &actor("b", 130)).unwrap());
        assert!(
            loom.merge_lease_acquire("a", TTL, &actor("a", 131)).unwrap(),
            "released: free"
        );
    }

    // Guards: an engine serving the queue while another holds the lease, or keeping the lease
    // after its run.
    #[test]
    fn a_run_holds_the_lease_and_gives_it_back() {
        let fixture = Fixture::new();
        let loom = &fixture.loom;
        assert!(loom.merge_lease_acquire("other", TTL, &actor("other", 0)).unwrap());
        let refused = loom.holding_merge_lease("me", &actor("me", 10), |_| Ok(()));
        assert!(
            matches!(refused, Err(Error::MergeLeaseHeld { ref holder, .. }) if holder == "other"),
            "{refused:?}"
        );
        let seen = loom
            .holding_merge_lease("me", &actor("me", 100), |lost: &AtomicBool| {
                Ok((loom.merge_lease()?.map(|l| l.holder), lost.load(Ordering::SeqCst)))
            })
            .unwrap();
        assert_eq!(seen, (Some("me".to_owned()), false));
        let after = loom.merge_lease().unwrap().unwrap();
        assert!(
            !after.is_held_at(crate::loom::testing::at(101)),
            "released after the run"
        );
    }
}
