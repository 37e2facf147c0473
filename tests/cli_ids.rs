//! Proves that task ids are validated wherever they enter, so no input can name a ref outside
//! `refs/loom/`: hostile ids (`..`, slashes, spaces, control characters, full ref names) are
//! usage errors (exit 2, "invalid task id") for every command that takes an id, and leave every
//! ref and file under `.git` as it was. Also proves how ids resolve: an unknown full id exits 1
//! ("no task matches"), a unique prefix of 4 or more hex digits (with or without `loom-`)
//! resolves, and an ambiguous prefix exits 1 listing the candidates.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::Repo;
use serde_json::json;

/// Inputs that must never be taken for an id.
const HOSTILE: &[&str] = &[
    "../heads/main",
    "loom-../../x",
    "loom-1a2b 3c4d",
    "loom-1a2b\n3c4d",
    "loom-1a2b\u{7}3c4d",
    "loom-1a2b\t3c4d",
    "refs/heads/main",
    "refs/loom/tasks/loom-1a2b3c4d",
    "loom-1a2b/3c4d",
    "LOOM-1A2B3C4D",
    "loom-1a2b3c4d5",
    "loom-",
    "",
];

/// Every path under `.git` except the object database, which a refused command may not touch
/// but which is not where refs live.
fn git_dir_paths(repo: &Repo) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            // Objects are written before a command knows it will publish them, and `loom/`
            // holds the local read cache, rebuilt whenever the refs change.
            if relative == "objects" || relative == "loom" {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            }
            out.insert(relative);
        }
    }
    let root = repo.dir.join(".git");
    let mut out = BTreeSet::new();
    walk(&root, &root, &mut out);
    out
}

/// Run every command that takes an id with `bad` in each id position; all must be refused.
fn assert_every_command_rejects(repo: &Repo, valid: &str, epic: &str, bad: &str) {
    let commands: Vec<Vec<&str>> = vec![
        vec!["show", bad],
        vec!["update", bad, "--title", "x"],
        vec!["update", valid, "--add-dep", bad],
        vec!["update", valid, "--rm-dep", bad],
        vec!["update", valid, "--parent", bad],
        vec!["dep", "add", bad, valid],
        vec!["dep", "add", valid, bad],
        vec!["dep", "rm", valid, bad],
        vec!["create", "Injected", "--dep", bad],
        vec!["create", "Injected", "--parent", bad],
        vec!["create", "Injected", "--dep", valid, "--parent", epic, "--dep", bad],
        vec!["cancel", bad],
        vec!["cancel", bad, "--cascade"],
        vec!["promote", bad],
        vec!["ideas", "--drop", bad],
        vec!["log", bad],
        vec!["--json", "show", bad],
    ];
    for args in commands {
        let run = repo.run_fail(2, &args);
        assert!(run.stderr.contains("invalid task id"), "{run}");
    }
}

// Guards: ref injection through a task id.
#[test]
fn hostile_ids_are_refused_by_every_command_and_write_nothing() {
    let repo = Repo::new();
    let valid = repo.create("Valid", &[]);
    let epic = repo.create("Epic", &["--epic"]);
    repo.run_ok(&["idea", "Idea"]);
    let refs = repo.all_refs();
    let paths = git_dir_paths(&repo);
    let outside = repo.outside_state();

    for bad in HOSTILE {
        assert_every_command_rejects(&repo, &valid, &epic, bad);
        assert_eq!(repo.all_refs(), refs, "refs changed after {bad:?}");
    }
    assert_eq!(git_dir_paths(&repo), paths, "no file appeared or vanished under .git");
    assert_eq!(repo.outside_state(), outside);
    assert!(!repo.dir.join(".git/x").exists());
    assert!(!repo.dir.join("x").exists());
}

