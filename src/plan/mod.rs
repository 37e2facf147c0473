//! Plans: a document that lists stages of work, what each depends on and how each is checked,
//! read into a validated, in-memory [`Plan`] that a later import turns into tasks.
//!
//! Two sources are read (see `doc/plans.md`): a markdown plan whose machine-readable part is a
//! fenced yaml or toml block between `<!-- loom METADATA -->` and `<!-- END loom METADATA -->`,
//! and a plain TOML file. Reading goes in four steps, each in its own module:
//!
//! - `extract` finds the fenced block of a markdown plan;
//! - `tree` parses yaml or toml into one located tree, so the rest is format-blind;
//! - `parse` turns the tree into a [`Plan`], checking the shape of every field;
//! - `validate` checks what spans fields and stages: ids, duplicates, dependencies, cycles,
//!   commands, patterns and budgets.
//!
//! Guarantees: a plan is accepted or refused as a whole; a refused plan comes back with every
//! error that was found (not only the first), each with the line of the whole input file it is
//! about; a plan that is accepted has unique, valid stage ids, dependencies that name stages of
//! the plan and no dependency cycle. Fields this version does not know are kept as JSON and
//! reported as warnings. Nothing here prints, reads files or the environment.

mod extract;
mod identity;
mod parse;
mod tree;
mod validate;

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::StageHints;
use crate::model::checks::{Check, DeadCodeCheck, RegressionTest, Wiring, WiringTest};

pub use crate::model::stage::check_stage_id;
pub use identity::{LIFECYCLE_PREFIXES, earlier_keys, path_key, plan_key, short_name};

/// The plan layout version this build reads.
pub const PLAN_VERSION: u32 = 1;

/// What kind of document a plan is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanSource {
    /// Markdown with a fenced yaml or toml block between the loom METADATA markers.
    Markdown,
    /// A whole TOML file with a top-level `[loom]` table.
    Toml,
}

/// The notation the machine-readable part is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
        })
    }
}

/// A plan that passed every check, with what was noticed but not refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPlan {
    pub plan: Plan,
    pub warnings: Vec<PlanWarning>,
}

/// The `loom` part of a plan document.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub version: u32,
    /// The plan's own name for itself; when present it is the plan's identity (see
    /// [`plan_key`]).
    pub plan_id: Option<String>,
    /// Whether finished stages may be merged without review (a default for every stage).
    pub auto_merge: Option<bool>,
    /// Sandbox settings for every stage, as written.
    pub sandbox: Option<Value>,
    /// In the order the document lists them.
    pub stages: Vec<Stage>,
    /// Fields of `loom` this version does not know, kept verbatim.
    pub extra: BTreeMap<String, Value>,
}

impl Plan {
    /// The stage with this id.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.id == id)
    }

    /// The plan-level settings every task of the plan keeps: `plan_id`, `auto_merge`,
    /// `sandbox` and the fields this version does not know, as one JSON object (empty when the
    /// plan has none).
    pub fn settings(&self) -> serde_json::Map<String, Value> {
        let mut settings: serde_json::Map<String, Value> = self
            .extra
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if let Some(id) = &self.plan_id {
            settings.insert("plan_id".into(), Value::from(id.as_str()));
        }
        if let Some(flag) = self.auto_merge {
            settings.insert("auto_merge".into(), Value::from(flag));
        }
        if let Some(sandbox) = &self.sandbox {
            settings.insert("sandbox".into(), sandbox.clone());
        }
        settings
    }
}

/// One stage of a plan: a unit of work that becomes one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Unique within the plan (see [`check_stage_id`]).
    pub id: String,
    /// One line, without control characters (see [`crate::model::title_problem`]).
    pub name: String,
    /// Empty when the plan gives none.
    pub description: String,
    /// Ids of stages that must be finished before this one starts.
    pub dependencies: Vec<String>,
    /// Commands that must succeed for the stage's work to be accepted.
    pub acceptance: Vec<Check>,
    /// Commands that prepare a workspace for the stage.
    pub setup: Vec<String>,
    /// Globs of the files the stage is expected to touch.
    pub files: Vec<String>,
    /// Globs or paths of what the stage must leave behind.
    pub artifacts: Vec<String>,
    /// Connections between components that must exist once the stage is done.
    pub wiring: Vec<Wiring>,
    /// Commands stating facts that must hold, checked like acceptance (without setup).
    pub truths: Vec<Check>,
    /// Checks of the tree the work starts from (the state before the stage).
    pub before_stage: Vec<Check>,
    /// Checks of the finished work, judged like truths.
    pub after_stage: Vec<Check>,
    /// Named commands showing components work together.
    pub wiring_tests: Vec<WiringTest>,
    /// A command whose output must show no dead code.
    pub dead_code_check: Option<DeadCodeCheck>,
    /// The test a bug fix must come with.
    pub regression_test: Option<RegressionTest>,
    /// Percent (1–100) of an agent's context the stage may use.
    pub context_budget: Option<u8>,
    /// Where the stage's commands run, relative to the repository root.
    pub working_dir: Option<String>,
    /// Advice for whoever runs an agent on the stage (type, model, sandbox, …).
    pub hints: StageHints,
    /// Fields this version does not know, kept verbatim.
    pub extra: BTreeMap<String, Value>,
    /// The line of the input file where the stage starts.
    pub line: usize,
}

