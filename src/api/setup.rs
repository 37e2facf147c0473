//! What `setup` reports, and the envelope Claude Code reads from a `SessionStart` hook. The
//! shapes are interface, documented in `doc/cli.md` (`setup`, `agent-hook`).

use serde::Serialize;

use crate::project::{FileReport, SetupReport};

/// What `setup` (or `setup --remove`) did, file by file.
#[derive(Debug, Serialize)]
pub struct SetupJson<'a> {
    /// `claude`, `codex` or `generic`.
    pub agent: &'static str,
    pub remove: bool,
    /// Whether any file on disk changed.
    pub changed: bool,
    pub files: Vec<SetupFileJson<'a>>,
    /// What happened to each git hook (installed with the agent's files, removed with them).
    pub hooks: Vec<super::HookChangeJson>,
}

/// One file `setup` looked at.
#[derive(Debug, Serialize)]
pub struct SetupFileJson<'a> {
    /// Relative to the working tree.
    pub path: &'static str,
    /// `created`, `updated`, `unchanged`, `kept`, `restored`, `edited`, `deleted` or `absent`.
    pub action: &'static str,
    pub note: Option<&'a str>,
}

impl<'a> SetupJson<'a> {
    /// The same, with what happened to the git hooks.
    pub fn with_hooks(self, changes: &[crate::hooks::HookChange]) -> Self {
        SetupJson {
            changed: self.changed
                || changes
                    .iter()
                    .any(|change| !matches!(change, crate::hooks::HookChange::Unchanged { .. })),
            hooks: changes.iter().map(super::HookChangeJson::from).collect(),
            ..self
        }
    }

    pub fn new(report: &'a SetupReport) -> Self {
        SetupJson {
            agent: report.agent.name(),
            remove: report.remove,
            changed: report.files.iter().any(|file| file.action.wrote()),
            files: report.files.iter().map(SetupFileJson::from).collect(),
            hooks: Vec::new(),
        }
    }
}

impl<'a> From<&'a FileReport> for SetupFileJson<'a> {
    fn from(file: &'a FileReport) -> Self {
        SetupFileJson {
            path: file.path,
            action: file.action.name(),
            note: file.note.as_deref(),
        }
    }
}

/// The JSON a Claude Code hook prints to add text to the session's context.
#[derive(Debug, Serialize)]
pub struct HookContextJson<'a> {
    #[serde(rename = "hookSpecificOutput")]
    pub hook_specific_output: HookSpecificOutput<'a>,
}

#[derive(Debug, Serialize)]
pub struct HookSpecificOutput<'a> {
    #[serde(rename = "hookEventName")]
    pub hook_event_name: &'a str,
    #[serde(rename = "additionalContext")]
    pub additional_context: &'a str,
}

impl<'a> HookContextJson<'a> {
    /// `context` added to the session by a hook on `event` (as Claude Code names it).
    pub fn new(event: &'a str, context: &'a str) -> Self {
        HookContextJson {
            hook_specific_output: HookSpecificOutput {
                hook_event_name: event,
                additional_context: context,
            },
        }
    }
}
