//! Git's terminal conventions for git-loom's own output: colour and the pager.
//!
//! Colour is decided once per run the way git decides it: `--color=always|never` wins; `auto`
//! (the default) colours a stream only when it is a terminal whose `TERM` is not `dumb`, and
//! never when `NO_COLOR` is set to anything but the empty string (<https://no-color.org>). A
//! pager git started for us (`GIT_PAGER_IN_USE`) counts as a terminal for stdout, as it does
//! for git. Only whole words are painted (`error:`, `warning:`, `hint:`, task statuses), and
//! only after the text around them has been sanitized, so colour never lets stored text reach
//! the terminal raw and never changes what a script reading a pipe sees.
//!
//! Long human output goes through the user's pager, chosen exactly as git chooses it: `git var
//! GIT_PAGER` resolves `GIT_PAGER`, `core.pager`, `PAGER` and git's built-in default, so
//! git-loom pages where and how `git log` does. Like git, it sets `LESS=FRX` and `LV=-c` when
//! they are unset (so short output does not wait for a key), and pages only when stdout is a
//! terminal, git has not already started a pager (`GIT_PAGER_IN_USE`), the pager is not `cat`,
//! and `--no-pager` was not given. If the pager cannot be started the output goes to stdout as
//! it would have without one.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use clap::ValueEnum;
use git_loom::model::View;

/// When to colour output (`--color`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colour when writing to a terminal, unless NO_COLOR is set or TERM is dumb
    #[default]
    Auto,
    /// Always colour, even into a pipe or file
    Always,
    /// Never colour
    Never,
}

/// The decision for each stream, made by [`init`]; before it (or when a command never calls
/// it) nothing is coloured.
static DECISION: OnceLock<Decision> = OnceLock::new();

#[derive(Debug, Clone, Copy)]
struct Decision {
    stdout: bool,
    stderr: bool,
}

/// Decide, once, from the flag and the environment; later calls keep the first decision.
pub fn init(when: ColorWhen) {
    let decision = match when {
        ColorWhen::Always => Decision {
            stdout: true,
            stderr: true,
        },
        ColorWhen::Never => Decision {
            stdout: false,
            stderr: false,
        },
        ColorWhen::Auto => {
            let allowed = std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                && std::env::var_os("TERM").is_none_or(|term| term != "dumb");
            let paged = std::env::var_os("GIT_PAGER_IN_USE").is_some_and(|value| is_true(&value.to_string_lossy()));
            Decision {
                stdout: allowed && (io::stdout().is_terminal() || paged),
                stderr: allowed && io::stderr().is_terminal(),
            }
        }
    };
    let _ = DECISION.set(decision);
}

/// The colour clap should use for its own messages: the last `--color WHEN` or
/// `--color=WHEN` on the command line (as clap would take it), else clap's automatic choice,
/// which also honours `NO_COLOR`.
pub fn clap_color(args: impl IntoIterator<Item = std::ffi::OsString>) -> clap::ColorChoice {
    let args: Vec<String> = args.into_iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
    let mut choice = clap::ColorChoice::Auto;
    for (i, arg) in args.iter().enumerate() {
        if arg == "--" {
            break;
        }
        let value = match arg.strip_prefix("--color") {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        choice = match value {
            Some("always") => clap::ColorChoice::Always,
            Some("never") => clap::ColorChoice::Never,
            Some("auto") => clap::ColorChoice::Auto,
            _ => choice,
        };
    }
    choice
}

/// Git's reading of a boolean environment value.
fn is_true(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

pub fn stdout_enabled() -> bool {
    DECISION.get().is_some_and(|d| d.stdout)
}

pub fn stderr_enabled() -> bool {
    DECISION.get().is_some_and(|d| d.stderr)
}

/// The colours git-loom uses; git's own choices where git has one (`error:` bold red,
/// `warning:` bold yellow, `hint:` yellow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Error,
    Warning,
    Hint,
    Good,
    Active,
    Waiting,
    Bad,
    Quiet,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Error => "\x1b[1;31m",
            Style::Warning => "\x1b[1;33m",
            Style::Hint => "\x1b[33m",
            Style::Good => "\x1b[32m",
            Style::Active => "\x1b[36m",
            Style::Waiting => "\x1b[33m",
            Style::Bad => "\x1b[31m",
            Style::Quiet => "\x1b[2m",
        }
    }
}

/// `text` wrapped in `style` when `enabled`, as it is otherwise.
pub fn paint(text: &str, style: Style, enabled: bool) -> String {
    match enabled {
        true => format!("{}{text}\x1b[0m", style.code()),
        false => text.to_owned(),
    }
}

/// The colour of a task status word as listings print it (`ready`, `claimed`, …), if `word`
/// is one.
pub fn status_style(word: &str) -> Option<Style> {
    let view = View::ALL.into_iter().find(|view| view.to_string() == word)?;
    Some(match view {
        View::Ready => Style::Good,
        View::Done => Style::Good,
        View::Claimed => Style::Active,
        View::Blocked => Style::Waiting,
        View::Failed => Style::Bad,
        View::Dead => Style::Error,
        View::Idea | View::Epic | View::Cancelled => Style::Quiet,
    })
}

/// A running pager: its stdin takes the output; [`Pager::wait`] lets the user finish reading.
pub struct Pager {
    child: Child,
    command: String,
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
        Some((Pager { child, command }, stdin))
    }

    /// Wait for the user to leave the pager (its stdin must be closed first). A pager the
    /// shell could not run (exit 126 or 127) is an error, as it is for git: the output it was
    /// given is lost, and saying nothing would pass that off as success.
    pub fn wait(mut self) -> io::Result<()> {
        match self.child.wait()?.code() {
            Some(code @ (126 | 127)) => Err(io::Error::other(format!(
                "the pager `{}` could not be run (exit {code})",
                self.command
            ))),
            _ => Ok(()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_word_has_a_colour_and_other_words_none() {
        // Guards: a status added to the model but missing here would silently print uncoloured,
        // and a title word like "done." must not be painted as if it were a status.
        for view in View::ALL {
            assert!(status_style(&view.to_string()).is_some(), "{view}");
        }
        assert_eq!(status_style("done."), None);
        assert_eq!(status_style("p1"), None);
    }

    #[test]
    fn clap_colour_follows_the_last_color_flag() {
        // Guards: usage errors and --help coloured despite --color=never (or not despite always).
        let args = |list: &[&str]| list.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(clap_color(args(&["git-loom", "list"])), clap::ColorChoice::Auto);
        assert_eq!(
            clap_color(args(&["git-loom", "--color=never", "x"])),
            clap::ColorChoice::Never
        );
        assert_eq!(
            clap_color(args(&["git-loom", "--color", "always"])),
            clap::ColorChoice::Always
        );
        assert_eq!(
            clap_color(args(&["git-loom", "--color=always", "--color=never"])),
            clap::ColorChoice::Never
        );
        assert_eq!(
            clap_color(args(&["git-loom", "--", "--color=never"])),
            clap::ColorChoice::Auto
        );
    }

    #[test]
    fn paint_only_when_enabled() {
        // Guards: colour codes leaking into output when colour is off.
        assert_eq!(paint("error:", Style::Error, false), "error:");
        assert_eq!(paint("error:", Style::Error, true), "\x1b[1;31merror:\x1b[0m");
    }
}
