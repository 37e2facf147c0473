//! The transaction core every use case builds on, as jj's `Transaction` and gix's
//! `Repository` are: [`Loom`] (an initialised repository, its meta and settings), [`Actor`]
//! (who acts, and when), snapshots of every task, the `workset` that writes one atomic ref
//! transaction, publishing through a coordination remote, and the caches.
//!
//! Each write follows one pattern: read what it needs (a single task, or a snapshot of all of
//! them), compute the new versions in memory (status changes only through the state machine),
//! and publish them in one ref transaction that expects every tip it read. When another writer
//! got there first the operation re-reads and re-applies its intent, a bounded number of times
//! (`with_retries`), before reporting the conflict.
//!
//! Data flows one way: the use-case modules ([`crate::tasks`], [`crate::claims`],
//! [`crate::session`], [`crate::project`]) call down into this core, which calls down into
//! [`crate::sync`] and [`crate::store`]; nothing here calls up.

pub(crate) mod cache;
mod error;
pub(crate) mod publish;
pub(crate) mod read;
pub mod remote;
mod retry;
pub(crate) mod snapshot;
pub(crate) mod workset;

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use jiff::Timestamp;

use crate::model::{Entity, IdQuery, Meta, Settings, TaskId};
use crate::store::{self, Signature, Store};

pub use cache::board::{BoardProblem, BoardReady, BoardRow, BoardView, NEXT_TRUSTS_BOARD_FOR};
pub use cache::board_json::{BoardJson, JsonListing, JsonRenderer, array_element, write_array};
pub use error::{Error, Result};
pub use read::TaskEntry;
pub(crate) use retry::with_retries;
pub use snapshot::{ListFilter, Problem, ReadyTask, Snapshot};
pub use workset::Written;

/// Who is acting, and when. Supplied by the caller: the library never reads the clock's
/// environment or the user's identity itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub agent: String,
    pub now: Timestamp,
}

impl Actor {
    pub(crate) fn signature(&self) -> Signature {
        Signature {
            name: self.agent.clone(),
            time: self.now,
        }
    }
}

/// An initialised repository: its store, its meta record and its shared settings.
///
/// A command that runs once reads the meta record when it loads and keeps it: everything it
/// judges then follows one set of settings. A long-lived process (a server answering many
/// requests) asks to [`follow_meta`](Loom::follow_meta) instead, and then sees new settings as
/// soon as `refs/loom/meta` moves, whoever moved it.
pub struct Loom {
    pub(crate) store: Store,
    loaded: RwLock<Arc<Loaded>>,
    follow_meta: bool,
    /// Renders the `--json` text kept with every board this process builds, when the front
    /// end that owns the wire shapes gave one (see [`Loom::rendering_json`]).
    json_renderer: Option<JsonRenderer>,
}

/// The meta record as last read, and the version it was read from.
#[derive(Debug)]
struct Loaded {
    tip: store::ObjectId,
    meta: Arc<Meta>,
    settings: Arc<Settings>,
}

pub(crate) const META_FILE: &str = Meta::FILE;
pub(crate) const SETTINGS_FILE: &str = "loom.toml";

impl Loom {
    /// Open the initialised repository containing `path`.
    pub fn open(path: &Path) -> Result<Loom> {
        Loom::load(Store::discover(path)?)
    }

    /// Use an already opened store; fails if the repository was never initialised.
    pub fn load(mut store: Store) -> Result<Loom> {
        let (tip, (meta, settings), _) = read_meta(&store)?.ok_or(Error::NotInitialized)?;
        store.set_stale_lock_after(std::time::Duration::from_secs(settings.locks.stale_after_secs));
        let loaded = Loaded {
            tip,
            meta: Arc::new(meta),
            settings: Arc::new(settings),
        };
        Ok(Loom {
            store,
            loaded: RwLock::new(Arc::new(loaded)),
            follow_meta: false,
            json_renderer: None,
        })
    }

    /// Keep the `--json` text of every task, rendered by `render`, with every board this
    /// process builds, so that a later `--json` listing copies it instead of rebuilding the
    /// board (the core owns no wire shape; the layer that does hands its renderer in).
    pub fn rendering_json(mut self, render: JsonRenderer) -> Loom {
        self.json_renderer = Some(render);
        self
    }

    /// Re-read the meta record and settings whenever `refs/loom/meta` has moved since they were
    /// last read, for a process that lives across many changes. A version that cannot be read
    /// or no longer validates leaves the last good one in use (the command that wrote it, and
    /// `git loom doctor`, report it).
    pub fn follow_meta(mut self) -> Loom {
        self.follow_meta = true;
        self
    }

