//! The core's side of a coordination remote: running [`crate::sync`] for a store and dropping
//! the caches of the refs it moved, so every reader after it sees the remote's work.
//!
//! `sync` itself sits below the core and knows nothing of its caches; every caller that
//! reconciles goes through here instead of calling [`Reconciler`] directly.

use std::time::Duration;

use super::{Actor, Error, Loom, Result, cache};
use crate::store::{Store, is_valid_remote_name};
use crate::sync::{Reconciler, SyncReport};

/// The git config key naming the coordination remote.
pub const REMOTE_KEY: &str = "loom.remote";

/// The coordination remote set in git config (`loom.remote`), if any.
pub fn configured_remote(store: &Store) -> Option<String> {
    store.repo().config_string(REMOTE_KEY)
}

/// The remote to exchange with: the one named, else the configured one; either way checked
/// with [`check_remote`].
pub fn remote_for(store: &Store, named: Option<&str>) -> Result<String> {
    let remote = match named {
        Some(name) => name.to_owned(),
        None => configured_remote(store).ok_or(Error::NoRemote)?,
    };
    check_remote(store, &remote)?;
    Ok(remote)
}

/// Whether `name` can coordinate this repository: a plain remote name, of a remote this
/// repository has.
pub fn check_remote(store: &Store, name: &str) -> Result<()> {
    if !is_valid_remote_name(name) {
        return Err(Error::InvalidRemoteName { name: name.to_owned() });
    }
    if !store.has_remote(name) {
        return Err(Error::UnknownRemote { name: name.to_owned() });
    }
    Ok(())
}

/// Make `name` the coordination remote, once checked.
pub fn set_remote(store: &Store, name: &str) -> Result<()> {
    check_remote(store, name)?;
    store.repo().set_local_config(REMOTE_KEY, name)?;
    Ok(())
}

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
    /// The coordination remote this command's writes did not reach, because they were kept
    /// local (`--offline`): the configured one when nothing is published.
    pub fn unpublished_remote(&self) -> Option<String> {
        match self.store.publish_remote() {
            Some(_) => None,
            None => configured_remote(&self.store).filter(|name| !name.trim().is_empty()),
        }
    }

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
