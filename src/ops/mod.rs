//! The operations behind git-loom's commands, composed from the model, the store and the graph.
//!
//! Each write follows one pattern: read what it needs (a single task, or a snapshot of all of
//! them), compute the new versions in memory (status changes only through the state machine),
//! and publish them in one ref transaction that expects every tip it read. When another writer
//! got there first the operation re-reads and re-applies its intent, a bounded number of times,
//! before reporting the conflict.

mod board;
mod cache;
mod checks;
mod claim;
mod config;
mod create;
mod doctor;
mod edit;
mod handoff;
mod import;
mod lease;
mod publish;
mod signal;
mod snapshot;
mod sync;
mod workset;
mod worktree;

use std::path::Path;

use jiff::Timestamp;

use crate::graph::Cycle;
use crate::model::meta::SCHEMA_VERSION;
use crate::model::{IdError, IdQuery, Meta, Settings, Status, TaskBlobError, TaskId, TransitionError};
use crate::store::{self, CommitMessage, Expected, RefUpdate, Signature, Store};

pub use board::{BoardProblem, BoardReady, BoardRow, BoardView, NEXT_TRUSTS_BOARD_FOR};
pub use checks::{Checked, DEFAULT_CHECK_TIMEOUT, WorkState, has_checks, short_commit, spec_of};
pub use claim::{ClaimOptions, Credentials, DoneRecord, Held, NextFilter};
pub use config::{ConfigChange, SettingEntry, config_get, config_list, config_set};
pub use create::NewTask;
pub use doctor::{DoctorReport, Finding, FindingKind, doctor};
pub use edit::{CancelOutcome, Changes, EditOutcome};
pub use handoff::HandoffNote;
pub use import::{ImportOutcome, PlanKeys};
pub use lease::{Recovery, SweepOutcome};
pub use signal::{PLACEHOLDERS, SignalInput, render_default, render_template, sections};
pub use snapshot::{ListFilter, Problem, ReadyTask, Snapshot, TaskEntry};
pub use sync::{Reconciler, SyncReport};
pub use workset::Written;
pub use worktree::{Removal, TaskWorktree, WorktreeStatus};

/// Who is acting, and when. Supplied by the caller: the library never reads the clock's
/// environment or the user's identity itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub agent: String,
    pub now: Timestamp,
}

impl Actor {
    fn signature(&self) -> Signature {
        Signature {
            name: self.agent.clone(),
            time: self.now,
        }
    }
}

/// How many times an operation re-reads and re-applies itself after losing a race.
const MAX_ATTEMPTS: u32 = 32;
/// The longest pause between two attempts; pauses grow from 1 ms, doubling, up to this.
const MAX_BACKOFF_MICROS: u32 = 50_000;

