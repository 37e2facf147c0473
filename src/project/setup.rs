//! `setup`: wiring a coding agent to git-loom in one step, and `setup --remove` to take it out
//! again. Per agent it writes the project's MCP registration (`.mcp.json`, or Codex's
//! `.codex/config.toml`), a short instructions block (CLAUDE.md or AGENTS.md) and, for Claude
//! Code, the hooks that give a session its signal and record a handoff before compaction.
//!
//! Guarantees: every edit leaves the rest of the file as the user wrote it (see
//! `setup_edit`); a second `setup` changes nothing; `--remove` takes out exactly what `setup`
//! added. Before `setup` first changes a file that exists, it keeps the file's bytes under the
//! repository's git dir (`loom/setup/<path>.orig`): when the file is otherwise unchanged
//! at removal, those bytes come back exactly; when the user changed it since, only git-loom's
//! part is taken out and their changes stay. A file `setup` created is deleted, with the
//! directories it had to create, once nothing but git-loom's part is in it.

use std::io;
use std::path::{Path, PathBuf};

use super::setup_edit::{self as edit, JsonAdd, MARKDOWN, TOML};

/// Why `setup` could not go on; nothing was written for the file it names.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{file} is not valid JSON ({reason}); git-loom edits only files it can read")]
    InvalidJson { file: String, reason: String },
    #[error("{file} is not UTF-8 text; git-loom edits only text files")]
    NotText { file: String },
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

type Result<T> = std::result::Result<T, SetupError>;

/// The coding agents `setup` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    /// Claude Code: `.mcp.json`, CLAUDE.md, and hooks in `.claude/settings.json`.
    Claude,
    /// OpenAI Codex: AGENTS.md and `.codex/config.toml` (read in trusted projects).
    Codex,
    /// Any other agent: AGENTS.md and `.mcp.json`.
    Generic,
}

impl AgentKind {
    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Codex => "codex",
            AgentKind::Generic => "generic",
        }
    }
}

/// Where `setup` works: the working tree it edits, and the directory (under the git dir) where
/// it keeps the original bytes of files it changed.
#[derive(Debug, Clone)]
pub struct SetupPlace {
    pub root: PathBuf,
    pub originals: PathBuf,
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// `setup` created the file.
    Created,
    /// `setup` added its part to the user's file.
    Updated,
    /// `setup` found its part already there.
    Unchanged,
    /// The file holds a user's value where git-loom's would go; it was left alone.
    Kept,
    /// `--remove` put back the file's original bytes.
    Restored,
    /// `--remove` took git-loom's part out and kept changes made since `setup`.
    Edited,
    /// `--remove` deleted a file `setup` had created.
    Deleted,
    /// `--remove` found nothing of git-loom's in the file.
    Absent,
}

impl FileAction {
    pub fn name(self) -> &'static str {
        match self {
            FileAction::Created => "created",
            FileAction::Updated => "updated",
            FileAction::Unchanged => "unchanged",
            FileAction::Kept => "kept",
            FileAction::Restored => "restored",
            FileAction::Edited => "edited",
            FileAction::Deleted => "deleted",
            FileAction::Absent => "absent",
        }
    }

    /// Whether the file on disk changed.
    pub fn wrote(self) -> bool {
        !matches!(self, FileAction::Unchanged | FileAction::Kept | FileAction::Absent)
    }
}

/// One file `setup` looked at.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// Relative to the working tree, with `/`.
    pub path: &'static str,
    pub action: FileAction,
    pub note: Option<String>,
}

/// Everything one `setup` or `setup --remove` did.
#[derive(Debug, Clone)]
pub struct SetupReport {
    pub agent: AgentKind,
    pub remove: bool,
    pub files: Vec<FileReport>,
}

/// The instructions block for AGENTS.md and CLAUDE.md.
pub const INSTRUCTIONS: &str = "\
## Working with git-loom

Tasks in this repository are coordinated with git-loom. Work through it:

- Start or resume with `git loom next`: it claims a ready task (or the one you hold), makes \
its worktree, and prints the signal: the task, its acceptance checks, the last handoff and \
where to work.
- Work and commit only in the task's worktree, on its branch.
- Keep the claim alive: `git loom heartbeat ID --progress \"what you did\"` every few minutes.
- Before your context runs out, leave an account for the next session: \
`git loom handoff ID -m \"done so far, next steps\" --context-percent N`.
- Finish with `git loom done ID`: it runs the task's checks and queues the branch for merging.
- When you are stuck, `git loom fail ID --reason \"why\"` gives the task back.
";

