//! The checks a plan stage carries, as one set of types for everyone who handles them: the plan
//! that states them (`plan`), the task that stores them ([`super::stage::StageData`]), `verify`
//! that runs them and the signal that shows them.
//!
//! Each type serializes to the JSON a task stores for it in `task.json` (`doc/refs.md`), written
//! field by field in a fixed order, so the same check always gives the same bytes; and reads that
//! JSON back with every field but the command (or file, source, name) optional, as every
//! version stored it. What the plan gave a check that this version does not know is kept in its
//! `extra` and stored with it. Plan-reading concerns (lines, the raw document) stay in `plan`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// A command and what its result must look like: an acceptance criterion, a truth, a
/// before_stage or after_stage check. A plain string in a plan is a command whose only
/// requirement is success.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(from = "StoredCheck")]
pub struct Check {
    pub command: String,
    /// Texts that must all appear in the command's standard output (plain substrings).
    pub stdout_contains: Vec<String>,
    /// Texts that must not appear in the command's standard output.
    pub stdout_not_contains: Vec<String>,
    /// The exit code required; `None` means success (zero).
    pub exit_code: Option<i32>,
    /// Texts that must all appear in the command's standard error.
    pub stderr_contains: Vec<String>,
    /// Whether standard error must be empty (false: standard error is not judged).
    pub stderr_empty: bool,
    /// What the check shows, in words.
    pub description: Option<String>,
    /// Where to run, relative to the worktree, the stage's `working_dir` when not given. Only
    /// a stored check carries it; a plan keeps such a key among the check's unknown fields.
    pub working_dir: Option<String>,
    /// Fields this version does not know, kept verbatim.
    pub extra: BTreeMap<String, Value>,
}

impl Check {
    /// A command that must exit 0, with no other condition.
    pub fn new(command: impl Into<String>) -> Check {
        Check {
            command: command.into(),
            ..Check::default()
        }
    }

    /// Whether success is all the check asks for (such a check is stored as a bare command in
    /// the task's `acceptance`).
    pub fn is_plain(&self) -> bool {
        self.stdout_contains.is_empty()
            && self.stdout_not_contains.is_empty()
            && self.exit_code.is_none_or(|code| code == 0)
            && self.stderr_contains.is_empty()
            && !self.stderr_empty
            && self.description.is_none()
            && self.working_dir.is_none()
            && self.extra.is_empty()
    }

    /// The stored object: the command and the output rules always, the rest only when set (as
    /// older versions stored checks without them), then the unknown fields that do not clash.
    fn to_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("command".into(), Value::from(self.command.as_str()));
        map.insert("stdout_contains".into(), Value::from(self.stdout_contains.clone()));
        map.insert(
            "stdout_not_contains".into(),
            Value::from(self.stdout_not_contains.clone()),
        );
        map.insert("exit_code".into(), self.exit_code.map_or(Value::Null, Value::from));
        if !self.stderr_contains.is_empty() {
            map.insert("stderr_contains".into(), Value::from(self.stderr_contains.clone()));
        }
        if self.stderr_empty {
            map.insert("stderr_empty".into(), Value::Bool(true));
        }
        if let Some(description) = &self.description {
            map.insert("description".into(), Value::from(description.as_str()));
        }
        if let Some(dir) = &self.working_dir {
            map.insert("working_dir".into(), Value::from(dir.as_str()));
        }
        with_extra(&mut map, &self.extra);
        map
    }
}

impl Serialize for Check {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(serializer)
    }
}

/// A check as stored: every field optional but the command.
#[derive(Deserialize)]
struct StoredCheck {
    command: String,
    #[serde(default)]
    stdout_contains: Vec<String>,
    #[serde(default)]
    stdout_not_contains: Vec<String>,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    stderr_contains: Vec<String>,
    #[serde(default)]
    stderr_empty: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

impl From<StoredCheck> for Check {
    fn from(stored: StoredCheck) -> Check {
        Check {
            command: stored.command,
            stdout_contains: stored.stdout_contains,
            stdout_not_contains: stored.stdout_not_contains,
            exit_code: stored.exit_code,
            stderr_contains: stored.stderr_contains,
            stderr_empty: stored.stderr_empty,
            description: stored.description,
            working_dir: stored.working_dir,
            extra: stored.extra,
        }
    }
}

/// An acceptance check with expectations as a task stores it (in `acceptance_checks`, apart
/// from the plain commands in `acceptance`), with its place in the plan's list when that was
/// before a plain command, so the two lists can be run in the plan's order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlacedCheck {
    #[serde(flatten)]
    pub check: Check,
    #[serde(default)]
    pub position: Option<usize>,
}

impl Serialize for PlacedCheck {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = self.check.to_map();
        if let Some(position) = self.position {
            map.insert("position".into(), Value::from(position));
        }
        map.serialize(serializer)
    }
}

/// A connection that must exist: `pattern` (a regex in the syntax of the `regex` crate) must
/// match somewhere in `source` (a file relative to the working directory).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Wiring {
    pub source: String,
    pub pattern: String,
    /// What the rule shows, put at the front of the check's detail.
    #[serde(default)]
    pub description: Option<String>,
    /// Fields this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Serialize for Wiring {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = Map::new();
        map.insert("source".into(), Value::from(self.source.as_str()));
        map.insert("pattern".into(), Value::from(self.pattern.as_str()));
        map.insert(
            "description".into(),
            self.description.as_deref().map_or(Value::Null, Value::from),
        );
        with_extra(&mut map, &self.extra);
        map.serialize(serializer)
    }
}

