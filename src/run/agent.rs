//! One agent process: starting it in its task's worktree with the environment the agent
//! contract promises, and the automatic handoff written from what it left behind.
//!
//! The contract (what a started agent sees): its working directory is its task's worktree, and
//! `LOOM_TASK`, `LOOM_TOKEN`, `LOOM_WORKTREE`, `LOOM_SIGNAL` (a file holding the signal text),
//! `LOOM_AGENT`, `LOOM_SESSION`, `LOOM_ATTEMPT` and `LOOM_REFRESH` (a path: creating that file
//! asks for a fresh session) are set. Its output (both streams) is appended to the session's
//! log; it leads its own process group, and on Linux dies with its runner.
//!
//! Guarantees: the automatic handoff names every uncommitted change (`git status --porcelain`)
//! so that work not yet committed is never silently lost to the next session, and keeps the
//! agent's own words from the same session when it wrote a handoff.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::preset::AgentCommand;
use crate::exec::{self, Running};
use crate::model::TaskId;

/// How many bytes of the end of a session's output the automatic handoff quotes.
const HANDOFF_TAIL_BYTES: u64 = 3000;
/// How many bytes of each stream are kept in memory, for the last line shown.
const TAIL_BYTES: usize = 8192;
/// How many uncommitted changes the automatic handoff lists by name.
const LISTED_CHANGES: usize = 50;

/// Where one session's files are.
#[derive(Debug, Clone)]
pub struct SessionFiles {
    pub signal: PathBuf,
    pub refresh: PathBuf,
    pub log: PathBuf,
}

impl SessionFiles {
    /// The files of session `id` beside its log (`<git-dir>/loom/sessions/`), as absolute
    /// paths: the agent runs in another directory.
    pub fn beside(log: PathBuf, id: &str) -> SessionFiles {
        let log = std::path::absolute(&log).unwrap_or(log);
        let dir = log.parent().map(Path::to_path_buf).unwrap_or_default();
        SessionFiles {
            signal: dir.join(format!("{id}.signal")),
            refresh: dir.join(format!("{id}.refresh")),
            log,
        }
    }
}

/// What the agent's environment says about its session.
#[derive(Debug, Clone)]
pub struct Contract<'a> {
    pub task: &'a TaskId,
    pub token: &'a str,
    pub worktree: &'a Path,
    pub agent: &'a str,
    pub session: &'a str,
    pub attempt: u32,
}

/// Write the signal and start the agent.
pub fn start(
    command: &AgentCommand,
    signal: &str,
    files: &SessionFiles,
    contract: &Contract<'_>,
) -> exec::Result<Running> {
    if let Some(dir) = files.signal.parent() {
        std::fs::create_dir_all(dir).map_err(read_error)?;
    }
    std::fs::write(&files.signal, signal).map_err(read_error)?;
    // A refresh file left from before would end the new session at once.
    let _ = std::fs::remove_file(&files.refresh);
    let mut spec = command
        .spec(signal, &files.signal)
        .dir(contract.worktree)
        .env("LOOM_TASK", contract.task.as_str())
        .env("LOOM_TOKEN", contract.token)
        .env("LOOM_WORKTREE", contract.worktree)
        .env("LOOM_SIGNAL", &files.signal)
        .env("LOOM_AGENT", contract.agent)
        .env("LOOM_SESSION", contract.session)
        .env("LOOM_ATTEMPT", contract.attempt.to_string())
        .env("LOOM_REFRESH", &files.refresh);
    spec.tail_bytes = TAIL_BYTES;
    spec.log = Some(files.log.clone());
    spec.die_with_parent = true;
    Running::spawn(&spec)
}

fn read_error(err: std::io::Error) -> exec::Error {
    exec::Error::Read(err)
}

/// The last non-empty line of `text`, at most 200 characters.
pub fn last_line(text: &str) -> Option<String> {
    let line = text.lines().rev().map(str::trim).find(|line| !line.is_empty())?;
    Some(line.chars().take(200).collect())
}

