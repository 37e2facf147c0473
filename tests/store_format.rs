//! Proves the stored format is ordinary, durable git data as documented: packed refs work like
//! loose ones, fields written by another version survive a rewrite, `loom.toml` settings written
//! with plain git take effect, a broken `refs/loom/meta` stops every command naming it, ids
//! inside blobs are validated too, the raw history of an unreadable task is still shown, and
//! `updated_at`/`lamport` only move forwards.

use crate::common;

use common::Repo;
use serde_json::json;

const META: &str = "refs/loom/meta";

/// The files of one hand-written version of an entity.
type Files = Vec<(&'static str, Vec<u8>)>;

/// Write a new version of `refs/loom/meta` with these files, on top of the current one.
fn rewrite_meta(repo: &Repo, files: &[(&str, &[u8])]) -> String {
    let old = repo.rev(META).unwrap();
    repo.write_entity(META, files, Some(&old))
}

fn current_meta_json(repo: &Repo) -> Vec<u8> {
    repo.git(&["cat-file", "-p", "refs/loom/meta:meta.json"]).into_bytes()
}

#[test]
fn packed_refs_work_like_loose_ones() {
    let repo = Repo::new();
    let a = repo.create("A", &[]);
    let epic = repo.create("Epic", &["--epic"]);
    let b = repo.create("B", &["--dep", &a, "--parent", &epic]);
    repo.git(&["pack-refs", "--all"]);
    assert!(
        !repo.dir.join(".git/refs/loom/tasks").join(&a).exists(),
        "the refs are packed"
    );
    let packed = std::fs::read_to_string(repo.dir.join(".git/packed-refs")).unwrap();
    assert!(packed.contains(&format!("refs/loom/tasks/{a}")), "{packed}");

    assert_eq!(repo.json(&["list"]).as_array().unwrap().len(), 3);
    assert_eq!(repo.show(&a[..9])["id"], json!(a), "prefixes resolve among packed refs");
    let tip = repo.tip(&a);
    repo.run_ok(&["update", &a, "--status", "done"]);
    assert_ne!(repo.tip(&a), tip, "a packed ref moves");
    assert_eq!(repo.status_of(&b), "ready");
    repo.run_ok(&["update", &b, "--status", "done"]);
    assert_eq!(
        repo.status_of(&epic),
        "done",
        "a multi-ref transaction over packed refs"
    );
    let c = repo.create("C", &[]);
    repo.run_ok(&["dep", "add", &c, &a]);
    assert_eq!(repo.json(&["log", &a]).as_array().unwrap().len(), 2);
    let fsck = repo.env.run("git", &repo.dir, &["fsck", "--no-progress"]);
    assert_eq!(fsck.code, 0, "{fsck}");
}

#[test]
fn fields_from_another_version_survive_a_rewrite() {
    let repo = Repo::new();
    let template = repo.create("Template", &[]);
    let mut task = repo.forged_task(&template, "loom-0000cafe");
    task["from_the_future"] = json!({"nested": [1, 2, 3]});
    repo.write_task("loom-0000cafe", &task);

    repo.run_ok(&["update", "loom-0000cafe", "--title", "Rewritten", "--add-label", "kept"]);
    let stored = repo.stored_task("loom-0000cafe");
    assert_eq!(stored["from_the_future"], json!({"nested": [1, 2, 3]}));
    assert_eq!(stored["title"], json!("Rewritten"));
    assert_eq!(stored["labels"], json!(["kept"]));
    // Not part of the documented --json shape.
    assert!(repo.show("loom-0000cafe").get("from_the_future").is_none());
}

#[test]
fn the_blob_layout_is_canonical() {
    let repo = Repo::new();
    let id = repo.create(
        "Canonical",
        &["--label", "b", "--label", "a", "--files", "z", "--files", "y"],
    );
    let text = repo.git(&["cat-file", "-p", &format!("refs/loom/tasks/{id}:task.json")]);
    assert!(text.ends_with("}\n"), "a trailing newline: {text:?}");
    assert!(text.starts_with("{\n  \"schema\": 1,\n  \"id\": "), "{text}");
    let stored: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stored["labels"], json!(["a", "b"]), "sets are written sorted");
    assert_eq!(stored["files"], json!(["z", "y"]), "lists keep their order");
    assert_eq!(stored["lamport"], json!(1));
    repo.run_ok(&["update", &id, "-p", "p0"]);
    repo.run_ok(&["update", &id, "-p", "p1"]);
    assert_eq!(repo.stored_task(&id)["lamport"], json!(3), "version n has lamport n");
}

#[test]
fn updated_at_never_moves_backwards() {
    let repo = Repo::new();
    let template = repo.create("Template", &[]);
    let mut task = repo.forged_task(&template, "loom-0000d0d0");
    task["updated_at"] = json!("2999-01-01T00:00:00Z");
    repo.write_task("loom-0000d0d0", &task);
    repo.run_ok(&["update", "loom-0000d0d0", "--title", "Touched"]);
    assert_eq!(repo.show("loom-0000d0d0")["updated_at"], json!("2999-01-01T00:00:00Z"));
}

