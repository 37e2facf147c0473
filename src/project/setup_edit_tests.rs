//! The edits `setup` makes, one file's text at a time: each addition leaves the rest as it was,
//! and each removal is its exact inverse on the files people write.

use super::*;

const BODY: &str = "Use git-loom.\n";

#[test]
fn a_block_goes_after_a_blank_line_and_comes_out_exactly() {
    // Guards: removing the instructions block changes the user's text around it.
    for original in ["", "# Notes\n", "# Notes", "# Notes\n\n", "a\r\nb\r\n"] {
        let added = insert_block(original, BODY, MARKDOWN).expect("the block is new");
        assert!(added.starts_with(original), "{added:?}");
        assert!(added.contains("<!-- git-loom:begin -->\nUse git-loom.\n<!-- git-loom:end -->\n"));
        assert_eq!(
            insert_block(&added, BODY, MARKDOWN),
            None,
            "a second insert changes nothing"
        );
        let removed = remove_block(&added, MARKDOWN).expect("the block is there");
        match original {
            // Without a final newline the text cannot tell what was added: `setup` keeps the
            // original bytes for that (see `setup`).
            "# Notes" => assert_eq!(removed, "# Notes\n"),
            _ => assert_eq!(removed, original),
        }
    }
}

#[test]
fn a_changed_block_is_replaced_in_place() {
    // Guards: a new version of the instructions duplicates the block instead of replacing it.
    let text = "top\n\n<!-- git-loom:begin -->\nold\n<!-- git-loom:end -->\nbottom\n";
    let updated = insert_block(text, BODY, MARKDOWN).expect("the body differs");
    assert_eq!(
        updated,
        "top\n\n<!-- git-loom:begin -->\nUse git-loom.\n<!-- git-loom:end -->\nbottom\n"
    );
    assert_eq!(remove_block(&updated, MARKDOWN).unwrap(), "top\n\nbottom\n");
}

#[test]
fn a_marker_quoted_inside_a_line_is_not_a_block() {
    // Guards: documentation that mentions the marker is taken for git-loom's block and deleted.
    let text = "Write `<!-- git-loom:begin -->` to start\n";
    assert!(!has_block(text, MARKDOWN));
    assert_eq!(remove_block(text, MARKDOWN), None);
}

#[test]
fn the_loom_server_joins_the_users_servers_and_leaves_exactly() {
    // Guards: adding the MCP server reorders, reformats or drops the user's servers.
    let original =
        "{\n    \"mcpServers\": {\n        \"other\": { \"command\": \"other-mcp\" }\n    },\n    \"z\": 1\n}\n";
    let JsonAdd::Changed(added) = add_mcp_server(original, ".mcp.json").unwrap() else {
        panic!("the server is new")
    };
    let value: Value = serde_json::from_str(&added).unwrap();
    assert_eq!(value["mcpServers"]["loom"], mcp_entry());
    assert_eq!(value["mcpServers"]["other"]["command"], "other-mcp");
    assert!(added.starts_with("{\n    \"mcpServers\": {\n        \"other\": { \"command\": \"other-mcp\" },"));
    assert_eq!(add_mcp_server(&added, ".mcp.json").unwrap(), JsonAdd::Present);
    let removed = remove_mcp_server(&added, ".mcp.json")
        .unwrap()
        .expect("the server is there");
    assert!(json_equal(&removed, original));
}

#[test]
fn a_users_own_loom_server_is_never_replaced_or_removed() {
    // Guards: setup overwrites (or --remove deletes) a `loom` server the user configured.
    let original = r#"{"mcpServers":{"loom":{"command":"my-loom"}}}"#;
    assert!(matches!(
        add_mcp_server(original, ".mcp.json").unwrap(),
        JsonAdd::Taken(_)
    ));
    assert_eq!(remove_mcp_server(original, ".mcp.json").unwrap(), None);
}

#[test]
fn invalid_json_is_refused_without_a_rewrite() {
    // Guards: a damaged settings file is silently replaced by git-loom's own.
    for text in ["{", "[1, 2]", "{\"a\": 1,}"] {
        assert!(add_mcp_server(text, ".mcp.json").is_err(), "{text}");
        assert!(add_claude_hooks(text, ".claude/settings.json").is_err(), "{text}");
    }
}

#[test]
fn claude_hooks_sit_beside_the_users_hooks() {
    // Guards: installing git-loom's hooks drops or rewrites a user's hook on the same event.
    let original = r#"{
  "permissions": { "allow": ["Bash(ls:*)"] },
  "hooks": {
    "SessionStart": [
      { "matcher": "startup", "hooks": [{ "type": "command", "command": "echo hello" }] }
    ]
  }
}
"#;
    let JsonAdd::Changed(added) = add_claude_hooks(original, "settings.json").unwrap() else {
        panic!("the hooks are new")
    };
    let value: Value = serde_json::from_str(&added).unwrap();
    let start = value["hooks"]["SessionStart"].as_array().unwrap();
    assert_eq!(start.len(), 2);
    assert_eq!(start[0]["hooks"][0]["command"], "echo hello");
    assert_eq!(start[1]["hooks"][0]["command"], "git loom agent-hook session-start");
    assert_eq!(start[1]["matcher"], "startup|resume|clear|compact");
    assert_eq!(
        value["hooks"]["PreCompact"][0]["hooks"][0]["command"],
        "git loom agent-hook pre-compact"
    );
    assert_eq!(add_claude_hooks(&added, "settings.json").unwrap(), JsonAdd::Present);
    let removed = remove_claude_hooks(&added, "settings.json")
        .unwrap()
        .expect("the hooks are there");
    assert!(json_equal(&removed, original), "{removed}");
}

#[test]
fn a_new_settings_file_empties_completely() {
    // Guards: a settings file setup created is left behind holding empty objects.
    let JsonAdd::Changed(added) = add_claude_hooks("", "settings.json").unwrap() else {
        panic!("the hooks are new")
    };
    let removed = remove_claude_hooks(&added, "settings.json").unwrap().unwrap();
    assert!(json_is_empty(&removed), "{removed}");
    let JsonAdd::Changed(added) = add_mcp_server("", ".mcp.json").unwrap() else {
        panic!("the server is new")
    };
    assert!(json_is_empty(&remove_mcp_server(&added, ".mcp.json").unwrap().unwrap()));
}
