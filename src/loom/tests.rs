//! Library-level tests of the transaction core: lost races, retries, atomic worksets, what a
//! writer killed half-way leaves behind, and reading around damaged records. Each test drives a
//! real repository (see [`super::testing`]) with a clock it sets by hand.

use super::testing::{Fixture, actor, at};
use super::workset::{ClaimChange, Workset};
use super::{Error, with_retries};
use crate::claims::{ClaimOptions, Credentials, DoneRecord};
use crate::model::{Claim, Entity, Status, View};
use crate::store::{self, claim_ref, task_ref};
use crate::tasks::Changes;

fn retitle(title: &str) -> Changes {
    Changes {
        title: Some(title.into()),
        ..Changes::default()
    }
}

fn add_label(label: &str) -> Changes {
    Changes {
        add_labels: vec![label.into()],
        ..Changes::default()
    }
}

// Guards: a write that read a task before another writer moved it overwriting that version.
#[test]
fn a_write_that_lost_a_race_is_a_conflict_and_leaves_the_winner_in_place() {
    let fx = Fixture::new();
    let id = fx.task("shared", 0);
    let mut workset = Workset::new(&fx.loom.store);
    workset.get_mut(&id).unwrap().title = "mine".into();
    // Another process edits the task between this workset's read and its commit.
    let rival = fx.open();
    rival
        .update(id.as_str(), &retitle("theirs"), &actor("rival", 1))
        .unwrap();
    let rival_tip = fx.tip(&task_ref(&id));

    let err = workset.commit(&actor("me", 2), "update").unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(fx.tip(&task_ref(&id)), rival_tip);
    assert_eq!(fx.get(&id).title, "theirs");
}

// Guards: a lost race being reported to the user instead of re-read and re-applied.
#[test]
fn with_retries_re_reads_and_re_applies_an_attempt_that_lost_a_race() {
    let fx = Fixture::new();
    let id = fx.task("shared", 0);
    let rival = fx.open();
    let mut attempts = 0;
    with_retries(|| {
        attempts += 1;
        let mut workset = Workset::new(&fx.loom.store);
        workset.get_mut(&id)?.labels.insert("mine".into());
        if attempts == 1 {
            rival.update(id.as_str(), &add_label("theirs"), &actor("rival", 1))?;
        }
        workset.commit(&actor("me", 2), "update")
    })
    .unwrap();
    assert_eq!(attempts, 2);
    let labels: Vec<String> = fx.get(&id).labels.into_iter().collect();
    assert_eq!(labels, ["mine", "theirs"]);
}

#[test]
fn with_retries_returns_any_other_error_at_once() {
    let fx = Fixture::new();
    let id = fx.task("unclaimed", 0);
    let mut attempts = 0;
    let result: super::Result<()> = with_retries(|| {
        attempts += 1;
        Err(Error::NotClaimed { id: id.clone() })
    });
    assert!(matches!(result, Err(Error::NotClaimed { .. })));
    assert_eq!(attempts, 1);
}

// Guards: a claim ref created although the task version recording it was refused.
#[test]
fn a_claim_does_not_land_when_its_task_moved_meanwhile() {
    let fx = Fixture::new();
    let id = fx.task("contested", 0);
    let mut workset = Workset::new(&fx.loom.store);
    workset.record(&id, "claim by me").unwrap();
    let claim = Claim::new(id.clone(), "me".into(), "token".into(), 60, 1, at(1));
    workset.change_claim(&id, ClaimChange::Create(claim), "claim by me");
    fx.open()
        .update(id.as_str(), &retitle("moved"), &actor("rival", 1))
        .unwrap();

    assert!(workset.commit(&actor("me", 2), "claim").unwrap_err().is_conflict());
    assert_eq!(fx.tip(&claim_ref(&id)), None);
    assert_eq!(fx.get(&id).attempts, 0);
}

