//! Agent presets: how `git loom run --agent VALUE` turns VALUE into a program to start.
//!
//! A preset is data: `[agents.<name>]` in the shared settings (`command`, `env`,
//! `timeout_secs`), else a built-in one (`claude`, `codex`), else VALUE itself as a shell
//! command line run with `sh -c`. In a preset's arguments `{prompt}` is replaced by the signal
//! text and `{signal}` by the path of the file holding it; a shell command line gets neither
//! (the text would be shell code), it reads `$LOOM_SIGNAL` instead.
//!
//! Guarantees: the arguments a preset names are passed as they are, one argument each, never
//! through a shell; the command line shown to people ([`AgentCommand::display`]) is the one run.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use crate::exec::Spec;
use crate::model::meta::{AgentPreset, Settings};

/// The names of the built-in presets.
pub const BUILTIN: &[&str] = &["claude", "codex"];

/// What starts one agent session, before the prompt is known.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentCommand {
    /// The preset's name, or the command line itself.
    pub name: String,
    pub launch: Launch,
    /// Added to the agent's environment, before the runner's own variables.
    pub env: Vec<(String, String)>,
    /// The preset's session timeout, if it sets one.
    pub timeout: Option<Duration>,
}

/// How the program is started.
#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    /// A program and its arguments, with `{prompt}` and `{signal}` still in them.
    Argv(Vec<String>),
    /// `sh -c LINE`.
    Shell(String),
}

/// What the main working tree holds that the built-in `claude` preset passes on: the MCP
/// configuration and Claude settings (hooks), which untracked files do not carry into a
/// task's worktree.
#[derive(Debug, Clone, Default)]
pub struct ClaudeFiles {
    pub mcp_config: Option<std::path::PathBuf>,
    pub settings: Option<std::path::PathBuf>,
}

impl ClaudeFiles {
    /// The files `root` (the main working tree) has, where `git loom setup claude` writes them.
    pub fn in_tree(root: &Path) -> ClaudeFiles {
        let found = |relative: &str| Some(root.join(relative)).filter(|path| path.is_file());
        ClaudeFiles {
            mcp_config: found(".mcp.json"),
            settings: found(".claude/settings.json"),
        }
    }
}

/// The built-in preset `name`, if there is one.
pub fn builtin(name: &str, settings: &Settings, claude: &ClaudeFiles) -> Option<AgentPreset> {
    let words = |list: &[&str]| list.iter().map(|word| (*word).to_owned()).collect::<Vec<String>>();
    let command = match name {
        "claude" => {
            let mut command = words(&[
                "claude",
                "-p",
                "{prompt}",
                "--output-format",
                "stream-json",
                "--verbose",
            ]);
            let mode = settings.run.permission_mode.trim();
            if !mode.is_empty() {
                command.extend(["--permission-mode".to_owned(), mode.to_owned()]);
            }
            if let Some(path) = &claude.mcp_config {
                command.extend(["--mcp-config".to_owned(), path.to_string_lossy().into_owned()]);
            }
            if let Some(path) = &claude.settings {
                command.extend(["--settings".to_owned(), path.to_string_lossy().into_owned()]);
            }
            command
        }
        "codex" => words(&[
            "codex",
            "exec",
            "--sandbox",
            "workspace-write",
            "-c",
            "approval_policy=\"never\"",
            "{prompt}",
        ]),
        _ => return None,
    };
    Some(AgentPreset {
        command,
        ..AgentPreset::default()
    })
}

/// What `value` (of `--agent` or `[run] agent`) starts: a preset from `settings`, a built-in
/// preset, or else a shell command line.
pub fn resolve(value: &str, settings: &Settings, claude: &ClaudeFiles) -> AgentCommand {
    let value = value.trim();
    let preset = settings
        .agents
        .get(value)
        .cloned()
        .or_else(|| builtin(value, settings, claude));
    match preset {
        Some(preset) => AgentCommand {
            name: value.to_owned(),
            launch: Launch::Argv(preset.command),
            env: preset.env.into_iter().collect(),
            timeout: preset.timeout_secs.map(Duration::from_secs),
        },
        None => AgentCommand {
            name: value.to_owned(),
            launch: Launch::Shell(value.to_owned()),
            env: Vec::new(),
            timeout: None,
        },
    }
}

