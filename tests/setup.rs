//! Proves `git loom setup` and the hooks it installs, end to end on real repositories: setup
//! then `setup --remove` leaves the working tree byte-identical, both on a fresh repository
//! and beside a user's own `.mcp.json`, CLAUDE.md and Claude Code hooks, which keep working
//! (their entries stay in place) while git-loom's are in; a second setup changes nothing;
//! changes made since setup survive removal; a file git-loom cannot parse stops setup before
//! anything is written. `agent-hook session-start` prints the signal of the held claim in Claude
//! Code's envelope and nothing otherwise; `agent-hook pre-compact` records a handoff.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use crate::common;

use common::{BIN, PROCESS_TIMEOUT, Repo, Run, as_agent};
use serde_json::Value;

/// Every file and directory of the working tree (not `.git`), with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                out.insert(format!("{name}/"), None);
                walk(root, &path, out);
            } else {
                out.insert(name, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn read(repo: &Repo, file: &str) -> String {
    std::fs::read_to_string(repo.dir.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"))
}

fn json_file(repo: &Repo, file: &str) -> Value {
    serde_json::from_str(&read(repo, file)).unwrap_or_else(|err| panic!("{file}: {err}"))
}

/// `git-loom agent-hook EVENT` with `input` on stdin, as Claude Code runs it.
fn hook(repo: &Repo, agent: &str, event: &str, input: &str) -> Run {
    let mut child = repo
        .env
        .command(BIN, &repo.dir)
        .args(["--agent", agent, "agent-hook", event])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    common::finish(format!("git-loom agent-hook {event}"), child, PROCESS_TIMEOUT)
}

const USER_MCP: &str = "{\n    \"mcpServers\": {\n        \"docs\": { \"command\": \"docs-mcp\", \"args\": [\"--port\", \"0\"] }\n    },\n    \"$comment\": \"kept\"\n}";
const USER_CLAUDE_MD: &str = "# House rules\n\nRun the linter before committing.";
const USER_SETTINGS: &str = r#"{
  "permissions": {"allow": ["Bash(cargo test:*)"]},
  "hooks": {
    "SessionStart": [{"matcher": "startup", "hooks": [{"type": "command", "command": "./scripts/hello.sh"}]}],
    "PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "cargo fmt"}]}]
  }
}
"#;

#[test]
fn setup_then_remove_on_a_fresh_repository_is_byte_identical() {
    // Guards: `--remove` leaves behind a file, a directory or a byte that setup added.
    let repo = Repo::new();
    let before = tree(&repo.dir);
    for agent in ["claude", "codex", "generic"] {
        let run = repo.run_ok(&["-q", "setup", agent]);
        assert!(
            run.stdout
                .lines()
                .filter(|line| !line.starts_with("hook "))
                .all(|line| line.starts_with("created ")),
            "{run}"
        );
        let run = repo.run_ok(&["setup", agent, "--remove"]);
        assert!(
            run.stdout
                .lines()
                .filter(|line| !line.starts_with("hook "))
                .all(|line| line.starts_with("deleted ")),
            "{run}"
        );
        assert_eq!(tree(&repo.dir), before, "after setup {agent} --remove");
        assert!(!repo.dir.join(".git/loom").exists(), "the records of setup go too");
    }
}

#[test]
fn claude_setup_writes_the_server_instructions_and_hooks() {
    // Guards: `setup claude` misses one of the three things Claude Code needs.
    let repo = Repo::new();
    // `-q`: the note that Claude Code asks before it starts a project server is not the result.
    let report = repo.json(&["-q", "setup", "claude"]);
    assert_eq!(report["agent"], "claude");
    assert_eq!(report["remove"], false);
    assert_eq!(report["changed"], true);
    let files: Vec<(&str, &str)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| (file["path"].as_str().unwrap(), file["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        files,
        [
            (".mcp.json", "created"),
            ("CLAUDE.md", "created"),
            (".claude/settings.json", "created")
        ]
    );
    let mcp = json_file(&repo, ".mcp.json");
    assert_eq!(
        mcp,
        serde_json::json!({"mcpServers": {"loom": {"command": "git", "args": ["loom", "mcp"], "env": {}}}})
    );
    let claude_md = read(&repo, "CLAUDE.md");
    assert!(claude_md.starts_with("<!-- git-loom:begin -->\n"), "{claude_md}");
    for needle in [
        "git loom next",
        "git loom heartbeat",
        "git loom handoff",
        "git loom done",
        "git loom fail",
    ] {
        assert!(claude_md.contains(needle), "{needle} missing from {claude_md}");
    }
    let settings = json_file(&repo, ".claude/settings.json");
    assert_eq!(
        settings["hooks"]["SessionStart"][0]["matcher"],
        "startup|resume|clear|compact"
    );
    assert_eq!(
        settings["hooks"]["SessionStart"][0]["hooks"][0]["command"],
        "git loom agent-hook session-start"
    );
    assert_eq!(
        settings["hooks"]["PreCompact"][0]["hooks"][0]["command"],
        "git loom agent-hook pre-compact"
    );
}

#[test]
fn setup_beside_the_users_files_keeps_them_and_removal_restores_their_bytes() {
    // Guards: setup drops or rewrites a user's MCP server, instructions or hook; `--remove`
    // leaves their formatting changed.
    let repo = Repo::new();
    std::fs::create_dir(repo.dir.join(".claude")).unwrap();
    std::fs::write(repo.dir.join(".mcp.json"), USER_MCP).unwrap();
    std::fs::write(repo.dir.join("CLAUDE.md"), USER_CLAUDE_MD).unwrap();
    std::fs::write(repo.dir.join(".claude/settings.json"), USER_SETTINGS).unwrap();
    let before = tree(&repo.dir);

    let run = repo.run_ok(&["setup", "claude"]);
    assert_eq!(
        without_hooks(&run.stdout),
        "updated    .mcp.json\nupdated    CLAUDE.md\nupdated    .claude/settings.json\n"
    );
    let mcp = json_file(&repo, ".mcp.json");
    assert_eq!(mcp["mcpServers"]["docs"]["args"], serde_json::json!(["--port", "0"]));
    assert_eq!(mcp["$comment"], "kept");
    assert_eq!(mcp["mcpServers"]["loom"]["command"], "git");
    let text = read(&repo, ".mcp.json");
    assert!(
        text.starts_with("{\n    \"mcpServers\": {\n        \"docs\": { \"command\": \"docs-mcp\""),
        "{text}"
    );
    assert!(read(&repo, "CLAUDE.md").starts_with(USER_CLAUDE_MD));
    let settings = json_file(&repo, ".claude/settings.json");
    assert_eq!(settings["permissions"]["allow"][0], "Bash(cargo test:*)");
    let start = settings["hooks"]["SessionStart"].as_array().unwrap();
    assert_eq!(
        start[0]["hooks"][0]["command"], "./scripts/hello.sh",
        "the user's hook runs first, as before"
    );
    assert_eq!(start[1]["hooks"][0]["command"], "git loom agent-hook session-start");
    assert_eq!(settings["hooks"]["PostToolUse"][0]["hooks"][0]["command"], "cargo fmt");

    // Guards: a second setup rewrites files or duplicates entries.
    let after_setup = tree(&repo.dir);
    let run = repo.loom(&["setup", "claude"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        without_hooks(&run.stdout),
        "unchanged  .mcp.json\nunchanged  CLAUDE.md\nunchanged  .claude/settings.json\n"
    );
    assert_eq!(run.stderr, "already set up: nothing changed\n");
    assert_eq!(tree(&repo.dir), after_setup);

    let run = repo.run_ok(&["setup", "claude", "--remove"]);
    assert_eq!(
        without_hooks(&run.stdout),
        "restored   .mcp.json\nrestored   CLAUDE.md\nrestored   .claude/settings.json\n"
    );
    assert_eq!(tree(&repo.dir), before);

    // Guards: a second removal touches the user's files.
    let run = repo.loom(&["setup", "claude", "--remove"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout
            .lines()
            .filter(|line| !line.starts_with("hook "))
            .all(|line| line.starts_with("absent ")),
        "{run}"
    );
    assert_eq!(tree(&repo.dir), before);
}

#[test]
fn removal_keeps_what_the_user_changed_since_setup() {
    // Guards: `--remove` puts back an old copy over edits the user made after setup.
    let repo = Repo::new();
    std::fs::write(repo.dir.join("AGENTS.md"), "# Agents\n").unwrap();
    repo.run_ok(&["setup", "generic"]);
    let mut agents = read(&repo, "AGENTS.md");
    agents.push_str("\nA rule added later.\n");
    std::fs::write(repo.dir.join("AGENTS.md"), &agents).unwrap();
    let report = repo.json(&["setup", "generic", "--remove"]);
    assert_eq!(report["files"][0]["path"], "AGENTS.md");
    assert_eq!(report["files"][0]["action"], "edited");
    assert_eq!(read(&repo, "AGENTS.md"), "# Agents\n\nA rule added later.\n");
    assert!(!repo.dir.join(".mcp.json").exists());
}

#[test]
fn a_users_own_loom_entries_are_left_alone() {
    // Guards: setup replaces, or `--remove` deletes, a `loom` MCP server the user wrote.
    let repo = Repo::new();
    let mine = "{\"mcpServers\": {\"loom\": {\"command\": \"my-loom-server\"}}}\n";
    std::fs::write(repo.dir.join(".mcp.json"), mine).unwrap();
    let report = repo.json(&["setup", "generic"]);
    assert_eq!(report["files"][1]["path"], ".mcp.json");
    assert_eq!(report["files"][1]["action"], "kept");
    assert!(report["files"][1]["note"].as_str().unwrap().contains("another command"));
    assert_eq!(read(&repo, ".mcp.json"), mine);
    repo.run_ok(&["setup", "generic", "--remove"]);
    assert_eq!(read(&repo, ".mcp.json"), mine);
    assert!(!repo.dir.join("AGENTS.md").exists());
}

#[test]
fn a_part_that_was_there_before_setup_stays_after_removal() {
    // Guards: `--remove` deletes a git-loom server the project had configured (and committed)
    // before this setup ran.
    let repo = Repo::new();
    let committed = "{\n  \"mcpServers\": {\"loom\": {\"command\": \"git\", \"args\": [\"loom\", \"mcp\"]}}\n}\n";
    std::fs::write(repo.dir.join(".mcp.json"), committed).unwrap();
    let report = repo.json(&["setup", "generic"]);
    assert_eq!(report["files"][1]["action"], "unchanged");
    let report = repo.json(&["setup", "generic", "--remove"]);
    assert_eq!(
        report["files"][0]["action"], "deleted",
        "AGENTS.md was setup's: {report}"
    );
    assert_eq!(report["files"][1]["action"], "kept", "{report}");
    assert_eq!(read(&repo, ".mcp.json"), committed);
}

#[test]
fn a_file_setup_cannot_parse_stops_it_before_anything_is_written() {
    // Guards: a damaged settings file is overwritten, or setup half-applies.
    let repo = Repo::new();
    std::fs::create_dir(repo.dir.join(".claude")).unwrap();
    std::fs::write(repo.dir.join(".claude/settings.json"), "{\"hooks\": ").unwrap();
    let before = tree(&repo.dir);
    let run = repo.run_fail(1, &["setup", "claude"]);
    assert!(run.stderr.contains(".claude/settings.json is not valid JSON"), "{run}");
    assert!(run.stderr.contains("hint: fix the file"), "{run}");
    assert_eq!(tree(&repo.dir), before);
    repo.run_fail(2, &["setup", "cursor"]);
}

#[test]
fn codex_gets_agents_md_and_a_project_mcp_config() {
    // Guards: `setup codex` writes TOML Codex cannot read, or clobbers the user's config.
    let repo = Repo::new();
    std::fs::create_dir(repo.dir.join(".codex")).unwrap();
    let user = "model = \"o4\"\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\n";
    std::fs::write(repo.dir.join(".codex/config.toml"), user).unwrap();
    let before = tree(&repo.dir);
    let run = repo.loom(&["setup", "codex"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        without_hooks(&run.stdout),
        "created    AGENTS.md\nupdated    .codex/config.toml\n"
    );
    assert!(
        run.stderr.contains("[mcp_servers.loom]"),
        "the lines for a global config: {run}"
    );
    let config: toml::Table = toml::from_str(&read(&repo, ".codex/config.toml")).unwrap();
    assert_eq!(config["model"].as_str(), Some("o4"));
    assert_eq!(config["mcp_servers"]["docs"]["command"].as_str(), Some("docs-mcp"));
    assert_eq!(config["mcp_servers"]["loom"]["command"].as_str(), Some("git"));
    let args = config["mcp_servers"]["loom"]["args"].as_array().unwrap();
    assert_eq!(
        args.iter().map(|a| a.as_str().unwrap()).collect::<Vec<_>>(),
        ["loom", "mcp"]
    );
    assert!(read(&repo, "AGENTS.md").contains("git loom next"));
    repo.run_ok(&["setup", "codex", "--remove"]);
    assert_eq!(tree(&repo.dir), before);
}

#[test]
fn the_session_start_hook_prints_the_signal_of_the_held_claim_only() {
    // Guards: the hook prints another agent's task, prints text Claude Code cannot read, or
    // fails a session that holds nothing.
    let repo = Repo::new();
    let id = repo.create("Add the cart total", &[]);
    let input = r#"{"session_id":"s1","cwd":".","hook_event_name":"SessionStart","source":"startup"}"#;
    let run = hook(&repo, "alice", "session-start", input);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", ""),
        "{run}"
    );

    repo.run_ok(&as_agent("alice", &["claim", &id]));
    let run = hook(&repo, "alice", "session-start", input);
    assert_eq!(run.code, 0, "{run}");
    let envelope = run.json();
    assert_eq!(envelope["hookSpecificOutput"]["hookEventName"], "SessionStart");
    let context = envelope["hookSpecificOutput"]["additionalContext"].as_str().unwrap();
    let signal = repo.run_ok(&["signal", &id]).stdout;
    assert!(signal.contains("Add the cart total"), "{signal}");
    assert!(
        context.contains(&id) && context.contains("Add the cart total"),
        "{context}"
    );

    let run = hook(&repo, "bob", "session-start", input);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, ""),
        "another agent holds nothing: {run}"
    );

    // Guards: the hook breaks sessions in a repository that does not use git-loom.
    let plain = Repo::uninitialized();
    let run = hook(&plain, "alice", "session-start", "");
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", ""),
        "{run}"
    );
}

#[test]
fn the_pre_compact_hook_records_a_handoff_for_the_held_claim() {
    // Guards: context compaction loses the session's state because no handoff is written.
    let repo = Repo::new();
    let id = repo.create("Split the parser", &[]);
    let input = r#"{"session_id":"s1","hook_event_name":"PreCompact","trigger":"manual"}"#;
    let run = hook(&repo, "alice", "pre-compact", input);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, ""),
        "nothing held, nothing written: {run}"
    );
    assert_eq!(repo.json(&["handoffs", &id]), serde_json::json!([]));

    repo.run_ok(&as_agent("alice", &["claim", &id]));
    let run = hook(&repo, "alice", "pre-compact", input);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(without_hooks(&run.stdout), format!("handoff recorded on {id}\n"));
    let handoffs = repo.json(&["handoffs", &id]);
    let handoff = &handoffs[0];
    assert_eq!(handoff["agent"], "alice");
    let message = handoff["message"].as_str().unwrap();
    assert!(
        message.starts_with("Automatic handoff before context compaction (manual)."),
        "{message}"
    );
}