/// Why a plan was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// The 1-based line of the input file; `None` only when the problem has no place (no
    /// metadata section at all).
    pub line: Option<usize>,
    pub kind: PlanErrorKind,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for PlanError {}

/// Every way a plan can be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanErrorKind {
    #[error("{format} syntax error: {message}")]
    Syntax { format: Format, message: String },
    #[error(
        "no `<!-- loom METADATA -->` line: a markdown plan keeps its stages in a fenced yaml or toml block between `<!-- loom METADATA -->` and `<!-- END loom METADATA -->`"
    )]
    MissingMetadata,
    #[error("`<!-- loom METADATA -->` has no `<!-- END loom METADATA -->` after it")]
    MissingEndMarker,
    #[error("no ```yaml or ```toml fenced block between the loom METADATA markers")]
    MissingFence,
    #[error("fenced block is not closed before `<!-- END loom METADATA -->`")]
    UnclosedFence,
    #[error("unsupported plan version {found} (this git-loom reads version {PLAN_VERSION})")]
    UnsupportedVersion { found: String },
    #[error("{context} is missing required field `{field}`")]
    MissingField { context: String, field: &'static str },
    #[error("{context} must be {expected}, found {found}")]
    WrongType {
        context: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("invalid stage id {id:?}: {reason}")]
    InvalidStageId { id: String, reason: &'static str },
    #[error("invalid plan_id {id:?}: {reason}")]
    InvalidPlanId { id: String, reason: &'static str },
    #[error(
        "stage `{stage}` has an invalid name {name:?}: {reason} (a name is one line of text without control characters)"
    )]
    InvalidName {
        stage: String,
        name: String,
        reason: &'static str,
    },
    #[error("{context} is {found:?}, expected one of: {expected}")]
    InvalidValue {
        context: String,
        found: String,
        expected: String,
    },
    #[error("duplicate stage id `{id}` (lines {first_line} and {line})")]
    DuplicateStageId { id: String, first_line: usize, line: usize },
    #[error("stage `{stage}` depends on unknown stage `{dependency}`")]
    UnknownDependency { stage: String, dependency: String },
    #[error("dependency cycle: {}", cycle.join(" → "))]
    Cycle {
        /// The ids along the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    #[error("stage `{stage}` has working_dir {dir:?}, which {reason}")]
    InvalidWorkingDir {
        stage: String,
        dir: String,
        reason: &'static str,
    },
    #[error(
        "stage `{stage}` is a bug fix (`bug_fix: true`) without a `regression_test`: a bug fix must name the test that proves it"
    )]
    BugFixWithoutRegressionTest { stage: String },
    #[error("stage `{stage}` has an empty {field} command")]
    EmptyCommand { stage: String, field: &'static str },
    #[error("stage `{stage}` has a wiring pattern {pattern:?} that is not a valid regex: {reason}")]
    InvalidPattern {
        stage: String,
        pattern: String,
        reason: String,
    },
    #[error("stage `{stage}` has context_budget {found}, outside 1–100")]
    ContextBudget { stage: String, found: i128 },
}

/// Every error found in a refused plan, in the order of their lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanErrors(pub Vec<PlanError>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanErrors {}

/// Something in an accepted plan worth telling its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanWarning {
    pub line: usize,
    pub kind: PlanWarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanWarningKind {
    /// A field this version does not know, kept in the owner's `extra`.
    #[error("unknown field `{field}` in {context} (kept as is)")]
    UnknownField { context: String, field: String },
    /// A top-level key beside `loom`, which nothing reads.
    #[error("top-level field `{field}` is ignored (only `loom` is read)")]
    IgnoredField { field: String },
}

impl fmt::Display for PlanWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

/// Which source a file is, by its extension: `.toml` is TOML, anything else markdown.
pub fn detect_source(path: &Path) -> PlanSource {
    match path.extension() {
        Some(extension) if extension.eq_ignore_ascii_case("toml") => PlanSource::Toml,
        _ => PlanSource::Markdown,
    }
}

