//! Task ids: `loom-` followed by 8 lowercase hex digits.
//!
//! Every id that enters git-loom from outside (a command line, a blob read from a ref) is parsed
//! here, and a parsed [`TaskId`] can only ever hold `loom-` plus hex, so no input can name a ref
//! outside `refs/loom/` (no `..`, slashes, spaces or control characters survive parsing).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The fixed prefix of every task id.
pub const ID_PREFIX: &str = "loom-";
/// Number of hex digits after the prefix.
pub const ID_HEX_LEN: usize = 8;
/// The shortest hex prefix accepted as an abbreviation, as with git's short hashes.
pub const MIN_ABBREV_LEN: usize = 4;

/// Why a piece of input is not an id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("invalid task id {input:?}: {reason}")]
    Invalid { input: String, reason: &'static str },
}

/// A full, validated task id such as `loom-1a2b3c4d`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskId(String);

impl TaskId {
    /// Parse a complete id; abbreviations are rejected (see [`IdQuery`] for those).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let invalid = |reason| IdError::Invalid {
            input: input.to_owned(),
            reason,
        };
        let hex = input
            .strip_prefix(ID_PREFIX)
            .ok_or_else(|| invalid("a task id starts with `loom-`"))?;
        if hex.len() != ID_HEX_LEN {
            return Err(invalid("a task id has exactly 8 hex digits after `loom-`"));
        }
        if !is_lower_hex(hex) {
            return Err(invalid("a task id has only lowercase hex digits after `loom-`"));
        }
        Ok(TaskId(input.to_owned()))
    }

    /// Derive a fresh id from what makes this creation unique: the title, the time and a nonce.
    ///
    /// The caller checks the id against existing refs (and the ref transaction refuses to
    /// overwrite one), so a collision costs a retry with a new nonce, never a lost task.
    pub fn generate(title: &str, unix_nanos: i128, nonce: u64) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(title.as_bytes());
        hasher.update(unix_nanos.to_le_bytes());
        hasher.update(nonce.to_le_bytes());
        let digest = hasher.finalize();
        let hex: String = digest[..ID_HEX_LEN / 2]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        TaskId(format!("{ID_PREFIX}{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex digits after `loom-`.
    pub fn hex(&self) -> &str {
        &self.0[ID_PREFIX.len()..]
    }
}

impl TryFrom<String> for TaskId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TaskId::parse(&value)
    }
}

impl From<TaskId> for String {
    fn from(id: TaskId) -> Self {
        id.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user typed where a task is expected: a full id, or a unique abbreviation of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdQuery {
    Full(TaskId),
    /// Hex digits (4 to 7) that must match the start of exactly one id.
    Prefix(String),
}

impl IdQuery {
    /// Validate user input. Accepts `loom-1a2b3c4d`, `loom-1a2b`, `1a2b3c4d` and `1a2b`.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let invalid = |reason| IdError::Invalid {
            input: input.to_owned(),
            reason,
        };
        let hex = input.strip_prefix(ID_PREFIX).unwrap_or(input);
        if hex.is_empty() || !is_lower_hex(hex) {
            return Err(invalid(
                "expected `loom-` followed by lowercase hex digits, or a unique abbreviation of one",
            ));
        }
        match hex.len() {
            ID_HEX_LEN => Ok(IdQuery::Full(TaskId(format!("{ID_PREFIX}{hex}")))),
            len if len > ID_HEX_LEN => Err(invalid("a task id has exactly 8 hex digits")),
            len if len < MIN_ABBREV_LEN => Err(invalid("an abbreviated id needs at least 4 hex digits")),
            _ => Ok(IdQuery::Prefix(hex.to_owned())),
        }
    }

    /// Whether `id` is what this query names.
    pub fn matches(&self, id: &TaskId) -> bool {
        match self {
            IdQuery::Full(full) => full == id,
            IdQuery::Prefix(prefix) => id.hex().starts_with(prefix.as_str()),
        }
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_ids_round_trip() {
        let id = TaskId::parse("loom-1a2b3c4d").unwrap();
        assert_eq!(id.as_str(), "loom-1a2b3c4d");
        assert_eq!(id.hex(), "1a2b3c4d");
    }

    // Guards: ref injection through an id.
    #[test]
    fn hostile_input_is_rejected() {
        for input in [
            "../heads/main",
            "loom-../../x",
            "loom-1a2b 3c4",
            "loom-1a2b\n3c4",
            "loom-1A2B3C4D",
            "loom-1a2b3c4d5",
            "loom-",
            "",
            "loom-1a2b/c4d",
            "refs/loom/tasks/loom-1a2b3c4d",
        ] {
            assert!(TaskId::parse(input).is_err(), "{input:?} accepted as id");
            assert!(IdQuery::parse(input).is_err(), "{input:?} accepted as query");
        }
    }

    #[test]
    fn abbreviations_need_four_digits() {
        assert_eq!(IdQuery::parse("1a2b"), Ok(IdQuery::Prefix("1a2b".into())));
        assert_eq!(
            IdQuery::parse("loom-1a2"),
            Err(IdError::Invalid {
                input: "loom-1a2".into(),
                reason: "an abbreviated id needs at least 4 hex digits"
            })
        );
        assert!(matches!(IdQuery::parse("1a2b3c4d"), Ok(IdQuery::Full(_))));
    }

    #[test]
    fn generated_ids_parse_and_differ_by_nonce() {
        let a = TaskId::generate("title", 1, 1);
        let b = TaskId::generate("title", 1, 2);
        assert_ne!(a, b);
        assert_eq!(TaskId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn deserializing_rejects_bad_ids() {
        assert!(serde_json::from_str::<TaskId>("\"../heads/main\"").is_err());
        assert!(serde_json::from_str::<TaskId>("\"loom-00ff00ff\"").is_ok());
    }
}
