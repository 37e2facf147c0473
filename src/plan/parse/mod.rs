//! Lowering the located tree into a [`Plan`], checking the shape of every field.
//!
//! A field of the wrong type, a missing required field or an unsupported version is an error
//! with the line of the offending node; reading goes on after each so that one pass reports
//! them all. What spans fields or stages (ids, dependencies, commands, patterns, budgets) is
//! left to `validate`, which gets the lines it needs in [`StageLines`] so the public types do
//! not carry a line for every item. A key that is present with no value (`key:` in yaml) means
//! the same as an absent key. Unknown keys are kept as JSON in the owner's `extra` and each is
//! reported as a warning with its line.

mod checks;

use std::collections::BTreeMap;

use serde_json::Value;

use super::tree::{Entry, Node, NodeValue};
use super::{PLAN_VERSION, Plan, PlanError, PlanErrorKind, PlanWarning, PlanWarningKind, Stage};
use crate::model::checks::{DeadCodeCheck, RegressionTest};
use crate::model::stage::check_stage_id;
use crate::model::stage::{IMPLEMENTERS, REASONING_EFFORTS};
use crate::model::{ExecutionMode, StageHints, StageType};

/// The result of lowering: a plan (possibly partial), and what was found on the way.
pub(super) struct Lowered {
    pub plan: Plan,
    /// One per stage of `plan.stages`, in the same order.
    pub lines: Vec<StageLines>,
    pub errors: Vec<PlanError>,
    pub warnings: Vec<PlanWarning>,
    /// False when lowering stopped early (no `loom`, or another version), so the plan holds
    /// too little to be worth validating.
    pub complete: bool,
}

/// Where the parts of one stage that `validate` checks were written. Each list runs parallel
/// to the stage's field of the same name.
#[derive(Debug, Clone, Default)]
pub(super) struct StageLines {
    /// The line of the id's value; `None` when the stage has no usable id (already reported).
    pub id: Option<usize>,
    /// The line of the name's value, when the stage has a name.
    pub name: Option<usize>,
    pub dependencies: Vec<usize>,
    /// The line of each check's command.
    pub acceptance: Vec<usize>,
    pub truths: Vec<usize>,
    pub before_stage: Vec<usize>,
    pub after_stage: Vec<usize>,
    pub wiring_tests: Vec<usize>,
    pub setup: Vec<usize>,
    /// The line of each wiring's pattern.
    pub wiring: Vec<usize>,
    /// The value as written, which may be out of range for the stage's `u8`, and its line.
    pub context_budget: Option<(i128, usize)>,
}

/// The keys of one map, remembering which were read so the rest can be kept as unknown.
struct Fields<'a> {
    entries: &'a [Entry],
    taken: Vec<bool>,
}

impl<'a> Fields<'a> {
    fn new(entries: &'a [Entry]) -> Self {
        Fields {
            entries,
            taken: vec![false; entries.len()],
        }
    }

    /// The entry for `key`, unless it is absent or has no value.
    fn take(&mut self, key: &str) -> Option<&'a Entry> {
        let index = self.entries.iter().position(|entry| entry.key == key)?;
        self.taken[index] = true;
        let entry = &self.entries[index];
        (!matches!(entry.value.value, NodeValue::Null)).then_some(entry)
    }

    /// The line of `key`'s value, without taking it.
    fn take_line(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| entry.value.line)
    }

    fn rest(&self) -> impl Iterator<Item = &'a Entry> + '_ {
        let entries = self.entries;
        entries
            .iter()
            .zip(&self.taken)
            .filter(|(_, taken)| !**taken)
            .map(|(entry, _)| entry)
    }
}

#[derive(Default)]
struct Lowerer {
    errors: Vec<PlanError>,
    warnings: Vec<PlanWarning>,
}

impl Lowerer {
    fn error(&mut self, line: usize, kind: PlanErrorKind) {
        self.errors.push(PlanError { line: Some(line), kind });
    }

    fn wrong_type(&mut self, node: &Node, context: String, expected: &'static str) {
        let found = node.kind();
        self.error(
            node.line,
            PlanErrorKind::WrongType {
                context,
                expected,
                found,
            },
        );
    }

