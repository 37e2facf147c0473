//! What a task imported from a plan stage carries beyond an ordinary task: the stage's data
//! ([`StageData`]: where it came from, its checks, its execution hints), typed, and the rule
//! every task title (a stage name included) must follow.
//!
//! The stage data is stored in `task.json` under the keys listed in `doc/refs.md`, beside the
//! task's own fields, each only when it says something. Every field is kept as the JSON it was
//! read from ([`Stored`]) together with what that JSON reads as, so a task is written back
//! byte for byte as it was read whatever an earlier version or a person stored, and a field
//! that does not read as its type is never dropped: whoever needs it (verify, the signal) gets
//! the reason instead of the value and reports it.
//!
//! The hints are advice for whoever runs an agent on the task (which model, how much reasoning,
//! alone or as a team, in which sandbox). git-loom stores and shows them; it does not act on
//! them. Their values are checked when the plan is read (see `plan`), so a hint stored by an
//! import is always one of the values listed here.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::checks::{Check, DeadCodeCheck, PlacedCheck, RegressionTest, Wiring, WiringTest};

/// The `task.json` key holding a stage's hints.
pub const HINTS_KEY: &str = "stage_hints";

/// A stage field as stored: the JSON it was read from (or written as) and what that reads as.
///
/// Two values are equal when their JSON is, and the JSON is what is written, so a task read and
/// written again is unchanged even when its field does not read as `T`. The JSON is read as `T`
/// on first use, so reading a task (from its ref or the cache) costs no more than before for
/// the fields nobody looks at.
#[derive(Debug, Clone)]
pub struct Stored<T> {
    json: Value,
    read: OnceLock<Result<T, String>>,
}

impl<T: Serialize> Stored<T> {
    /// A field with this value, stored as `T` serializes.
    pub fn new(value: T) -> Stored<T> {
        Stored {
            json: serde_json::to_value(&value).expect("a stage field serializes because it is plain data"),
            read: OnceLock::from(Ok(value)),
        }
    }

    /// Like [`Stored::new`], `None` when the value says nothing (null, an empty list or map):
    /// such a field is not stored at all.
    pub fn unless_empty(value: T) -> Option<Stored<T>> {
        let stored = Stored::new(value);
        let empty = match &stored.json {
            Value::Null => true,
            Value::Array(items) => items.is_empty(),
            Value::Object(map) => map.is_empty(),
            _ => false,
        };
        (!empty).then_some(stored)
    }
}

impl<T> Stored<T> {
    /// A field read from its stored JSON.
    pub fn from_json(json: Value) -> Stored<T> {
        Stored {
            json,
            read: OnceLock::new(),
        }
    }

    /// The JSON as stored.
    pub fn json(&self) -> &Value {
        &self.json
    }
}

impl<T: DeserializeOwned> Stored<T> {
    /// The value, or why the stored JSON does not read as one.
    pub fn get(&self) -> Result<&T, &str> {
        self.read
            .get_or_init(|| serde_json::from_value(self.json.clone()).map_err(|err| err.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// The value, `None` when the stored JSON does not read as one.
    pub fn ok(&self) -> Option<&T> {
        self.get().ok()
    }
}

impl<T> PartialEq for Stored<T> {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl<T> Serialize for Stored<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Stored<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Stored::from_json)
    }
}

/// A present key is always `Some`, even when its value is `null` (which serde would otherwise
/// read as an absent field, and so drop).
fn present<'de, D: Deserializer<'de>, T>(deserializer: D) -> Result<Option<Stored<T>>, D::Error> {
    Stored::deserialize(deserializer).map(Some)
}

/// What a plan stage gave the task imported from it, under the `task.json` key each field is
/// renamed to; every field is `None` for a task not imported from a plan. The types are those
/// the readers of each field have always read it as.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageData {
    /// The key of the plan (see `plan::plan_key`).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub plan: Option<Stored<String>>,
    /// The stage's id within its plan.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stored<String>>,
    /// A digest of the stage as last imported (see `plan::Stage::fingerprint`).
    #[serde(
        rename = "stage_fingerprint",
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub fingerprint: Option<Stored<String>>,
    /// Acceptance checks with expectations; the plain ones are the task's `acceptance`.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub acceptance_checks: Option<Stored<Vec<PlacedCheck>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Stored<Vec<String>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub wiring: Option<Stored<Vec<Wiring>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub truths: Option<Stored<Vec<Check>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub before_stage: Option<Stored<Vec<Check>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub after_stage: Option<Stored<Vec<Check>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub wiring_tests: Option<Stored<Vec<WiringTest>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub dead_code_check: Option<Stored<Option<DeadCodeCheck>>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub regression_test: Option<Stored<Option<RegressionTest>>>,
    /// Commands run before every acceptance command, in its shell.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub setup: Option<Stored<Vec<String>>>,
    /// Percent of an agent's context the stage may use.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub context_budget: Option<Stored<Option<u64>>>,
    /// Where the stage's commands run, relative to the worktree.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<Stored<Option<String>>>,
    /// The stage's fields this version does not know.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub stage_extra: Option<Stored<Map<String, Value>>>,
    /// The plan-level settings (see `plan::Plan::settings`).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub plan_settings: Option<Stored<Map<String, Value>>>,
    #[serde(
        rename = "stage_hints",
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub hints: Option<Stored<StageHints>>,
}

