//! The edits `setup` makes to one file, as pure text-to-text functions: a block between
//! markers in markdown or TOML, the `loom` server in an MCP config, and git-loom's hooks in
//! Claude Code's settings. Each edit can tell whether its part is present, add it (or nothing
//! when it is already there) and take it out again, touching nothing else: JSON is edited
//! through a concrete syntax tree, so the user's keys, order, comments and spacing stay as they
//! were. Taking out is judged by what git-loom wrote, never by position, so a user's own
//! entries beside it are never removed.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstArray, CstInputValue, CstObject, CstRootNode};
use serde_json::Value;

use super::setup::SetupError;

/// The command Claude Code's hooks run, before the event name (`session-start`, `pre-compact`).
pub const AGENT_HOOK_COMMAND: &str = "git loom agent-hook";

/// Comment markers around a block of text that git-loom owns.
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    pub begin: &'static str,
    pub end: &'static str,
}

pub const MARKDOWN: Markers = Markers {
    begin: "<!-- git-loom:begin -->",
    end: "<!-- git-loom:end -->",
};

pub const TOML: Markers = Markers {
    begin: "# git-loom:begin",
    end: "# git-loom:end",
};

/// Where the marked block sits in `text`: the byte range from its begin marker to just after
/// the end marker's line.
fn block_range(text: &str, markers: Markers) -> Option<(usize, usize)> {
    let start = line_start_of(text, markers.begin)?;
    let end_marker = start + text[start..].find(markers.end)?;
    let mut end = end_marker + markers.end.len();
    if text[end..].starts_with("\r\n") {
        end += 2;
    } else if text[end..].starts_with('\n') {
        end += 1;
    }
    Some((start, end))
}

/// The offset of `marker` where it starts a line (a marker quoted mid-line is not one).
fn line_start_of(text: &str, marker: &str) -> Option<usize> {
    text.match_indices(marker)
        .map(|(at, _)| at)
        .find(|&at| at == 0 || text[..at].ends_with('\n'))
}

/// `body` (which ends with a newline) between the markers.
fn render_block(body: &str, markers: Markers) -> String {
    format!("{}\n{body}{}\n", markers.begin, markers.end)
}

/// `text` with the marked block holding `body`: appended after a blank line when absent,
/// replaced when it differs; `None` when it is already there as it should be.
pub fn insert_block(text: &str, body: &str, markers: Markers) -> Option<String> {
    let block = render_block(body, markers);
    if let Some((start, end)) = block_range(text, markers) {
        if text[start..end] == block {
            return None;
        }
        return Some(format!("{}{block}{}", &text[..start], &text[end..]));
    }
    // Always one blank line before the block, so that removal knows what to take back.
    let separator = match text {
        "" => "",
        _ if text.ends_with('\n') => "\n",
        _ => "\n\n",
    };
    Some(format!("{text}{separator}{block}"))
}

/// `text` without the marked block (and the blank line `insert_block` put before it, unless
/// that leaves text joined to the line above); `None` when it has no block.
pub fn remove_block(text: &str, markers: Markers) -> Option<String> {
    let (start, end) = block_range(text, markers)?;
    let mut before = &text[..start];
    let after = &text[end..];
    // The blank line before the block was `insert_block`'s; keep one where text follows.
    let blank_after = after.is_empty() || after.starts_with('\n') || after.starts_with("\r\n");
    if blank_after && before.ends_with("\n\n") {
        before = &before[..before.len() - 1];
    }
    Some(format!("{before}{after}"))
}

/// Whether `text` has the marked block.
pub fn has_block(text: &str, markers: Markers) -> bool {
    block_range(text, markers).is_some()
}

fn parse_cst(text: &str, file: &str) -> Result<CstRootNode, SetupError> {
    // Strict JSON first: these files are read by tools that accept nothing looser.
    serde_json::from_str::<Value>(text).map_err(|err| SetupError::InvalidJson {
        file: file.to_owned(),
        reason: err.to_string(),
    })?;
    CstRootNode::parse(text, &ParseOptions::default()).map_err(|err| SetupError::InvalidJson {
        file: file.to_owned(),
        reason: err.to_string(),
    })
}

