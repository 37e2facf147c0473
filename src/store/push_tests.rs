//! Pushes of more refs than one `git push` command line holds: they are split into atomic
//! batches that keep each record's refs together, every ref lands on a real remote (pushed from
//! a repository of no refs borrowing the objects, removed afterwards), and the mirror records
//! every one of them.

use std::process::Command;
use std::sync::{Arc, Mutex};

use super::transport::batches;
use super::*;

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs because the tests need a git executable");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn update(name: &str, new: u8) -> PushUpdate {
    PushUpdate {
        name: name.to_owned(),
        expected: Expected::Absent,
        new: Some(ObjectId::from_bytes_or_panic(&[new; 20])),
    }
}

// Guards: a task's refs split over two pushes (a claim landing without the lease on its task),
// or batches over the budget (the argument list too long again).
#[test]
fn batches_keep_records_together_and_within_budget() {
    let mut updates = Vec::new();
    for n in 0..50u8 {
        updates.push(update(&format!("refs/loom/tasks/loom-{n:08x}"), n));
        if n % 3 == 0 {
            updates.push(update(&format!("refs/loom/claims/loom-{n:08x}"), n));
        }
    }
    let budget = 1_000;
    let split = batches(&updates, budget);
    assert!(split.len() > 5, "{} batches", split.len());
    assert_eq!(split.iter().map(Vec::len).sum::<usize>(), updates.len());
    for n in 0..50u8 {
        let id = format!("loom-{n:08x}");
        let holding: Vec<usize> = (0..split.len())
            .filter(|&i| split[i].iter().any(|u| u.name.ends_with(&id)))
            .collect();
        assert_eq!(holding.len(), 1, "{id} in batches {holding:?}");
    }
    for batch in &split {
        let bytes: usize = batch.iter().map(|u| u.name.len() * 2 + 80).sum();
        assert!(bytes <= budget + 200, "a batch of {bytes} bytes");
    }
    // Order kept: the first task comes first.
    assert!(split[0][0].name.ends_with("loom-00000000"));
    assert_eq!(batches(&updates, usize::MAX).len(), 1);
}

// Guards: a push of more refs than one command line holds failing ("Argument list too long"),
// or landing only partly, or leaving the mirror without the refs pushed.
#[test]
fn a_push_larger_than_one_batch_lands_whole() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (local, bare) = (dir.path().join("local"), dir.path().join("remote.git"));
    git(
        dir.path(),
        &["init", "-q", "--bare", bare.to_str().expect("utf-8 path")],
    );
    git(dir.path(), &["init", "-q", local.to_str().expect("utf-8 path")]);
    git(&local, &["remote", "add", "origin", bare.to_str().expect("utf-8 path")]);
    let mut store = Store::discover(&local).expect("the repository opens");
    // About three refs per batch: many pushes from a few hundred tiny refs.
    store.push_batch_bytes = 400;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    store.on_push_progress(Arc::new(move |progress| {
        record.lock().expect("not poisoned").push(progress);
    }));
    let by = Signature {
        name: "tester".into(),
        time: jiff::Timestamp::from_second(1_700_000_000).expect("a valid time"),
    };
    let mut updates = Vec::new();
    for n in 0..120u32 {
        let message = CommitMessage {
            summary: format!("task {n}"),
            ..CommitMessage::default()
        };
        let body = format!("{{\"n\":{n}}}");
        let commit = store
            .write_version(&[("task.json", body.as_bytes())], &[], &message, &by)
            .expect("the version is written");
        updates.push(PushUpdate {
            name: format!("refs/loom/tasks/loom-{n:08x}"),
            expected: Expected::Absent,
            new: Some(commit),
        });
    }
    let outcome = store.push_loom("origin", &updates, &by).expect("the push runs");
    assert_eq!(outcome, PushOutcome::Accepted);
    let on_remote = git(
        &bare,
        &["for-each-ref", "--format=%(refname) %(objectname)", "refs/loom/"],
    );
    for pushed in &updates {
        let line = format!("{} {}", pushed.name, pushed.new.expect("every update sets a ref"));
        assert!(on_remote.lines().any(|l| l == line), "{line} missing on the remote");
    }
    assert_eq!(on_remote.lines().count(), updates.len());
    let leftovers: Vec<_> = std::fs::read_dir(store.local_dir())
        .map(|dir| {
            dir.filter_map(|entry| entry.ok())
                .map(|entry| entry.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !leftovers.iter().any(|name| name.to_string_lossy().starts_with("push-")),
        "the repository pushed from is removed: {leftovers:?}"
    );
    let (mirror, _) = store.list(&tracking_prefix("origin")).expect("the mirror lists");
    assert_eq!(mirror.len(), updates.len(), "every pushed ref is mirrored");
    let last = *seen
        .lock()
        .expect("not poisoned")
        .last()
        .expect("progress was reported");
    assert!(last.batches > 10, "{} batches", last.batches);
    assert_eq!((last.refs_done, last.batches_done), (updates.len(), last.batches));
    // The leases still hold in every batch: creating refs the remote already has at another
    // value is refused, and nothing of that batch lands.
    let mut again: Vec<PushUpdate> = updates[..6].to_vec();
    for update in &mut again {
        update.new = updates[100].new;
    }
    let outcome = store.push_loom("origin", &again, &by).expect("the push runs");
    assert!(matches!(outcome, PushOutcome::Rejected(_)), "{outcome:?}");
    let after = git(
        &bare,
        &["for-each-ref", "--format=%(refname) %(objectname)", "refs/loom/"],
    );
    assert_eq!(after, on_remote, "a refused batch changed nothing");
}
