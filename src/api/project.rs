//! The project as every front end reports it: what `init` did, the shared settings and their
//! changes, and what `doctor` found. The shapes are interface, documented in `doc/cli.md`
//! (`init`, `config`, `doctor`).

use serde::Serialize;

use crate::model::Meta;
use crate::project::{ConfigChange, DoctorReport, Finding, FindingKind, InitOutcome, SettingEntry};

/// What `init` did, and the project as it now stands.
#[derive(Debug, Serialize)]
pub struct InitJson<'a> {
    pub project: &'a str,
    pub schema: u32,
    /// Whether this run created `refs/loom/meta`.
    pub created: bool,
    /// The previous name when this run renamed the project.
    pub renamed_from: Option<&'a str>,
}

impl<'a> InitJson<'a> {
    /// `meta` is the project after `init`; `outcome` what `init` did to it.
    pub fn new(meta: &'a Meta, outcome: &'a InitOutcome) -> Self {
        InitJson {
            project: &meta.project,
            schema: meta.schema,
            created: *outcome == InitOutcome::Created,
            renamed_from: match outcome {
                InitOutcome::Renamed { from } => Some(from),
                _ => None,
            },
        }
    }
}

/// One shared setting with the value in force.
#[derive(Debug, Serialize)]
pub struct SettingJson<'a> {
    pub key: &'a str,
    pub value: &'a serde_json::Value,
    /// Whether the settings file leaves the key at its default.
    pub default: bool,
    /// Whether this version knows the key (unknown keys are kept and ignored).
    pub known: bool,
}

impl<'a> From<&'a SettingEntry> for SettingJson<'a> {
    fn from(entry: &'a SettingEntry) -> Self {
        SettingJson {
            key: &entry.key,
            value: &entry.value,
            default: entry.is_default,
            known: entry.known,
        }
    }
}

/// A setting after a change, and whether anything was written.
#[derive(Debug, Serialize)]
pub struct SettingChangeJson<'a> {
    #[serde(flatten)]
    pub entry: SettingJson<'a>,
    pub changed: bool,
}

impl<'a> From<&'a ConfigChange> for SettingChangeJson<'a> {
    fn from(change: &'a ConfigChange) -> Self {
        SettingChangeJson {
            entry: SettingJson::from(&change.entry),
            changed: change.changed,
        }
    }
}

/// What `doctor` found, and how much it looked at.
#[derive(Debug, Serialize)]
pub struct DoctorReportJson<'a> {
    /// Whether no finding is left (every one, if any, was fixed by this run).
    pub healthy: bool,
    pub checked: DoctorCheckedJson,
    pub findings: Vec<FindingJson<'a>>,
}

/// How many refs of each kind `doctor` examined.
#[derive(Debug, Serialize)]
pub struct DoctorCheckedJson {
    pub tasks: usize,
    pub claims: usize,
    pub handoffs: usize,
}

/// One thing `doctor` found wrong, with what mends it.
#[derive(Debug, Serialize)]
pub struct FindingJson<'a> {
    pub kind: FindingKind,
    pub subject: &'a str,
    pub message: &'a str,
    pub fix: &'a str,
    pub fixable: bool,
    pub fixed: bool,
}

impl<'a> From<&'a Finding> for FindingJson<'a> {
    fn from(finding: &'a Finding) -> Self {
        FindingJson {
            kind: finding.kind,
            subject: &finding.subject,
            message: &finding.message,
            fix: &finding.fix,
            fixable: finding.fixable,
            fixed: finding.fixed,
        }
    }
}

impl<'a> From<&'a DoctorReport> for DoctorReportJson<'a> {
    fn from(report: &'a DoctorReport) -> Self {
        DoctorReportJson {
            healthy: report.healthy(),
            checked: DoctorCheckedJson {
                tasks: report.tasks,
                claims: report.claims,
                handoffs: report.handoffs,
            },
            findings: report.findings.iter().map(FindingJson::from).collect(),
        }
    }
}