fn root_object(root: &CstRootNode, file: &str) -> Result<CstObject, SetupError> {
    root.object_value().ok_or_else(|| SetupError::InvalidJson {
        file: file.to_owned(),
        reason: "the top level is not a JSON object".to_owned(),
    })
}

/// Pretty JSON with a final newline, the way a new file is written.
fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a serde_json::Value always serializes");
    text.push('\n');
    text
}

fn input_of(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(input_of).collect()),
        Value::Object(map) => CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), input_of(v))).collect()),
    }
}

/// The MCP server entry `setup` writes under `mcpServers.loom`.
pub fn mcp_entry() -> Value {
    serde_json::json!({ "command": "git", "args": ["loom", "mcp"], "env": {} })
}

/// Whether an `mcpServers.loom` value runs git-loom's server (whatever else it sets).
fn is_loom_server(value: &Value) -> bool {
    value.get("command").and_then(Value::as_str) == Some("git")
        && value
            .get("args")
            .and_then(Value::as_array)
            .is_some_and(|args| args.len() >= 2 && args[0] == "loom" && args[1] == "mcp")
}

/// What adding git-loom's part to a JSON file found.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonAdd {
    /// The new text.
    Changed(String),
    /// Already there.
    Present,
    /// The key is taken by the user's own value: left alone.
    Taken(String),
}

/// `.mcp.json` with the `loom` server added.
pub fn add_mcp_server(text: &str, file: &str) -> Result<JsonAdd, SetupError> {
    if text.trim().is_empty() {
        return Ok(JsonAdd::Changed(pretty(
            &serde_json::json!({ "mcpServers": { "loom": mcp_entry() } }),
        )));
    }
    let root = parse_cst(text, file)?;
    let object = root_object(&root, file)?;
    let servers = object
        .object_value_or_create("mcpServers")
        .ok_or_else(|| SetupError::InvalidJson {
            file: file.to_owned(),
            reason: "`mcpServers` is not an object".to_owned(),
        })?;
    if let Some(existing) = servers.get("loom") {
        let value = existing
            .value()
            .and_then(|node| node.to_serde_value())
            .unwrap_or(Value::Null);
        return Ok(match is_loom_server(&value) {
            true => JsonAdd::Present,
            false => JsonAdd::Taken("`mcpServers.loom` runs another command; left as it is".to_owned()),
        });
    }
    servers.append("loom", input_of(&mcp_entry()));
    Ok(JsonAdd::Changed(root.to_string()))
}

/// `.mcp.json` without git-loom's `loom` server (an emptied `mcpServers` goes too); `None`
/// when it has none.
pub fn remove_mcp_server(text: &str, file: &str) -> Result<Option<String>, SetupError> {
    let root = parse_cst(text, file)?;
    let Some(object) = root.object_value() else {
        return Ok(None);
    };
    let Some(servers) = object.object_value("mcpServers") else {
        return Ok(None);
    };
    let Some(entry) = servers.get("loom") else {
        return Ok(None);
    };
    let value = entry
        .value()
        .and_then(|node| node.to_serde_value())
        .unwrap_or(Value::Null);
    if !is_loom_server(&value) {
        return Ok(None);
    }
    entry.remove();
    if servers.properties().is_empty()
        && let Some(prop) = object.get("mcpServers")
    {
        prop.remove();
    }
    Ok(Some(root.to_string()))
}

/// The Claude Code hook events git-loom installs, with their matcher and the `agent-hook`
/// event each runs.
pub const CLAUDE_HOOKS: &[(&str, Option<&str>, &str)] = &[
    ("SessionStart", Some("startup|resume|clear|compact"), "session-start"),
    ("PreCompact", None, "pre-compact"),
];

