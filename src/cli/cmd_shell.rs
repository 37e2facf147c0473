//! `git loom completions SHELL` and `git loom install-man [DIR]`: the shell and manual pages
//! from the same clap definition that parses the command line, so neither can drift from it.
//!
//! Man pages: one for `git-loom` and one per subcommand (`git-loom-claim.1`,
//! `git-loom-worktree-add.1`, …), written under `DIR/man1`. The default DIR is one `man`
//! searches without any configuration: man-db looks in `<dir>/../share/man` for every `<dir>`
//! on `PATH`, so the pages go next to the executable's own directory when that is on `PATH`
//! (`~/.cargo/bin` → `~/.cargo/share/man`), else to `$XDG_DATA_HOME/man` (`~/.local/share/man`).
//! Once installed, `git help loom` and `git loom --help` (which git turns into
//! `man git-loom`) find them. After installing, `man -w` is asked whether it really finds the
//! page; when it does not, a hint says how to set `MANPATH`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Print a shell completion script (bash also completes `git loom …` through git's completion)
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

/// Install man pages for git-loom and every subcommand, so `git help loom` works
#[derive(Debug, Args)]
pub struct InstallManArgs {
    /// Man directory to install into (pages go to DIR/man1) [default: ../share/man beside the
    /// git-loom executable when its directory is on PATH, else $XDG_DATA_HOME/man or
    /// ~/.local/share/man]
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// The name the bash script is generated for (see [`run_completions`]).
const BASH_NAME: &str = "gitloom";

/// What git's bash completion calls for `git loom …`: the words after `loom`, handed to the
/// `git-loom` completion as if `git-loom` had been typed. `__git_cmd_idx` is where git's
/// completion found the subcommand (after options such as `-C dir`).
const BASH_GIT_WRAPPER: &str = r#"
# `git loom <TAB>`: git's own completion calls _git_loom.
_git_loom() {
    local loom_at=${__git_cmd_idx:-1}
    local COMP_WORDS=("git-loom" "${COMP_WORDS[@]:loom_at+1}")
    local COMP_CWORD=$((COMP_CWORD - loom_at))
    _gitloom git-loom "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
}
"#;

pub fn run_completions(args: &CompletionsArgs, ui: &mut Ui) -> Result<Exit, CommandError> {
    // clap_complete's bash script names its functions after the command path and does not
    // survive a `-` in the executable's name (its cases stop matching), so the bash script is
    // made for a name without one and then bound to `git-loom`.
    let bash = args.shell == Shell::Bash;
    let bin_name = if bash { BASH_NAME } else { "git-loom" };
    let mut command = super::Cli::command();
    command.build();
    let mut command = named_for_completion(command, bin_name);
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, bin_name, &mut script);
    let mut script = String::from_utf8(script)
        .map_err(|err| CommandError::new(Exit::Error, format!("completion script is not UTF-8: {err}")))?;
    if bash {
        script = script.replace(&format!(" {BASH_NAME}\n"), " git-loom\n");
        script.push_str(BASH_GIT_WRAPPER);
    }
    // Printed as it is: the script is ours, and sanitizing would break its escapes.
    ui.flush()?;
    let mut out = io::stdout().lock();
    out.write_all(script.as_bytes())?;
    out.flush()?;
    Ok(Exit::Success)
}

/// `command` with `bin_name` for itself and `bin_name sub …` for every nested subcommand.
/// Completions are for the `git-loom` executable, and the bash script names its functions
/// after these; the `git loom` spelling of the help texts would put a space in those names.
fn named_for_completion(mut command: clap::Command, bin_name: &str) -> clap::Command {
    let names: Vec<String> = command.get_subcommands().map(|sub| sub.get_name().to_owned()).collect();
    for name in names {
        let sub_name = format!("{bin_name} {name}");
        command = command.mut_subcommand(&name, |sub| named_for_completion(sub, &sub_name));
    }
    command.bin_name(bin_name)
}

/// Every man page, as (file name, roff text): `git-loom.1` first, then each visible
/// subcommand, nested ones too.
pub fn man_pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    fn collect(command: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> io::Result<()> {
        let man = clap_mangen::Man::new(command.clone()).manual("Git Loom Manual");
        let mut page = Vec::new();
        man.render(&mut page)?;
        let page = String::from_utf8(page).map_err(io::Error::other)?;
        pages.push((man.get_filename(), portable_roff(&page).into_bytes()));
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            collect(sub, pages)?;
        }
        Ok(())
    }
    // `help` as a subcommand would get a page of its own; `--help` is what people use.
    let mut command = super::Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    collect(&command, &mut pages)?;
    Ok(pages)
}

/// `page` with the few non-ASCII marks the help texts use spelled as roff escapes, which
/// every output device renders: in a C locale `man` formats for plain ASCII, and groff warns
/// about (and drops) a raw `…` or `—`. `\&` keeps `...` from opening a control line.
fn portable_roff(page: &str) -> String {
    page.replace('…', "\\&...").replace('—', "\\(em").replace('–', "\\(en")
}

pub fn run_install_man(args: &InstallManArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let (dir, default) = match &args.dir {
        Some(dir) => (context.user_path(dir), false),
        None => (default_dir()?, true),
    };
    let section = dir.join("man1");
    std::fs::create_dir_all(&section).map_err(|err| cannot_write(&section, err, default))?;
    let pages = man_pages()?;
    for (name, page) in &pages {
        let path = section.join(name);
        std::fs::write(&path, page).map_err(|err| cannot_write(&path, err, default))?;
    }
    ui.line(format!("installed {} man pages in {}", pages.len(), section.display()))?;
    match found_by_man(&dir) {
        Some(true) => {}
        Some(false) => ui.hint(format!(
            "man does not search {} yet; add it to MANPATH (a trailing colon keeps the \
             default places): export MANPATH=\"{}:\"",
            dir.display(),
            dir.display()
        )),
        None => ui.hint("`man` is not installed, so `git help loom` cannot show these pages yet"),
    }
    Ok(Exit::Success)
}

fn cannot_write(path: &Path, err: io::Error, default: bool) -> CommandError {
    let mut error = CommandError::new(Exit::Error, format!("cannot write {}: {err}", path.display()));
    if default {
        error
            .hints
            .push("name a man directory you can write to: git loom install-man DIR".into());
    }
    error
}

/// The default man directory (see the module comment).
fn default_dir() -> Result<PathBuf, CommandError> {
    let on_path = |dir: &Path| {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|entry| same_path(&entry, dir)))
    };
    if let Some(bin) = std::env::current_exe().ok().as_deref().and_then(Path::parent)
        && on_path(bin)
        && let Some(prefix) = bin.parent()
    {
        return Ok(prefix.join("share").join("man"));
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|dir| Path::new(dir).is_absolute()) {
        return Ok(PathBuf::from(data).join("man"));
    }
    match std::env::var_os("HOME").filter(|home| !home.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local").join("share").join("man")),
        None => Err(CommandError::usage(
            "no HOME to install man pages under; name a directory: git loom install-man DIR",
        )),
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether `man -w git-loom` finds the page installed under `dir`; `None` when `man` cannot be
/// run.
fn found_by_man(dir: &Path) -> Option<bool> {
    let output = Process::new("man")
        .args(["-w", "git-loom"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let installed = dir.join("man1").join("git-loom.1");
    let found = String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|line| same_path(Path::new(line.trim()), &installed));
    Some(found)
}
