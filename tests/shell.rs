//! Proves git-loom meets shells and git where they are: completion scripts for every supported
//! shell (and `git loom <TAB>` through git's own bash completion), man pages that `git help
//! loom` and `git loom --help` find after `install-man`, colour only when asked for or on a
//! terminal (never with `NO_COLOR` or `--color=never`), and `log` through git's pager only on a
//! terminal. Terminal cases run under `script(1)`, which gives the command a real pseudo-terminal.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, Repo, Run, TestEnv};

const ESC: char = '\u{1b}';

/// The directory holding the binary under test, so `git` finds `git loom` through PATH.
fn bin_dir() -> PathBuf {
    Path::new(BIN)
        .parent()
        .expect("the binary lives in a directory")
        .to_path_buf()
}

fn path_with_bin() -> std::ffi::OsString {
    let mut dirs = vec![bin_dir()];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(dirs).expect("test PATH entries hold no separator")
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|out| out.status.success())
}

fn run_command(mut command: Command, what: &str) -> Run {
    let child = command.spawn().expect("the process starts");
    common::finish(what.to_owned(), child, common::PROCESS_TIMEOUT)
}

/// `git-loom args` on a pseudo-terminal (through `script`), with extra environment.
fn on_terminal(env: &TestEnv, dir: &Path, args: &str, vars: &[(&str, &str)]) -> Run {
    let mut command = env.command("script", dir);
    command.args(["-qec", &format!("{BIN} {args}"), "/dev/null"]);
    for (name, value) in vars {
        command.env(name, value);
    }
    run_command(command, &format!("script: git-loom {args}"))
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    // Guards: a completion script that is empty or misses commands, for any supported shell.
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = env.loom(env.root(), &["completions", shell]);
        assert_eq!(run.code, 0, "{run}");
        assert_eq!(run.stderr, "", "{run}");
        for word in ["claim", "merge", "install-man", "worktree"] {
            assert!(run.stdout.contains(word), "{shell} script lacks {word}: {run}");
        }
    }
    let run = env.loom(env.root(), &["completions", "tcsh"]);
    assert_eq!(run.code, 2, "an unknown shell is a usage error: {run}");
}

#[test]
fn bash_completes_git_loom_and_git_space_loom() {
    // Guards: `git loom <TAB>` completing nothing because git's completion calls `_git_loom`,
    // and nested subcommands going uncompleted when the bash script's cases do not match a
    // hyphenated executable name.
    if !have("bash") {
        eprintln!("skipped: bash is not installed");
        return;
    }
    let env = TestEnv::new();
    let script = env.root().join("loom.bash");
    let run = env.loom(env.root(), &["completions", "bash"]);
    std::fs::write(&script, &run.stdout).unwrap();
    let body = format!(
        r#"source {script}
complete_words() {{ COMP_CWORD=$1; shift; COMP_WORDS=("$@"); }}
complete_words 1 git-loom cla; _gitloom git-loom cla git-loom; echo "direct: ${{COMPREPLY[*]}}"
complete_words 2 git-loom worktree ''; _gitloom git-loom '' worktree; echo "nested: ${{COMPREPLY[*]}}"
complete_words 2 git loom mer; _git_loom; echo "git: ${{COMPREPLY[*]}}"
complete_words 5 git -C . loom worktree ''; __git_cmd_idx=3 _git_loom; echo "after -C: ${{COMPREPLY[*]}}"
"#,
        script = script.display()
    );
    let mut command = env.command("bash", env.root());
    command.args(["-c", &body]);
    let run = run_command(command, "bash completion");
    assert_eq!(run.code, 0, "{run}");
    let line = |prefix: &str| {
        run.stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line: {run}"))
            .split(' ')
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("direct: "), ["claim"], "{run}");
    for sub in ["add", "list", "remove", "prune"] {
        assert!(line("nested: ").iter().any(|w| w == sub), "{run}");
        assert!(line("after -C: ").iter().any(|w| w == sub), "{run}");
    }
    assert_eq!(line("git: "), ["merge"], "{run}");
}

