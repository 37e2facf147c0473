//! Proves how git-loom finds and sets up its repository: in a repository without loom data
//! every command but `init` exits 1 with a hint to run `git loom init`; outside any repository
//! `init` exits 1 ("not a git repository"); `init` is idempotent and `--name` renames; `-C PATH`
//! works from another directory; every subcommand has `--help`; and errors stay text on stderr
//! even with `--json`.

use crate::common;

use common::{Repo, TestEnv};
use serde_json::json;

/// One invocation of every command except `init`, with plausible arguments.
const NON_INIT: &[&[&str]] = &[
    &["create", "A task"],
    &["create", "An epic", "--epic"],
    &["show", "loom-1a2b3c4d"],
    &["list"],
    &["list", "--all"],
    &["ready"],
    &["status"],
    &["update", "loom-1a2b3c4d", "--title", "x"],
    &["dep", "add", "loom-1a2b3c4d", "loom-5e6f7a8b"],
    &["dep", "rm", "loom-1a2b3c4d", "loom-5e6f7a8b"],
    &["cancel", "loom-1a2b3c4d"],
    &["idea", "An idea"],
    &["ideas"],
    &["ideas", "--drop", "loom-1a2b3c4d"],
    &["promote", "loom-1a2b3c4d"],
    &["graph"],
    &["graph", "--format", "dot"],
    &["log", "loom-1a2b3c4d"],
];

const SUBCOMMANDS: &[&[&str]] = &[
    &["init"],
    &["create"],
    &["show"],
    &["list"],
    &["ready"],
    &["status"],
    &["update"],
    &["dep"],
    &["dep", "add"],
    &["dep", "rm"],
    &["cancel"],
    &["idea"],
    &["ideas"],
    &["promote"],
    &["graph"],
    &["log"],
];

#[test]
fn every_command_but_init_needs_an_initialised_repository() {
    let repo = Repo::uninitialized();
    let before = repo.all_refs();
    for args in NON_INIT {
        let run = repo.run_fail(1, args);
        assert!(run.stderr.contains("no git-loom data"), "{run}");
        assert!(
            run.stderr.contains("hint: ") && run.stderr.contains("git loom init"),
            "{run}"
        );
        // With --json the error is still text on stderr, and stdout stays empty.
        let mut json_args = vec!["--json"];
        json_args.extend_from_slice(args);
        let run = repo.run_fail(1, &json_args);
        assert!(run.stderr.contains("git loom init"), "{run}");
    }
    assert_eq!(repo.all_refs(), before, "nothing was written");
    assert!(repo.rev("refs/loom/meta").is_none());
}

#[test]
fn outside_a_repository_init_says_so() {
    let env = TestEnv::new();
    let dir = env.root().join("plain-dir");
    std::fs::create_dir(&dir).unwrap();
    let run = env.loom(&dir, &["init"]);
    assert_eq!(run.code, 1, "{run}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with("error: ") && run.stderr.contains("not a git repository"),
        "{run}"
    );
    for args in [&["list"][..], &["create", "x"], &["--json", "status"]] {
        let run = env.loom(&dir, args);
        assert_eq!(run.code, 1, "{run}");
        assert!(run.stderr.contains("not a git repository"), "{run}");
    }
    assert!(!dir.join(".git").exists(), "init never creates a repository");
}

