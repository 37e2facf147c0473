//! The one codec of every record git-loom stores as a versioned JSON blob (`task.json`,
//! `claim.json`, `handoff.json`, `meta.json`, and the records still to come).
//!
//! Guarantees, the same for every entity: the `schema` number is read before anything else, so
//! a blob written by a newer git-loom is refused instead of misread; a record stored under
//! another task's ref is refused; and the bytes written are canonical (pretty JSON with a
//! trailing newline), so identical records give identical blobs and `git show` reads well.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::TaskId;

/// A record stored as one JSON file in the tree of a commit under `refs/loom/`.
pub trait Entity: Sized + Serialize + DeserializeOwned {
    /// The file the record is stored in, e.g. `task.json`.
    const FILE: &'static str;
    /// The newest schema of the record this build understands.
    const SCHEMA: u32;

    /// The task the record is about, which must be the one its ref names (`None` for records,
    /// like the repository's meta, that belong to no task).
    fn owner(&self) -> Option<&TaskId>;

    /// A rule beyond the JSON shape that the stored record breaks, if any.
    fn problem(&self) -> Option<String> {
        None
    }

    /// Parse a blob read from the ref of `expected` (or from a ref of no task).
    fn from_blob(bytes: &[u8], expected: Option<&TaskId>) -> Result<Self, BlobError> {
        let malformed = |source| BlobError::Malformed {
            file: Self::FILE,
            source,
        };
        let schema = blob_schema(bytes).map_err(malformed)?;
        if schema > Self::SCHEMA {
            return Err(BlobError::NewerSchema {
                file: Self::FILE,
                found: schema,
                supported: Self::SCHEMA,
            });
        }
        let record: Self = serde_json::from_slice(bytes).map_err(malformed)?;
        if let (Some(expected), Some(found)) = (expected, record.owner())
            && found != expected
        {
            return Err(BlobError::WrongOwner {
                file: Self::FILE,
                found: found.clone(),
                expected: expected.clone(),
            });
        }
        if let Some(problem) = record.problem() {
            return Err(BlobError::Invalid {
                file: Self::FILE,
                problem,
            });
        }
        Ok(record)
    }

    /// The canonical bytes of the record.
    fn to_blob(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).expect("a stored record serializes because every field is plain data");
        bytes.push(b'\n');
        bytes
    }
}

/// Why a blob could not be read as the record it should hold.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{file} is not valid: {source}")]
    Malformed {
        file: &'static str,
        source: serde_json::Error,
    },
    #[error("{file} has schema {found}, newer than the {supported} this git-loom understands")]
    NewerSchema {
        file: &'static str,
        found: u32,
        supported: u32,
    },
    #[error("{file} is for {found} but the ref names {expected}")]
    WrongOwner {
        file: &'static str,
        found: TaskId,
        expected: TaskId,
    },
    #[error("{file} {problem}")]
    Invalid { file: &'static str, problem: String },
}

/// The `schema` number of a versioned JSON blob, read before anything else so that a blob
/// written by a newer git-loom is refused instead of misread.
pub fn blob_schema(bytes: &[u8]) -> Result<u32, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct SchemaOnly {
        schema: u32,
    }
    Ok(serde_json::from_slice::<SchemaOnly>(bytes)?.schema)
}