#[test]
fn install_man_writes_a_page_for_every_command() {
    // Guards: missing pages for subcommands (nested ones too), or a stray page for `help`.
    let env = TestEnv::new();
    let dir = env.root().join("man");
    let run = env.loom(env.root(), &["install-man", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.starts_with("installed "), "{run}");
    let section = dir.join("man1");
    for page in [
        "git-loom.1",
        "git-loom-claim.1",
        "git-loom-merge.1",
        "git-loom-worktree-add.1",
        "git-loom-install-man.1",
    ] {
        let text = std::fs::read_to_string(section.join(page)).unwrap_or_else(|err| panic!("{page}: {err}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH "),
            "{page} is not roff: {text}"
        );
    }
    assert!(!section.join("git-loom-help.1").exists());
    let top = std::fs::read_to_string(section.join("git-loom.1")).unwrap();
    assert!(top.contains("claim") && top.contains("completions"), "{top}");
}

#[test]
fn git_loom_help_shows_the_manual_after_install_man() {
    // Guards: `git loom --help` (which git turns into `man git-loom`) saying "No manual entry".
    if !have("man") {
        eprintln!("skipped: man is not installed, so git help cannot show any page");
        return;
    }
    let env = TestEnv::new();
    let dir = env.root().join("man");
    let run = env.loom(env.root(), &["install-man", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run}");
    for args in [&["loom", "--help"][..], &["help", "loom"][..]] {
        let mut command = env.command("git", env.root());
        command
            .args(args)
            .env("PATH", path_with_bin())
            .env("MANPATH", &dir)
            .env("MANWIDTH", "80");
        let run = run_command(command, &format!("git {}", args.join(" ")));
        assert_eq!(run.code, 0, "{run}");
        assert!(run.stdout.contains("git-loom"), "{run}");
        assert!(run.stdout.contains("Coordinate many coding agents"), "{run}");
        assert!(
            !run.stderr.contains("warning"),
            "the page formats cleanly in a C locale: {run}"
        );
    }
}

#[test]
fn install_man_defaults_to_a_user_man_dir_and_says_when_man_cannot_see_it() {
    // Guards: install-man without DIR writing somewhere unexpected, or staying silent when
    // `man` will not search the directory it chose.
    let env = TestEnv::new();
    let data = env.root().join("data");
    let mut command = env.command(BIN, env.root());
    command
        .arg("install-man")
        .env("XDG_DATA_HOME", &data)
        .env("PATH", "/usr/bin:/bin");
    let run = run_command(command, "git-loom install-man");
    assert_eq!(run.code, 0, "{run}");
    assert!(data.join("man/man1/git-loom.1").is_file(), "{run}");
    match have("man") {
        true => assert!(run.stderr.contains("MANPATH"), "{run}"),
        false => assert!(run.stderr.contains("man` is not installed"), "{run}"),
    }
}

#[test]
fn color_follows_the_flag_and_no_color() {
    // Guards: colour codes in piped output, colour despite NO_COLOR or --color=never, and
    // no colour on `error:` when asked for with --color=always.
    // Before `init`, `list` fails with an error and hints.
    let bare = Repo::uninitialized();
    let always = bare.loom(&["--color=always", "list"]);
    assert_eq!(always.code, 1, "{always}");
    assert!(always.stderr.starts_with("\u{1b}[1;31merror:\u{1b}[0m "), "{always}");
    assert!(always.stderr.contains("\u{1b}[33mhint:\u{1b}[0m "), "{always}");
    for args in [
        &["list"][..],
        &["--color=never", "list"][..],
        &["--color=auto", "list"][..],
    ] {
        let run = bare.loom(args);
        assert_eq!(run.code, 1, "{run}");
        assert!(run.stderr.starts_with("error: ") && !run.stderr.contains(ESC), "{run}");
    }
    // An explicit --color=always wins over NO_COLOR, as the convention asks.
    let mut forced = bare.env.command(BIN, &bare.dir);
    forced.args(["--color=always", "list"]).env("NO_COLOR", "1");
    let forced = run_command(forced, "NO_COLOR=1 git-loom --color=always list");
    assert!(forced.stderr.starts_with("\u{1b}[1;31merror:"), "{forced}");
    let repo = Repo::new();
    let id = repo.create("Task", &[]);
    // Status words are painted where they stand, and nothing else moves.
    let plain = repo.run_ok(&["list"]).stdout;
    let painted = repo.run_ok(&["--color=always", "list"]).stdout;
    assert!(painted.contains("\u{1b}[32mready\u{1b}[0m"), "{painted}");
    assert_eq!(painted.replace("\u{1b}[32m", "").replace("\u{1b}[0m", ""), plain);
    let shown = repo.run_ok(&["--color=always", "show", &id]).stdout;
    assert!(shown.contains("\u{1b}[32mready\u{1b}[0m"), "{shown}");

    if !have("script") {
        eprintln!("skipped the terminal half: script(1) is not installed");
        return;
    }
    let tty = on_terminal(&repo.env, &repo.dir, "show nope", &[("TERM", "xterm")]);
    assert!(
        tty.stdout.contains("\u{1b}[1;31merror:"),
        "auto colours a terminal: {tty}"
    );
    let no_color = on_terminal(
        &repo.env,
        &repo.dir,
        "--color=auto show nope",
        &[("TERM", "xterm"), ("NO_COLOR", "1")],
    );
    assert!(
        no_color.stdout.contains("error: ") && !no_color.stdout.contains(ESC),
        "{no_color}"
    );
    let dumb = on_terminal(&repo.env, &repo.dir, "show nope", &[("TERM", "dumb")]);
    assert!(!dumb.stdout.contains(ESC), "{dumb}");
    let never = on_terminal(&repo.env, &repo.dir, "--color=never show nope", &[("TERM", "xterm")]);
    assert!(!never.stdout.contains(ESC), "{never}");
}

#[test]
fn log_goes_through_gits_pager_only_on_a_terminal() {
    // Guards: `log` never paging on a terminal, paging into a pipe, or ignoring --no-pager and
    // git's pager settings.
    if !have("script") {
        eprintln!("skipped: script(1) is not installed, so there is no terminal to page on");
        return;
    }
    let repo = Repo::new();
    let id = repo.create("Task", &[]);
    let pager = [("GIT_PAGER", "sed s/^/paged:/"), ("TERM", "dumb")];
    let paged = on_terminal(&repo.env, &repo.dir, &format!("log --patch {id}"), &pager);
    assert_eq!(paged.code, 0, "{paged}");
    assert!(paged.stdout.starts_with("paged:commit "), "{paged}");
    assert!(paged.stdout.lines().all(|line| line.starts_with("paged:")), "{paged}");

    let unpaged = on_terminal(&repo.env, &repo.dir, &format!("--no-pager log {id}"), &pager);
    assert!(unpaged.stdout.starts_with("commit "), "{unpaged}");
    let cat = on_terminal(&repo.env, &repo.dir, &format!("log {id}"), &[("GIT_PAGER", "cat")]);
    assert!(cat.stdout.starts_with("commit "), "{cat}");
    // core.pager is git's setting too.
    repo.git(&["config", "core.pager", "sed s/^/core:/"]);
    let core = on_terminal(&repo.env, &repo.dir, &format!("log {id}"), &[("TERM", "dumb")]);
    assert!(core.stdout.starts_with("core:commit "), "{core}");

    // A pager that cannot run loses the output, so it is an error, as it is for git.
    let missing = on_terminal(
        &repo.env,
        &repo.dir,
        &format!("log {id}"),
        &[("GIT_PAGER", "no-such-pager-here")],
    );
    assert_eq!(missing.code, 1, "{missing}");
    assert!(
        missing
            .stdout
            .contains("the pager `no-such-pager-here` could not be run"),
        "{missing}"
    );

    let mut piped = repo.env.command(BIN, &repo.dir);
    piped.args(["log", &id]).env("GIT_PAGER", "sed s/^/paged:/");
    let piped = run_command(piped, "git-loom log into a pipe");
    assert!(piped.stdout.starts_with("commit "), "{piped}");
}
