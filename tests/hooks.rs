//! `git loom hooks install|uninstall|status` and the hooks themselves, driven through real
//! `git commit` and `git push` with the built `git-loom` on PATH, the way a user's git runs
//! them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{AGENT, BIN, PROCESS_TIMEOUT, Repo, Run, finish};

/// A user's own commit-msg hook: adds a trailer of its own, so both hooks' work is visible.
const USER_COMMIT_MSG: &str = "#!/bin/sh\nprintf '\\nReviewed-by: the user hook\\n' >> \"$1\"\n";

/// Run `git args` in `dir` as `agent`, with `git-loom` on PATH (when `with_loom`) so that the
/// installed hooks find it, as they would on a user's machine.
fn git_as(repo: &Repo, dir: &Path, agent: &str, with_loom: bool, args: &[&str]) -> Run {
    let mut command = repo.env.command("git", dir);
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = Vec::new();
    if with_loom {
        paths.push(
            Path::new(BIN)
                .parent()
                .expect("the binary lives in a directory")
                .to_path_buf(),
        );
    }
    // Without git-loom means without any installed copy too (the README's first command puts
    // one in ~/.cargo/bin, which is usually on PATH).
    paths.extend(std::env::split_paths(&inherited).filter(|dir| with_loom || !dir.join("git-loom").exists()));
    command.env("PATH", std::env::join_paths(paths).unwrap());
    command.env("LOOM_AGENT", agent).args(args).stdin(Stdio::null());
    let child = command.spawn().unwrap();
    finish(format!("git {}", args.join(" ")), child, PROCESS_TIMEOUT)
}

fn git_ok(repo: &Repo, dir: &Path, args: &[&str]) -> String {
    let run = git_as(repo, dir, AGENT, true, args);
    assert_eq!(run.code, 0, "{run}");
    run.stdout
}

/// A claimed task with its worktree; returns its id and the worktree.
fn claimed_task_worktree(repo: &Repo) -> (String, PathBuf) {
    let id = repo.create("hooked work", &[]);
    repo.run_ok(&["claim", &id]);
    let added = repo.json(&["worktree", "add", &id]);
    let path = PathBuf::from(added["path"].as_str().expect("worktree add names its path"));
    (id, path)
}

/// Commit a new file in `dir` with message `message`; returns the commit's full message.
fn commit(repo: &Repo, dir: &Path, name: &str, message: &str) -> String {
    std::fs::write(dir.join(name), format!("{name}\n")).unwrap();
    git_ok(repo, dir, &["add", name]);
    git_ok(repo, dir, &["commit", "-q", "-m", message]);
    git_ok(repo, dir, &["log", "-1", "--format=%B"])
}

