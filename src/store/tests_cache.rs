//! The test cache under `refs/loom/tests/<spec>/<tree>`: reading the result a test spec left
//! for a tree, and recording a new one.
//!
//! Guarantees: a result is recorded create-only, or on top of the exact version it replaces
//! (which becomes its parent), so two engines racing on one tree never silently overwrite each
//! other: the loser gets [`Error::Conflict`]. A record that cannot be read, or that names
//! another tree or spec than its ref, is [`Error::Corrupt`] naming the ref, handed back with
//! the tip so the caller can replace it.

use super::{CommitMessage, Error, Expected, ObjectId, RefUpdate, Result, Signature, Store, test_result_ref};
use crate::model::{Entity, TestResult};

/// What the cache holds for one (spec, tree): the tip of its ref and the record there, or why
/// that record cannot be used.
#[derive(Debug)]
pub struct CachedResult {
    pub tip: ObjectId,
    pub record: Result<TestResult>,
}

impl Store {
    /// The result recorded for the spec digest `spec` on `tree`, if any.
    pub fn cached_test_result(&self, spec: &str, tree: ObjectId) -> Result<Option<CachedResult>> {
        let tree = tree.to_string();
        let ref_name = test_result_ref(spec, &tree);
        let Some(tip) = self.tip(&ref_name)? else {
            return Ok(None);
        };
        let record = self
            .read_entity::<TestResult>(&ref_name, tip, None)
            .map(|(record, _)| record)
            .and_then(|record| {
                if record.tree != tree || record.spec != spec {
                    return Err(Error::Corrupt {
                        ref_name: ref_name.clone(),
                        problem: format!(
                            "result.json is for tree {} and spec {}, not the ones its ref names",
                            record.tree, record.spec
                        ),
                    });
                }
                Ok(record)
            });
        Ok(Some(CachedResult { tip, record }))
    }

    /// Record `result` at `refs/loom/tests/<result.spec>/<result.tree>`: created when
    /// `replaces` is `None`, else moved from that tip, which becomes the new version's parent.
    /// Returns the new tip.
    pub fn record_test_result(
        &self,
        result: &TestResult,
        replaces: Option<ObjectId>,
        by: &Signature,
    ) -> Result<ObjectId> {
        let ref_name = test_result_ref(&result.spec, &result.tree);
        let verdict = if result.passed { "pass" } else { "fail" };
        let mut message = CommitMessage::version(
            format!("test {verdict}: {}", short(&result.tree)),
            None,
            &result.by,
            "test",
        );
        message.trailers.push(("Loom-Candidate", result.candidate.clone()));
        let blob = result.to_blob();
        let parents: Vec<ObjectId> = replaces.into_iter().collect();
        let commit = self.write_version(&[(TestResult::FILE, &blob)], &parents, &message, by)?;
        let update = RefUpdate {
            name: ref_name,
            expected: replaces.map_or(Expected::Absent, Expected::Tip),
            new: Some(commit),
        };
        self.apply(&[update], by)?;
        Ok(commit)
    }
}

/// A short id for a commit summary.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