#[test]
fn setup_and_agent_hook_have_help() {
    // Guards: a new command ships without `--help` text naming its arguments.
    let repo = Repo::uninitialized();
    let run = repo.run_ok(&["setup", "--help"]);
    for needle in ["claude", "codex", "generic", "--remove"] {
        assert!(run.stdout.contains(needle), "{needle}: {run}");
    }
    let run = repo.run_ok(&["agent-hook", "--help"]);
    for needle in ["session-start", "pre-compact"] {
        assert!(run.stdout.contains(needle), "{needle}: {run}");
    }
    let top = repo.run_ok(&["--help"]);
    assert!(
        top.stdout.contains("setup") && top.stdout.contains("agent-hook"),
        "{top}"
    );
}

/// A setup's output without the lines about git hooks (installed and removed with the files).
fn without_hooks(stdout: &str) -> String {
    stdout
        .lines()
        .filter(|line| !line.starts_with("hook "))
        .map(|line| format!("{line}\n"))
        .collect()
}

// Guards: `setup` leaving the git hooks out, or `--remove` leaving them (or the user's hook
// they chain to) changed.
#[test]
fn setup_installs_the_git_hooks_and_remove_puts_the_users_back() {
    let repo = Repo::new();
    let hooks = repo.dir.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let user_hook = "#!/bin/sh\necho user hook >&2\n";
    std::fs::write(hooks.join("commit-msg"), user_hook).unwrap();
    let run = repo.loom(&["setup", "claude"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("hook       commit-msg  installed"), "{run}");
    let status = repo.json(&["hooks", "status"]);
    let states: Vec<&str> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|hook| hook["state"].as_str().unwrap())
        .collect();
    assert!(states.contains(&"chained") && states.contains(&"installed"), "{status}");
    let run = repo.loom(&["setup", "claude", "--remove"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("hook       commit-msg  removed"), "{run}");
    assert_eq!(std::fs::read_to_string(hooks.join("commit-msg")).unwrap(), user_hook);
    assert!(!hooks.join("post-commit").exists() && !hooks.join("pre-push").exists());
}
