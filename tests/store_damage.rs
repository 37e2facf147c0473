//! Damage in the store that must be reported, skipped or refused, never hidden or built on: a
//! bad line in `packed-refs`, unreadable or locked claims met by `sweep` and `recover`, writes
//! on top of unreadable versions, dependencies whose refs cannot be read, and litter left by
//! killed writers (temporary files, lock files).

use crate::common;

use std::path::{Path, PathBuf};

use common::Repo;
use serde_json::json;

fn claim_ref(id: &str) -> String {
    format!("refs/loom/claims/{id}")
}

/// The loose object file of `id` (objects written by git-loom and `git hash-object` are loose).
fn object_path(repo: &Repo, id: &str) -> PathBuf {
    repo.dir.join(".git/objects").join(&id[..2]).join(&id[2..])
}

/// Delete the loose object `id`, so that anything pointing at it points at nothing.
fn remove_object(repo: &Repo, id: &str) {
    let path = object_path(repo, id);
    assert!(path.exists(), "{id} is a loose object");
    std::fs::remove_file(path).unwrap();
}

/// Point a ref at a commit that does not exist, as a torn copy or a lost object leaves it.
fn point_at_nothing(repo: &Repo, ref_name: &str) {
    let path = repo.dir.join(".git").join(ref_name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "0123456789abcdef0123456789abcdef01234567\n").unwrap();
}

/// Set a file's modification time back by `age` (with `touch -d`, as a file left long ago).
fn age_file(repo: &Repo, path: &Path, age: &str) {
    let run = repo.env.run(
        "touch",
        &repo.dir,
        &["-d", &format!("{age} ago"), path.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{run}");
}

// Guards: a bad line in `packed-refs` silently hiding the tasks packed after it.
#[test]
fn a_bad_packed_refs_line_is_reported_not_a_shorter_list() {
    let repo = Repo::new();
    let ids: Vec<String> = (0..4).map(|n| repo.create(&format!("Task {n}"), &[])).collect();
    repo.git(&["pack-refs", "--all"]);
    let packed = repo.dir.join(".git/packed-refs");
    let text = std::fs::read_to_string(&packed).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let second = lines.iter().position(|line| line.contains("refs/loom/tasks/")).unwrap() + 1;
    lines.insert(second, "this line is garbage");
    std::fs::write(&packed, format!("{}\n", lines.join("\n"))).unwrap();
    // git itself refuses the file.
    let git = repo.env.run("git", &repo.dir, &["for-each-ref"]);
    assert_ne!(git.code, 0, "{git}");

    let line_no = format!("line {}", second + 1);
    for args in [
        &["list"][..],
        &["--json", "list"],
        &["ready"],
        &["status"],
        &["graph"],
        &["list", "--all"],
    ] {
        let run = repo.run_fail(1, args);
        assert!(run.stderr.contains("packed-refs"), "names the file: {run}");
        assert!(run.stderr.contains(&line_no), "names the line: {run}");
    }
    // The tasks are all still there once the line is gone.
    lines.remove(second);
    std::fs::write(&packed, format!("{}\n", lines.join("\n"))).unwrap();
    let listed = repo.json(&["list"]);
    assert_eq!(listed.as_array().unwrap().len(), ids.len(), "{listed}");
}

// Guards: a packed ref whose id is not hex being dropped from the listing.
#[test]
fn a_packed_line_without_an_id_is_reported() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &[]);
    repo.git(&["pack-refs", "--all"]);
    let packed = repo.dir.join(".git/packed-refs");
    let text = std::fs::read_to_string(&packed).unwrap();
    let broken = text.replace(
        &format!("{} refs/loom/tasks/{a}", repo.tip(&a)),
        &format!("zz refs/loom/tasks/{a}"),
    );
    assert_ne!(broken, text);
    std::fs::write(&packed, broken).unwrap();
    let run = repo.run_fail(1, &["--json", "list"]);
    assert!(
        run.stderr.contains("packed-refs") && run.stderr.contains("line "),
        "{run}"
    );
    let _ = b;
}