/// Errors of git-loom operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("this repository has no git-loom data yet")]
    NotInitialized,
    /// `init` in a clone whose remote already holds a project: it would start a second one.
    #[error("{remote} already has git-loom data (refs/loom/meta): `init` here would start a second, separate project")]
    RemoteHasProject { remote: String },
    #[error("this repository's git-loom data has schema {found}, newer than the {supported} this git-loom understands")]
    NewerSchema { found: u32, supported: u32 },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Repo(#[from] crate::repo::Error),
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("no task matches {query:?}")]
    UnknownTask { query: String },
    #[error("{query:?} is ambiguous: it matches {}", .candidates.iter().map(TaskId::as_str).collect::<Vec<_>>().join(", "))]
    AmbiguousId { query: String, candidates: Vec<TaskId> },
    /// Input that is neither a task id nor the stage id of an imported stage.
    #[error("no task matches {query:?} (as a task id, an abbreviation of one, or a stage id)")]
    UnknownName { query: String },
    /// Input shaped like a stage id that no task has, and that cannot be a task id either.
    #[error("no task matches {query:?}: it is no stage id of a task, and an invalid task id ({reason})")]
    NotIdOrStage { query: String, reason: &'static str },
    /// Input that is the stage id of one task and names another task by its id.
    #[error(
        "{query:?} is ambiguous: it is the stage id of {} and also the start of task id {}",
        join_ids(.stage_tasks),
        join_ids(.id_tasks)
    )]
    StageOrTask {
        query: String,
        stage_tasks: Vec<TaskId>,
        id_tasks: Vec<TaskId>,
    },
    /// A stage id that several plans use.
    #[error("stage id {query:?} is used by several plans: it names {}", join_ids(.candidates))]
    AmbiguousStage { query: String, candidates: Vec<TaskId> },
    #[error("{ref_name}: {problem}")]
    CorruptTask { ref_name: String, problem: String },
    #[error("{ref_name}: loom.toml: {source}")]
    Settings {
        ref_name: String,
        source: crate::model::meta::SettingsError,
    },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("this would create a dependency cycle: {0}")]
    Cycle(Cycle),
    #[error("{id} is {status}, not an epic, so it cannot have children")]
    NotAnEpic { id: TaskId, status: Status },
    #[error("{id} is {status}, not an idea")]
    NotAnIdea { id: TaskId, status: Status },
    #[error("{id} is an epic: it waits for its children, so it cannot have dependencies of its own")]
    EpicWithDeps { id: TaskId },
    #[error("cannot reopen {id}: its epic {epic} is already done")]
    EpicDone { id: TaskId, epic: TaskId },
    #[error("{id} is claimed by {agent}")]
    Claimed { id: TaskId, agent: String },
    #[error("{id} is not claimed")]
    NotClaimed { id: TaskId },
    #[error("{id} is claimed by {holder}, not by you")]
    NotHolder { id: TaskId, holder: String },
    #[error("{id} is {view}, not ready")]
    NotReady { id: TaskId, view: crate::model::View },
    #[error("{id} is {status}, not dead")]
    NotDead { id: TaskId, status: Status },
    #[error("this is a bare repository: task worktrees need a working tree")]
    BareRepository,
    #[error("no target branch: the main working tree has no branch checked out")]
    NoTargetBranch,
    #[error("the target branch {branch:?} has no commits yet, so a task worktree has nothing to start from")]
    UnbornTarget { branch: String },
    /// Input that is malformed in itself (an empty title, a bad label).
    #[error("{0}")]
    Invalid(String),
    /// Something failed that is not the user's doing.
    #[error("{0}")]
    Internal(String),
}

fn join_ids(ids: &[TaskId]) -> String {
    ids.iter().map(TaskId::as_str).collect::<Vec<_>>().join(", ")
}

impl Error {
    /// Whether another writer changed what this operation read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Store(store::Error::Conflict { .. }))
    }
}

