//! Lowering a stage's checks: acceptance checks with their output criteria, wiring rules and
//! wiring tests, each with the line it came from so that `validate` can name it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::super::tree::{Entry, NodeValue};
use super::{Fields, Lowerer};
use crate::model::checks::{Check, Wiring, WiringTest};

impl Lowerer {
    /// Acceptance criteria or truths: each a command string, or a map with a `command`.
    pub(super) fn checks(&mut self, entry: Option<&Entry>, owner: &str) -> (Vec<Check>, Vec<usize>) {
        let mut checks = (Vec::new(), Vec::new());
        let Some(entry) = entry else { return checks };
        let NodeValue::List(items) = &entry.value.value else {
            self.wrong_type(&entry.value, format!("`{}` of {owner}", entry.key), "a list");
            return checks;
        };
        for (index, item) in items.iter().enumerate() {
            let item_owner = format!("`{}` item {} of {owner}", entry.key, index + 1);
            if let Some(command) = item.text() {
                checks.0.push(Check {
                    command: command.to_owned(),
                    ..Check::default()
                });
                checks.1.push(item.line);
                continue;
            }
            let NodeValue::Map(entries) = &item.value else {
                self.wrong_type(item, item_owner, "a command string or a map");
                continue;
            };
            let mut fields = Fields::new(entries);
            let command = fields.take("command");
            let mut check = self.criteria(&mut fields, &item_owner);
            let Some(command) = command else {
                self.missing(item.line, &item_owner, "command");
                continue;
            };
            if let Some(text) = self.string(command, &item_owner) {
                check.command = text;
                checks.0.push(check);
                checks.1.push(command.value.line);
            }
        }
        checks
    }

    /// What a command's result must look like (every key but `command`), the rest of `fields`
    /// kept as unknown.
    pub(super) fn criteria(&mut self, fields: &mut Fields<'_>, owner: &str) -> Check {
        let stdout_contains = self.texts(fields.take("stdout_contains"), owner);
        let stdout_not_contains = self.texts(fields.take("stdout_not_contains"), owner);
        let stderr_contains = self.texts(fields.take("stderr_contains"), owner);
        let exit_code = fields.take("exit_code").and_then(|code| {
            let number = match code.value.value {
                NodeValue::Int(number) => i32::try_from(number).ok(),
                _ => None,
            };
            if number.is_none() {
                let context = format!("`exit_code` of {owner}");
                self.wrong_type(&code.value, context, "a whole number within 32 bits");
            }
            number
        });
        let stderr_empty = match fields.take("stderr_empty") {
            Some(entry) => match entry.value.value {
                NodeValue::Bool(flag) => flag,
                _ => {
                    self.wrong_type(&entry.value, format!("`stderr_empty` of {owner}"), "true or false");
                    false
                }
            },
            None => false,
        };
        let description = self.optional_string(fields, "description", owner);
        let extra = self.extra(fields, owner);
        Check {
            command: String::new(),
            stdout_contains,
            stdout_not_contains,
            exit_code,
            stderr_contains,
            stderr_empty,
            description,
            working_dir: None,
            extra,
        }
    }

    /// A map field read by `read` (given the map's fields, its owner's name and line), its
    /// unknown keys kept with warnings.
    pub(super) fn map_of<T>(
        &mut self,
        entry: Option<&Entry>,
        owner: &str,
        read: impl FnOnce(&mut Self, &mut Fields<'_>, &str, usize) -> T,
    ) -> Option<(T, BTreeMap<String, Value>)> {
        let entry = entry?;
        let field_owner = format!("`{}` of {owner}", entry.key);
        let NodeValue::Map(entries) = &entry.value.value else {
            self.wrong_type(&entry.value, field_owner, "a map");
            return None;
        };
        let mut fields = Fields::new(entries);
        let value = read(self, &mut fields, &field_owner, entry.value.line);
        let extra = self.extra(&fields, &field_owner);
        Some((value, extra))
    }

    /// Wiring tests: each a map with `name`, `command` and optional `success_criteria`.
    pub(super) fn wiring_tests(&mut self, entry: Option<&Entry>, owner: &str) -> (Vec<WiringTest>, Vec<usize>) {
        let mut tests = (Vec::new(), Vec::new());
        let Some(entry) = entry else { return tests };
        let NodeValue::List(items) = &entry.value.value else {
            self.wrong_type(&entry.value, format!("`wiring_tests` of {owner}"), "a list");
            return tests;
        };
        for (index, item) in items.iter().enumerate() {
            let item_owner = format!("`wiring_tests` item {} of {owner}", index + 1);
            let NodeValue::Map(entries) = &item.value else {
                self.wrong_type(item, item_owner, "a map");
                continue;
            };
            let mut fields = Fields::new(entries);
            let name = self.required_string(&mut fields, "name", &item_owner, item.line);
            let command = fields.take("command");
            let description = self.optional_string(&mut fields, "description", &item_owner);
            let criteria_owner = format!("`success_criteria` of {item_owner}");
            let mut criteria = match fields.take("success_criteria") {
                Some(criteria) => match &criteria.value.value {
                    NodeValue::Map(entries) => self.criteria(&mut Fields::new(entries), &criteria_owner),
                    _ => {
                        self.wrong_type(&criteria.value, criteria_owner, "a map");
                        Check::default()
                    }
                },
                None => Check::default(),
            };
            criteria.description = description;
            criteria.extra.extend(self.extra(&fields, &item_owner));
            let Some(command) = command else {
                self.missing(item.line, &item_owner, "command");
                continue;
            };
            if let Some(text) = self.string(command, &item_owner) {
                criteria.command = text;
                tests.0.push(WiringTest { name, check: criteria });
                tests.1.push(command.value.line);
            }
        }
        tests
    }

    /// Wiring checks, each a map with `source` and `pattern`.
    pub(super) fn wiring(&mut self, entry: Option<&Entry>, owner: &str) -> (Vec<Wiring>, Vec<usize>) {
        let mut wiring = (Vec::new(), Vec::new());
        let Some(entry) = entry else { return wiring };
        let NodeValue::List(items) = &entry.value.value else {
            self.wrong_type(&entry.value, format!("`wiring` of {owner}"), "a list");
            return wiring;
        };
        for (index, item) in items.iter().enumerate() {
            let item_owner = format!("`wiring` item {} of {owner}", index + 1);
            let NodeValue::Map(entries) = &item.value else {
                self.wrong_type(item, item_owner, "a map");
                continue;
            };
            let mut fields = Fields::new(entries);
            let source = self.required_string(&mut fields, "source", &item_owner, item.line);
            let pattern = fields.take("pattern");
            let description = self.optional_string(&mut fields, "description", &item_owner);
            let extra = self.extra(&fields, &item_owner);
            let Some(pattern) = pattern else {
                self.missing(item.line, &item_owner, "pattern");
                continue;
            };
            if let Some(text) = self.string(pattern, &item_owner) {
                wiring.0.push(Wiring {
                    source,
                    pattern: text,
                    description,
                    extra,
                });
                wiring.1.push(pattern.value.line);
            }
        }
        wiring
    }
}