// Guards: one unreadable claim (its commit missing) stopping `sweep` before any other claim.
#[test]
fn sweep_and_recover_skip_an_unreadable_claim_and_go_on() {
    let repo = Repo::new();
    let broken = repo.create("Broken claim", &[]);
    let healthy = repo.create("Healthy claim", &[]);
    let blobless = repo.create("Claim without its blob", &[]);
    for id in [&broken, &healthy, &blobless] {
        repo.json(&["claim", id, "--ttl", "1"]);
    }
    point_at_nothing(&repo, &claim_ref(&broken));
    let blob = repo.git(&["rev-parse", &format!("{}:claim.json", claim_ref(&blobless))]);
    remove_object(&repo, blob.trim());
    repo.env.advance_clock(1.2);

    let run = repo.loom(&["--json", "sweep"]);
    assert_eq!(run.code, 0, "{run}");
    let swept = run.json();
    assert_eq!(
        swept["expired"],
        json!([{"id": healthy, "agent": common::AGENT}]),
        "{run}"
    );
    assert!(run.stderr.contains(&claim_ref(&broken)), "{run}");
    assert!(run.stderr.contains(&claim_ref(&blobless)), "{run}");
    assert!(run.stderr.contains("skipped 2"), "{run}");
    assert_eq!(swept["skipped"].as_array().unwrap().len(), 2, "{run}");
    assert!(repo.rev(&claim_ref(&healthy)).is_none());
    assert_eq!(repo.status_of(&healthy), "ready");

    // recover goes on past them too.
    let other = repo.create("Other", &[]);
    repo.json(&["claim", &other, "--ttl", "1"]);
    repo.env.advance_clock(1.2);
    let run = repo.loom(&["recover", "--execute"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains(&claim_ref(&broken)), "{run}");
    assert!(run.stderr.contains("skipped 2"), "{run}");
    assert!(run.stdout.contains(&other) && run.stdout.contains("requeued"), "{run}");
    assert!(repo.rev(&claim_ref(&other)).is_none());
}

// Guards: a young lock on one claim ref making the whole sweep fail (exit 3) after spending its
// retries there, taking back no other expired claim.
#[test]
fn a_locked_claim_is_reported_and_the_sweep_goes_on() {
    let repo = Repo::new();
    let locked = repo.create("Locked", &[]);
    let free = repo.create("Free", &[]);
    repo.json(&["claim", &locked, "--ttl", "1"]);
    repo.json(&["claim", &free, "--ttl", "1"]);
    repo.env.advance_clock(1.2);
    let lock = repo.dir.join(".git").join(format!("{}.lock", claim_ref(&locked)));
    std::fs::write(&lock, "").unwrap();

    let run = repo.loom(&["--json", "sweep"]);
    assert_eq!(run.code, 0, "{run}");
    let swept = run.json();
    assert_eq!(swept["expired"], json!([{"id": free, "agent": common::AGENT}]), "{run}");
    assert_eq!(swept["skipped"][0]["ref"], json!(claim_ref(&locked)), "{run}");
    assert!(
        run.stderr.contains(&claim_ref(&locked)) && run.stderr.contains("locked"),
        "{run}"
    );
    assert!(
        repo.rev(&claim_ref(&locked)).is_some(),
        "the locked claim is left alone"
    );
    assert!(lock.exists(), "a young lock may belong to a live writer");

    // Once the writer is gone for good (the lock is old), the next sweep takes it back.
    age_file(&repo, &lock, "1 hour");
    let run = repo.loom(&["--json", "sweep"]);
    assert_eq!(run.code, 0, "{run}");
    let swept = run.json();
    assert_eq!(
        swept["expired"],
        json!([{"id": locked, "agent": common::AGENT}]),
        "{run}"
    );
    let cleaned = swept["cleaned"].as_array().unwrap();
    assert_eq!(cleaned.len(), 1, "{run}");
    assert!(
        cleaned[0]
            .as_str()
            .unwrap()
            .ends_with(&format!("{}.lock", claim_ref(&locked))),
        "{run}"
    );
    assert!(run.stderr.contains("left by a dead writer"), "{run}");
    assert!(!lock.exists());
}

// Guards: `handoff` writing a new version whose parent is a missing commit.
#[test]
fn handoff_refuses_to_build_on_an_unreadable_tip() {
    let repo = Repo::new();
    let id = repo.create("Task", &[]);
    repo.json(&["claim", &id]);
    let handoff_ref = format!("refs/loom/handoffs/{id}");
    point_at_nothing(&repo, &handoff_ref);
    let before = repo.all_refs();
    let run = repo.run_fail(1, &["handoff", &id, "-m", "notes"]);
    assert!(run.stderr.contains(&handoff_ref), "{run}");
    assert_eq!(repo.all_refs(), before, "nothing was written");
}

// Guards: with a warm read cache, `cancel` writing on top of a corrupt task commit.
#[test]
fn a_write_does_not_trust_the_cache_for_the_version_it_extends() {
    let repo = Repo::new();
    let id = repo.create("Task", &[]);
    let other = repo.create("Other", &[]);
    repo.json(&["list"]); // warms the cache
    let tip = repo.tip(&id);
    let path = object_path(&repo, &tip);
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
    std::fs::write(&path, b"not a zlib stream").unwrap();

    let before = repo.all_refs();
    let run = repo.run_fail(1, &["cancel", &id]);
    assert!(run.stderr.contains(&format!("refs/loom/tasks/{id}")), "{run}");
    assert_eq!(repo.all_refs(), before, "nothing was written on top of it");
    // Other tasks are still writable.
    repo.run_ok(&["cancel", &other]);
}

// Guards: `show` failing outright when a dependency's ref is symbolic or garbage.
#[test]
fn show_names_an_unreadable_dependency_and_counts_it_not_done() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &[]);
    let c = repo.create("C", &["--dep", &a, "--dep", &b]);
    let a_ref = repo.dir.join(format!(".git/refs/loom/tasks/{a}"));
    std::fs::write(&a_ref, "ref: refs/heads/main\n").unwrap();
    let b_ref = repo.dir.join(format!(".git/refs/loom/tasks/{b}"));
    std::fs::write(&b_ref, "garbage\n").unwrap();

    let run = repo.run_warn(&["--json", "show", &c]);
    let shown = run.json();
    assert_eq!(shown["status"], json!("blocked"), "{run}");
    let mut blocked_by: Vec<String> = serde_json::from_value(shown["blocked_by"].clone()).unwrap();
    blocked_by.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(blocked_by, expected, "{run}");
    assert!(run.stderr.contains(&format!("refs/loom/tasks/{a}")), "{run}");
    assert!(run.stderr.contains(&format!("refs/loom/tasks/{b}")), "{run}");
}