/// `word` with `{prompt}` and `{signal}` filled in.
fn fill(word: &str, prompt: &str, signal: &Path) -> OsString {
    if !word.contains('{') {
        return OsString::from(word);
    }
    OsString::from(
        word.replace("{signal}", &signal.to_string_lossy())
            .replace("{prompt}", prompt),
    )
}

impl AgentCommand {
    /// What to start for a session whose signal is `prompt`, kept in the file `signal`.
    pub fn spec(&self, prompt: &str, signal: &Path) -> Spec {
        let mut spec = match &self.launch {
            Launch::Argv(argv) => {
                let (program, args) = argv.split_first().map_or(("", &[][..]), |(p, a)| (p.as_str(), a));
                Spec::program(
                    fill(program, prompt, signal),
                    args.iter().map(|arg| fill(arg, prompt, signal)),
                )
            }
            Launch::Shell(line) => Spec::shell(line.clone()),
        };
        for (key, value) in &self.env {
            spec = spec.env(key, value);
        }
        spec
    }

    /// The command line as people read it, with the prompt shown as `{prompt}` (it is long).
    pub fn display(&self) -> String {
        match &self.launch {
            Launch::Shell(line) => format!("sh -c {}", quote(line)),
            Launch::Argv(argv) => argv.iter().map(|word| quote(word)).collect::<Vec<_>>().join(" "),
        }
    }
}

/// `word` quoted for a POSIX shell when it needs to be.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,{}@%+".contains(c));
    match plain {
        true => word.to_owned(),
        false => format!("'{}'", word.replace('\'', "'\\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(spec: &Spec) -> Vec<String> {
        std::iter::once(&spec.program)
            .chain(&spec.args)
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    // Guards: the claude preset losing `--verbose`, without which `-p` with stream-json exits 1.
    #[test]
    fn the_claude_preset_streams_json_verbosely_with_the_prompt_as_one_argument() {
        let settings = Settings::default();
        let command = resolve("claude", &settings, &ClaudeFiles::default());
        let spec = command.spec("do it; rm -rf /", Path::new("/tmp/s.signal"));
        assert_eq!(
            args(&spec),
            [
                "claude",
                "-p",
                "do it; rm -rf /",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits"
            ]
        );
        let files = ClaudeFiles {
            mcp_config: Some("/r/.mcp.json".into()),
            settings: Some("/r/.claude/settings.json".into()),
        };
        let display = resolve("claude", &settings, &files).display();
        assert!(
            display.ends_with("--mcp-config /r/.mcp.json --settings /r/.claude/settings.json"),
            "{display}"
        );
    }

    #[test]
    fn codex_runs_exec_with_the_approval_setting_after_exec() {
        let command = resolve("codex", &Settings::default(), &ClaudeFiles::default());
        let spec = command.spec("task", Path::new("s"));
        let argv = args(&spec);
        assert_eq!(&argv[..2], ["codex", "exec"]);
        assert_eq!(argv.last().map(String::as_str), Some("task"));
        assert!(argv.contains(&"approval_policy=\"never\"".to_owned()));
    }

    // Guards: a preset in settings being shadowed by the built-in of the same name.
    #[test]
    fn settings_presets_win_and_anything_else_is_a_shell_line() {
        let settings = Settings::parse(
            "[agents.claude]\ncommand = [\"my-claude\", \"--file\", \"{signal}\"]\ntimeout_secs = 30\n[agents.claude.env]\nX = \"1\"\n",
        )
        .unwrap();
        let command = resolve("claude", &settings, &ClaudeFiles::default());
        assert_eq!(command.timeout, Some(Duration::from_secs(30)));
        let spec = command.spec("text", Path::new("/g/s.signal"));
        assert_eq!(args(&spec), ["my-claude", "--file", "/g/s.signal"]);
        assert!(spec.env.contains(&("X".into(), "1".into())));
        let shell = resolve("./agent.sh --fast", &settings, &ClaudeFiles::default());
        assert_eq!(shell.launch, Launch::Shell("./agent.sh --fast".into()));
        let spec = shell.spec("{prompt}", Path::new("s"));
        assert_eq!(args(&spec), ["sh", "-c", "./agent.sh --fast"]);
        assert_eq!(shell.display(), "sh -c './agent.sh --fast'");
    }

    #[test]
    fn a_preset_without_a_program_is_refused() {
        let err = Settings::parse("[agents.x]\ncommand = []\n").unwrap_err();
        assert!(err.to_string().contains("[agents.x] needs a command"), "{err}");
    }
}