fn hook_group(matcher: Option<&str>, event: &str) -> Value {
    let hooks = serde_json::json!([{ "type": "command", "command": format!("{AGENT_HOOK_COMMAND} {event}") }]);
    match matcher {
        Some(matcher) => serde_json::json!({ "matcher": matcher, "hooks": hooks }),
        None => serde_json::json!({ "hooks": hooks }),
    }
}

/// Whether a hook group (an element of `hooks.<Event>`) runs a git-loom command.
fn is_loom_group(group: &Value) -> bool {
    group.get("hooks").and_then(Value::as_array).is_some_and(|hooks| {
        hooks.iter().any(|hook| {
            hook.get("command")
                .and_then(Value::as_str)
                .is_some_and(|command| command.trim_start().starts_with("git loom "))
        })
    })
}

fn loom_groups(array: &CstArray) -> Vec<jsonc_parser::cst::CstNode> {
    array
        .elements()
        .into_iter()
        .filter(|node| node.to_serde_value().is_some_and(|value| is_loom_group(&value)))
        .collect()
}

/// `.claude/settings.json` with git-loom's hook groups added to `hooks.<Event>`.
pub fn add_claude_hooks(text: &str, file: &str) -> Result<JsonAdd, SetupError> {
    if text.trim().is_empty() {
        let mut hooks = serde_json::Map::new();
        for (event, matcher, name) in CLAUDE_HOOKS {
            hooks.insert((*event).to_owned(), serde_json::json!([hook_group(*matcher, name)]));
        }
        return Ok(JsonAdd::Changed(pretty(&serde_json::json!({ "hooks": hooks }))));
    }
    let root = parse_cst(text, file)?;
    let object = root_object(&root, file)?;
    let not_object = |what: &str| SetupError::InvalidJson {
        file: file.to_owned(),
        reason: format!("`{what}` is not an object"),
    };
    let hooks = object
        .object_value_or_create("hooks")
        .ok_or_else(|| not_object("hooks"))?;
    let mut changed = false;
    for (event, matcher, name) in CLAUDE_HOOKS {
        let array = hooks
            .array_value_or_create(event)
            .ok_or_else(|| SetupError::InvalidJson {
                file: file.to_owned(),
                reason: format!("`hooks.{event}` is not an array"),
            })?;
        if loom_groups(&array).is_empty() {
            array.append(input_of(&hook_group(*matcher, name)));
            changed = true;
        }
    }
    Ok(match changed {
        true => JsonAdd::Changed(root.to_string()),
        false => JsonAdd::Present,
    })
}

/// `.claude/settings.json` without git-loom's hook groups (arrays and a `hooks` object they
/// leave empty go too); `None` when it has none.
pub fn remove_claude_hooks(text: &str, file: &str) -> Result<Option<String>, SetupError> {
    let root = parse_cst(text, file)?;
    let Some(object) = root.object_value() else {
        return Ok(None);
    };
    let Some(hooks) = object.object_value("hooks") else {
        return Ok(None);
    };
    let mut changed = false;
    for (event, _, _) in CLAUDE_HOOKS {
        let Some(array) = hooks.array_value(event) else {
            continue;
        };
        let ours = loom_groups(&array);
        if ours.is_empty() {
            continue;
        }
        changed = true;
        for node in ours {
            node.remove();
        }
        if array.elements().is_empty()
            && let Some(prop) = hooks.get(event)
        {
            prop.remove();
        }
    }
    if !changed {
        return Ok(None);
    }
    if hooks.properties().is_empty()
        && let Some(prop) = object.get("hooks")
    {
        prop.remove();
    }
    Ok(Some(root.to_string()))
}

/// Whether a JSON file's text holds nothing but an empty object (what remains of a file
/// `setup` created once its part is out).
pub fn json_is_empty(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|value| value.as_object().is_some_and(|map| map.is_empty()))
}

/// Whether two JSON texts hold the same value.
pub fn json_equal(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
#[path = "setup_edit_tests.rs"]
mod tests;