// Guards: temporary files of killed writers and locks on claim refs of finished tasks staying
// forever.
#[test]
fn sweep_removes_old_litter_and_keeps_young_files() {
    let repo = Repo::new();
    let id = repo.create("Done", &[]);
    repo.json(&["claim", &id]);
    repo.run_ok(&["done", &id]);
    repo.json(&["list"]);
    let git = repo.dir.join(".git");
    let old_object_tmp = git.join("objects/.tmpAbC123");
    let young_object_tmp = git.join("objects/.tmpYoung1");
    let old_cache_tmp = git.join("loom/.tmpXyZ789");
    let old_lock = git.join(format!("{}.lock", claim_ref(&id)));
    let gits_own = git.join("objects/tmp_obj_AbCdEf");
    for file in [&old_object_tmp, &young_object_tmp, &old_cache_tmp, &old_lock, &gits_own] {
        std::fs::write(file, "left by a killed writer").unwrap();
    }
    for file in [&old_object_tmp, &old_cache_tmp, &old_lock, &gits_own] {
        age_file(&repo, file, "2 hours");
    }
    let run = repo.loom(&["sweep"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        !old_object_tmp.exists() && !old_cache_tmp.exists() && !old_lock.exists(),
        "{run}"
    );
    assert!(
        young_object_tmp.exists(),
        "a young temporary file may belong to a live writer"
    );
    assert!(gits_own.exists(), "git's own temporary files are left to git");
}
