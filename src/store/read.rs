//! Reading entities: ref tips, one version of an entity, and an entity's whole history.
//!
//! Readers take no lock: a command reads the tips it needs once and works from that snapshot.
//! A ref or object that cannot be read is reported as [`Error::Corrupt`] naming the ref, so the
//! caller can set that one entity aside and carry on with the rest.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use jiff::Timestamp;

use super::{Error, ObjectId, Result, Store};

/// One version of an entity: a commit and the files in its tree.
#[derive(Debug, Clone)]
pub struct EntityVersion {
    pub commit_id: ObjectId,
    pub parents: Vec<ObjectId>,
    pub time: Timestamp,
    pub message: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl EntityVersion {
    /// The first line of the commit message.
    pub fn summary(&self) -> &str {
        self.message.lines().next().unwrap_or_default()
    }

    /// The value of a `Key: value` trailer in the commit message.
    pub fn trailer(&self, key: &str) -> Option<&str> {
        self.message.lines().rev().find_map(|line| {
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(": "))
                .map(str::trim)
        })
    }
}

impl Store {
    /// Read the version of the entity at `ref_name` that `commit_id` records.
    pub fn read_version(&self, ref_name: &str, commit_id: ObjectId) -> Result<EntityVersion> {
        let corrupt = |problem: String| Error::Corrupt {
            ref_name: ref_name.to_owned(),
            problem,
        };
        let commit = self
            .gix()
            .find_commit(commit_id)
            .map_err(|err| corrupt(format!("{commit_id} is not a readable commit: {err}")))?;
        let decoded = commit
            .decode()
            .map_err(|err| corrupt(format!("commit {commit_id} cannot be parsed: {err}")))?;
        let seconds = decoded
            .committer()
            .map_err(|err| corrupt(format!("commit {commit_id} has a bad committer: {err}")))?
            .seconds();
        let time = Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH);
        let message = decoded.message.to_string();
        let parents: Vec<ObjectId> = decoded.parents().collect();
        let tree_id = decoded.tree();
        let tree = self
            .gix()
            .find_tree(tree_id)
            .map_err(|err| corrupt(format!("tree {tree_id} cannot be read: {err}")))?;
        let mut files = BTreeMap::new();
        for entry in tree.iter() {
            let entry = entry.map_err(|err| corrupt(format!("tree {tree_id} cannot be parsed: {err}")))?;
            if !entry.mode().is_blob() {
                continue;
            }
            let blob = self
                .gix()
                .find_blob(entry.oid())
                .map_err(|err| corrupt(format!("blob {} cannot be read: {err}", entry.oid())))?;
            files.insert(entry.filename().to_string(), blob.data.clone());
        }
        Ok(EntityVersion {
            commit_id,
            parents,
            time,
            message,
            files,
        })
    }

    /// Every version reachable from `tip`, newest first (by commit time, then id, so the order is
    /// deterministic even where histories were merged).
    pub fn history(&self, ref_name: &str, tip: ObjectId) -> Result<Vec<EntityVersion>> {
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        struct Pending(Timestamp, ObjectId);
        let mut queue = BinaryHeap::new();
        let mut loaded = HashMap::new();
        let mut versions = Vec::new();
        let first = self.read_version(ref_name, tip)?;
        queue.push(Pending(first.time, tip));
        loaded.insert(tip, Some(first));
        while let Some(Pending(_, id)) = queue.pop() {
            let version = loaded
                .get_mut(&id)
                .and_then(Option::take)
                .expect("every queued id was loaded exactly once because `loaded` dedupes them");
            for parent in &version.parents {
                if !loaded.contains_key(parent) {
                    let older = self.read_version(ref_name, *parent)?;
                    queue.push(Pending(older.time, *parent));
                    loaded.insert(*parent, Some(older));
                }
            }
            versions.push(version);
        }
        Ok(versions)
    }
}
