//! `git loom doctor`: a healthy repository is reported healthy (exit 0); each kind of damage or
//! leftover is found, named with the command that mends it (exit 1); `--fix` removes exactly
//! what can be removed without losing anything (void and orphaned claims, stale locks,
//! temporary files, disagreeing caches) and never a task's history; and with a coordination
//! remote the mirror is compared with the remote, read-only.

use crate::common;

use std::path::{Path, PathBuf};

use common::{GitDaemon, Repo};
use serde_json::{Value, json};

fn claim_ref(id: &str) -> String {
    format!("refs/loom/claims/{id}")
}

fn object_path(repo: &Repo, id: &str) -> PathBuf {
    repo.dir.join(".git/objects").join(&id[..2]).join(&id[2..])
}

/// Overwrite the loose object `id` with bytes that are not an object.
fn corrupt_object(repo: &Repo, id: &str) {
    let path = object_path(repo, id);
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
    std::fs::write(&path, b"not a zlib stream").unwrap();
}

fn age_file(repo: &Repo, path: &Path, age: &str) {
    let run = repo.env.run(
        "touch",
        &repo.dir,
        &["-d", &format!("{age} ago"), path.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{run}");
}

/// `doctor --json [extra]`, which must exit `code`; returns the report.
fn doctor(repo: &Repo, extra: &[&str], code: i32) -> Value {
    let mut args = vec!["--json", "doctor"];
    args.extend_from_slice(extra);
    let run = repo.loom(&args);
    assert_eq!(run.code, code, "{run}");
    run.json()
}

/// The findings of `report` as (kind, subject, fixed).
fn findings(report: &Value) -> Vec<(String, String, bool)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["subject"].as_str().unwrap().to_owned(),
                f["fixed"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn kinds(report: &Value) -> Vec<String> {
    findings(report).into_iter().map(|(kind, _, _)| kind).collect()
}

// Guards: doctor reporting problems in a healthy repository, or failing on one.
#[test]
fn a_healthy_repository_is_reported_healthy() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let b = repo.create("B", &["--dep", &a]);
    repo.json(&["claim", &a]);
    repo.run_ok(&["handoff", &a, "-m", "halfway"]);
    repo.run_ok(&["done", &a]);
    repo.json(&["claim", &b]);
    repo.json(&["list"]);
    let report = doctor(&repo, &[], 0);
    assert_eq!(report["healthy"], json!(true));
    assert_eq!(report["findings"], json!([]));
    assert_eq!(report["checked"], json!({"tasks": 2, "claims": 1, "handoffs": 1}));
    let run = repo.loom(&["doctor"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run}");
    assert!(run.stderr.starts_with("healthy"), "{run}");
    let help = repo.loom(&["doctor", "--help"]);
    assert_eq!(help.code, 0, "{help}");
    assert!(help.stdout.contains("--fix"), "{help}");
}

// Guards: void and orphaned claims staying forever; `--fix` touching a task's history.
#[test]
fn void_and_orphaned_claims_are_found_and_removed_by_fix() {
    let repo = Repo::new();
    let done = repo.create("Done", &[]);
    let claim = repo.json(&["claim", &done]);
    assert!(claim["claim"].is_object(), "{claim}");
    let claim_commit = repo.rev(&claim_ref(&done)).unwrap();
    repo.run_ok(&["done", &done]);
    // A writer killed between the task's update and the claim's deletion leaves this.
    repo.git(&["update-ref", &claim_ref(&done), &claim_commit]);
    let missing = "loom-0badc0de";
    repo.git(&["update-ref", &claim_ref(missing), &claim_commit]);
    let task_tip = repo.tip(&done);

    let run = repo.loom(&["doctor"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stdout.contains(&format!("void-claim  {}", claim_ref(&done))),
        "{run}"
    );
    assert!(
        run.stdout.contains(&format!("orphan-claim  {}", claim_ref(missing))),
        "{run}"
    );
    assert!(run.stdout.contains("(fix: git loom doctor --fix)"), "{run}");
    assert!(repo.rev(&claim_ref(&done)).is_some(), "without --fix nothing changes");

    let report = doctor(&repo, &["--fix"], 0);
    let mut found = findings(&report);
    found.sort();
    assert_eq!(
        found,
        vec![
            ("orphan-claim".to_owned(), claim_ref(missing), true),
            ("void-claim".to_owned(), claim_ref(&done), true),
        ]
    );
    assert!(repo.rev(&claim_ref(&done)).is_none());
    assert!(repo.rev(&claim_ref(missing)).is_none());
    assert_eq!(repo.tip(&done), task_tip, "the task's history is not touched");
    doctor(&repo, &[], 0);
}

// Guards: a warm read cache hiding a corrupt task object from every listing.
#[test]
fn damage_a_warm_cache_hides_is_made_visible() {
    let repo = Repo::new();
    let bad = repo.create("Bad", &[]);
    let good = repo.create("Good", &[]);
    repo.json(&["list"]);
    repo.json(&["ready"]);
    let tip = repo.tip(&bad);
    corrupt_object(&repo, &tip);
    let bad_ref = format!("refs/loom/tasks/{bad}");

    let report = doctor(&repo, &[], 1);
    let found = kinds(&report);
    assert!(found.contains(&"unreadable-task".to_owned()), "{report}");
    assert!(found.contains(&"stale-cache".to_owned()), "{report}");
    assert!(
        findings(&report).iter().any(|(_, subject, _)| *subject == bad_ref),
        "{report}"
    );

    let report = doctor(&repo, &["--fix"], 1);
    let fixed: Vec<(String, bool)> = findings(&report).into_iter().map(|(k, _, f)| (k, f)).collect();
    assert!(fixed.contains(&("stale-cache".to_owned(), true)), "{report}");
    assert!(fixed.contains(&("unreadable-task".to_owned(), false)), "{report}");
    assert_eq!(repo.tip(&bad), tip, "the damaged task's ref is not touched");
    // With the caches gone, listings report the damage.
    let run = repo.run_warn(&["--json", "list"]);
    assert!(run.stderr.contains(&bad_ref), "{run}");
    assert!(run.stdout.contains(&good), "{run}");
}

// Guards: a damaged packed-refs file going unnoticed.
#[test]
fn a_damaged_packed_refs_line_is_named() {
    let repo = Repo::new();
    repo.create("A", &[]);
    repo.create("B", &[]);
    repo.git(&["pack-refs", "--all"]);
    let packed = repo.dir.join(".git/packed-refs");
    let mut text = std::fs::read_to_string(&packed).unwrap();
    text.push_str("garbage at the end\n");
    let lines = text.lines().count();
    std::fs::write(&packed, text).unwrap();
    let run = repo.loom(&["doctor"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.starts_with("packed-refs  "), "{run}");
    assert!(run.stdout.contains(&format!("line {lines}")), "{run}");
}

// Guards: stale locks and temporary files of killed writers staying forever, and young ones
// (a live writer's) being taken.
#[test]
fn litter_is_found_and_fix_removes_only_old_files() {
    let repo = Repo::new();
    let id = repo.create("A", &[]);
    repo.json(&["list"]);
    let git = repo.dir.join(".git");
    let old_lock = git.join(format!("{}.lock", claim_ref(&id)));
    let young_lock = git.join(format!("refs/loom/tasks/{id}.lock"));
    let old_tmp = git.join("objects/.tmpQwErTy");
    let old_cache_tmp = git.join("loom/.tmpAsDfGh");
    for file in [&old_lock, &young_lock, &old_tmp, &old_cache_tmp] {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "").unwrap();
    }
    for file in [&old_lock, &old_tmp, &old_cache_tmp] {
        age_file(&repo, file, "3 hours");
    }
    let report = doctor(&repo, &[], 1);
    let mut found = kinds(&report);
    found.sort();
    assert_eq!(found, vec!["stale-lock", "temp-file", "temp-file"], "{report}");

    let report = doctor(&repo, &["--fix"], 0);
    assert!(findings(&report).iter().all(|(_, _, fixed)| *fixed), "{report}");
    assert!(!old_lock.exists() && !old_tmp.exists() && !old_cache_tmp.exists());
    assert!(young_lock.exists(), "a young lock may be a live writer's");
}

// Guards: damaged claims, handoffs and histories going unreported, or `--fix` removing a
// claim somebody may hold.
#[test]
fn damaged_claims_handoffs_and_histories_are_reported_not_removed() {
    let repo = Repo::new();
    let held = repo.create("Held", &[]);
    repo.json(&["claim", &held]);
    repo.run_ok(&["handoff", &held, "-m", "notes"]);
    let blob = repo.git(&["rev-parse", &format!("{}:claim.json", claim_ref(&held))]);
    corrupt_object(&repo, blob.trim());
    let handoff_ref = format!("refs/loom/handoffs/{held}");
    repo.write_entity(&handoff_ref, &[("handoff.json", b"{ not json")], None);
    let edited = repo.create("Edited", &[]);
    let first = repo.tip(&edited);
    repo.run_ok(&["update", &edited, "--title", "Edited again"]);
    corrupt_object(&repo, &first);

    let report = doctor(&repo, &["--fix"], 1);
    let found = findings(&report);
    assert!(
        found.contains(&("unreadable-claim".to_owned(), claim_ref(&held), false)),
        "{report}"
    );
    assert!(
        found.contains(&("unreadable-handoff".to_owned(), handoff_ref.clone(), false)),
        "{report}"
    );
    assert!(
        found.contains(&("broken-history".to_owned(), format!("refs/loom/tasks/{edited}"), false)),
        "{report}"
    );
    let claim_fix = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "unreadable-claim")
        .unwrap()["fix"]
        .clone();
    assert_eq!(
        claim_fix,
        json!(format!("take the task back with `git loom reset {held}`"))
    );
    assert!(
        repo.rev(&claim_ref(&held)).is_some(),
        "a claim on a pending task may be held"
    );
}

// Guards: the mirror of the coordination remote drifting from the remote unnoticed, and an
// unreachable remote being taken for a healthy one.
#[test]
fn the_mirror_is_compared_with_the_remote() {
    let repo = Repo::new();
    let served = repo.env.root().join("served");
    std::fs::create_dir(&served).unwrap();
    repo.env
        .git(&served, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
    let mut daemon = GitDaemon::start(&repo.env, &served);
    repo.git(&["remote", "add", "origin", &daemon.url("origin.git")]);
    repo.run_ok(&["remote", "origin"]);
    let a = repo.create("A", &[]);
    let b = repo.create("B", &[]);
    repo.loom(&["sync"]);
    doctor(&repo, &[], 0);

    let mirror_ref = format!("refs/loom-remote/origin/tasks/{a}");
    repo.git(&["update-ref", &mirror_ref, &repo.tip(&b)]);
    let run = repo.loom(&["doctor"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains(&format!("mirror-differs  {mirror_ref}")), "{run}");
    assert!(run.stdout.contains("(fix: git loom sync)"), "{run}");
    assert_eq!(repo.rev(&mirror_ref), Some(repo.tip(&b)), "doctor only reads");
    let sync = repo.loom(&["sync"]);
    assert_eq!(sync.code, 0, "{sync}");
    doctor(&repo, &[], 0);

    daemon.stop();
    let report = doctor(&repo, &[], 1);
    assert_eq!(kinds(&report), vec!["remote-unreachable"], "{report}");
    doctor(&repo, &["--offline"], 0);
}