/// Every `task.json` key [`StageData`] holds (its serde names).
const STAGE_KEYS: &[&str] = &[
    "plan",
    "stage",
    "stage_fingerprint",
    "acceptance_checks",
    "artifacts",
    "wiring",
    "truths",
    "before_stage",
    "after_stage",
    "wiring_tests",
    "dead_code_check",
    "regression_test",
    "setup",
    "context_budget",
    "working_dir",
    "stage_extra",
    "plan_settings",
    "stage_hints",
];

impl StageData {
    /// The fields as stored, by key.
    pub fn to_map(&self) -> Map<String, Value> {
        if self.is_empty() {
            return Map::new();
        }
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => unreachable!("stage data serializes to a JSON object because it is a struct of JSON values"),
        }
    }

    /// Whether the task holds no stage field (it was not imported from a plan): the common
    /// case, which every reader of a large graph meets thousands of times.
    pub fn is_empty(&self) -> bool {
        *self == StageData::default()
    }

    #[cfg(test)]
    pub(crate) fn keys() -> &'static [&'static str] {
        STAGE_KEYS
    }

    /// Split stored fields into the stage data and the fields this version does not know.
    pub fn split(fields: Map<String, Value>) -> (StageData, BTreeMap<String, Value>) {
        // Most tasks hold no stage field: they skip the (slow) flattened deserialization.
        if !fields.keys().any(|key| STAGE_KEYS.contains(&key.as_str())) {
            return (StageData::default(), fields.into_iter().collect());
        }
        #[derive(Deserialize)]
        struct Split {
            #[serde(flatten)]
            stage: StageData,
            #[serde(flatten)]
            rest: BTreeMap<String, Value>,
        }
        let split: Split = serde_json::from_value(Value::Object(fields))
            .expect("any JSON object splits because every stage field reads any JSON value");
        (split.stage, split.rest)
    }
}

/// What kind of work a stage is, as the Rust loom's plan format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageType {
    /// Implementation work (the default).
    #[default]
    Standard,
    /// Gathering knowledge about the code base; no code changes expected.
    Knowledge,
    /// Checking that the stages before it fit together.
    IntegrationVerify,
    /// Curating what earlier stages learned into lasting notes.
    KnowledgeDistill,
    /// Reviewing the code of the stages before it. An earlier version of the Rust loom had this
    /// type (later folded into `integration-verify`); plans of that time use it.
    CodeReview,
}

impl StageType {
    pub const ALL: [StageType; 5] = [
        StageType::Standard,
        StageType::Knowledge,
        StageType::IntegrationVerify,
        StageType::KnowledgeDistill,
        StageType::CodeReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageType::Standard => "standard",
            StageType::Knowledge => "knowledge",
            StageType::IntegrationVerify => "integration-verify",
            StageType::KnowledgeDistill => "knowledge-distill",
            StageType::CodeReview => "code-review",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        StageType::ALL.into_iter().find(|kind| kind.as_str() == input)
    }
}

impl fmt::Display for StageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether one agent or a team should work the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionMode {
    Single,
    Team,
}

impl ExecutionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionMode::Single => "single",
            ExecutionMode::Team => "team",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        [ExecutionMode::Single, ExecutionMode::Team]
            .into_iter()
            .find(|mode| mode.as_str() == input)
    }
}

/// The reasoning efforts a stage may ask for. A closed list: the value may end up on an agent
/// runner's command line, where free text could smuggle in shell syntax.
pub const REASONING_EFFORTS: &[&str] = &["low", "medium", "high", "xhigh", "max"];

/// The agent lanes a stage may delegate work to.
pub const IMPLEMENTERS: &[&str] = &["claude", "codex"];

/// A stage's execution hints. Absent hints are `None` (or empty), never a guessed default, so
/// a runner can tell "the plan said standard" from "the plan said nothing" by `stage_type`
/// alone being present.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageHints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_type: Option<StageType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_mode: Option<ExecutionMode>,
    /// The model an agent session should use (`opus`, `sonnet`, …): free text, one word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// One of [`REASONING_EFFORTS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Whether the stage's branch may be merged without review once it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_merge: Option<bool>,
    /// Stages of one group may run at the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_group: Option<String>,
    /// Whether the session may fan out to many agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ultracode: Option<bool>,
    /// Agent lanes (of [`IMPLEMENTERS`]) in order of preference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implementers: Vec<String>,
    /// Seconds a session may stay silent before it is reported as possibly stuck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subagent_timeout_secs: Option<u64>,
    /// The stage's sandbox settings, as the plan wrote them (they override the plan's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Value>,
}

impl StageHints {
    /// Whether the plan gave no hint at all.
    pub fn is_empty(&self) -> bool {
        *self == StageHints::default()
    }

