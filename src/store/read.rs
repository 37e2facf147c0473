//! Reading entities: ref tips, one version of an entity, and an entity's whole history.
//!
//! Readers take no lock: a command reads the tips it needs once and works from that snapshot.
//! A ref or object that cannot be read is reported as [`Error::Corrupt`] naming the ref, so the
//! caller can set that one entity aside and carry on with the rest.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use jiff::Timestamp;

use super::{Error, ObjectId, Result, Store};

/// A ref and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTip {
    pub name: String,
    pub tip: ObjectId,
}

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
    /// The commit a ref points at, or `None` if the ref does not exist.
    pub fn tip(&self, ref_name: &str) -> Result<Option<ObjectId>> {
        let reference = self
            .repo
            .try_find_reference(ref_name)
            .map_err(|source| Error::Corrupt {
                ref_name: ref_name.to_owned(),
                problem: format!("the ref cannot be read: {source}"),
            })?;
        match reference {
            None => Ok(None),
            Some(reference) => match reference.target().try_id() {
                Some(id) => Ok(Some(id.to_owned())),
                None => Err(Error::Corrupt {
                    ref_name: ref_name.to_owned(),
                    problem: "the ref is symbolic, not a commit".into(),
                }),
            },
        }
    }

    /// Every ref under `prefix` with its tip, in name order, plus the refs that could not be read.
    pub fn list(&self, prefix: &str) -> Result<(Vec<RefTip>, Vec<Error>)> {
        let platform = self
            .repo
            .references()
            .map_err(Error::git("cannot read the references"))?;
        let iter = platform
            .prefixed(prefix)
            .map_err(Error::git(format!("cannot list {prefix}")))?;
        let mut tips = Vec::new();
        let mut broken = Vec::new();
        for item in iter {
            match item {
                Ok(reference) => {
                    let name = reference.name().as_bstr().to_string();
                    match reference.target().try_id() {
                        Some(id) => tips.push(RefTip {
                            name,
                            tip: id.to_owned(),
                        }),
                        None => broken.push(Error::Corrupt {
                            ref_name: name,
                            problem: "the ref is symbolic, not a commit".into(),
                        }),
                    }
                }
                Err(err) => broken.push(Error::Corrupt {
                    ref_name: prefix.to_owned(),
                    problem: format!("a ref under it cannot be read: {err}"),
                }),
            }
        }
        tips.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((tips, broken))
    }

    /// Read the version of the entity at `ref_name` that `commit_id` records.
    pub fn read_version(&self, ref_name: &str, commit_id: ObjectId) -> Result<EntityVersion> {
        let corrupt = |problem: String| Error::Corrupt {
            ref_name: ref_name.to_owned(),
            problem,
        };
        let commit = self
            .repo
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
            .repo
            .find_tree(tree_id)
            .map_err(|err| corrupt(format!("tree {tree_id} cannot be read: {err}")))?;
        let mut files = BTreeMap::new();
        for entry in tree.iter() {
            let entry = entry.map_err(|err| corrupt(format!("tree {tree_id} cannot be parsed: {err}")))?;
            if !entry.mode().is_blob() {
                continue;
            }
            let blob = self
                .repo
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
