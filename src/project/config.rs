//! `git loom config`: reading and changing the shared settings (`loom.toml` in
//! `refs/loom/meta`) without git plumbing.
//!
//! Guarantees:
//! - only keys this version knows can be set, each with a value of its type, and a change that
//!   would leave the file invalid is refused before anything is written;
//! - the file is edited in place: comments, key order and keys of other versions survive;
//! - a change is one new version of `refs/loom/meta` (its history is the settings' history),
//!   written with compare-and-swap on the tip it read and published like every other write;
//! - settings that no longer validate can still be listed and repaired, since every other
//!   command refuses to run on them.

use serde_json::Value;
use toml_edit::DocumentMut;

use crate::loom::{Actor, Error, META_FILE, RawMeta, Result, SETTINGS_FILE, publish, read_raw_meta, with_retries};
use crate::model::Settings;
use crate::store::{self, CommitMessage, Expected, RefUpdate, Store};

/// One setting as it applies now.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingEntry {
    /// `section.key`, e.g. `claims.ttl_secs`.
    pub key: String,
    /// The value in force: the file's when it sets one, else the default.
    pub value: Value,
    /// Whether the file leaves this key at its default.
    pub is_default: bool,
    /// Whether this version of git-loom knows the key (unknown keys are kept and ignored).
    pub known: bool,
}

/// What `config_set` did.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChange {
    pub entry: SettingEntry,
    /// False when the file already said this (nothing was written).
    pub changed: bool,
}

/// Every known key with its default, in the order the settings file lists them.
fn defaults() -> Vec<(String, toml::Value)> {
    let table = toml::Table::try_from(Settings::default()).expect("the default settings form a TOML table");
    let mut keys = Vec::new();
    for (section, body) in table {
        if let toml::Value::Table(body) = body {
            for (key, value) in body {
                keys.push((format!("{section}.{key}"), value));
            }
        }
    }
    keys
}

/// The settings file as a table, leniently: a file that does not parse counts as empty here,
/// and the caller reports the syntax error where it matters.
fn stored_table(text: &str) -> toml::Table {
    text.parse::<toml::Table>().unwrap_or_default()
}

fn lookup<'t>(table: &'t toml::Table, key: &str) -> Option<&'t toml::Value> {
    let (section, name) = key.split_once('.')?;
    table.get(section)?.as_table()?.get(name)
}

