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

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(value: &impl Serialize) -> String {
        serde_json::to_string_pretty(value).expect("the shapes serialize")
    }

    // Guards: `init --json` changing shape when its JSON moved out of the CLI (doc/cli.md
    // shows this object for a project that was already initialised).
    #[test]
    fn init_of_an_initialised_project_prints_the_documented_object() {
        let meta = Meta::new("shop".into(), jiff::Timestamp::UNIX_EPOCH);
        let json = InitJson::new(&meta, &InitOutcome::AlreadyInitialized);
        assert_eq!(
            pretty(&json),
            r#"{
  "project": "shop",
  "schema": 1,
  "created": false,
  "renamed_from": null
}"#
        );
        let renamed = InitOutcome::Renamed { from: "shop2".into() };
        let json = InitJson::new(&meta, &renamed);
        assert_eq!(json.renamed_from, Some("shop2"));
        assert!(!json.created);
        assert!(InitJson::new(&meta, &InitOutcome::Created).created);
    }

    // Guards: `doctor --json` losing a field or reordering keys (doc/cli.md's example).
    #[test]
    fn doctor_report_prints_the_documented_object() {
        let report = DoctorReport {
            findings: vec![Finding {
                kind: FindingKind::VoidClaim,
                subject: "refs/loom/claims/loom-3caf9b4d".into(),
                message: "a claim of bob on a done task: nobody holds it".into(),
                fix: "git loom doctor --fix".into(),
                fixable: true,
                fixed: false,
            }],
            tasks: 12,
            claims: 3,
            handoffs: 4,
        };
        assert_eq!(
            pretty(&DoctorReportJson::from(&report)),
            r#"{
  "healthy": false,
  "checked": {
    "tasks": 12,
    "claims": 3,
    "handoffs": 4
  },
  "findings": [
    {
      "kind": "void-claim",
      "subject": "refs/loom/claims/loom-3caf9b4d",
      "message": "a claim of bob on a done task: nobody holds it",
      "fix": "git loom doctor --fix",
      "fixable": true,
      "fixed": false
    }
  ]
}"#
        );
    }

    // Guards: a config change losing the flattened setting fields or `changed`.
    #[test]
    fn a_setting_change_is_the_setting_followed_by_changed() {
        let change = ConfigChange {
            entry: SettingEntry {
                key: "claims.ttl_secs".into(),
                value: serde_json::json!(600),
                is_default: false,
                known: true,
            },
            changed: true,
        };
        assert_eq!(
            serde_json::to_string(&SettingChangeJson::from(&change)).expect("serializes"),
            r#"{"key":"claims.ttl_secs","value":600,"default":false,"known":true,"changed":true}"#
        );
        assert_eq!(
            serde_json::to_string(&SettingJson::from(&change.entry)).expect("serializes"),
            r#"{"key":"claims.ttl_secs","value":600,"default":false,"known":true}"#
        );
    }
}
