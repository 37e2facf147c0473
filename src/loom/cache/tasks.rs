//! A local cache of parsed tasks, keyed by each task ref's tip, so that reading every task
//! (`ready`, `list`, `claim --next`) does not decompress three objects per task each time.
//!
//! Guarantees:
//! - it is only a cache: an entry is used only when the ref still points at the very commit it
//!   was made from, so any ref change (a git-loom write, a plain `git fetch`, `git update-ref`)
//!   invalidates exactly the entries it touched; deleting the file loses nothing;
//! - a cache that is missing, unreadable or from another version is ignored and rebuilt;
//! - it is replaced atomically (written to a temporary file, then renamed), so concurrent
//!   readers and writers only ever see a whole cache, and the last writer wins.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::loom::read::TaskEntry;
use crate::model::compact::CompactTask;
use crate::model::{Task, TaskId};
use crate::store::ObjectId;

/// The first bytes of a cache file; a different version is ignored, never misread.
const MAGIC: &[u8] = b"git-loom task cache v1\n";
const FILE_NAME: &str = "tasks.cache";

#[derive(Serialize, Deserialize)]
struct Record {
    tip: Vec<u8>,
    changed_at: i128,
    last_change: String,
    last_agent: Option<String>,
    task: CompactTask,
}

/// Delete the cache file; the next full read rebuilds it from the refs.
pub(crate) fn forget(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE_NAME));
}

/// Every entry of the cache file in `dir` with the tip it was made from, for checking it
/// against the refs; empty when the file is absent or unusable (it would not be used either).
pub(crate) fn entries(dir: &Path) -> Vec<(TaskId, ObjectId, Task)> {
    let mut cache = TaskCache::load(dir);
    let mut found = Vec::with_capacity(cache.records.len());
    while let Some((id, record)) = cache.records.pop() {
        let Ok(tip) = ObjectId::try_from(record.tip.as_slice()) else {
            continue;
        };
        if let Ok(task) = Task::try_from(record.task) {
            found.push((id, tip, task));
        }
    }
    found
}

/// Cached entries in id order, as loaded from disk.
pub(crate) struct TaskCache {
    path: PathBuf,
    /// Reversed, so that taking entries in id order pops from the end.
    records: Vec<(TaskId, Record)>,
    /// Entries passed over without being taken: tasks whose ref is gone or moved.
    skipped: usize,
}

impl TaskCache {
    /// Load the cache in `dir`; an absent or unusable file gives an empty cache.
    pub(crate) fn load(dir: &Path) -> TaskCache {
        let path = dir.join(FILE_NAME);
        let mut records = std::fs::read(&path)
            .ok()
            .and_then(|bytes| {
                let body = bytes.strip_prefix(MAGIC)?;
                postcard::from_bytes::<Vec<(TaskId, Record)>>(body).ok()
            })
            .filter(|records| records.is_sorted_by(|a, b| a.0 < b.0))
            .unwrap_or_default();
        records.reverse();
        TaskCache {
            path,
            records,
            skipped: 0,
        }
    }

    /// The cached entry for `id` if it was made from the commit `tip`. Ids must be asked for
    /// in increasing order (as refs are listed).
    pub(crate) fn take(&mut self, id: &TaskId, tip: ObjectId) -> Option<TaskEntry> {
        while self.records.last().is_some_and(|(cached, _)| cached < id) {
            self.records.pop();
            self.skipped += 1;
        }
        if self.records.last().is_none_or(|(cached, _)| cached != id) {
            return None;
        }
        let (_, record) = self.records.pop().expect("the last record was just checked to exist");
        if record.tip.as_slice() != tip.as_slice() {
            self.skipped += 1;
            return None;
        }
        Some(TaskEntry {
            task: Task::try_from(record.task).ok()?,
            tip,
            changed_at: Timestamp::from_nanosecond(record.changed_at).ok()?,
            last_change: record.last_change,
            last_agent: record.last_agent,
        })
    }

    /// Whether entries were left that no ref points at any more (deleted tasks).
    pub(crate) fn has_leftovers(&self) -> bool {
        self.skipped > 0 || !self.records.is_empty()
    }

    /// Replace the cache file with exactly `tasks`. Failing to write only costs speed later,
    /// so errors are ignored.
    pub(crate) fn store(self, tasks: &BTreeMap<TaskId, TaskEntry>) {
        let records: Vec<(&TaskId, Record)> = tasks
            .iter()
            .map(|(id, entry)| {
                let record = Record {
                    tip: entry.tip.as_slice().to_vec(),
                    changed_at: entry.changed_at.as_nanosecond(),
                    last_change: entry.last_change.clone(),
                    last_agent: entry.last_agent.clone(),
                    task: CompactTask::from(&entry.task),
                };
                (id, record)
            })
            .collect();
        let Ok(body) = postcard::to_stdvec(&records) else {
            return;
        };
        let Some(dir) = self.path.parent() else { return };
        let _ = std::fs::create_dir_all(dir);
        let Ok(mut file) = tempfile::NamedTempFile::new_in(dir) else {
            return;
        };
        if file.write_all(MAGIC).and_then(|()| file.write_all(&body)).is_ok() {
            let _ = file.persist(&self.path);
        }
    }
}