fn json_of(value: &toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Every setting in force, known keys first, then keys the file holds that this version does
/// not know.
pub fn config_list(store: &Store) -> Result<Vec<SettingEntry>> {
    let raw = read_raw_meta(store)?.ok_or(Error::NotInitialized)?;
    Ok(entries(&raw.settings_text))
}

fn entries(text: &str) -> Vec<SettingEntry> {
    let table = stored_table(text);
    let defaults = defaults();
    let mut list: Vec<SettingEntry> = defaults
        .iter()
        .map(|(key, default)| match lookup(&table, key) {
            Some(value) => SettingEntry {
                key: key.clone(),
                value: json_of(value),
                is_default: false,
                known: true,
            },
            None => SettingEntry {
                key: key.clone(),
                value: json_of(default),
                is_default: true,
                known: true,
            },
        })
        .collect();
    for (section, body) in &table {
        let Some(body) = body.as_table() else { continue };
        if section == "agents" {
            list.extend(preset_entries(body));
            continue;
        }
        for (name, value) in body {
            let key = format!("{section}.{name}");
            if !defaults.iter().any(|(known, _)| *known == key) {
                list.push(SettingEntry {
                    key,
                    value: json_of(value),
                    is_default: false,
                    known: false,
                });
            }
        }
    }
    list
}

/// One setting, known or kept from another version.
pub fn config_get(store: &Store, key: &str) -> Result<SettingEntry> {
    config_list(store)?
        .into_iter()
        .find(|entry| entry.key == key)
        .ok_or_else(|| unknown_key(key))
}

fn unknown_key(key: &str) -> Error {
    let known: Vec<String> = defaults().into_iter().map(|(key, _)| key).collect();
    Error::Invalid(format!(
        "unknown setting {key:?}; the settings are: {}",
        known.join(", ")
    ))
}

/// Set `key` to `value` (`None`: remove it from the file, back to its default).
pub fn config_set(store: &Store, key: &str, value: Option<&str>, actor: &Actor) -> Result<ConfigChange> {
    if let Some(field) = preset_field(key)? {
        let typed = value.map(|text| preset_value(key, field, text)).transpose()?;
        return with_retries(|| set_once(store, key, typed.as_ref(), actor));
    }
    let default = defaults()
        .into_iter()
        .find(|(known, _)| known == key)
        .map(|(_, default)| default)
        .ok_or_else(|| unknown_key(key))?;
    let typed = value.map(|text| typed_value(key, text, &default)).transpose()?;
    with_retries(|| set_once(store, key, typed.as_ref(), actor))
}

/// `text` as a value of the type `default` has.
fn typed_value(key: &str, text: &str, default: &toml::Value) -> Result<toml_edit::Value> {
    let wrong = |kind: &str| Error::Invalid(format!("{key} takes {kind}, not {text:?}"));
    Ok(match default {
        toml::Value::Integer(_) => text.trim().parse::<i64>().map_err(|_| wrong("a whole number"))?.into(),
        toml::Value::Boolean(_) => text.trim().parse::<bool>().map_err(|_| wrong("true or false"))?.into(),
        toml::Value::Float(_) => text.trim().parse::<f64>().map_err(|_| wrong("a number"))?.into(),
        _ => text.into(),
    })
}

/// The fields a preset (`[agents.NAME]`) may set with `config`.
const PRESET_FIELDS: &[&str] = &["command", "timeout_secs", "env"];

/// The field `key` sets when it is `agents.NAME.FIELD` (`None` for any other key); a malformed
/// one is refused naming what is allowed.
fn preset_field(key: &str) -> Result<Option<&str>> {
    let Some(rest) = key.strip_prefix("agents.") else {
        return Ok(None);
    };
    let (name, field) = rest.rsplit_once('.').unwrap_or((rest, ""));
    let name_ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok || !PRESET_FIELDS.contains(&field) {
        return Err(Error::Invalid(format!(
            "unknown setting {key:?}; an agent preset is set as agents.NAME.command, \
             agents.NAME.timeout_secs or agents.NAME.env (NAME of letters, digits, `-` and `_`)"
        )));
    }
    Ok(Some(field))
}

/// `text` as the value of preset field `field`: `command` takes a TOML array of strings
/// (`["aider", "--message-file", "{signal}"]`), `timeout_secs` a whole number, `env` a TOML
/// inline table of strings (`{ MODEL = "large" }`).
fn preset_value(key: &str, field: &str, text: &str) -> Result<toml_edit::Value> {
    let wrong = |kind: &str| Error::Invalid(format!("{key} takes {kind}, not {text:?}"));
    if field == "timeout_secs" {
        return Ok(text.trim().parse::<i64>().map_err(|_| wrong("a whole number"))?.into());
    }
    if field == "env" {
        let kind = "a TOML inline table of strings, e.g. { MODEL = \"large\" }";
        let document: DocumentMut = format!("value = {text}").parse().map_err(|_| wrong(kind))?;
        let mut value = document
            .get("value")
            .and_then(|item| item.as_value())
            .cloned()
            .ok_or_else(|| wrong(kind))?;
        let table = value.as_inline_table().ok_or_else(|| wrong(kind))?;
        if table.iter().any(|(_, entry)| entry.as_str().is_none()) {
            return Err(wrong(kind));
        }
        value.decor_mut().clear();
        return Ok(value);
    }
    let kind = "a TOML array of strings, the program first, e.g. [\"aider\", \"--message-file\", \"{signal}\"]";
    let document: DocumentMut = format!("value = {text}").parse().map_err(|_| wrong(kind))?;
    let value = document
        .get("value")
        .and_then(|item| item.as_value())
        .cloned()
        .ok_or_else(|| wrong(kind))?;
    let words = value.as_array().ok_or_else(|| wrong(kind))?;
    if words.is_empty() || words.iter().any(|word| word.as_str().is_none()) {
        return Err(wrong(kind));
    }
    let mut value = value;
    value.decor_mut().clear();
    Ok(value)
}

/// The table at the dotted `path` of `root`, made when missing (`agents` itself implicit, so
/// the file shows `[agents.NAME]` alone).
fn table_at<'d>(root: &'d mut toml_edit::Table, path: &str) -> Result<&'d mut dyn toml_edit::TableLike> {
    let mut table: &mut dyn toml_edit::TableLike = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (depth, part) in parts.iter().enumerate() {
        if table.get(part).is_none() {
            let mut new = toml_edit::Table::new();
            new.set_implicit(depth + 1 < parts.len());
            table.insert(part, toml_edit::Item::Table(new));
        }
        table = table
            .get_mut(part)
            .and_then(|item| item.as_table_like_mut())
            .ok_or_else(|| Error::Invalid(format!("loom.toml: `{part}` is not a table")))?;
    }
    Ok(table)
}