// Guards: a task version recording a claim that another agent's create-only claim beat.
#[test]
fn a_task_change_does_not_land_when_its_claim_lost() {
    let fx = Fixture::new();
    let id = fx.task("contested", 0);
    let mut workset = Workset::new(&fx.loom.store);
    workset.get_mut(&id).unwrap().attempts += 1;
    workset.record(&id, "claim by me").unwrap();
    let claim = Claim::new(id.clone(), "me".into(), "token".into(), 60, 1, at(1));
    workset.change_claim(&id, ClaimChange::Create(claim), "claim by me");
    // The rival's claim writes both refs first.
    let rival = fx.open();
    rival
        .claim(id.as_str(), &ClaimOptions::default(), &actor("rival", 1))
        .unwrap();
    let task_tip = fx.tip(&task_ref(&id));

    assert!(workset.commit(&actor("me", 2), "claim").unwrap_err().is_conflict());
    assert_eq!(fx.tip(&task_ref(&id)), task_tip);
    let held = fx.loom.claim_of(&id).unwrap().unwrap().1.unwrap();
    assert_eq!(held.agent, "rival");
    assert_eq!(fx.summaries(&id)[0], "claim by rival (attempt 1)");
}

// A writer killed between the claim ref and the task ref (claim refs move first) leaves a claim
// with no record of it in the task's history.
// Guards: such a claim being ignored, so that a second agent is granted a held task.
#[test]
fn a_claim_left_without_its_task_version_holds_the_task_until_its_lease_runs_out() {
    let fx = Fixture::new();
    let id = fx.task("half written", 0);
    let ghost = Claim::new(id.clone(), "ghost".into(), "token".into(), 60, 1, at(0));
    fx.force_version(&claim_ref(&id), &[("claim.json", &ghost.to_blob())], None);

    assert_eq!(fx.view(&id, 10), View::Claimed);
    let err = fx
        .loom
        .claim(id.as_str(), &ClaimOptions::default(), &actor("next", 10))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Claimed { agent, .. } if agent == "ghost"),
        "{err:?}"
    );

    let swept = fx.loom.sweep(&actor("sweeper", 60)).unwrap();
    assert_eq!(swept.expired, [(id.clone(), "ghost".to_owned())]);
    let held = fx
        .loom
        .claim(id.as_str(), &ClaimOptions::default(), &actor("next", 61))
        .unwrap();
    assert_eq!(held.claim.agent, "next");
    assert_eq!(held.task.attempts, 1);
}

// A writer killed between the task ref and the claim's deletion (deletions move last) leaves a
// void claim on a task that has moved on.
// Guards: a void claim counting as held, or surviving a sweep.
#[test]
fn a_claim_left_on_a_finished_task_is_void_and_swept() {
    let fx = Fixture::new();
    let id = fx.task("finished", 0);
    fx.loom
        .claim(id.as_str(), &ClaimOptions::default(), &actor("worker", 1))
        .unwrap();
    let claim_tip = fx.tip(&claim_ref(&id));
    let done = DoneRecord::default();
    fx.loom
        .record_done(
            fx.loom.task(id.as_str()).unwrap(),
            Credentials::default(),
            &done,
            &actor("worker", 2),
            |_| Ok(()),
        )
        .unwrap();
    fx.set_ref(&claim_ref(&id), None, claim_tip);

    assert!(fx.loom.live_claim(&id).unwrap().is_none());
    assert!(fx.loom.claim_held_by("worker").unwrap().is_none());
    assert_eq!(fx.view(&id, 3), View::Done);
    let swept = fx.loom.sweep(&actor("sweeper", 3)).unwrap();
    assert_eq!(swept.void, [(id.clone(), "worker".to_owned())]);
    assert!(swept.expired.is_empty());
    assert_eq!(fx.tip(&claim_ref(&id)), None);
    assert_eq!(fx.get(&id).status(), Status::Done);
}

// Guards: a write building a new version on a cached base whose objects are gone, which would
// leave the task's history with a broken link.
#[test]
fn a_write_never_extends_an_unreadable_base() {
    let fx = Fixture::new();
    let id = fx.task("cached", 0);
    let snapshot = fx.loom.snapshot(at(1)).unwrap();
    let base = snapshot.tasks[&id].tip;
    let hex = base.to_string();
    let object = fx.loom.store.git_dir().join("objects").join(&hex[..2]).join(&hex[2..]);
    std::fs::remove_file(&object).expect("the version commit is a loose object");

    // A fresh handle: nothing of the base is in its object cache.
    let loom = fx.open();
    let mut workset = Workset::on(&loom.store, &snapshot);
    workset.get_mut(&id).unwrap().title = "built on nothing".into();
    let err = workset.commit(&actor("me", 2), "update").unwrap_err();
    assert!(
        matches!(&err, Error::Store(store::Error::Corrupt { ref_name, .. }) if *ref_name == task_ref(&id)),
        "{err:?}"
    );
    assert_eq!(fx.tip(&task_ref(&id)), Some(base));
}