/// The last bytes of the log at `path` (empty when it cannot be read).
pub fn log_tail(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let start = length.saturating_sub(HANDOFF_TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match start {
        0 => text,
        // Start at a whole line.
        _ => text.split_once('\n').map_or(text.clone(), |(_, rest)| rest.to_owned()),
    }
}

/// What the automatic handoff is written from.
#[derive(Debug, Clone, Default)]
pub struct LeftBehind {
    /// How the session ended, in a sentence.
    pub ended: String,
    /// `git status --porcelain` lines of the worktree.
    pub changes: Vec<String>,
    /// `git diff --stat HEAD` of the worktree.
    pub diffstat: String,
    /// The agent's own handoff message in this session, if it wrote one.
    pub own_words: Option<String>,
    pub output_tail: String,
}

/// The message of an automatic handoff. The task branch's commits and changed files are added
/// by the handoff itself.
pub fn handoff_message(session: &str, agent: &str, left: &LeftBehind) -> String {
    let mut text = format!(
        "Automatic handoff: session {session} ({agent}) ended: {}.\n",
        left.ended.trim_end_matches('.')
    );
    if left.changes.is_empty() {
        text.push_str("\nThe worktree had no uncommitted changes: everything is on the branch.\n");
    } else {
        text.push_str(&format!(
            "\nUncommitted changes left in the worktree (not on the branch; commit what is worth keeping) — {}:\n",
            left.changes.len()
        ));
        for line in left.changes.iter().take(LISTED_CHANGES) {
            text.push_str(&format!("    {line}\n"));
        }
        if left.changes.len() > LISTED_CHANGES {
            text.push_str(&format!("    … and {} more\n", left.changes.len() - LISTED_CHANGES));
        }
        if !left.diffstat.trim().is_empty() {
            text.push_str("\nDiffstat of the uncommitted changes:\n");
            for line in left.diffstat.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        }
    }
    if let Some(words) = left.own_words.as_deref().filter(|words| !words.trim().is_empty()) {
        text.push_str("\nThe agent's own handoff in this session:\n");
        for line in words.lines() {
            text.push_str(&format!("> {line}\n"));
        }
    }
    let tail = left.output_tail.trim_end();
    if !tail.is_empty() {
        text.push_str("\nThe end of its output:\n");
        for line in tail.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards: an automatic handoff that does not name the uncommitted work a crash left.
    #[test]
    fn the_handoff_names_uncommitted_changes_and_keeps_the_agents_words() {
        let left = LeftBehind {
            ended: "the agent crashed (signal 9)".into(),
            changes: vec![" M src/lib.rs".into(), "?? notes.txt".into()],
            diffstat: " src/lib.rs | 2 +-\n 1 file changed".into(),
            own_words: Some("parser half done".into()),
            output_tail: "step 1\nstep 2\n".into(),
        };
        let text = handoff_message("ab12cd34", "r/1", &left);
        assert!(text.starts_with("Automatic handoff: session ab12cd34 (r/1) ended: the agent crashed (signal 9)."));
        assert!(text.contains("— 2:\n     M src/lib.rs\n    ?? notes.txt\n"), "{text}");
        assert!(text.contains("src/lib.rs | 2 +-"));
        assert!(text.contains("> parser half done"));
        assert!(text.contains("    step 2\n"));
        let clean = handoff_message("x", "r/1", &LeftBehind::default());
        assert!(clean.contains("no uncommitted changes"));
    }

    #[test]
    fn the_last_line_skips_blank_ones() {
        assert_eq!(last_line("a\nb\n\n  \n").as_deref(), Some("b"));
        assert_eq!(last_line(""), None);
    }

    #[test]
    fn the_log_tail_starts_at_a_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let long: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        std::fs::write(&path, &long).unwrap();
        let tail = log_tail(&path);
        assert!(tail.starts_with("line "), "{}", &tail[..20]);
        assert!(tail.ends_with("line 999\n"));
        assert!(tail.len() <= HANDOFF_TAIL_BYTES as usize);
    }
}