/// Codex's MCP registration, for `.codex/config.toml`.
pub const CODEX_MCP: &str = "[mcp_servers.loom]\ncommand = \"git\"\nargs = [\"loom\", \"mcp\"]\n";

#[derive(Debug, Clone, Copy)]
enum Edit {
    Block(edit::Markers, &'static str),
    McpServer,
    ClaudeHooks,
}

/// The files each agent gets, in the order they are written.
fn edits(agent: AgentKind) -> Vec<(&'static str, Edit)> {
    let instructions = Edit::Block(MARKDOWN, INSTRUCTIONS);
    match agent {
        AgentKind::Claude => vec![
            (".mcp.json", Edit::McpServer),
            ("CLAUDE.md", instructions),
            (".claude/settings.json", Edit::ClaudeHooks),
        ],
        AgentKind::Codex => vec![
            ("AGENTS.md", instructions),
            (".codex/config.toml", Edit::Block(TOML, CODEX_MCP)),
        ],
        AgentKind::Generic => vec![("AGENTS.md", instructions), (".mcp.json", Edit::McpServer)],
    }
}

impl Edit {
    /// `text` with git-loom's part added: the new text, or `None` with a reason to leave it.
    fn add(self, text: &str, file: &str) -> Result<(Option<String>, Option<String>)> {
        match self {
            Edit::Block(markers, body) => Ok((edit::insert_block(text, body, markers), None)),
            Edit::McpServer | Edit::ClaudeHooks => {
                let added = match self {
                    Edit::McpServer => edit::add_mcp_server(text, file)?,
                    _ => edit::add_claude_hooks(text, file)?,
                };
                Ok(match added {
                    JsonAdd::Changed(text) => (Some(text), None),
                    JsonAdd::Present => (None, None),
                    JsonAdd::Taken(why) => (None, Some(why)),
                })
            }
        }
    }

    fn remove(self, text: &str, file: &str) -> Result<Option<String>> {
        match self {
            Edit::Block(markers, _) => Ok(edit::remove_block(text, markers)),
            Edit::McpServer => edit::remove_mcp_server(text, file),
            Edit::ClaudeHooks => edit::remove_claude_hooks(text, file),
        }
    }

    fn is_present(self, text: &str, file: &str) -> bool {
        match self {
            Edit::Block(markers, _) => edit::has_block(text, markers),
            _ => matches!(self.remove(text, file), Ok(Some(_))),
        }
    }

    /// Whether `text` holds nothing a user wrote (what is left of a file `setup` created).
    fn is_empty(self, text: &str) -> bool {
        match self {
            Edit::Block(..) => text.trim().is_empty(),
            _ => edit::json_is_empty(text),
        }
    }

    /// Whether `text` says what `original` said, apart from formatting git-loom may have lost.
    fn same_as(self, text: &str, original: &str) -> bool {
        match self {
            Edit::Block(..) => text.trim_end() == original.trim_end(),
            _ => edit::json_equal(text, original),
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SetupError {
    let path = path.to_path_buf();
    move |source| SetupError::Io { action, path, source }
}

fn read_text(path: &Path, file: &str) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| SetupError::NotText { file: file.to_owned() }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_error("read", path)(err)),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(io_error("write", path))
}

impl SetupPlace {
    fn original(&self, file: &str) -> PathBuf {
        self.originals.join(format!("{file}.orig"))
    }

    /// The record of a file `setup` created: the directories it created for it, one a line.
    fn created(&self, file: &str) -> PathBuf {
        self.originals.join(format!("{file}.created"))
    }

    /// The record that git-loom's part was in the file before `setup` ran: `--remove` leaves it.
    fn preexisting(&self, file: &str) -> PathBuf {
        self.originals.join(format!("{file}.preexisting"))
    }

