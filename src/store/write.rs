//! Writing entities: new versions as commits, and ref transactions that move refs to them.
//!
//! Guarantees:
//! - a version commit is written to the object database only; HEAD, the index, branches and
//!   working trees are never touched;
//! - every commit carries a random `Loom-Nonce` trailer, so no two writes ever produce the same
//!   commit id (a create-only update that finds the very commit it wants to write would
//!   otherwise succeed for a second writer);
//! - every ref edit states the value it expects, all edits of one call succeed or none does,
//!   and an edit that finds another value, or a ref locked by another writer, fails with
//!   [`Error::Conflict`].

use gix::bstr::BString;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use jiff::Timestamp;

use super::{Error, ObjectId, Result, Store};

/// Who writes a version, and when. Becomes the commit's author and committer.
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: String,
    pub time: Timestamp,
}

impl Signature {
    fn to_gix(&self) -> gix::actor::Signature {
        gix::actor::Signature {
            name: self.name.as_str().into(),
            email: "loom".into(),
            time: gix::date::Time {
                seconds: self.time.as_second(),
                offset: 0,
            },
        }
    }
}

/// The message of a version commit: a summary line saying what happened, an optional body,
/// and `Key: value` trailers. The store appends `Loom-Nonce`.
#[derive(Debug, Clone, Default)]
pub struct CommitMessage {
    pub summary: String,
    pub body: Option<String>,
    pub trailers: Vec<(&'static str, String)>,
}

impl CommitMessage {
    /// The message of a version written by `agent` doing `op`, about `task` when the version
    /// belongs to one: the trailers every reader of a history relies on (`Loom-Task`,
    /// `Loom-Agent`, `Loom-Op`).
    pub fn version(summary: String, task: Option<&crate::model::TaskId>, agent: &str, op: &str) -> CommitMessage {
        let mut trailers = Vec::with_capacity(3);
        if let Some(task) = task {
            trailers.push(("Loom-Task", task.to_string()));
        }
        trailers.push(("Loom-Agent", agent.to_owned()));
        trailers.push(("Loom-Op", op.to_owned()));
        CommitMessage {
            summary,
            body: None,
            trailers,
        }
    }

    fn render(&self, nonce: u64) -> String {
        let summary = self.summary.replace('\n', " ");
        let mut text = summary.trim().to_owned();
        text.push_str("\n\n");
        if let Some(body) = self.body.as_deref().filter(|body| !body.trim().is_empty()) {
            text.push_str(body.trim_end());
            text.push_str("\n\n");
        }
        for (key, value) in &self.trailers {
            text.push_str(&format!("{key}: {}\n", value.replace('\n', " ")));
        }
        text.push_str(&format!("Loom-Nonce: {nonce:016x}\n"));
        text
    }
}

/// What a ref must hold for an edit to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Create only: the ref must not exist.
    Absent,
    /// The ref must still point at this commit.
    Tip(ObjectId),
}

/// One compare-and-swap edit: move `name` from `expected` to `new` (or delete it when `new`
/// is `None`).
#[derive(Debug, Clone)]
pub struct RefUpdate {
    pub name: String,
    pub expected: Expected,
    pub new: Option<ObjectId>,
}

