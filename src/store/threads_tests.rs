//! One `Store` shared by the threads of a long-lived process: every thread writes refs of its
//! own and reads back its own and the others' writes.

use std::sync::Arc;
use std::thread;

use super::*;

fn assert_send_sync<T: Send + Sync>() {}

// Guards: a store holding a thread-bound repository (or an unsynchronised compressor) could
// not be shared, so a server or runner would have to open the repository once per thread.
#[test]
fn one_store_serves_many_threads() {
    assert_send_sync::<Store>();
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("git")
        .args(["init", "--quiet"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let store = Arc::new(Store::discover(dir.path()).unwrap());
    let by = Signature {
        name: "tester".into(),
        time: jiff::Timestamp::from_second(1_700_000_000).unwrap(),
    };
    let writers: Vec<_> = (0..4)
        .map(|thread| {
            let store = Arc::clone(&store);
            let by = by.clone();
            thread::spawn(move || {
                let mut written = Vec::new();
                for round in 0..10 {
                    let name = format!("refs/loom/tasks/loom-{thread:04x}{round:04x}");
                    let body = format!("thread {thread} round {round}");
                    let message = CommitMessage {
                        summary: body.clone(),
                        ..CommitMessage::default()
                    };
                    let commit = store
                        .write_version(&[("task.json", body.as_bytes())], &[], &message, &by)
                        .unwrap();
                    let update = RefUpdate {
                        name: name.clone(),
                        expected: Expected::Absent,
                        new: Some(commit),
                    };
                    store.apply(&[update], &by).unwrap();
                    let version = store.read_version(&name, store.tip(&name).unwrap().unwrap()).unwrap();
                    assert_eq!(version.files["task.json"], body.as_bytes());
                    written.push((name, body));
                }
                written
            })
        })
        .collect();
    let written: Vec<(String, String)> = writers.into_iter().flat_map(|writer| writer.join().unwrap()).collect();
    assert_eq!(written.len(), 40);
    let (tips, broken) = store.list(TASKS_PREFIX).unwrap();
    assert!(broken.is_empty());
    assert_eq!(tips.len(), 40);
    // Every thread reads what every other wrote.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            let written = written.clone();
            thread::spawn(move || {
                for (name, body) in &written {
                    let tip = store.tip(name).unwrap().expect("written by a thread that has ended");
                    assert_eq!(
                        store.read_version(name, tip).unwrap().files["task.json"],
                        body.as_bytes()
                    );
                }
            })
        })
        .collect();
    for reader in readers {
        reader.join().unwrap();
    }
}