fn write_hook(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn heartbeat_at(repo: &Repo, id: &str) -> String {
    repo.show(id)["claim"]["heartbeat_at"]
        .as_str()
        .expect("a claimed task shows its heartbeat")
        .to_owned()
}

// Guards: installing over a user's hook (losing it), chaining that skips it, and an uninstall
// that does not give it back exactly as it was.
#[test]
fn installed_beside_a_user_hook_both_run_and_uninstall_restores_it() {
    let repo = Repo::new();
    let user_hook = repo.dir.join(".git/hooks/commit-msg");
    write_hook(&user_hook, USER_COMMIT_MSG, 0o750);

    let run = repo.run_ok(&["hooks", "install"]);
    assert!(run.stdout.contains("commit-msg  installed"), "{run}");
    assert!(run.stdout.contains("commit-msg.pre-loom"), "{run}");
    assert_eq!(
        std::fs::read_to_string(repo.dir.join(".git/hooks/commit-msg.pre-loom")).unwrap(),
        USER_COMMIT_MSG
    );

    let (id, worktree) = claimed_task_worktree(&repo);
    let message = commit(&repo, &worktree, "task.txt", "task work");
    assert!(message.contains(&format!("Loom-Task: {id}\n")), "{message}");
    assert!(message.contains("Reviewed-by: the user hook\n"), "{message}");
    assert_eq!(message.matches("Loom-Task:").count(), 1, "{message}");

    // Outside a task's worktree only the user's hook leaves a mark.
    let message = commit(&repo, &repo.dir, "main.txt", "main work");
    assert!(message.contains("Reviewed-by: the user hook\n"), "{message}");
    assert!(!message.contains("Loom-Task"), "{message}");

    let run = repo.run_ok(&["hooks", "uninstall"]);
    assert!(run.stdout.contains("the hook it chained to is back"), "{run}");
    assert_eq!(std::fs::read(&user_hook).unwrap(), USER_COMMIT_MSG.as_bytes());
    assert_eq!(mode(&user_hook), 0o750);
    for gone in ["commit-msg.pre-loom", "post-commit", "pre-push"] {
        assert!(
            !repo.dir.join(".git/hooks").join(gone).exists(),
            "{gone} is left behind"
        );
    }
    // And the user's hook alone runs again.
    let message = commit(&repo, &worktree, "after.txt", "after uninstall");
    assert!(message.contains("Reviewed-by: the user hook\n"), "{message}");
    assert!(!message.contains("Loom-Task"), "{message}");
}

// Guards: hooks written to .git/hooks, where git never runs them, when core.hooksPath is set.
#[test]
fn core_hooks_path_is_where_they_go() {
    let repo = Repo::new();
    let shared = repo.env.root().join("shared-hooks");
    repo.git(&["config", "core.hooksPath", shared.to_str().unwrap()]);
    repo.run_ok(&["hooks", "install"]);
    for hook in ["commit-msg", "post-commit", "pre-push"] {
        assert!(shared.join(hook).is_file(), "{hook} is not in core.hooksPath");
        assert!(
            !repo.dir.join(".git/hooks").join(hook).exists(),
            "{hook} went to .git/hooks"
        );
    }
    let status = repo.json(&["hooks", "status"]);
    assert_eq!(status[0]["path"], shared.join("commit-msg").to_str().unwrap());
    assert_eq!(status[0]["state"], "installed");

    let (id, worktree) = claimed_task_worktree(&repo);
    let message = commit(&repo, &worktree, "task.txt", "task work");
    assert!(message.contains(&format!("Loom-Task: {id}\n")), "{message}");
}

// Guards: a commit whose post-commit heartbeat is skipped, renews someone else's claim, or
// fails the commit when git-loom itself fails.
#[test]
fn post_commit_heartbeats_the_holders_claim_and_never_fails_the_commit() {
    let repo = Repo::new();
    repo.run_ok(&["hooks", "install"]);
    let (id, worktree) = claimed_task_worktree(&repo);
    let before = heartbeat_at(&repo, &id);

    repo.env.advance_clock(120.0);
    let run = {
        std::fs::write(worktree.join("one.txt"), "one\n").unwrap();
        git_ok(&repo, &worktree, &["add", "one.txt"]);
        git_as(&repo, &worktree, AGENT, true, &["commit", "-q", "-m", "one"])
    };
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stderr, "", "a heartbeat that works is quiet: {run}");
    let after = heartbeat_at(&repo, &id);
    assert!(after > before, "heartbeat did not move: {before} -> {after}");

    // Someone else committing there does not renew the holder's lease.
    repo.env.advance_clock(120.0);
    std::fs::write(worktree.join("two.txt"), "two\n").unwrap();
    git_ok(&repo, &worktree, &["add", "two.txt"]);
    let run = git_as(&repo, &worktree, "someone-else", true, &["commit", "-q", "-m", "two"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(heartbeat_at(&repo, &id), after);

    // git-loom failing (here: a clock it refuses) still lets the commit through. `--no-verify`
    // skips only commit-msg, whose failure would stop the commit by design; post-commit runs.
    std::fs::write(worktree.join("three.txt"), "three\n").unwrap();
    git_ok(&repo, &worktree, &["add", "three.txt"]);
    let mut command = repo.env.command("git", &worktree);
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    command.env("PATH", path).env("GIT_LOOM_TEST_NOW", "not a time").args([
        "commit",
        "-q",
        "--no-verify",
        "-m",
        "three",
    ]);
    let run = finish(
        "git commit (git-loom failing)".into(),
        command.spawn().unwrap(),
        PROCESS_TIMEOUT,
    );
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stderr.contains("GIT_LOOM_TEST_NOW"),
        "git-loom's error is shown: {run}"
    );
    let subject = git_ok(&repo, &worktree, &["log", "-1", "--format=%s"]);
    assert_eq!(subject.trim(), "three");
}

// Guards: pushing over the branch of a task another agent is working on, and a guard that
// also stops the holder (or anyone, once the claim is gone).
#[test]
fn pre_push_refuses_a_task_branch_claimed_by_another_agent() {
    let repo = Repo::new();
    let remote = repo.env.root().join("remote.git");
    repo.env
        .git(repo.env.root(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    repo.run_ok(&["hooks", "install"]);
    let (id, worktree) = claimed_task_worktree(&repo);
    commit(&repo, &worktree, "task.txt", "task work");
    let branch = format!("loom/{id}");

    let run = git_as(&repo, &repo.dir, "intruder", true, &["push", "origin", &branch]);
    assert_ne!(run.code, 0, "{run}");
    assert!(
        run.stderr.contains(&format!(
            "refusing to push {branch} to origin: task {id} is claimed by {AGENT}"
        )),
        "{run}"
    );
    assert!(run.stderr.contains("hint: ask test-agent to release it"), "{run}");
    let remote_branches = repo.env.git(&remote, &["branch", "--list"]);
    assert!(!remote_branches.contains(&branch), "{remote_branches}");

    // The holder pushes; so does anyone once the claim is released.
    let run = git_as(&repo, &worktree, AGENT, true, &["push", "-q", "origin", &branch]);
    assert_eq!(run.code, 0, "{run}");
    repo.run_ok(&["release", &id]);
    commit(&repo, &worktree, "more.txt", "more work");
    let run = git_as(&repo, &repo.dir, "intruder", true, &["push", "-q", "origin", &branch]);
    assert_eq!(run.code, 0, "{run}");
}

// Guards: a pre-push chain that swallows the ref lines or the user's hook's refusal.
#[test]
fn a_chained_pre_push_sees_the_refs_and_its_refusal_stops_the_push() {
    let repo = Repo::new();
    let remote = repo.env.root().join("remote.git");
    repo.env
        .git(repo.env.root(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    let seen = repo.env.root().join("seen.txt");
    let user_hook = format!(
        "#!/bin/sh\necho \"$1\" > '{}'\ncat >> '{}'\nexit 1\n",
        seen.display(),
        seen.display()
    );
    write_hook(&repo.dir.join(".git/hooks/pre-push"), &user_hook, 0o755);
    repo.run_ok(&["hooks", "install"]);

    let run = git_as(&repo, &repo.dir, AGENT, true, &["push", "origin", "main"]);
    assert_ne!(run.code, 0, "the user's hook refuses: {run}");
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert!(seen.starts_with("origin\nrefs/heads/main "), "{seen}");
    assert!(seen.contains(" refs/heads/main "), "{seen}");
}

// Guards: a user's git broken by hooks that cannot find git-loom.
#[test]
fn without_git_loom_on_path_only_the_users_hook_runs() {
    let repo = Repo::new();
    write_hook(&repo.dir.join(".git/hooks/commit-msg"), USER_COMMIT_MSG, 0o755);
    repo.run_ok(&["hooks", "install"]);
    let (_, worktree) = claimed_task_worktree(&repo);
    std::fs::write(worktree.join("x.txt"), "x\n").unwrap();
    git_ok(&repo, &worktree, &["add", "x.txt"]);
    let run = git_as(&repo, &worktree, AGENT, false, &["commit", "-q", "-m", "no loom"]);
    assert_eq!(run.code, 0, "{run}");
    let message = git_ok(&repo, &worktree, &["log", "-1", "--format=%B"]);
    assert!(message.contains("Reviewed-by: the user hook"), "{message}");
    assert!(!message.contains("Loom-Task"), "{message}");
}

// Guards: status misreporting a user's hook as git-loom's (or the other way round), and a
// second install moving git-loom's own script aside.
#[test]
fn status_names_each_hook_and_install_is_idempotent() {
    let repo = Repo::new();
    write_hook(&repo.dir.join(".git/hooks/pre-push"), "#!/bin/sh\nexit 0\n", 0o755);
    let run = repo.run_ok(&["hooks", "status"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run}");
    assert!(lines[0].starts_with("commit-msg   absent"), "{run}");
    assert!(lines[2].starts_with("pre-push     foreign"), "{run}");

    repo.run_ok(&["hooks", "install"]);
    let run = repo.run_ok(&["hooks", "install"]);
    assert_eq!(run.stdout.matches("already installed").count(), 3, "{run}");
    let status = repo.json(&["hooks", "status"]);
    let states: Vec<(&str, &str)> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["hook"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("commit-msg", "installed"),
            ("post-commit", "installed"),
            ("pre-push", "chained")
        ]
    );
    assert!(
        status.as_array().unwrap().iter().all(|s| s["current"] == true),
        "{status}"
    );
    assert!(!repo.dir.join(".git/hooks/pre-push.pre-loom.pre-loom").exists());

    // Outside any repository with git-loom data the hooks are no-ops.
    let plain = Repo::uninitialized();
    let message_file = plain.dir.join("msg.txt");
    std::fs::write(&message_file, "plain\n").unwrap();
    let run = plain.loom(&["hook", "commit-msg", message_file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(std::fs::read_to_string(&message_file).unwrap(), "plain\n");
}

// Guards: `hooks install` run inside a task worktree writing to a directory git never reads
// for it, and an install report that does not say where the user's hook went.
#[test]
fn installed_from_a_task_worktree_they_go_where_every_checkout_reads_them() {
    let repo = Repo::new();
    write_hook(&repo.dir.join(".git/hooks/commit-msg"), USER_COMMIT_MSG, 0o755);
    let (id, worktree) = claimed_task_worktree(&repo);
    let run = repo.env.loom(&worktree, &["--json", "hooks", "install"]);
    assert_eq!(run.code, 0, "{run}");
    let changes = run.json();
    let hooks_dir = repo.dir.join(".git/hooks").canonicalize().unwrap();
    assert_eq!(changes[0]["action"], "chained", "{changes}");
    assert_eq!(
        changes[0]["aside"],
        hooks_dir.join("commit-msg.pre-loom").to_str().unwrap(),
        "{changes}"
    );
    assert_eq!(changes[1]["action"], "installed", "{changes}");
    assert!(repo.dir.join(".git/hooks/post-commit").is_file());
    let message = commit(&repo, &worktree, "task.txt", "task work");
    assert!(message.contains(&format!("Loom-Task: {id}\n")), "{message}");
}