#[test]
fn init_is_idempotent_and_can_rename() {
    let repo = Repo::uninitialized();
    let run = repo.run_ok(&["init"]);
    assert!(run.stdout.starts_with("Initialized git-loom project \"repo\""), "{run}");
    let tip = repo.rev("refs/loom/meta").expect("init writes refs/loom/meta");
    let meta = repo.git(&["cat-file", "-p", "refs/loom/meta:meta.json"]);
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["schema"], json!(1));
    assert_eq!(meta["project"], json!("repo"));
    let tree = repo.git(&["ls-tree", "--name-only", "refs/loom/meta"]);
    assert_eq!(tree, "loom.toml\nmeta.json\n");

    let run = repo.run_ok(&["init"]);
    assert!(run.stdout.contains("already initialized"), "{run}");
    assert_eq!(
        repo.rev("refs/loom/meta").as_deref(),
        Some(tip.as_str()),
        "a second init writes nothing"
    );
    let again = repo.json(&["init"]);
    assert_eq!(again["created"], json!(false));
    assert_eq!(again["project"], json!("repo"));
    assert_eq!(repo.rev("refs/loom/meta").as_deref(), Some(tip.as_str()));

    // The same name is not a rename.
    repo.run_ok(&["init", "--name", "repo"]);
    assert_eq!(repo.rev("refs/loom/meta").as_deref(), Some(tip.as_str()));

    let renamed = repo.json(&["init", "--name", "Loom Works"]);
    assert_eq!(renamed["project"], json!("Loom Works"));
    assert_eq!(renamed["renamed_from"], json!("repo"));
    let new_tip = repo.rev("refs/loom/meta").unwrap();
    assert_ne!(new_tip, tip);
    let parent = repo.git(&["rev-parse", "refs/loom/meta^"]);
    assert_eq!(parent.trim(), tip, "the rename is a new version on top of the old one");
    assert_eq!(repo.json(&["status"])["project"], json!("Loom Works"));
    let human = repo.run_ok(&["status"]).stdout;
    assert!(human.starts_with("project Loom Works: 0 tasks, 0 ready"), "{human}");

    let run = repo.run_fail(2, &["init", "--name", "  "]);
    assert!(run.stderr.contains("must not be empty"), "{run}");
    assert_eq!(repo.rev("refs/loom/meta"), Some(new_tip));
}

#[test]
fn init_with_a_name_from_the_start() {
    let repo = Repo::uninitialized();
    let run = repo.json(&["init", "--name", "named"]);
    assert_eq!(run["created"], json!(true));
    assert_eq!(run["project"], json!("named"));
    assert_eq!(run["schema"], json!(1));
    assert_eq!(repo.json(&["status"])["project"], json!("named"));
}

#[test]
fn dash_c_runs_as_if_started_elsewhere() {
    let repo = Repo::new();
    let home = repo.env.home();
    let path = repo.dir.to_str().unwrap();
    let run = repo.env.loom(&home, &["-C", path, "create", "From afar"]);
    assert_eq!(run.code, 0, "{run}");
    let id = run.stdout.trim().to_owned();
    assert_eq!(repo.show(&id)["title"], json!("From afar"));

    // A subdirectory of the working tree finds the same repository.
    let sub = repo.dir.join("src");
    let run = repo
        .env
        .loom(&home, &["-C", sub.to_str().unwrap(), "--json", "show", &id]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.json()["id"], json!(id));
    let run = repo.env.loom(&sub, &["show", &id]);
    assert_eq!(run.code, 0, "{run}");

    // -C may come after the subcommand too, and a bad path is an error.
    let run = repo.env.loom(&home, &["list", "-C", path]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains(&id), "{run}");
    let run = repo.env.loom(&home, &["list"]);
    assert_eq!(run.code, 1, "HOME is not a repository: {run}");
    let missing = repo.env.root().join("missing");
    let run = repo.env.loom(&home, &["-C", missing.to_str().unwrap(), "list"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.starts_with("error: "), "{run}");
}

#[test]
fn help_works_for_every_subcommand() {
    let repo = Repo::uninitialized();
    let top = repo.run_ok(&["--help"]);
    assert!(top.stdout.contains("Usage: git loom"), "{top}");
    for sub in SUBCOMMANDS {
        let name = sub.last().unwrap();
        assert!(top.stdout.contains(sub[0]), "top-level help lists {name}: {top}");
        let mut args = sub.to_vec();
        args.push("--help");
        let run = repo.run_ok(&args);
        assert!(run.stdout.contains("Usage: git loom"), "{run}");
        assert!(run.stdout.contains(name), "{run}");
        let mut help_first = vec!["help"];
        help_first.extend_from_slice(sub);
        let run = repo.run_ok(&help_first);
        assert!(run.stdout.contains("Usage: git loom"), "{run}");
    }
    let version = repo.run_ok(&["--version"]);
    assert!(version.stdout.starts_with("git-loom "), "{version}");
}

#[test]
fn usage_errors_exit_2() {
    let repo = Repo::new();
    for args in [
        &[][..],
        &["frobnicate"],
        &["create"],
        &["show"],
        &["dep"],
        &["dep", "add", "loom-1a2b3c4d"],
        &["ready", "--limit", "many"],
        &["list", "--status", "sleeping"],
        &["update", "loom-1a2b3c4d", "--parent", "loom-1a2b3c4e", "--no-parent"],
    ] {
        let run = repo.loom(args);
        assert_eq!(run.code, 2, "{run}");
        assert_eq!(run.stdout, "", "{run}");
        assert!(run.stderr.contains("Usage") || run.stderr.contains("--help"), "{run}");
    }
}

#[test]
fn errors_with_json_are_text_on_stderr() {
    let repo = Repo::new();
    let id = repo.create("Task", &[]);
    repo.run_ok(&["update", &id, "--status", "done"]);
    for (code, args, text) in [
        (1, vec!["--json", "show", "loom-0badc0de"], "no task matches"),
        (2, vec!["--json", "show", "../x"], "invalid task id"),
        (
            3,
            vec!["--json", "update", &id, "--status", "pending"],
            "from done to pending",
        ),
        (3, vec!["--json", "dep", "add", &id, &id], "cycle"),
        (2, vec!["--json", "update", &id, "--status", "ready"], "derived"),
    ] {
        let run = repo.run_fail(code, &args);
        assert!(run.stderr.contains(text), "{run}");
        assert!(serde_json::from_str::<serde_json::Value>(&run.stderr).is_err(), "{run}");
    }
}

#[test]
fn quiet_silences_warnings_but_not_results() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &["--dep", &a]);
    let run = repo.run_ok(&["-q", "cancel", &a]);
    assert!(run.stdout.contains(&a), "{run}");
    assert_eq!(repo.status_of(&b), "blocked");
}