#[test]
fn settings_written_with_plain_git_take_effect() {
    let repo = Repo::new();
    let meta = current_meta_json(&repo);
    let toml = b"[tasks]\ndefault_priority = \"p1\"\nunknown_key = 3\n\n[future_section]\nx = 1\n";
    rewrite_meta(&repo, &[("loom.toml", toml), ("meta.json", &meta)]);
    let id = repo.create("Defaulted", &[]);
    assert_eq!(repo.show(&id)["priority"], json!("p1"));
    let explicit = repo.create("Explicit", &["-p", "p3"]);
    assert_eq!(repo.show(&explicit)["priority"], json!("p3"));
    let idea = repo.run_ok(&["idea", "Idea"]).stdout.trim().to_owned();
    assert_eq!(repo.show(&idea)["priority"], json!("p1"));

    // A missing loom.toml means the defaults.
    rewrite_meta(&repo, &[("meta.json", &meta)]);
    let id = repo.create("Default again", &[]);
    assert_eq!(repo.show(&id)["priority"], json!("p2"));
}

#[test]
fn a_broken_meta_stops_every_command_naming_it() {
    let repo = Repo::new();
    let a = repo.create("Task", &[]);
    let meta = current_meta_json(&repo);
    let cases: Vec<(&str, Files)> = vec![
        (
            "invalid loom.toml",
            vec![("loom.toml", b"[tasks\n".to_vec()), ("meta.json", meta.clone())],
        ),
        (
            "invalid setting",
            vec![
                ("loom.toml", b"[tasks]\ndefault_priority = \"p9\"\n".to_vec()),
                ("meta.json", meta.clone()),
            ],
        ),
        ("missing meta.json", vec![("loom.toml", b"".to_vec())]),
        ("invalid meta.json", vec![("meta.json", b"not json".to_vec())]),
    ];
    let healthy = repo.rev(META).unwrap();
    for (what, files) in cases {
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        repo.write_entity(META, &files, Some(&healthy));
        let refs = repo.all_refs();
        for args in [
            &["init"][..],
            &["list"],
            &["show", &a],
            &["create", "More"],
            &["ready"],
            &["graph"],
        ] {
            let run = repo.run_fail(1, args);
            assert!(run.stderr.contains(META), "{what}: {run}");
            // Guards: a hint that says other data is unaffected when every command needs meta.
            assert!(run.stderr.contains("hint: every command needs"), "{what}: {run}");
            assert!(!run.stderr.contains("other tasks are unaffected"), "{what}: {run}");
        }
        assert_eq!(repo.all_refs(), refs, "{what}: nothing written");
    }
}

#[test]
fn ids_inside_blobs_are_validated() {
    let repo = Repo::new();
    let a = repo.create("Healthy", &[]);
    for (id, field, value) in [
        ("loom-0000bad1", "deps", json!(["../heads/main"])),
        ("loom-0000bad2", "parent", json!("refs/heads/main")),
        ("loom-0000bad3", "children", json!(["loom-../../x"])),
        ("loom-0000bad4", "status", json!("ready")),
        ("loom-0000bad5", "priority", json!("urgent")),
    ] {
        let mut task = repo.forged_task(&a, id);
        task[field] = value;
        repo.write_task(id, &task);
        let reference = format!("refs/loom/tasks/{id}");
        let run = repo.run_fail(1, &["show", id]);
        assert!(
            run.stderr.contains(&reference) && run.stderr.contains("not valid"),
            "{field}: {run}"
        );
        let run = repo.run_warn(&["list"]);
        assert!(run.stderr.contains(&reference), "{field}: {run}");
        assert!(run.stdout.contains(&a), "{run}");
    }
    // A symbolic ref in the namespace is reported, never followed.
    repo.git(&["symbolic-ref", "refs/loom/tasks/loom-0000bad6", "refs/heads/main"]);
    let run = repo.run_warn(&["--json", "list"]);
    assert!(run.stderr.contains("refs/loom/tasks/loom-0000bad6"), "{run}");
    assert_eq!(run.json().as_array().unwrap().len(), 1);
}

#[test]
fn the_raw_history_of_an_unreadable_task_is_still_shown() {
    let repo = Repo::new();
    let reference = "refs/loom/tasks/loom-deadbeef";
    let first = repo.write_entity(reference, &[("task.json", b"{ broken")], None);
    repo.write_entity(reference, &[("task.json", b"{ still broken")], Some(&first));
    let log = repo.run_ok(&["log", "loom-deadbeef", "--patch"]).stdout;
    assert_eq!(log.matches("commit ").count(), 2, "{log}");
    assert!(log.contains("-{ broken") && log.contains("+{ still broken"), "{log}");
    let versions = repo.json(&["log", "loom-deadbeef"]);
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["task"], serde_json::Value::Null, "not JSON, so no task");
    assert_eq!(versions[0]["agent"], serde_json::Value::Null, "no trailer, no agent");
}

#[test]
fn quiet_silences_unreadable_warnings() {
    let repo = Repo::new();
    let a = repo.create("Healthy", &[]);
    repo.write_entity("refs/loom/tasks/loom-deadbeef", &[("task.json", b"nope")], None);
    let run = repo.run_ok(&["-q", "list"]);
    assert!(run.stdout.contains(&a), "{run}");
    let run = repo.run_ok(&["-q", "--json", "status"]);
    assert_eq!(run.json()["unreadable"], json!(["refs/loom/tasks/loom-deadbeef"]));
}
