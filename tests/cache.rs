//! The local read cache is only a cache: any ref change, whoever makes it (git-loom, plain
//! `git update-ref`, a `git fetch`), is seen at once; deleting or corrupting the cache file
//! loses nothing and changes no output.

use crate::common;

use common::Repo;
use serde_json::Value;

const CACHE: &str = ".git/loom/tasks.cache";

fn listing(repo: &Repo) -> Value {
    repo.json(&["list", "--all"])
}

#[test]
fn the_cache_is_written_and_gives_the_same_answers_as_the_refs() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    repo.create("B", &["--dep", &a]);
    let cold = listing(&repo);
    assert!(repo.dir.join(CACHE).is_file(), "reading every task leaves a cache");
    assert_eq!(listing(&repo), cold, "a warm read answers the same");

    std::fs::remove_file(repo.dir.join(CACHE)).unwrap();
    assert_eq!(listing(&repo), cold, "deleting the cache loses nothing");

    std::fs::write(repo.dir.join(CACHE), b"not a cache at all").unwrap();
    assert_eq!(listing(&repo), cold, "an unreadable cache is ignored");
    std::fs::write(repo.dir.join(CACHE), b"git-loom task cache v1\n\xff\xff\xff").unwrap();
    assert_eq!(listing(&repo), cold, "a truncated cache is ignored");
}

// Guards: a stale cache entry after a ref changed behind git-loom's back.
#[test]
fn a_ref_changed_with_plain_git_is_seen_at_once() {
    let repo = Repo::new();
    let a = repo.create("Original title", &[]);
    listing(&repo);
    let old_tip = repo.tip(&a);

    repo.run_ok(&["update", &a, "--title", "New title"]);
    listing(&repo);
    assert_eq!(repo.show(&a)["title"], "New title");
    // Move the ref back with plain git: the cached entry for the newer tip must not be used.
    repo.git(&["update-ref", &format!("refs/loom/tasks/{a}"), &old_tip]);
    let list = listing(&repo);
    assert_eq!(list[0]["title"], "Original title", "{list}");

    repo.git(&["update-ref", "-d", &format!("refs/loom/tasks/{a}")]);
    assert_eq!(
        listing(&repo),
        serde_json::json!([]),
        "a deleted ref is gone from listings"
    );
}

#[test]
fn tasks_arriving_by_git_fetch_are_seen_at_once() {
    let origin = Repo::new();
    let a = origin.create("Shared", &[]);
    let clone = origin.env.new_repo("clone");
    origin.env.git(
        &clone,
        &["fetch", "-q", origin.dir.to_str().unwrap(), "refs/loom/*:refs/loom/*"],
    );
    let run = origin.env.loom(&clone, &["--json", "list"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.json()[0]["title"], "Shared");

    origin.run_ok(&["update", &a, "--title", "Renamed upstream"]);
    origin.create("Another", &[]);
    origin.env.git(
        &clone,
        &["fetch", "-q", origin.dir.to_str().unwrap(), "+refs/loom/*:refs/loom/*"],
    );
    let run = origin.env.loom(&clone, &["--json", "list"]);
    let titles: Vec<String> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].to_string())
        .collect();
    assert!(titles.contains(&"\"Renamed upstream\"".to_owned()), "{titles:?}");
    assert!(titles.contains(&"\"Another\"".to_owned()), "{titles:?}");
}