    /// The hints as `name: value` pairs in a fixed order, for people to read.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |name, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((name, value));
            }
        };
        push("stage type", self.stage_type.map(|kind| kind.to_string()));
        push("execution", self.execution_mode.map(|mode| mode.as_str().to_owned()));
        push("model", self.model.clone());
        push("reasoning effort", self.reasoning_effort.clone());
        push("auto merge", self.auto_merge.map(|flag| flag.to_string()));
        push("parallel group", self.parallel_group.clone());
        push("ultracode", self.ultracode.map(|flag| flag.to_string()));
        push(
            "implementers",
            (!self.implementers.is_empty()).then(|| self.implementers.join(", ")),
        );
        push(
            "silent after",
            self.subagent_timeout_secs.map(|secs| format!("{secs}s")),
        );
        push("sandbox", self.sandbox.as_ref().map(Value::to_string));
        pairs
    }
}

/// The longest stage id, as in the Rust loom.
const MAX_STAGE_ID_LEN: usize = 128;

/// Names that cannot be files on some systems, which the Rust loom refuses as ids.
const RESERVED_IDS: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Whether `id` is a valid stage id, by the Rust loom's rule: 1 to 128 ascii letters, digits,
/// `-` and `_`, not a name reserved by some file systems (`con`, `nul`, …) and not starting
/// with two digits and a hyphen (`01-x`), which the Rust loom reads as a position prefix. The
/// error says why not.
pub fn check_stage_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("a stage id is not empty");
    }
    if id.len() > MAX_STAGE_ID_LEN {
        return Err("a stage id has at most 128 characters");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("a stage id has only ascii letters, digits, `-` and `_`");
    }
    if RESERVED_IDS.contains(&id.to_ascii_lowercase().as_str()) {
        return Err("a stage id is not a name reserved by file systems (con, nul, com1, …)");
    }
    let bytes = id.as_bytes();
    if bytes.len() >= 3 && bytes[0].is_ascii_digit() && bytes[1].is_ascii_digit() && bytes[2] == b'-' {
        return Err("a stage id does not start with two digits and a hyphen (`01-`)");
    }
    Ok(())
}

/// Why `title` cannot be a task title, if it cannot: a title is shown on one line of a listing
/// and in commit summaries, so it must say something, fit on one line and hold nothing that
/// steers a terminal (control characters such as ESC or BEL, or the invisible marks that
/// reorder bidirectional text). Surrounding whitespace is not counted; callers store the
/// trimmed title.
pub fn title_problem(title: &str) -> Option<&'static str> {
    let title = title.trim();
    if title.is_empty() {
        return Some("it is empty");
    }
    if title.contains(['\n', '\r']) {
        return Some("it spans several lines");
    }
    if title.chars().any(char::is_control) {
        return Some("it contains a control character");
    }
    if title.chars().any(is_bidi_control) {
        return Some("it contains a bidirectional-text control character");
    }
    None
}

/// The invisible characters that change the order in which text is displayed (embeddings,
/// overrides, isolates and marks), which can make a line read differently from what it holds.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {

    // Guards: a stage key missing from the fast path's list, whose field would then be kept as
    // an unknown one and never read.
    #[test]
    fn the_stage_keys_are_every_key_stage_data_stores() {
        let fields: Map<String, Value> = StageData::keys()
            .iter()
            .map(|key| (key.to_string(), Value::Bool(true)))
            .collect();
        let (data, rest) = StageData::split(fields);
        assert!(rest.is_empty(), "{rest:?}");
        let mut stored: Vec<String> = data.to_map().keys().cloned().collect();
        let mut listed: Vec<String> = StageData::keys().iter().map(|key| key.to_string()).collect();
        stored.sort();
        listed.sort();
        assert_eq!(stored, listed);
    }

    use super::*;

    #[test]
    fn titles_must_be_one_clean_line() {
        // Guards: stage names that break a listing (empty, multi-line, ESC, BEL, U+202E) must be refused like `create` refuses titles.
        for bad in [
            "",
            "  \t ",
            "two\nlines",
            "a\rb",
            "red \u{1b}[31m",
            "bell\u{7}",
            "evil \u{202e}txt.exe",
        ] {
            assert!(title_problem(bad).is_some(), "{bad:?} accepted");
        }
        for good in ["Token bucket", "  padded  ", "ünïcödé — fine", "tab\u{a0}nbsp"] {
            assert_eq!(title_problem(good), None, "{good:?} refused");
        }
    }

    #[test]
    fn hints_round_trip_through_json() {
        let hints = StageHints {
            stage_type: Some(StageType::IntegrationVerify),
            execution_mode: Some(ExecutionMode::Team),
            model: Some("opus".into()),
            implementers: vec!["codex".into(), "claude".into()],
            ..StageHints::default()
        };
        let value = serde_json::to_value(&hints).unwrap();
        assert_eq!(value["stage_type"], "integration-verify");
        assert_eq!(value["execution_mode"], "team");
        assert!(value.get("sandbox").is_none());
        assert_eq!(serde_json::from_value::<StageHints>(value).unwrap(), hints);
        assert!(StageHints::default().is_empty());
    }
}