    pub fn meta(&self) -> Arc<Meta> {
        Arc::clone(&self.current().meta)
    }

    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.current().settings)
    }

    /// The branch task branches start from and merge back into: `[worktrees] target`, else
    /// the branch the main working tree has checked out.
    pub fn target_branch(&self) -> Option<String> {
        let settings = self.settings();
        let configured = settings.worktrees.target.trim();
        match configured.is_empty() {
            true => self.store.repo().head_branch(),
            false => Some(configured.to_owned()),
        }
    }

    /// The branch a task's work lives on: the one recorded on the task, else `loom/<id>`.
    pub fn task_branch(task: &crate::model::Task) -> String {
        task.branch.clone().unwrap_or_else(|| format!("loom/{}", task.id))
    }

    /// The meta record in use, read again first when following it and it moved.
    fn current(&self) -> Arc<Loaded> {
        let loaded = Arc::clone(&self.loaded.read().unwrap_or_else(PoisonError::into_inner));
        if !self.follow_meta {
            return loaded;
        }
        let moved = match self.store.tip(store::META_REF) {
            Ok(Some(tip)) => tip != loaded.tip,
            _ => false,
        };
        if !moved {
            return loaded;
        }
        match read_meta(&self.store) {
            Ok(Some((tip, (meta, settings), _))) => {
                let fresh = Arc::new(Loaded {
                    tip,
                    meta: Arc::new(meta),
                    settings: Arc::new(settings),
                });
                *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&fresh);
                fresh
            }
            _ => loaded,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Turn what a user typed into the id of an existing task.
    ///
    /// Input spelled `loom-` and hex digits is a task id (or an abbreviation of one) and is
    /// looked up among the task refs alone. Anything else may also be a plan's stage id, which
    /// only the tasks themselves record, so it is resolved against a snapshot as
    /// [`Snapshot::resolve`] does (statuses do not matter, so any moment will do).
    pub fn resolve(&self, input: &str) -> Result<TaskId> {
        if !input.starts_with(crate::model::id::ID_PREFIX) || IdQuery::parse(input).is_err() {
            return self.snapshot(Timestamp::UNIX_EPOCH)?.resolve(input);
        }
        match IdQuery::parse(input)? {
            IdQuery::Full(id) => match self.store.tip(&store::task_ref(&id))? {
                Some(_) => Ok(id),
                None => Err(Error::UnknownTask {
                    query: input.to_owned(),
                }),
            },
            query @ IdQuery::Prefix(_) => {
                let (tips, _) = self.store.list(store::TASKS_PREFIX)?;
                let ids = tips.iter().filter_map(|tip| store::task_id_from_ref(&tip.name));
                resolve_among(input, &query, ids)
            }
        }
    }
}

/// Pick the one id among `ids` that `query` names.
pub(crate) fn resolve_among(input: &str, query: &IdQuery, ids: impl Iterator<Item = TaskId>) -> Result<TaskId> {
    let mut candidates: Vec<TaskId> = ids.filter(|id| query.matches(id)).collect();
    match candidates.len() {
        0 => Err(Error::UnknownTask {
            query: input.to_owned(),
        }),
        1 => Ok(candidates.remove(0)),
        _ => {
            candidates.sort();
            Err(Error::AmbiguousId {
                query: input.to_owned(),
                candidates,
            })
        }
    }
}

/// The tip of `refs/loom/meta`, what it says, and the text of its `loom.toml` as stored.
pub(crate) type MetaRecord = (store::ObjectId, (Meta, Settings), String);

/// `refs/loom/meta` as stored, before its settings are judged: enough to repair settings that
/// no longer validate (see `config`).
pub(crate) struct RawMeta {
    pub tip: store::ObjectId,
    pub meta: Meta,
    /// `meta.json` byte for byte, so a settings edit carries it over unchanged.
    pub meta_blob: Vec<u8>,
    pub settings_text: String,
}

pub(crate) fn read_raw_meta(store: &Store) -> Result<Option<RawMeta>> {
    let Some(tip) = store.tip(store::META_REF)? else {
        return Ok(None);
    };
    let corrupt = |problem: String| Error::corrupt(store::META_REF, problem);
    let version = store.read_version(store::META_REF, tip)?;
    let meta_bytes = store::entity_file(store::META_REF, &version, META_FILE)?;
    let meta = Meta::from_blob(meta_bytes, None).map_err(|err| match err {
        // A whole repository written by a newer git-loom, not one damaged record.
        crate::model::BlobError::NewerSchema { found, supported, .. } => Error::NewerSchema { found, supported },
        other => corrupt(other.to_string()),
    })?;
    let settings_text = match version.files.get(SETTINGS_FILE) {
        None => Settings::default().to_toml(),
        Some(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| corrupt(format!("{SETTINGS_FILE} is not UTF-8 text")))?
        }
    };
    Ok(Some(RawMeta {
        tip,
        meta,
        meta_blob: meta_bytes.to_vec(),
        settings_text,
    }))
}

pub(crate) fn read_meta(store: &Store) -> Result<Option<MetaRecord>> {
    let Some(raw) = read_raw_meta(store)? else {
        return Ok(None);
    };
    let settings = Settings::parse(&raw.settings_text).map_err(|source| Error::Settings {
        ref_name: store::META_REF.to_owned(),
        source,
    })?;
    Ok(Some((raw.tip, (raw.meta, settings), raw.settings_text)))
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
