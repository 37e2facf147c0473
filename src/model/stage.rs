//! What a task imported from a plan stage carries beyond an ordinary task: the stage's
//! execution hints, typed, and the rule every task title (a stage name included) must follow.
//!
//! The hints are advice for whoever runs an agent on the task (which model, how much reasoning,
//! alone or as a team, in which sandbox). git-loom stores and shows them; it does not act on
//! them. They are stored in `task.json` under `stage_hints` as a JSON object, so a git-loom that
//! does not know them keeps them untouched, and read back through [`StageHints::of`], so code
//! that uses them sees typed values, never loose JSON. Values are checked when the plan is read
//! (see `plan`), so a stored hint is always one of the values listed here.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::task::Task;

/// The `task.json` key holding a stage's hints.
pub const HINTS_KEY: &str = "stage_hints";

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

    /// The hints stored on `task`, if it has readable ones.
    pub fn of(task: &Task) -> Option<StageHints> {
        let value = task.extra.get(HINTS_KEY)?;
        serde_json::from_value(value.clone()).ok()
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