impl From<(String, TaskBlobError)> for Error {
    fn from((ref_name, err): (String, TaskBlobError)) -> Self {
        Error::CorruptTask {
            ref_name,
            problem: err.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Run `attempt` until it does not lose a race, at most [`MAX_ATTEMPTS`] times. Each attempt
/// must re-read everything it depends on.
fn with_retries<T>(mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
    let mut tries: u32 = 0;
    loop {
        tries += 1;
        match attempt() {
            Err(err) if err.is_conflict() && tries < MAX_ATTEMPTS => {
                // Spread racing writers apart (exponential backoff, full jitter) so that under
                // contention each attempt is likely to find the refs quiet.
                let ceiling = (1_000u32 << (tries - 1).min(16)).min(MAX_BACKOFF_MICROS);
                let pause = getrandom::u32().unwrap_or(ceiling / 2) % ceiling;
                std::thread::sleep(std::time::Duration::from_micros(u64::from(pause)));
            }
            result => return result,
        }
    }
}

/// An initialised repository: its store, its meta record and its shared settings.
pub struct Loom {
    store: Store,
    meta: Meta,
    settings: Settings,
}

/// What `init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    Created,
    Renamed { from: String },
    AlreadyInitialized,
}

const META_FILE: &str = "meta.json";
const SETTINGS_FILE: &str = "loom.toml";

impl Loom {
    /// Open the initialised repository containing `path`.
    pub fn open(path: &Path) -> Result<Loom> {
        Loom::load(Store::discover(path)?)
    }

    /// Use an already opened store; fails if the repository was never initialised.
    pub fn load(mut store: Store) -> Result<Loom> {
        let (_, (meta, settings), _) = read_meta(&store)?.ok_or(Error::NotInitialized)?;
        store.set_stale_lock_after(std::time::Duration::from_secs(settings.locks.stale_after_secs));
        Ok(Loom { store, meta, settings })
    }

    /// Create `refs/loom/meta`, or leave it as it is (only renaming the project when `name`
    /// differs). The project is named after the working tree's directory when no name is given.
    pub fn init(store: Store, name: Option<&str>, actor: &Actor) -> Result<(Loom, InitOutcome)> {
        let outcome = with_retries(|| init_once(&store, name, actor))?;
        let loom = Loom::load(store)?;
        Ok((loom, outcome))
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
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
fn resolve_among(input: &str, query: &IdQuery, ids: impl Iterator<Item = TaskId>) -> Result<TaskId> {
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
type MetaRecord = (store::ObjectId, (Meta, Settings), String);

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
    let corrupt = |problem: String| Error::CorruptTask {
        ref_name: store::META_REF.to_owned(),
        problem,
    };
    let version = store.read_version(store::META_REF, tip)?;
    let meta_bytes = version
        .files
        .get(META_FILE)
        .ok_or_else(|| corrupt(format!("{META_FILE} is missing")))?;
    let schema =
        crate::model::blob_schema(meta_bytes).map_err(|err| corrupt(format!("{META_FILE} is not valid: {err}")))?;
    if schema > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    let meta: Meta =
        serde_json::from_slice(meta_bytes).map_err(|err| corrupt(format!("{META_FILE} is not valid: {err}")))?;
    let settings_text = match version.files.get(SETTINGS_FILE) {
        None => Settings::default().to_toml(),
        Some(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| corrupt(format!("{SETTINGS_FILE} is not UTF-8 text")))?
        }
    };
    Ok(Some(RawMeta {
        tip,
        meta,
        meta_blob: meta_bytes.clone(),
        settings_text,
    }))
}

fn read_meta(store: &Store) -> Result<Option<MetaRecord>> {
    let Some(raw) = read_raw_meta(store)? else {
        return Ok(None);
    };
    let settings = Settings::parse(&raw.settings_text).map_err(|source| Error::Settings {
        ref_name: store::META_REF.to_owned(),
        source,
    })?;
    Ok(Some((raw.tip, (raw.meta, settings), raw.settings_text)))
}

fn init_once(store: &Store, name: Option<&str>, actor: &Actor) -> Result<InitOutcome> {
    // Raw: settings that no longer validate must not stop a rename (or `init` saying "already
    // initialized"); `config` is how they are repaired.
    let existing = read_raw_meta(store)?;
    let (meta, settings_text, expected, outcome, summary) = match existing {
        Some(RawMeta {
            tip,
            meta,
            settings_text,
            ..
        }) => match name {
            Some(name) if name != meta.project => {
                let from = meta.project.clone();
                let renamed = Meta {
                    project: name.to_owned(),
                    ..meta
                };
                let summary = format!("rename project {from:?} to {name:?}");
                // The settings file is carried over byte for byte: keys and comments this
                // version does not know survive a rename.
                (
                    renamed,
                    settings_text,
                    Expected::Tip(tip),
                    InitOutcome::Renamed { from },
                    summary,
                )
            }
            _ => return Ok(InitOutcome::AlreadyInitialized),
        },
        None => {
            // A clone of a project is joined by syncing, not initialised: a second meta would be
            // replaced by the remote's at the next sync, and meanwhile split the work in two.
            if let Some(remote) = store.publish_remote()
                && store.remote_tip(remote, store::META_REF)?.is_some()
            {
                return Err(Error::RemoteHasProject {
                    remote: remote.to_owned(),
                });
            }
            let project = name.map(str::to_owned).unwrap_or_else(|| default_project_name(store));
            let summary = format!("init project {project:?}");
            let meta = Meta::new(project, actor.now);
            (
                meta,
                Settings::default().to_toml(),
                Expected::Absent,
                InitOutcome::Created,
                summary,
            )
        }
    };
    if meta.project.trim().is_empty() {
        return Err(Error::Invalid("the project name must not be empty".into()));
    }
    let parents: Vec<_> = match expected {
        Expected::Tip(tip) => vec![tip],
        Expected::Absent => vec![],
    };
    let meta_blob = meta.to_blob();
    let message = CommitMessage {
        summary,
        body: None,
        trailers: vec![("Loom-Agent", actor.agent.clone()), ("Loom-Op", "init".into())],
    };
    let signature = actor.signature();
    let commit = store.write_version(
        &[(META_FILE, &meta_blob), (SETTINGS_FILE, settings_text.as_bytes())],
        &parents,
        &message,
        &signature,
    )?;
    publish::publish(
        store,
        &[RefUpdate {
            name: store::META_REF.to_owned(),
            expected,
            new: Some(commit),
        }],
        actor,
    )?;
    Ok(outcome)
}

fn default_project_name(store: &Store) -> String {
    let repo = store.repo();
    let dir = repo.work_dir().unwrap_or_else(|| store.git_dir());
    dir.canonicalize()
        .ok()
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty() && name != ".git")
        .unwrap_or_else(|| "project".to_owned())
}