#[test]
fn invalid_id_message_quotes_the_input() {
    let repo = Repo::new();
    let run = repo.run_fail(2, &["show", "loom-1a2b\n3c4d"]);
    assert!(run.stderr.contains("invalid task id \"loom-1a2b\\n3c4d\""), "{run}");
    assert_eq!(run.stderr.lines().next().map(|l| l.starts_with("error: ")), Some(true));
    // The raw newline never reaches the output as a line break inside the id.
    assert!(!run.stderr.contains("loom-1a2b\n3c4d"), "{run}");

    let run = repo.run_fail(2, &["show", "abc"]);
    assert!(run.stderr.contains("at least 4 hex digits"), "{run}");
}

#[test]
fn an_unknown_full_id_is_an_error_with_a_hint() {
    let repo = Repo::new();
    repo.create("Exists", &[]);
    let refs = repo.all_refs();
    for args in [
        vec!["show", "loom-0badc0de"],
        vec!["update", "loom-0badc0de", "--title", "x"],
        vec!["dep", "add", "loom-0badc0de", "loom-0badc0df"],
        vec!["create", "Orphan", "--dep", "loom-0badc0de"],
        vec!["create", "Orphan", "--parent", "loom-0badc0de"],
        vec!["cancel", "loom-0badc0de"],
        vec!["show", "0badc0de"],
        vec!["show", "0bad"],
    ] {
        let run = repo.run_fail(1, &args);
        assert!(run.stderr.contains("no task matches"), "{run}");
        assert!(run.stderr.contains("hint: "), "{run}");
    }
    assert_eq!(repo.all_refs(), refs);
}

#[test]
fn a_unique_prefix_resolves_with_or_without_the_loom_prefix() {
    let repo = Repo::new();
    let id = repo.create("Findable", &[]);
    let other = repo.create("Other", &[]);
    let hex = &id[5..];
    // The shortest prefix (4 digits at least) that tells the two tasks apart.
    let len = (4..=8).find(|&n| other[5..5 + n] != hex[..n]).unwrap();
    let short = &hex[..len];
    for query in [
        short.to_owned(),
        format!("loom-{short}"),
        hex.to_owned(),
        format!("loom-{}", &hex[..len.max(7)]),
    ] {
        assert_eq!(repo.show(&query)["id"], json!(id), "{query}");
    }
    // Prefixes work for every id argument, not only the first.
    repo.run_ok(&["dep", "add", &other[5..], &format!("loom-{short}")]);
    assert_eq!(repo.show(&other)["deps"], json!([id]));
    repo.run_ok(&["update", short, "--title", "Found"]);
    assert_eq!(repo.show(&id)["title"], json!("Found"));
}

#[test]
fn an_ambiguous_prefix_lists_the_candidates() {
    let repo = Repo::new();
    let template = repo.create("Template", &[]);
    for id in ["loom-abcd0001", "loom-abcd0002"] {
        let task = repo.forged_task(&template, id);
        repo.write_task(id, &task);
    }
    // Both forged tasks are real tasks now.
    assert_eq!(repo.show("loom-abcd0001")["title"], json!("forged loom-abcd0001"));
    assert_eq!(repo.show("abcd0002")["title"], json!("forged loom-abcd0002"));
    let refs = repo.all_refs();

    for args in [
        vec!["show", "abcd"],
        vec!["show", "loom-abcd"],
        vec!["show", "abcd000"],
        vec!["update", "abcd", "--title", "x"],
        vec!["update", "abcd", "--add-dep", &template],
        vec!["dep", "add", &template, "abcd"],
        vec!["cancel", "abcd"],
        vec!["log", "abcd"],
    ] {
        let run = repo.run_fail(1, &args);
        assert!(run.stderr.contains("ambiguous"), "{run}");
        assert!(
            run.stderr.contains("loom-abcd0001") && run.stderr.contains("loom-abcd0002"),
            "both candidates are named: {run}"
        );
    }
    assert_eq!(repo.all_refs(), refs, "an ambiguous id writes nothing");

    // One more digit settles it.
    assert_eq!(repo.show("abcd0001")["id"], json!("loom-abcd0001"));
    let run = repo.run_fail(1, &["show", "abce"]);
    assert!(run.stderr.contains("no task matches"), "{run}");
}
