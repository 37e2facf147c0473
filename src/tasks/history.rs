//! A task's audit log, read back from its commit chain.
//!
//! Every change to a task is a commit on `refs/loom/tasks/<id>`, so the history is simply the
//! chain from the tip: who (the `Loom-Agent` trailer), what (`Loom-Op` and the summary), when,
//! and the full `task.json` of each version, from which a readable diff is made.

use jiff::Timestamp;
use similar::TextDiff;

use crate::loom::{Loom, Result};
use crate::store::{self, ObjectId};

/// One version of a task.
#[derive(Debug, Clone)]
pub struct Version {
    pub commit_id: ObjectId,
    pub time: Timestamp,
    pub agent: Option<String>,
    pub op: Option<String>,
    pub summary: String,
    /// The version's `task.json`, pretty-printed; `None` when the commit holds no such file.
    pub task_json: Option<String>,
}

impl Loom {
    /// Every version of the task `input` names, newest first.
    pub fn history(&self, input: &str) -> Result<Vec<Version>> {
        let id = self.resolve(input)?;
        let ref_name = store::task_ref(&id);
        let Some(tip) = self.store().tip(&ref_name)? else {
            return Err(crate::loom::Error::UnknownTask {
                query: input.to_owned(),
            });
        };
        let versions = self.store().history(&ref_name, tip)?;
        Ok(versions
            .into_iter()
            .map(|version| Version {
                commit_id: version.commit_id,
                time: version.time,
                agent: version.trailer("Loom-Agent").map(str::to_owned),
                op: version.trailer("Loom-Op").map(str::to_owned),
                summary: version.summary().to_owned(),
                task_json: version.files.get("task.json").map(|bytes| normalize(bytes)),
            })
            .collect())
    }
}

/// Re-indent a stored blob so that diffs show field changes, not formatting; bytes that are not
/// JSON are shown as they are.
fn normalize(bytes: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => {
            let mut text = serde_json::to_string_pretty(&value).expect("a parsed JSON value serializes");
            text.push('\n');
            text
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A unified diff from one version's `task.json` to the next (`old` is `None` for the first).
pub fn patch(old: Option<&str>, new: Option<&str>) -> String {
    let (old, new) = (old.unwrap_or(""), new.unwrap_or(""));
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header("a/task.json", "b/task.json")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_shows_changed_fields() {
        let old = "{\n  \"title\": \"a\",\n  \"x\": 1\n}\n";
        let new = "{\n  \"title\": \"b\",\n  \"x\": 1\n}\n";
        let text = patch(Some(old), Some(new));
        assert!(text.starts_with("--- a/task.json\n+++ b/task.json\n"));
        assert!(text.contains("-  \"title\": \"a\","));
        assert!(text.contains("+  \"title\": \"b\","));
        assert_eq!(patch(Some(old), Some(old)), "");
    }
}