    fn missing(&mut self, line: usize, context: &str, field: &'static str) {
        let context = context.to_owned();
        self.error(line, PlanErrorKind::MissingField { context, field });
    }

    /// The keys nobody read, kept verbatim, each with a warning.
    fn extra(&mut self, fields: &Fields<'_>, context: &str) -> BTreeMap<String, Value> {
        let mut extra = BTreeMap::new();
        for entry in fields.rest() {
            self.warnings.push(PlanWarning {
                line: entry.line,
                kind: PlanWarningKind::UnknownField {
                    context: context.to_owned(),
                    field: entry.key.clone(),
                },
            });
            extra.insert(entry.key.clone(), entry.value.to_json());
        }
        extra
    }

    fn string(&mut self, entry: &Entry, owner: &str) -> Option<String> {
        let text = entry.value.text().map(str::to_owned);
        if text.is_none() {
            self.wrong_type(&entry.value, format!("`{}` of {owner}", entry.key), "a string");
        }
        text
    }

    fn optional_string(&mut self, fields: &mut Fields<'_>, key: &str, owner: &str) -> Option<String> {
        fields.take(key).and_then(|entry| self.string(entry, owner))
    }

    /// A required string; an empty one stands in when it is missing, so the rest of the owner
    /// can still be read and checked.
    fn required_string(&mut self, fields: &mut Fields<'_>, key: &'static str, owner: &str, line: usize) -> String {
        match fields.take(key) {
            Some(entry) => self.string(entry, owner).unwrap_or_default(),
            None => {
                self.missing(line, owner, key);
                String::new()
            }
        }
    }

    /// A list of strings, with the line of each.
    fn string_list(&mut self, entry: Option<&Entry>, owner: &str) -> (Vec<String>, Vec<usize>) {
        let mut strings = (Vec::new(), Vec::new());
        let Some(entry) = entry else { return strings };
        let NodeValue::List(items) = &entry.value.value else {
            self.wrong_type(&entry.value, format!("`{}` of {owner}", entry.key), "a list of strings");
            return strings;
        };
        for (index, item) in items.iter().enumerate() {
            match item.text() {
                Some(text) => {
                    strings.0.push(text.to_owned());
                    strings.1.push(item.line);
                }
                None => self.wrong_type(
                    item,
                    format!("item {} of `{}` of {owner}", index + 1, entry.key),
                    "a string",
                ),
            }
        }
        strings
    }

    /// `stdout_contains` and its kin: one text, or a list of them.
    fn texts(&mut self, entry: Option<&Entry>, owner: &str) -> Vec<String> {
        match entry.and_then(|entry| entry.value.text()) {
            Some(text) => vec![text.to_owned()],
            None => self.string_list(entry, owner).0,
        }
    }

    fn optional_bool(&mut self, fields: &mut Fields<'_>, key: &str, owner: &str) -> Option<bool> {
        let entry = fields.take(key)?;
        match entry.value.value {
            NodeValue::Bool(flag) => Some(flag),
            _ => {
                self.wrong_type(&entry.value, format!("`{key}` of {owner}"), "true or false");
                None
            }
        }
    }

    fn optional_map(&mut self, fields: &mut Fields<'_>, key: &str, owner: &str) -> Option<Value> {
        let entry = fields.take(key)?;
        match entry.value.value {
            NodeValue::Map(_) => Some(entry.value.to_json()),
            _ => {
                self.wrong_type(&entry.value, format!("`{key}` of {owner}"), "a map");
                None
            }
        }
    }

    /// A string that must be one of `allowed`.
    fn one_of(&mut self, fields: &mut Fields<'_>, key: &str, owner: &str, allowed: &[&str]) -> Option<String> {
        let entry = fields.take(key)?;
        let text = self.string(entry, owner)?;
        if allowed.contains(&text.as_str()) {
            return Some(text);
        }
        let context = format!("`{key}` of {owner}");
        let expected = allowed.join(", ");
        self.error(
            entry.value.line,
            PlanErrorKind::InvalidValue {
                context,
                found: text,
                expected,
            },
        );
        None
    }