#[test]
fn status_counts_tasks_and_lists_recent_changes() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &["--dep", &a]);
    let done = repo.create("Done", &[]);
    repo.run_ok(&["update", &done, "--status", "done"]);
    repo.run_ok(&["idea", "Idea"]);
    repo.run_ok(&["update", &a, "--title", "A again"]);

    let status = repo.json(&["status"]);
    assert_eq!(status["project"], json!("repo"));
    assert_eq!(status["total"], json!(4));
    assert_eq!(status["ready"], json!(1));
    assert_eq!(status["counts"]["ready"], json!(1));
    assert_eq!(status["counts"]["blocked"], json!(1));
    assert_eq!(status["counts"]["done"], json!(1));
    assert_eq!(status["counts"]["idea"], json!(1));
    assert_eq!(status["counts"]["cancelled"], json!(0));
    assert_eq!(status["unreadable"], json!([]));
    let recent = status["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 4);
    assert_eq!(recent[0]["id"], json!(a), "the newest change first: {status}");
    assert_eq!(recent[0]["agent"], json!(common::AGENT));
    assert_eq!(recent[0]["change"], json!("title"));

    let limited = repo.json(&["status", "--recent", "2"]);
    assert_eq!(limited["recent"].as_array().unwrap().len(), 2);
    let human = repo.run_ok(&["status"]).stdout;
    assert!(human.starts_with("project repo: 4 tasks, 1 ready\n"), "{human}");
    assert!(human.contains("recent activity:"), "{human}");
    assert!(human.contains(&b), "{human}");
}