    fn keep(&self, record: &Path, text: &str) -> Result<()> {
        if let Some(dir) = record.parent() {
            std::fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        }
        write(record, text)
    }
}

/// Wire `agent` to git-loom in `place` (see the module docs).
pub fn setup(place: &SetupPlace, agent: AgentKind) -> Result<SetupReport> {
    // Every file is read and edited in memory first: a file git-loom cannot edit stops the run
    // before anything is written.
    let mut planned = Vec::new();
    for (file, edit) in edits(agent) {
        let existing = read_text(&place.root.join(file), file)?;
        let (new, note) = edit.add(existing.as_deref().unwrap_or(""), file)?;
        planned.push((file, edit, existing, new, note));
    }
    let mut files = Vec::new();
    for (file, edit, existing, new, note) in planned {
        let path = place.root.join(file);
        let Some(new) = new else {
            let action = if note.is_some() {
                FileAction::Kept
            } else {
                FileAction::Unchanged
            };
            let ours = [place.original(file), place.created(file)];
            if action == FileAction::Unchanged && !ours.iter().any(|record| record.exists()) {
                // Not written by `setup` here (a user's own entry, or a committed block):
                // `--remove` must not take it.
                place.keep(&place.preexisting(file), "")?;
            }
            files.push(FileReport {
                path: file,
                action,
                note,
            });
            continue;
        };
        let action = match &existing {
            None => {
                let created_dirs = create_parents(&place.root, file)?;
                place.keep(&place.created(file), &created_dirs.join("\n"))?;
                FileAction::Created
            }
            Some(original) => {
                // Keep the bytes from before git-loom touched the file, not a later version of
                // its own part.
                if !edit.is_present(original, file) {
                    place.keep(&place.original(file), original)?;
                }
                FileAction::Updated
            }
        };
        write(&path, &new)?;
        files.push(FileReport {
            path: file,
            action,
            note,
        });
    }
    Ok(SetupReport {
        agent,
        remove: false,
        files,
    })
}

/// Create the directories above `file` that are missing; the ones created, deepest last.
fn create_parents(root: &Path, file: &str) -> Result<Vec<String>> {
    let mut created = Vec::new();
    let mut relative = PathBuf::new();
    let parts: Vec<&str> = file.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        relative.push(part);
        let dir = root.join(&relative);
        if !dir.is_dir() {
            std::fs::create_dir(&dir).map_err(io_error("create", &dir))?;
            created.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(created)
}

/// Take out what `setup` added for `agent` in `place` (see the module docs).
pub fn remove(place: &SetupPlace, agent: AgentKind) -> Result<SetupReport> {
    // As in `setup`: a file git-loom cannot read stops the run before anything is written.
    for (file, edit) in edits(agent) {
        if let Some(text) = read_text(&place.root.join(file), file)? {
            edit.remove(&text, file)?;
        }
    }
    let mut files = Vec::new();
    for (file, edit) in edits(agent) {
        let path = place.root.join(file);
        let original_path = place.original(file);
        let created_path = place.created(file);
        let preexisting_path = place.preexisting(file);
        if preexisting_path.exists() {
            std::fs::remove_file(&preexisting_path).map_err(io_error("delete", &preexisting_path))?;
            let note = "git-loom's part was there before setup: left as it is".to_owned();
            files.push(FileReport {
                path: file,
                action: FileAction::Kept,
                note: Some(note),
            });
            continue;
        }
        let original = read_text(&original_path, file)?;
        let created = read_text(&created_path, file)?;
        let existing = read_text(&path, file)?;
        let stripped = match &existing {
            Some(text) => edit.remove(text, file)?,
            None => None,
        };
        let (action, note) = match (stripped, original) {
            (None, _) => (FileAction::Absent, None),
            (Some(stripped), Some(original)) if edit.same_as(&stripped, &original) => {
                write(&path, &original)?;
                (FileAction::Restored, None)
            }
            (Some(stripped), Some(_)) => {
                write(&path, &stripped)?;
                (
                    FileAction::Edited,
                    Some("changed since setup: kept those changes".to_owned()),
                )
            }
            (Some(stripped), None) if edit.is_empty(&stripped) => {
                std::fs::remove_file(&path).map_err(io_error("delete", &path))?;
                remove_created_dirs(&place.root, created.as_deref().unwrap_or(""));
                (FileAction::Deleted, None)
            }
            (Some(stripped), None) => {
                write(&path, &stripped)?;
                (FileAction::Edited, None)
            }
        };
        for record in [&original_path, &created_path] {
            match std::fs::remove_file(record) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(io_error("delete", record)(err)),
                _ => {}
            }
        }
        files.push(FileReport {
            path: file,
            action,
            note,
        });
    }
    prune_empty(&place.originals);
    if let Some(parent) = place.originals.parent() {
        // The directory above the records was made for them when nothing else used it yet.
        let _ = std::fs::remove_dir(parent);
    }
    Ok(SetupReport {
        agent,
        remove: true,
        files,
    })
}

/// Remove the directories `setup` created (listed in `record`), deepest first, where empty.
fn remove_created_dirs(root: &Path, record: &str) {
    for dir in record.lines().rev().filter(|line| !line.trim().is_empty()) {
        // A directory the user has put files in since stays: `remove_dir` refuses non-empty ones.
        let _ = std::fs::remove_dir(root.join(dir));
    }
}

/// Remove empty directories under (and including) `dir`, which holds only git-loom's records.
fn prune_empty(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                prune_empty(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
