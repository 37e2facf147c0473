//! `git loom config`: list, read and change the shared settings in `refs/loom/meta`.

use clap::Args;

use git_loom::api::{SettingChangeJson, SettingJson};
use git_loom::project;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Read or change the shared settings (loom.toml in refs/loom/meta)
///
/// With no arguments (or --list) every setting is listed with the value in force; with KEY its
/// value is printed; with KEY VALUE it is set; with --unset KEY it goes back to its default.
/// A change is validated, recorded in the history of refs/loom/meta (see `git log
/// refs/loom/meta`) and, with a coordination remote, published like every write. Keys are
/// `section.key`, e.g. `claims.ttl_secs`; doc/refs.md lists them all.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// List every setting (the default without KEY)
    #[arg(long, conflicts_with_all = ["key", "unset"])]
    list: bool,
    /// Remove KEY from the file, so its default applies
    #[arg(long, value_name = "KEY", conflicts_with_all = ["key", "list"])]
    unset: Option<String>,
    /// The setting, as section.key
    key: Option<String>,
    /// The new value
    value: Option<String>,
}

fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub fn run(args: &ConfigArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    if let Some(key) = &args.unset {
        let actor = context.actor(&store)?;
        let change = project::config_set(&store, key, None, &actor)?;
        return report_change(&change, ui);
    }
    match (&args.key, &args.value) {
        (Some(key), Some(value)) => {
            let actor = context.actor(&store)?;
            let change = project::config_set(&store, key, Some(value), &actor)?;
            report_change(&change, ui)
        }
        (Some(key), None) => {
            let entry = project::config_get(&store, key)?;
            if ui.json {
                ui.json_value(&SettingJson::from(&entry))?;
            } else {
                ui.line(shown(&entry.value))?;
            }
            Ok(Exit::Success)
        }
        (None, _) => {
            let entries = project::config_list(&store)?;
            if ui.json {
                let list: Vec<SettingJson<'_>> = entries.iter().map(SettingJson::from).collect();
                ui.json_value(&list)?;
                return Ok(Exit::Success);
            }
            for entry in &entries {
                let note = match (entry.known, entry.is_default) {
                    (false, _) => "  # not known to this version: ignored",
                    (true, true) => "  # default",
                    (true, false) => "",
                };
                ui.line(format!("{} = {}{note}", entry.key, entry.value))?;
            }
            Ok(Exit::Success)
        }
    }
}

fn report_change(change: &project::ConfigChange, ui: &mut Ui) -> Result<Exit, CommandError> {
    if ui.json {
        ui.json_value(&SettingChangeJson::from(change))?;
    } else if change.changed {
        ui.note(format!("{} = {}", change.entry.key, change.entry.value));
    } else {
        ui.note(format!("{} is already {}", change.entry.key, change.entry.value));
    }
    Ok(Exit::Success)
}