#[test]
fn linked_worktrees_and_bare_repositories_share_the_same_tasks() {
    let repo = Repo::new();
    let id = repo.create("Shared", &[]);
    let worktree = repo.env.root().join("linked");
    repo.git(&["worktree", "add", "-q", "-b", "side", worktree.to_str().unwrap()]);
    let run = repo.env.loom(&worktree, &["--json", "show", &id]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.json()["title"], json!("Shared"));
    let run = repo.env.loom(&worktree, &["create", "From the worktree"]);
    assert_eq!(run.code, 0, "{run}");
    let other = run.stdout.trim().to_owned();
    assert_eq!(repo.show(&other)["title"], json!("From the worktree"));

    let bare = repo.env.root().join("bare.git");
    repo.env
        .git(repo.env.root(), &["init", "-q", "--bare", bare.to_str().unwrap()]);
    let run = repo.env.loom(&bare, &["--json", "init"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.json()["project"],
        json!("bare.git"),
        "named after the git directory"
    );
    let run = repo.env.loom(&bare, &["create", "In a bare repository"]);
    assert_eq!(run.code, 0, "{run}");
    let refs = repo
        .env
        .git(&bare, &["for-each-ref", "--format=%(refname)", "refs/loom"]);
    assert_eq!(refs.lines().count(), 2, "{refs}");
}

#[test]
fn the_acting_agent_comes_from_flag_env_config_then_user() {
    let repo = Repo::new();
    let id = repo.create("Who", &[]);
    repo.git(&["config", "loom.agent", "config-agent"]);
    let agent_of_last = |repo: &Repo| repo.json(&["log", &id])[0]["agent"].as_str().unwrap().to_owned();

    repo.run_ok(&["--agent", "flag-agent", "update", &id, "--add-label", "a"]);
    assert_eq!(agent_of_last(&repo), "flag-agent");
    repo.run_ok(&["update", &id, "--add-label", "b"]);
    assert_eq!(agent_of_last(&repo), common::AGENT, "LOOM_AGENT beats git config");

    let with_env = |value: Option<&str>, args: &[&str]| {
        let mut command = repo.env.command(common::BIN, &repo.dir);
        command.args(args);
        match value {
            Some(value) => command.env("LOOM_AGENT", value),
            None => command.env_remove("LOOM_AGENT"),
        };
        common::finish(args.join(" "), command.spawn().unwrap(), common::PROCESS_TIMEOUT)
    };
    let without_env = |args: &[&str]| with_env(None, args);
    let run = without_env(&["update", &id, "--add-label", "c"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(agent_of_last(&repo), "config-agent");
    let run = with_env(Some("   "), &["update", &id, "--add-label", "c2"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(agent_of_last(&repo), "config-agent", "a blank LOOM_AGENT is ignored");
    let run = with_env(Some("  padded  "), &["update", &id, "--add-label", "c3"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(agent_of_last(&repo), "padded", "surrounding whitespace is trimmed");
    repo.git(&["config", "--unset", "loom.agent"]);
    repo.git(&["config", "user.name", "Pat"]);
    let run = without_env(&["update", &id, "--add-label", "d"]);
    assert_eq!(run.code, 0, "{run}");
    let agent = agent_of_last(&repo);
    assert!(agent.starts_with("Pat@"), "user.name@host: {agent}");

    let tip = repo.tip(&id);
    for bad in ["a<b", "two\nlines"] {
        let run = repo.run_fail(2, &["--agent", bad, "update", &id, "--add-label", "e"]);
        assert!(run.stderr.contains("invalid agent name"), "{run}");
    }
    assert_eq!(repo.tip(&id), tip);
}

// Guards: `GIT_LOOM_TEST_NOW` ignored (a test that steps past a lease then passing or failing
// by the real clock), or a mistyped value silently running at the real time.
#[test]
fn the_clock_can_be_set_for_tests_through_the_environment() {
    let repo = Repo::new();
    let first = repo.create("At a set time", &[]);
    let second = repo.create("A little later", &[]);
    let at_clock = |value: &str, args: &[&str]| {
        let mut command = repo.env.command(common::BIN, &repo.dir);
        command.args(args).env(common::TEST_NOW, value);
        common::finish(args.join(" "), command.spawn().unwrap(), common::PROCESS_TIMEOUT)
    };

    let run = at_clock("2030-01-02T03:04:05Z", &["--json", "claim", &first, "--ttl", "60"]);
    assert_eq!(run.code, 0, "{run}");
    let claim = &run.json()["claim"];
    assert_eq!(claim["claimed_at"], json!("2030-01-02T03:04:05Z"), "{run}");
    assert_eq!(claim["expires_at"], json!("2030-01-02T03:05:05Z"), "{run}");

    let before = jiff::Timestamp::now();
    let run = at_clock("+1h", &["--json", "claim", &second, "--ttl", "60"]);
    let after = jiff::Timestamp::now();
    assert_eq!(run.code, 0, "{run}");
    let claimed_at: jiff::Timestamp = run.json()["claim"]["claimed_at"].as_str().unwrap().parse().unwrap();
    let hour = jiff::SignedDuration::from_hours(1);
    assert!(
        before + hour <= claimed_at && claimed_at <= after + hour,
        "an offset moves the real clock: {run}"
    );

    let refs = repo.all_refs();
    for bad in ["tomorrow", "90s", "+90 parsecs", ""] {
        let run = at_clock(bad, &["claim", "--next"]);
        assert_eq!(run.code, 2, "{bad:?}: {run}");
        assert_eq!(run.stdout, "", "{run}");
        assert!(
            run.stderr.starts_with("error: invalid GIT_LOOM_TEST_NOW"),
            "the error names the variable: {run}"
        );
    }
    assert_eq!(repo.all_refs(), refs, "a refused clock writes nothing");
}