// Guards: a write trusting a cached copy of a task that differs from the version it extends.
#[test]
fn a_write_from_a_cached_copy_that_differs_from_its_base_is_a_conflict() {
    let fx = Fixture::new();
    let id = fx.task("cached", 0);
    let mut snapshot = fx.loom.snapshot(at(1)).unwrap();
    let base = snapshot.tasks[&id].tip;
    snapshot.tasks.get_mut(&id).unwrap().task.title = "not what is stored".into();

    let mut workset = Workset::on(&fx.loom.store, &snapshot);
    workset.get_mut(&id).unwrap().labels.insert("x".into());
    assert!(workset.commit(&actor("me", 2), "update").unwrap_err().is_conflict());
    assert_eq!(fx.tip(&task_ref(&id)), Some(base));
    assert_eq!(fx.get(&id).title, "cached");
}

// Guards: one damaged task blob failing every read (the snapshot, ready, the other tasks).
#[test]
fn a_corrupt_task_blob_is_corrupt_naming_its_ref_and_the_rest_still_reads() {
    let fx = Fixture::new();
    let good = fx.task("good", 0);
    let bad = fx.task("bad", 1);
    let bad_ref = task_ref(&bad);
    fx.force_version(&bad_ref, &[("task.json", b"{ not json")], fx.tip(&bad_ref));

    let err = fx.loom.task(bad.as_str()).unwrap_err();
    assert!(
        matches!(&err, Error::Store(store::Error::Corrupt { ref_name, .. }) if *ref_name == bad_ref),
        "{err:?}"
    );
    let err = fx
        .loom
        .update(bad.as_str(), &retitle("fixed"), &actor("me", 2))
        .unwrap_err();
    assert!(matches!(&err, Error::Store(store::Error::Corrupt { ref_name, .. }) if *ref_name == bad_ref));

    let snapshot = fx.loom.snapshot(at(2)).unwrap();
    assert_eq!(snapshot.tasks.keys().collect::<Vec<_>>(), [&good]);
    assert_eq!(snapshot.problems.len(), 1);
    assert_eq!(snapshot.problems[0].ref_name, bad_ref);
    let ready: Vec<_> = snapshot.ready().iter().map(|r| r.entry.task.id.clone()).collect();
    assert_eq!(ready, std::slice::from_ref(&good));
    assert_eq!(fx.get(&good).title, "good");
}

// Guards: a long-lived process judging leases and retries by the settings it loaded at start,
// long after someone changed them.
#[test]
fn a_loom_that_follows_meta_sees_settings_changed_by_another_process() {
    let fx = Fixture::new();
    let following = fx.open().follow_meta();
    let loaded_once = fx.open();
    let before = following.settings().claims.ttl_secs;
    crate::project::config_set(
        fx.loom.store(),
        "claims.ttl_secs",
        Some(&(before + 60).to_string()),
        &actor("admin", 1),
    )
    .unwrap();
    assert_eq!(following.settings().claims.ttl_secs, before + 60);
    assert_eq!(loaded_once.settings().claims.ttl_secs, before);
}

// Guards: a following process stopping, or adopting garbage, when the meta record is damaged.
#[test]
fn a_loom_that_follows_meta_keeps_the_last_good_settings_when_meta_is_damaged() {
    let fx = Fixture::new();
    let following = fx.open().follow_meta();
    let before = following.settings().claims.ttl_secs;
    let meta_tip = fx.tip(store::META_REF);
    fx.force_version(store::META_REF, &[("meta.json", b"not json")], meta_tip);
    assert!(fx.open_fails());
    assert_eq!(following.settings().claims.ttl_secs, before);
}
