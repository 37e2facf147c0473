//! The only code in git-loom that touches git refs and objects.
//!
//! Everything git-loom knows is an *entity*: a ref under `refs/loom/` pointing at a commit whose
//! tree holds a few small files (`task.json`, `meta.json`, …). The store reads entity versions,
//! writes new ones as commits that never touch HEAD, the index, a branch or a working tree, and
//! moves refs only through transactions in which every edit states the value it expects. A ref
//! that changed under us is reported as [`Error::Conflict`], never overwritten.
//!
//! Local work goes through gix in-process. gix does not understand the reftable ref backend, so
//! such repositories are refused at [`Store::discover`] instead of being silently misread.

mod ancestry;
mod entity;
mod health;
mod layout;
mod objects;
mod read;
mod refs;
mod tests_cache;
mod transport;
mod write;

use std::path::{Path, PathBuf};

pub use entity::{entity_file, entity_of};
pub use gix::ObjectId;
pub use health::{Litter, LitterKind, TEMP_FILE_STALE_AFTER};
pub use layout::{
    CANDIDATES_PREFIX, CLAIMS_PREFIX, HANDOFFS_PREFIX, MERGES_PREFIX, META_REF, TASKS_PREFIX, TESTS_PREFIX,
    candidate_ref, claim_id_from_ref, claim_ref, handoff_id_from_ref, handoff_ref, merge_id_from_ref, merge_ref,
    task_id_from_ref, task_ref, test_result_ref,
};
pub use layout::{LEASES_PREFIX, MERGE_LEASE_REF, SESSIONS_PREFIX, session_id_from_ref, session_ref};
pub use read::EntityVersion;
pub use refs::RefTip;
pub use tests_cache::CachedResult;
pub use transport::{
    FetchedRef, PushOutcome, PushProgress, PushUpdate, REMOTE_TRACKING_ROOT, is_valid_remote_name, tracking_prefix,
    tracking_ref,
};
pub use write::{CommitMessage, Expected, RefUpdate, Signature};

/// Errors from reading or writing refs and objects.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a git repository (or any parent up to the filesystem root): {}", .path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: gix::Error,
    },
    #[error(
        "{} uses the reftable ref backend (extensions.refStorage = reftable), which git-loom cannot read or write safely",
        .path.display()
    )]
    Reftable { path: PathBuf },
    /// Another writer moved the ref between our read and our write.
    #[error("{ref_name} was changed by another writer")]
    Conflict { ref_name: String },
    #[error("{ref_name}: {problem}")]
    Corrupt { ref_name: String, problem: String },
    /// A line of `packed-refs` is damaged: git refuses the file too, and reading around it
    /// could hide every ref packed after it.
    #[error("{}: line {line}: {problem}", .path.display())]
    PackedRefs {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    /// A remote could not be reached, does not exist, or refused to talk.
    #[error("remote {remote:?}: {message}")]
    Remote { remote: String, message: String },
    /// `git` ran against `remote` and failed; `stderr` is what it said, on one line.
    #[error("remote {remote:?}: {stderr}")]
    Process {
        remote: String,
        /// The command line, for a caller that shows more than the message.
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    /// A file could not be read or written, or `git` could not be started.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot draw a random nonce: {0}")]
    Random(#[source] getrandom::Error),
    #[error("{context}")]
    Git {
        context: String,
        #[source]
        source: gix::Error,
    },
}

impl Error {
    fn git(context: impl Into<String>) -> impl FnOnce(gix::Error) -> Error {
        let context = context.into();
        move |source| Error::Git { context, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A handle on one repository's loom refs and object database.
///
/// A `Store` may be shared by the threads of one process (it is `Send + Sync`): each thread
/// reads through a repository handle of its own, made on its first use, and loose objects are
/// compressed one at a time.
pub struct Store {
    shared: gix::ThreadSafeRepository,
    /// Each thread's handle on `shared`, with its own object cache.
    local: thread_local::ThreadLocal<gix::Repository>,
    /// The remote every write is published to before local refs move, if any.
    publish_remote: Option<String>,
    objects: objects::LooseWriter,
    /// Lock files at least this old are taken to be left by a dead process.
    stale_lock_after: std::time::Duration,
    /// Told how a push of many refs advances, batch by batch (see [`Store::on_push_progress`]).
    push_progress: Option<PushProgressFn>,
    /// The most bytes of ref arguments one `git push` is given (see `transport`).
    push_batch_bytes: usize,
}

/// Called before each batch of a push and once when the last one landed.
pub type PushProgressFn = std::sync::Arc<dyn Fn(PushProgress) + Send + Sync>;

/// Task blobs are read once per command; a small cache helps repeated tree lookups.
const OBJECT_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// How old a ref lock file must be before it is taken to be left by a dead process.
pub const DEFAULT_STALE_LOCK_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

impl Store {
    /// Open the repository containing `path`, refusing one whose refs gix cannot see.
    pub fn discover(path: &Path) -> Result<Store> {
        let mut repo = gix::discover(path).map_err(|source| Error::NotARepository {
            path: path.to_owned(),
            source,
        })?;
        let uses_reftable = repo
            .config_snapshot()
            .string("extensions.refStorage")
            .is_some_and(|value| value.eq_ignore_ascii_case(b"reftable"));
        if uses_reftable {
            return Err(Error::Reftable {
                path: repo.git_dir().to_owned(),
            });
        }
        repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
        let objects = objects::LooseWriter::new(&repo);
        let shared = repo.clone().into_sync();
        let local = thread_local::ThreadLocal::new();
        // The discovering thread keeps the handle already made rather than making another.
        local.get_or(|| repo);
        Ok(Store {
            publish_remote: None,
            objects,
            shared,
            local,
            stale_lock_after: DEFAULT_STALE_LOCK_AFTER,
            push_progress: None,
            push_batch_bytes: transport::PUSH_BATCH_BYTES,
        })
    }

    /// Publish every write to `remote` before moving local refs (see `loom::publish`); `None`
    /// keeps writes local.
    pub fn set_publish_remote(&mut self, remote: Option<String>) {
        self.publish_remote = remote;
    }

    /// The remote writes are published to, if any.
    pub fn publish_remote(&self) -> Option<&str> {
        self.publish_remote.as_deref()
    }

    /// Be told how pushes of many refs advance (a front end draws a progress bar with it).
    pub fn on_push_progress(&mut self, progress: PushProgressFn) {
        self.push_progress = Some(progress);
    }

    /// Change how old a lock file must be before a writer that finds it removes it.
    pub fn set_stale_lock_after(&mut self, age: std::time::Duration) {
        self.stale_lock_after = age;
    }

    /// The user's repository this store lives in: its working trees, branches and config.
    pub fn repo(&self) -> crate::repo::Repo<'_> {
        crate::repo::Repo::new(self.gix())
    }

    /// This thread's handle on the repository.
    fn gix(&self) -> &gix::Repository {
        self.local.get_or(|| {
            let mut repo = self.shared.to_thread_local();
            repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
            repo
        })
    }

    /// The repository's `.git` directory (for a linked worktree: its private git dir).
    pub fn git_dir(&self) -> &Path {
        self.gix().git_dir()
    }

    /// Where git-loom keeps local files that are not part of the shared state (caches): a
    /// `loom` directory in the repository's common git dir, shared by all its worktrees.
    pub fn local_dir(&self) -> std::path::PathBuf {
        self.gix().common_dir().join("loom")
    }
}

#[cfg(test)]
#[path = "threads_tests.rs"]
mod threads_tests;

#[cfg(test)]
#[path = "push_tests.rs"]
mod push_tests;