/// Remove `name` from the table at `path` of `table`; whether that table is empty after.
fn remove_at(table: &mut dyn toml_edit::TableLike, path: &[&str], name: &str) -> bool {
    match path.split_first() {
        None => {
            table.remove(name);
            table.is_empty()
        }
        Some((first, rest)) => match table.get_mut(first).and_then(|item| item.as_table_like_mut()) {
            Some(inner) => remove_at(inner, rest, name),
            None => false,
        },
    }
}

/// The presets of an `[agents]` table, one entry per field.
fn preset_entries(agents: &toml::Table) -> Vec<SettingEntry> {
    let mut list = Vec::new();
    for (name, preset) in agents {
        let Some(preset) = preset.as_table() else { continue };
        for (field, value) in preset {
            list.push(SettingEntry {
                key: format!("agents.{name}.{field}"),
                value: json_of(value),
                is_default: false,
                known: PRESET_FIELDS.contains(&field.as_str()) || field == "env",
            });
        }
    }
    list
}

fn set_once(store: &Store, key: &str, value: Option<&toml_edit::Value>, actor: &Actor) -> Result<ConfigChange> {
    let raw: RawMeta = read_raw_meta(store)?.ok_or(Error::NotInitialized)?;
    let mut document: DocumentMut = raw.settings_text.parse().map_err(|err| Error::Settings {
        ref_name: store::META_REF.to_owned(),
        source: crate::model::meta::SettingsError::Edit(format!("{err}")),
    })?;
    let (section, name) = key
        .rsplit_once('.')
        .expect("known keys are `section.key` or `agents.NAME.key` because only those are let through");
    match value {
        Some(value) => {
            let table = table_at(document.as_table_mut(), section)?;
            match table.get_mut(name).and_then(|item| item.as_value_mut()) {
                // Keep the comment that decorates the old value.
                Some(old) => {
                    let decor = old.decor().clone();
                    *old = value.clone();
                    *old.decor_mut() = decor;
                }
                None => {
                    table.insert(name, toml_edit::Item::Value(value.clone()));
                }
            }
        }
        None => {
            let path: Vec<&str> = section.split('.').collect();
            let emptied = remove_at(document.as_table_mut(), &path, name);
            // A preset left with no field at all goes with its last one.
            if path.len() == 2
                && emptied
                && let Some(agents) = document.get_mut(path[0]).and_then(|item| item.as_table_like_mut())
            {
                agents.remove(path[1]);
            }
        }
    }
    let text = document.to_string();
    let entry_after = |text: &str| {
        entries(text)
            .into_iter()
            .find(|entry| entry.key == key)
            .unwrap_or(SettingEntry {
                // Only a preset's field, unset, is listed nowhere: it has no default.
                key: key.to_owned(),
                value: Value::Null,
                is_default: true,
                known: true,
            })
    };
    if text == raw.settings_text {
        return Ok(ConfigChange {
            entry: entry_after(&text),
            changed: false,
        });
    }
    check_edit(key, &raw.settings_text, &text)?;
    let summary = match value {
        Some(value) => format!("config: set {key} = {}", value.to_string().trim()),
        None => format!("config: unset {key}"),
    };
    let message = CommitMessage::version(summary, None, &actor.agent, "config");
    let commit = store.write_version(
        &[(META_FILE, &raw.meta_blob), (SETTINGS_FILE, text.as_bytes())],
        &[raw.tip],
        &message,
        &actor.signature(),
    )?;
    publish::publish(
        store,
        &[RefUpdate {
            name: store::META_REF.to_owned(),
            expected: Expected::Tip(raw.tip),
            new: Some(commit),
        }],
        actor,
    )?;
    Ok(ConfigChange {
        entry: entry_after(&text),
        changed: true,
    })
}