    /// The execution hints of a stage. Values outside the format's closed lists are errors:
    /// a runner may pass them on to a command line, where anything else has no business.
    fn hints(&mut self, fields: &mut Fields<'_>, owner: &str) -> StageHints {
        let types: Vec<&str> = StageType::ALL.iter().map(|kind| kind.as_str()).collect();
        let stage_type = self
            .one_of(fields, "stage_type", owner, &types)
            .and_then(|text| StageType::parse(&text));
        let execution_mode = self
            .one_of(fields, "execution_mode", owner, &["single", "team"])
            .and_then(|text| ExecutionMode::parse(&text));
        let model = self.optional_string(fields, "model", owner);
        if let Some(model) = &model
            && (model.trim().is_empty() || model.chars().any(|c| c.is_whitespace() || c.is_control()))
            && let Some(line) = fields.take_line("model")
        {
            let context = format!("`model` of {owner}");
            let expected = "a model name of one word (opus, sonnet, …)".to_owned();
            self.error(
                line,
                PlanErrorKind::InvalidValue {
                    context,
                    found: model.clone(),
                    expected,
                },
            );
        }
        let reasoning_effort = self.one_of(fields, "reasoning_effort", owner, REASONING_EFFORTS);
        let auto_merge = self.optional_bool(fields, "auto_merge", owner);
        let parallel_group = self.optional_string(fields, "parallel_group", owner);
        let ultracode = self.optional_bool(fields, "ultracode", owner);
        let implementers_entry = fields.take("implementers");
        let (implementers, implementer_lines) = self.string_list(implementers_entry, owner);
        let mut seen: Vec<&str> = Vec::new();
        for (lane, line) in implementers.iter().zip(&implementer_lines) {
            if !IMPLEMENTERS.contains(&lane.as_str()) || seen.contains(&lane.as_str()) {
                let context = format!("an item of `implementers` of {owner}");
                let expected = format!("{} (each at most once)", IMPLEMENTERS.join(", "));
                self.error(
                    *line,
                    PlanErrorKind::InvalidValue {
                        context,
                        found: lane.clone(),
                        expected,
                    },
                );
            }
            seen.push(lane);
        }
        if let Some(entry) = implementers_entry
            && implementers.is_empty()
            && matches!(&entry.value.value, NodeValue::List(items) if items.is_empty())
        {
            let context = format!("`implementers` of {owner}");
            let expected = format!(
                "a non-empty list of {} (leave it out for the default)",
                IMPLEMENTERS.join(", ")
            );
            self.error(
                entry.value.line,
                PlanErrorKind::InvalidValue {
                    context,
                    found: "[]".into(),
                    expected,
                },
            );
        }
        let subagent_timeout_secs = fields.take("subagent_timeout_secs").and_then(|entry| {
            let seconds = match entry.value.value {
                NodeValue::Int(number) => u64::try_from(number).ok(),
                _ => None,
            };
            if seconds.is_none() {
                let context = format!("`subagent_timeout_secs` of {owner}");
                self.wrong_type(&entry.value, context, "a whole number of seconds");
            }
            seconds
        });
        let sandbox = self.optional_map(fields, "sandbox", owner);
        StageHints {
            stage_type,
            execution_mode,
            model,
            reasoning_effort,
            auto_merge,
            parallel_group,
            ultracode,
            implementers,
            subagent_timeout_secs,
            sandbox,
        }
    }

