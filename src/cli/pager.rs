//! Long human output through the user's pager, chosen exactly as git chooses it: `git var
//! GIT_PAGER` resolves `GIT_PAGER`, `core.pager`, `PAGER` and git's built-in default, so
//! git-loom pages where and how `git log` does. Like git, it sets `LESS=FRX` and `LV=-c` when
//! they are unset (so short output does not wait for a key), and pages only when stdout is a
//! terminal, git has not already started a pager (`GIT_PAGER_IN_USE`), the pager is not `cat`,
//! and `--no-pager` was not given.
//!
//! If the pager cannot be started the output goes to stdout as it would have without one.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// A running pager: its stdin takes the output; [`Pager::wait`] lets the user finish reading.
pub struct Pager {
    child: Child,
}

impl Pager {
    /// Start the pager git would use for a command run in `dir`, or `None` when output should
    /// not be paged.
    pub fn start(dir: &Path) -> Option<(Pager, ChildStdin)> {
        if !io::stdout().is_terminal() || std::env::var_os("GIT_PAGER_IN_USE").is_some() {
            return None;
        }
        let command = resolve(dir)?;
        let mut pager = Command::new("sh");
        pager.arg("-c").arg(&command).stdin(Stdio::piped());
        if std::env::var_os("LESS").is_none() {
            pager.env("LESS", "FRX");
        }
        if std::env::var_os("LV").is_none() {
            pager.env("LV", "-c");
        }
        let mut child = pager.spawn().ok()?;
        let stdin = child.stdin.take()?;
        Some((Pager { child }, stdin))
    }

    /// Wait for the user to leave the pager (its stdin must be closed first).
    pub fn wait(mut self) {
        let _ = self.child.wait();
    }
}

/// git's pager for `dir`, or `None` for "no pager" (`cat`, empty, or git cannot say).
fn resolve(dir: &Path) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["var", "GIT_PAGER"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let command = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    match command.as_str() {
        "" | "cat" => None,
        _ => Some(command),
    }
}