/// Refuse an edit that leaves the file worse: it must parse, and every key out of range after
/// it must be another key that was already out of range before (so a file with two bad values
/// can be repaired one key at a time).
fn check_edit(key: &str, before: &str, after: &str) -> Result<()> {
    let invalid = |source| Error::Settings {
        ref_name: store::META_REF.to_owned(),
        source,
    };
    // A value of the right TOML type can still be wrong for its field (a priority `p9`).
    let settings: Settings =
        toml::from_str(after).map_err(|err| Error::Invalid(format!("{key}: {}", err.message())))?;
    let old_problems: Vec<&'static str> = toml::from_str::<Settings>(before)
        .map(|old| old.problems().into_iter().map(|problem| problem.key()).collect())
        .unwrap_or_default();
    for problem in settings.problems() {
        if problem.key() == key {
            return Err(Error::Invalid(problem.to_string()));
        }
        if !old_problems.contains(&problem.key()) {
            return Err(invalid(problem));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_listed_and_file_values_win() {
        let text = "# shared\n[claims]\nttl_secs = 60 # short\n[future]\nknob = 1\n";
        let list = entries(text);
        let ttl = list.iter().find(|e| e.key == "claims.ttl_secs").unwrap();
        assert_eq!((ttl.value.clone(), ttl.is_default), (Value::from(60), false));
        let heartbeat = list.iter().find(|e| e.key == "claims.heartbeat_secs").unwrap();
        assert!(heartbeat.is_default);
        let future = list.iter().find(|e| e.key == "future.knob").unwrap();
        assert!(!future.known);
    }

    #[test]
    fn an_edit_may_leave_other_broken_keys_but_not_break_its_own() {
        let before = "[claims]\nttl_secs = 0\n[retry]\nmax_secs = 1000000000000\n";
        let fixed_one = "[claims]\nttl_secs = 60\n[retry]\nmax_secs = 1000000000000\n";
        assert!(check_edit("claims.ttl_secs", before, fixed_one).is_ok());
        let broke_other = "[claims]\nttl_secs = 60\n[retry]\nbase_secs = 1000000000000\n";
        assert!(check_edit("claims.ttl_secs", "", broke_other).is_err());
        assert!(check_edit("claims.ttl_secs", "", "[claims]\nttl_secs = 0\n").is_err());
        assert!(check_edit("tasks.default_priority", "", "[tasks]\ndefault_priority = \"p9\"\n").is_err());
    }

    // Guards: agent presets (`[agents.NAME]`) being unreachable through `config`, or a
    // malformed command slipping into the settings.
    #[test]
    fn presets_are_set_field_by_field_and_checked() {
        assert_eq!(preset_field("agents.aider.command").unwrap(), Some("command"));
        assert_eq!(preset_field("claims.ttl_secs").unwrap(), None);
        for bad in [
            "agents.aider",
            "agents..command",
            "agents.a b.command",
            "agents.aider.envs",
        ] {
            assert!(preset_field(bad).is_err(), "{bad}");
        }
        let value = preset_value("agents.a.command", "command", r#"["aider", "--file", "{signal}"]"#).unwrap();
        assert_eq!(value.to_string(), r#"["aider", "--file", "{signal}"]"#);
        for bad in ["aider", "[]", "[1, 2]", "[\"a\""] {
            assert!(preset_value("agents.a.command", "command", bad).is_err(), "{bad}");
        }
        let env = preset_value("agents.a.env", "env", r#"{ MODEL = "large", TIER = "x" }"#).unwrap();
        assert_eq!(env.to_string(), r#"{ MODEL = "large", TIER = "x" }"#);
        for bad in ["MODEL=large", "{ MODEL = 1 }", "[\"a\"]", "{"] {
            assert!(preset_value("agents.a.env", "env", bad).is_err(), "{bad}");
        }
        let mut document: DocumentMut = "[claims]\nttl_secs = 60\n".parse().unwrap();
        table_at(document.as_table_mut(), "agents.aider")
            .unwrap()
            .insert("command", toml_edit::Item::Value(value));
        let text = document.to_string();
        assert!(text.contains("[agents.aider]\ncommand = "), "{text}");
        assert!(!text.contains("[agents]\n"), "the parent table stays implicit: {text}");
        let listed = entries(&text);
        let entry = listed.iter().find(|entry| entry.key == "agents.aider.command").unwrap();
        assert!(entry.known && !entry.is_default);
        assert!(remove_at(document.as_table_mut(), &["agents", "aider"], "command"));
    }
}
