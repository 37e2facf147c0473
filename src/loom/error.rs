//! The errors of git-loom's use cases, in one enum so that every front end (the CLI's exit
//! codes and hints, and the JSON error codes of the shared API) maps them in one place.
//!
//! A damaged record under `refs/loom/` is always [`store::Error::Corrupt`], naming its ref,
//! whatever the entity (task, claim, handoff, meta).

use crate::graph::Cycle;
use crate::model::{IdError, Status, TaskId, TransitionError};
use crate::store;

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
    /// Under `[merge] gate = "merged"`: every dependency is done, but the work of these is
    /// not merged into the target yet.
    #[error("{id} is not ready: the work of {} is not merged yet", join_ids(.deps))]
    AwaitingMerge { id: TaskId, deps: Vec<TaskId> },
    /// Under `[merge] gate = "done"`: a task's branch would start from its dependencies'
    /// branches merged onto `base` in id order, and some do not merge cleanly.
    #[error(
        "cannot start {id} from its dependencies' work: merging {} onto {base} (in id order), {}",
        join_ids(.deps),
        conflicts_text(.conflicts)
    )]
    DependencyConflict {
        id: TaskId,
        base: String,
        deps: Vec<TaskId>,
        /// Each dependency whose branch conflicted, with the conflicting paths.
        conflicts: Vec<(TaskId, Vec<String>)>,
    },
    /// Under `[merge] gate = "done"`: a done dependency's work is neither on its branch nor at
    /// the commit it recorded, in this repository.
    #[error(
        "cannot start {id} from its dependencies' work: the work of {dep} (branch {branch}) is not in this repository"
    )]
    DependencyWorkMissing { id: TaskId, dep: TaskId, branch: String },
    #[error("{id} is {status}, not dead")]
    NotDead { id: TaskId, status: Status },
    #[error("this is a bare repository: task worktrees need a working tree")]
    BareRepository,
    #[error("no target branch: the main working tree has no branch checked out")]
    NoTargetBranch,
    #[error("the target branch {branch:?} has no commits yet, so a task worktree has nothing to start from")]
    UnbornTarget { branch: String },
    /// Reconciling with a coordination remote failed for a reason of its own.
    #[error(transparent)]
    Sync(crate::sync::Error),
    /// A title or label a task cannot have.
    #[error(transparent)]
    Field(#[from] crate::model::task::FieldError),
    /// No remote was named and none is configured.
    #[error("no remote named and no coordination remote set")]
    NoRemote,
    /// A remote name that cannot be used as a coordination remote.
    #[error(
        "{name:?} cannot be used as a coordination remote: use a remote name made of letters, digits, `-`, `_` and `.`"
    )]
    InvalidRemoteName { name: String },
    /// A remote this repository does not have.
    #[error("no remote named {name:?} in this repository")]
    UnknownRemote { name: String },
    /// The configured signal template cannot be read.
    #[error("cannot read the signal template {}: {source}", .path.display())]
    SignalTemplate {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A session could not start after its task was claimed for it; the claim was given back
    /// unless `release_error` says why not.
    #[error("{source}")]
    SessionAborted {
        id: TaskId,
        source: Box<Error>,
        release_error: Option<String>,
    },
    /// The remote's copy of a task's branch has commits the finished work lacks.
    #[error("{remote} has {branch} at a commit the work does not contain: {why}")]
    BranchDiverged {
        remote: String,
        branch: String,
        why: String,
    },
    /// The target branch merge requests name does not exist (here, or on the remote).
    #[error("the target branch {branch:?} of the queued merge requests does not exist")]
    MissingTarget { branch: String },
    /// Another merge engine runs in this repository.
    #[error("another `git loom merge` is running in this repository")]
    MergeBusy,
    /// A task with no merge request (it was never finished on a branch).
    #[error("{id} has no merge request: it was not finished on a branch")]
    NoMergeRequest { id: TaskId },
    /// A merge request state change the rules do not allow.
    #[error(transparent)]
    MergeMove(#[from] crate::model::merge_request::MoveError),
    /// No agent session matches what was typed.
    #[error("no session matches {query:?}")]
    UnknownSession { query: String },
    /// An abbreviated session id that several sessions start with.
    #[error("{query:?} is ambiguous: it matches sessions {}", .candidates.join(", "))]
    AmbiguousSession { query: String, candidates: Vec<String> },
    /// A change to a session that already ended.
    #[error(transparent)]
    SessionEnded(#[from] crate::model::agent_session::AlreadyEnded),
    /// Another merge engine holds the merge lease (on this clone or another).
    #[error("the merge queue is served by {holder} (its lease runs until {expires})")]
    MergeLeaseHeld { holder: String, expires: jiff::Timestamp },
    /// Input that is malformed in itself (an empty title, a bad label).
    #[error("{0}")]
    Invalid(String),
    /// Something failed that is not the user's doing.
    #[error("{0}")]
    Internal(String),
}

fn conflicts_text(conflicts: &[(TaskId, Vec<String>)]) -> String {
    let each: Vec<String> = conflicts
        .iter()
        .map(|(dep, paths)| format!("{dep} conflicts in {}", paths.join(", ")))
        .collect();
    each.join("; ")
}

fn join_ids(ids: &[TaskId]) -> String {
    ids.iter().map(TaskId::as_str).collect::<Vec<_>>().join(", ")
}

impl Error {
    /// A stored record under `ref_name` that cannot be read: one error for every entity.
    pub(crate) fn corrupt(ref_name: impl Into<String>, problem: impl Into<String>) -> Error {
        Error::Store(store::Error::Corrupt {
            ref_name: ref_name.into(),
            problem: problem.into(),
        })
    }

    /// Whether another writer changed what this operation read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Store(store::Error::Conflict { .. }))
    }
}

impl From<crate::sync::Error> for Error {
    fn from(err: crate::sync::Error) -> Self {
        match err {
            crate::sync::Error::Store(err) => Error::Store(err),
            other => Error::Sync(other),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