impl Store {
    /// Write the files as a new version on top of `parents` and return the commit id. Nothing
    /// points at the commit until a transaction moves a ref to it.
    pub fn write_version(
        &self,
        files: &[(&str, &[u8])],
        parents: &[ObjectId],
        message: &CommitMessage,
        by: &Signature,
    ) -> Result<ObjectId> {
        let mut entries = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            let blob_id = self.objects.write_buf(gix::objs::Kind::Blob, bytes)?;
            entries.push(gix::objs::tree::Entry {
                mode: gix::objs::tree::EntryKind::Blob.into(),
                filename: (*name).into(),
                oid: blob_id,
            });
        }
        entries.sort();
        let tree_id = self.objects.write(&gix::objs::Tree { entries })?;
        let nonce = getrandom::u64().map_err(Error::Random)?;
        let signature = by.to_gix();
        let commit = gix::objs::Commit {
            tree: tree_id,
            parents: parents.iter().copied().collect(),
            author: signature.clone(),
            committer: signature,
            encoding: None,
            message: BString::from(message.render(nonce)),
            extra_headers: Vec::new(),
        };
        self.objects.write(&commit)
    }

    /// Apply all `updates` atomically, each only if its ref holds the expected value.
    pub fn apply(&self, updates: &[RefUpdate], by: &Signature) -> Result<()> {
        let mut edits = Vec::with_capacity(updates.len());
        for update in updates {
            let name: FullName = update.name.as_str().try_into().map_err(|err| Error::Corrupt {
                ref_name: update.name.clone(),
                problem: format!("not a valid ref name: {err}"),
            })?;
            let expected = match update.expected {
                Expected::Absent => PreviousValue::MustNotExist,
                Expected::Tip(id) => PreviousValue::MustExistAndMatch(Target::Object(id)),
            };
            let change = match update.new {
                Some(new) => Change::Update {
                    log: LogChange {
                        mode: RefLog::AndReference,
                        force_create_reflog: false,
                        message: "git-loom".into(),
                    },
                    expected,
                    new: Target::Object(new),
                },
                None => Change::Delete {
                    expected,
                    log: RefLog::AndReference,
                },
            };
            edits.push(RefEdit {
                change,
                name,
                deref: false,
            });
        }
        let committer = by.to_gix();
        let mut time_buf = gix::date::parse::TimeBuf::default();
        let result = self
            .gix()
            .edit_references_as(edits, Some(committer.to_ref(&mut time_buf)));
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let locked = err.is_retryable();
                let err = classify_transaction_error(err, updates);
                if locked {
                    self.remove_stale_locks(updates);
                }
                Err(err)
            }
        }
    }

    /// Remove lock files of `updates`' refs (and of `packed-refs`) that are older than the
    /// stale-lock age. A writer holds its locks for milliseconds; one that is much older was
    /// left by a process that died mid-write (git cannot clean those up by itself), and would
    /// otherwise block the ref for good. The caller's retry then finds the ref free.
    fn remove_stale_locks(&self, updates: &[RefUpdate]) {
        let now = std::time::SystemTime::now();
        let common = self.gix().common_dir();
        let locks = updates
            .iter()
            .map(|update| common.join(format!("{}.lock", update.name)))
            .chain(std::iter::once(common.join("packed-refs.lock")));
        for lock in locks {
            let stale = std::fs::metadata(&lock)
                .and_then(|meta| meta.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok())
                .is_some_and(|age| age >= self.stale_lock_after);
            if stale {
                let _ = std::fs::remove_file(&lock);
            }
        }
    }
}

/// Turn a failed transaction into [`Error::Conflict`] when another writer got there first:
/// the ref moved, appeared, vanished, or was locked by a concurrent transaction.
fn classify_transaction_error(err: gix::Error, updates: &[RefUpdate]) -> Error {
    use gix::refs::file::transaction::prepare::{MustNotExist, ReferenceOutOfDate};
    let named = err
        .downcast_any_ref::<ReferenceOutOfDate>()
        .map(|e| e.full_name.to_string())
        .or_else(|| err.downcast_any_ref::<MustNotExist>().map(|e| e.full_name.to_string()));
    let lost_race = named.is_some() || err.is_conflict() || err.is_not_found() || err.is_retryable();
    if lost_race {
        let ref_name = named.unwrap_or_else(|| updates.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", "));
        return Error::Conflict { ref_name };
    }
    Error::Git {
        context: "cannot update refs".into(),
        source: err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_has_summary_body_and_trailers() {
        let message = CommitMessage {
            summary: "create loom-00000001: a\nb".into(),
            body: Some("details".into()),
            trailers: vec![("Loom-Agent", "alice".into()), ("Loom-Op", "create".into())],
        };
        assert_eq!(
            message.render(0xab),
            "create loom-00000001: a b\n\ndetails\n\nLoom-Agent: alice\nLoom-Op: create\nLoom-Nonce: 00000000000000ab\n"
        );
    }
}