/// Read a plan document and check it.
///
/// A syntax error stops reading there, since nothing after it can be trusted to mean what it
/// says; an unsupported `version` stops it too, since the rest follows another layout. Every
/// other error is collected, and the plan is returned only when there is none.
pub fn parse_plan(text: &str, source: PlanSource) -> Result<ParsedPlan, PlanErrors> {
    let block = match source {
        PlanSource::Markdown => extract::metadata_block(text).map_err(|error| PlanErrors(vec![error]))?,
        PlanSource::Toml => extract::Block {
            text,
            first_line: 1,
            format: Format::Toml,
        },
    };
    let root = tree::parse(&block).map_err(PlanErrors)?;
    let lowered = parse::lower(&root, block.first_line);
    let mut errors = lowered.errors;
    if lowered.complete {
        errors.extend(validate::validate(&lowered.plan, &lowered.lines));
    }
    if errors.is_empty() {
        return Ok(ParsedPlan {
            plan: lowered.plan,
            warnings: lowered.warnings,
        });
    }
    // Stable, so errors on one line keep the order in which the checks found them.
    errors.sort_by_key(|error| error.line);
    Err(PlanErrors(errors))
}

impl Stage {
    /// A digest of everything the stage says, to tell an unchanged stage from a changed one
    /// when a plan is imported again.
    ///
    /// It covers every field but `line`, so moving a stage within the document or switching
    /// between yaml and toml changes nothing. Names, descriptions, commands and paths are
    /// compared without surrounding whitespace (a yaml block scalar ends in a newline a toml
    /// string may lack), dependencies as a set; everything else, list order included, counts. The value is 64
    /// hex digits and stays the same across builds for as long as this scheme's tag does.
    pub fn fingerprint(&self) -> String {
        let strings = |items: &[String]| Value::from(items.iter().map(|item| item.trim()).collect::<Vec<_>>());
        let checks = |checks: &[Check]| {
            Value::from(
                checks
                    .iter()
                    .map(|check| {
                        serde_json::json!({
                            "command": check.command.trim(),
                            // Untrimmed, unlike the rest: a space can be what is looked for.
                            "stdout_contains": check.stdout_contains,
                            "stdout_not_contains": check.stdout_not_contains,
                            "exit_code": check.exit_code,
                            "stderr_contains": check.stderr_contains,
                            "stderr_empty": check.stderr_empty,
                            "description": check.description,
                            "extra": check.extra,
                        })
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let mut dependencies: Vec<&str> = self.dependencies.iter().map(|id| id.trim()).collect();
        dependencies.sort_unstable();
        dependencies.dedup();
        let wiring: Vec<Value> = self
            .wiring
            .iter()
            .map(|wiring| {
                serde_json::json!({
                    "source": wiring.source.trim(),
                    "pattern": wiring.pattern,
                    "description": wiring.description.as_deref().map(str::trim),
                    "extra": wiring.extra,
                })
            })
            .collect();
        let normalized = serde_json::json!({
            "id": self.id.trim(),
            "name": self.name.trim(),
            "description": self.description.trim(),
            "dependencies": dependencies,
            "acceptance": checks(&self.acceptance),
            "setup": strings(&self.setup),
            "files": strings(&self.files),
            "artifacts": strings(&self.artifacts),
            "wiring": wiring,
            "truths": checks(&self.truths),
            "before_stage": checks(&self.before_stage),
            "dead_code_check": self.dead_code_check.as_ref().map(|check| serde_json::json!({
                "command": check.command.trim(),
                "fail_patterns": check.fail_patterns,
                "ignore_patterns": check.ignore_patterns,
                "extra": check.extra,
            })),
            "regression_test": self.regression_test.as_ref().map(|test| serde_json::json!({
                "file": test.file.trim(),
                "must_contain": test.must_contain,
                "extra": test.extra,
            })),
            "after_stage": checks(&self.after_stage),
            "wiring_tests": self
                .wiring_tests
                .iter()
                .map(|test| serde_json::json!({"name": test.name.trim(), "check": checks(std::slice::from_ref(&test.check))}))
                .collect::<Vec<_>>(),
            "context_budget": self.context_budget,
            "working_dir": self.working_dir.as_deref().map(str::trim),
            "extra": self.extra,
        });
        // Only when present, so stages without hints keep the fingerprint they had before
        // hints were read (and re-importing them after an upgrade changes nothing).
        let mut normalized = normalized;
        if !self.hints.is_empty() {
            normalized["hints"] =
                serde_json::to_value(&self.hints).expect("hints serialize because they are plain data");
        }
        let mut canonical = String::from("git-loom plan stage 1\n");
        write_canonical(&normalized, &mut canonical);
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// JSON with object keys sorted at every depth, so the digest does not depend on how the map
/// type orders keys (which changes with serde_json's `preserve_order` feature).
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by_key(|(key, _)| *key);
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