    fn stage(&mut self, index: usize, node: &Node) -> Option<(Stage, StageLines)> {
        // Without a usable id a stage is named by its position, with a `#` no id can contain.
        let numbered = format!("stage `#{}`", index + 1);
        let NodeValue::Map(entries) = &node.value else {
            self.wrong_type(node, numbered, "a map");
            return None;
        };
        let mut fields = Fields::new(entries);
        let mut lines = StageLines::default();
        let id = match fields.take("id") {
            Some(entry) => self
                .string(entry, &numbered)
                .inspect(|_| lines.id = Some(entry.value.line)),
            None => {
                self.missing(node.line, &numbered, "id");
                None
            }
        };
        let owner = id.as_ref().map_or(numbered, |id| format!("stage `{id}`"));
        // Only a name that is text gets checked as a name; any other is reported as such.
        lines.name = fields
            .entries
            .iter()
            .find(|entry| entry.key == "name" && entry.value.text().is_some())
            .map(|entry| entry.value.line);
        let name = self.required_string(&mut fields, "name", &owner, node.line);
        // Optional, as in the Rust loom: most of its plans leave it out.
        let description = self
            .optional_string(&mut fields, "description", &owner)
            .unwrap_or_default();
        let dependencies;
        (dependencies, lines.dependencies) = self.string_list(fields.take("dependencies"), &owner);
        let acceptance;
        (acceptance, lines.acceptance) = self.checks(fields.take("acceptance"), &owner);
        let setup;
        (setup, lines.setup) = self.string_list(fields.take("setup"), &owner);
        let (files, _) = self.string_list(fields.take("files"), &owner);
        let (artifacts, _) = self.string_list(fields.take("artifacts"), &owner);
        let wiring;
        (wiring, lines.wiring) = self.wiring(fields.take("wiring"), &owner);
        let truths;
        (truths, lines.truths) = self.checks(fields.take("truths"), &owner);
        let before_stage;
        (before_stage, lines.before_stage) = self.checks(fields.take("before_stage"), &owner);
        let after_stage;
        (after_stage, lines.after_stage) = self.checks(fields.take("after_stage"), &owner);
        let wiring_tests;
        (wiring_tests, lines.wiring_tests) = self.wiring_tests(fields.take("wiring_tests"), &owner);
        let dead_code_check = self
            .map_of(
                fields.take("dead_code_check"),
                &owner,
                |lowerer, fields, owner, line| {
                    let command = lowerer.required_string(fields, "command", owner, line);
                    let (fail_patterns, _) = lowerer.string_list(fields.take("fail_patterns"), owner);
                    let (ignore_patterns, _) = lowerer.string_list(fields.take("ignore_patterns"), owner);
                    if command.trim().is_empty() {
                        lowerer.missing(line, owner, "command");
                    }
                    DeadCodeCheck {
                        command,
                        fail_patterns,
                        ignore_patterns,
                        extra: BTreeMap::new(),
                    }
                },
            )
            .map(|(check, extra)| DeadCodeCheck { extra, ..check });
        let regression_test = self
            .map_of(
                fields.take("regression_test"),
                &owner,
                |lowerer, fields, owner, line| {
                    let file = lowerer.required_string(fields, "file", owner, line);
                    let (must_contain, _) = lowerer.string_list(fields.take("must_contain"), owner);
                    RegressionTest {
                        file,
                        must_contain,
                        extra: BTreeMap::new(),
                    }
                },
            )
            .map(|(test, extra)| RegressionTest { extra, ..test });
        if let Some(entry) = fields.take("context_budget") {
            match entry.value.value {
                NodeValue::Int(percent) => lines.context_budget = Some((percent, entry.value.line)),
                _ => self.wrong_type(&entry.value, format!("`context_budget` of {owner}"), "a whole percent"),
            }
        }
        let working_dir = self.optional_string(&mut fields, "working_dir", &owner);
        let hints = self.hints(&mut fields, &owner);
        // Known and checked (`validate` requires a regression test with it), but stored among the
        // stage's other fields, where earlier versions kept it.
        let bug_fix = self.optional_bool(&mut fields, "bug_fix", &owner);
        let mut extra = self.extra(&fields, &owner);
        if let Some(flag) = bug_fix {
            extra.insert("bug_fix".to_owned(), Value::Bool(flag));
        }
        let stage = Stage {
            id: id.unwrap_or_default(),
            name,
            description,
            dependencies,
            acceptance,
            setup,
            files,
            artifacts,
            wiring,
            truths,
            before_stage,
            after_stage,
            wiring_tests,
            dead_code_check,
            regression_test,
            // Out of range is reported by `validate`; the plan is refused then, so `None` here
            // never reaches a caller.
            context_budget: lines
                .context_budget
                .and_then(|(percent, _)| u8::try_from(percent).ok())
                .filter(|percent| (1..=100).contains(percent)),
            working_dir,
            hints,
            extra,
            line: node.line,
        };
        Some((stage, lines))
    }

