//! How two versions of an entity relate: whether one descends from the other, and where two
//! diverged histories last agreed.
//!
//! Entity histories are short chains (a task's edits, a claim's heartbeats), joined by a merge
//! commit wherever two clones reconciled, so a plain walk over the commits is enough. The merge
//! base is chosen deterministically (the newest common ancestor by commit time, then id), so two
//! clones reconciling the same pair of tips pick the same base.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Error, ObjectId, Result, Store};

/// How far an ancestry walk goes before it gives up: far beyond any real entity history, but
/// a bound all the same.
const MAX_WALK: usize = 100_000;

impl Store {
    /// The parents of a commit and its commit time (seconds).
    fn parents_and_time(&self, ref_name: &str, id: ObjectId) -> Result<(Vec<ObjectId>, i64)> {
        let corrupt = |problem: String| Error::Corrupt {
            ref_name: ref_name.to_owned(),
            problem,
        };
        let commit = self
            .gix()
            .find_commit(id)
            .map_err(|err| corrupt(format!("{id} is not a readable commit: {err}")))?;
        let decoded = commit
            .decode()
            .map_err(|err| corrupt(format!("commit {id} cannot be parsed: {err}")))?;
        let seconds = decoded
            .committer()
            .map_err(|err| corrupt(format!("commit {id} has a bad committer: {err}")))?
            .seconds();
        Ok((decoded.parents().collect(), seconds))
    }

    /// Every commit reachable from `tip` (itself included), with its commit time.
    fn ancestors(&self, ref_name: &str, tip: ObjectId) -> Result<HashMap<ObjectId, i64>> {
        let mut seen = HashMap::new();
        let mut queue = VecDeque::from([tip]);
        while let Some(id) = queue.pop_front() {
            if seen.contains_key(&id) {
                continue;
            }
            if seen.len() >= MAX_WALK {
                return Err(Error::Corrupt {
                    ref_name: ref_name.to_owned(),
                    problem: format!("its history has more than {MAX_WALK} versions"),
                });
            }
            let (parents, time) = self.parents_and_time(ref_name, id)?;
            seen.insert(id, time);
            queue.extend(parents);
        }
        Ok(seen)
    }

    /// Whether `ancestor` is `descendant` itself or reachable from it.
    pub fn is_ancestor(&self, ref_name: &str, ancestor: ObjectId, descendant: ObjectId) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([descendant]);
        while let Some(id) = queue.pop_front() {
            if id == ancestor {
                return Ok(true);
            }
            if !seen.insert(id) {
                continue;
            }
            if seen.len() >= MAX_WALK {
                break;
            }
            queue.extend(self.parents_and_time(ref_name, id)?.0);
        }
        Ok(false)
    }

    /// The newest commit both `a` and `b` descend from (by commit time, then id), or `None` when
    /// their histories share nothing.
    pub fn merge_base(&self, ref_name: &str, a: ObjectId, b: ObjectId) -> Result<Option<ObjectId>> {
        let from_a = self.ancestors(ref_name, a)?;
        let from_b = self.ancestors(ref_name, b)?;
        Ok(from_a
            .iter()
            .filter(|(id, _)| from_b.contains_key(*id))
            .max_by(|(id_x, time_x), (id_y, time_y)| time_x.cmp(time_y).then(id_x.cmp(id_y)))
            .map(|(id, _)| *id))
    }
}