/// A named command with success criteria (`check.command` is the command) showing that
/// components work together at run time.
///
/// Stored as `{name, command, description, success_criteria}`; what the plan gave it beyond
/// those is not stored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "StoredWiringTest")]
pub struct WiringTest {
    pub name: String,
    pub check: Check,
}

impl Serialize for WiringTest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let check = &self.check;
        let mut criteria = Map::new();
        criteria.insert("exit_code".into(), check.exit_code.map_or(Value::Null, Value::from));
        criteria.insert("stdout_contains".into(), Value::from(check.stdout_contains.clone()));
        criteria.insert(
            "stdout_not_contains".into(),
            Value::from(check.stdout_not_contains.clone()),
        );
        criteria.insert("stderr_contains".into(), Value::from(check.stderr_contains.clone()));
        criteria.insert("stderr_empty".into(), Value::Bool(check.stderr_empty));
        let mut map = Map::new();
        map.insert("name".into(), Value::from(self.name.as_str()));
        map.insert("command".into(), Value::from(check.command.as_str()));
        map.insert(
            "description".into(),
            check.description.as_deref().map_or(Value::Null, Value::from),
        );
        map.insert("success_criteria".into(), Value::Object(criteria));
        map.serialize(serializer)
    }
}

#[derive(Deserialize)]
struct StoredWiringTest {
    name: String,
    command: String,
    #[serde(default)]
    success_criteria: StoredCriteria,
    #[serde(default)]
    description: Option<String>,
}

/// What a stored wiring test's result must look like; all optional, success by default.
#[derive(Default, Deserialize)]
struct StoredCriteria {
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    stdout_contains: Vec<String>,
    #[serde(default)]
    stdout_not_contains: Vec<String>,
    #[serde(default)]
    stderr_contains: Vec<String>,
    #[serde(default)]
    stderr_empty: Option<bool>,
}

impl From<StoredWiringTest> for WiringTest {
    fn from(stored: StoredWiringTest) -> WiringTest {
        let criteria = stored.success_criteria;
        WiringTest {
            name: stored.name,
            check: Check {
                command: stored.command,
                stdout_contains: criteria.stdout_contains,
                stdout_not_contains: criteria.stdout_not_contains,
                exit_code: criteria.exit_code,
                stderr_contains: criteria.stderr_contains,
                stderr_empty: criteria.stderr_empty.unwrap_or(false),
                description: stored.description,
                working_dir: None,
                extra: BTreeMap::new(),
            },
        }
    }
}

/// A command (a build, a linter) whose output lines must not contain any of `fail_patterns`,
/// except lines that also contain one of `ignore_patterns`; its exit code is not judged.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeadCodeCheck {
    pub command: String,
    #[serde(default)]
    pub fail_patterns: Vec<String>,
    #[serde(default)]
    pub ignore_patterns: Vec<String>,
    /// Fields this version does not know, kept verbatim (stored under `extra`).
    #[serde(default)]
    pub extra: BTreeMap<String, Value>,
}

/// A test file, relative to the working directory, that must exist, not be empty, and contain
/// every one of `must_contain`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegressionTest {
    pub file: String,
    #[serde(default)]
    pub must_contain: Vec<String>,
    /// Fields this version does not know, kept verbatim (stored under `extra`).
    #[serde(default)]
    pub extra: BTreeMap<String, Value>,
}

/// Add the fields this version does not know to a stored object, as the plan wrote them, so
/// what an import warns it keeps is indeed kept; a known field of the same name wins.
fn with_extra(map: &mut Map<String, Value>, extra: &BTreeMap<String, Value>) {
    for (key, value) in extra {
        map.entry(key.clone()).or_insert_with(|| value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_check_is_stored_with_its_unknown_fields_and_read_back() {
        let check = Check {
            stderr_empty: true,
            description: Some("d".into()),
            extra: BTreeMap::from([("future".to_owned(), json!(1)), ("command".to_owned(), json!("x"))]),
            ..Check::new("make")
        };
        let value = serde_json::to_value(&check).unwrap();
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"command":"make","stdout_contains":[],"stdout_not_contains":[],"exit_code":null,"stderr_empty":true,"description":"d","future":1}"#
        );
        let back: Check = serde_json::from_value(value).unwrap();
        assert_eq!(back.extra, BTreeMap::from([("future".to_owned(), json!(1))]));
        assert_eq!(back.command, "make");
        assert!(!back.is_plain());
    }

    #[test]
    fn stored_checks_read_with_defaults() {
        let placed: PlacedCheck = serde_json::from_value(json!({"command": "r", "position": 2})).unwrap();
        assert_eq!(placed.position, Some(2));
        assert!(placed.check.is_plain());
        let test: WiringTest =
            serde_json::from_value(json!({"name": "n", "command": "c", "success_criteria": {"stderr_empty": null}}))
                .unwrap();
        assert!(!test.check.stderr_empty);
        assert!(serde_json::from_value::<WiringTest>(json!({"name": 1})).is_err());
    }
}