    /// The `loom` map: its version, its stages and whatever else it holds.
    fn loom(&mut self, entry: &Entry, lowered: &mut Lowered) {
        let NodeValue::Map(entries) = &entry.value.value else {
            self.wrong_type(&entry.value, "`loom`".to_owned(), "a map");
            lowered.complete = false;
            return;
        };
        let mut fields = Fields::new(entries);
        match fields.take("version") {
            Some(version) if !matches!(version.value.value, NodeValue::Int(number) if number == i128::from(PLAN_VERSION)) =>
            {
                let found = match &version.value.value {
                    NodeValue::Int(number) => number.to_string(),
                    NodeValue::Float(number) => number.to_string(),
                    NodeValue::Str(text) => format!("{text:?}"),
                    _ => version.value.kind().to_owned(),
                };
                self.error(version.value.line, PlanErrorKind::UnsupportedVersion { found });
                lowered.complete = false;
                return;
            }
            Some(_) => {}
            None => self.missing(entry.line, "`loom`", "version"),
        }
        if let Some(entry) = fields.take("plan_id")
            && let Some(id) = self.string(entry, "`loom`")
        {
            match check_stage_id(&id) {
                Ok(()) => lowered.plan.plan_id = Some(id),
                Err(reason) => self.error(entry.value.line, PlanErrorKind::InvalidPlanId { id, reason }),
            }
        }
        lowered.plan.auto_merge = self.optional_bool(&mut fields, "auto_merge", "`loom`");
        lowered.plan.sandbox = self.optional_map(&mut fields, "sandbox", "`loom`");
        match fields.take("stages") {
            Some(stages) => match &stages.value.value {
                NodeValue::List(items) => {
                    for (index, item) in items.iter().enumerate() {
                        if let Some((stage, lines)) = self.stage(index, item) {
                            lowered.plan.stages.push(stage);
                            lowered.lines.push(lines);
                        }
                    }
                }
                _ => self.wrong_type(&stages.value, "`stages` of `loom`".to_owned(), "a list of stages"),
            },
            None => self.missing(entry.line, "`loom`", "stages"),
        }
        lowered.plan.extra = self.extra(&fields, "`loom`");
    }
}

/// Lower a parsed document whose block starts on file line `first_line`.
pub(super) fn lower(root: &Node, first_line: usize) -> Lowered {
    let mut lowerer = Lowerer::default();
    let mut lowered = Lowered {
        plan: Plan {
            version: PLAN_VERSION,
            plan_id: None,
            auto_merge: None,
            sandbox: None,
            stages: Vec::new(),
            extra: BTreeMap::new(),
        },
        lines: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        complete: true,
    };
    match &root.value {
        NodeValue::Map(entries) => {
            let mut fields = Fields::new(entries);
            let loom = fields.take("loom");
            for entry in fields.rest() {
                lowerer.warnings.push(PlanWarning {
                    line: entry.line,
                    kind: PlanWarningKind::IgnoredField {
                        field: entry.key.clone(),
                    },
                });
            }
            match loom {
                Some(loom) => lowerer.loom(loom, &mut lowered),
                None => {
                    lowerer.missing(first_line, "the plan", "loom");
                    lowered.complete = false;
                }
            }
        }
        // An empty document: yaml places it after the last line, which says less than the
        // block's first line.
        NodeValue::Null => {
            lowerer.missing(first_line, "the plan", "loom");
            lowered.complete = false;
        }
        _ => {
            lowerer.wrong_type(root, "the plan".to_owned(), "a map with a `loom` key");
            lowered.complete = false;
        }
    }
    lowered.errors = lowerer.errors;
    lowered.warnings = lowerer.warnings;
    lowered.warnings.sort_by_key(|warning| warning.line);
    lowered
}
