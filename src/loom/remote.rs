//! The core's side of a coordination remote: running [`crate::sync`] for a store and dropping
//! the caches of the refs it moved, so every reader after it sees the remote's work.
//!
//! `sync` itself sits below the core and knows nothing of its caches; every caller that
//! reconciles goes through here instead of calling [`Reconciler`] directly.

use std::time::Duration;

use super::{Actor, Loom, Result, cache};
use crate::store::Store;
use crate::sync::{Reconciler, SyncReport};

/// Which exchange with the remote to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// Fetch and reconcile, pushing nothing.
    Fetch,
    /// Push what the remote can fast-forward to, without fetching first.
    Push,
    /// Fetch, reconcile and push until both sides agree.
    Sync,
}

/// Reconcile `store`'s loom refs with `remote`'s. Works on any repository, initialised or not:
/// a fresh clone's first sync brings everything, `refs/loom/meta` included.
pub fn exchange(store: &Store, remote: &str, exchange: Exchange, actor: &Actor) -> Result<SyncReport> {
    let reconciler = Reconciler::new(store);
    let by = actor.signature();
    let report = match exchange {
        Exchange::Fetch => reconciler.fetch(remote, &by),
        Exchange::Push => reconciler.push(remote, &by),
        Exchange::Sync => reconciler.sync(remote, &by),
    };
    // Refs may have moved even when a later round failed; forgetting costs one rebuild.
    if report.as_ref().map_or(true, |report| report.moved_local) {
        cache::board::forget(&store.local_dir());
    }
    Ok(report?)
}

impl Loom {
    /// With a coordination remote, fetch and reconcile when the last fetch is older than
    /// `max_age`, so that what other clones did since is seen here. Returns whether it fetched.
    pub(crate) fn refresh(&self, max_age: Duration, actor: &Actor) -> Result<bool> {
        let Some(remote) = self.store.publish_remote() else {
            return Ok(false);
        };
        if self.store.fetched_ago(remote).is_some_and(|age| age < max_age) {
            return Ok(false);
        }
        exchange(&self.store, remote, Exchange::Fetch, actor)?;
        Ok(true)
    }
}
