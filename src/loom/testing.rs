//! A fixture for library-level tests: a real git repository in a temporary directory with an
//! initialised loom, and a clock the test moves by hand.
//!
//! Time is never read from the wall clock: every [`Actor`] carries a `now` the test chose, so a
//! lease expires, or a retry comes due, because the test passes a later `now`, never because it
//! slept. Each [`Fixture`] is its own repository, so tests run in parallel without sharing state.

use std::path::Path;
use std::process::Command;

use jiff::{SignedDuration, Timestamp};

use super::{Actor, Loom};
use crate::model::state::Kind;
use crate::model::{Task, TaskId, View};
use crate::store::{self, CommitMessage, Expected, ObjectId, RefUpdate, Store};
use crate::tasks::NewTask;

/// The moment every fixture's clock starts at (any fixed instant will do).
pub(crate) const T0: i64 = 1_700_000_000;

pub(crate) struct Fixture {
    dir: tempfile::TempDir,
    pub loom: Loom,
}

/// Run `git` in `dir`, isolated from the user's and the system's git configuration.
fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs because the tests need a git executable");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The instant `secs` seconds after [`T0`].
pub(crate) fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(T0).expect("T0 is a valid instant") + SignedDuration::from_secs(secs)
}

/// `agent` acting `secs` seconds after [`T0`].
pub(crate) fn actor(agent: &str, secs: i64) -> Actor {
    Actor {
        agent: agent.to_owned(),
        now: at(secs),
    }
}

impl Fixture {
    /// A new repository with an initialised loom named "test".
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        // No template (no sample hooks to copy), and the identity written straight into the
        // local config: each git process costs more than the rest of a typical test.
        git(dir.path(), &["init", "-q", "--template=", "-b", "main"]);
        let config = dir.path().join(".git").join("config");
        let mut text = std::fs::read_to_string(&config).expect("git init wrote a config");
        text.push_str("[user]\n\tname = Test\n\temail = test@example.com\n");
        std::fs::write(&config, text).expect("the local config is writable");
        let store = Store::discover(dir.path()).expect("the new repository opens");
        let (loom, _) = Loom::init(store, Some("test"), &actor("setup", 0)).expect("init succeeds");
        Fixture { dir, loom }
    }

    /// Another handle on the same repository, as a second process would open it.
    pub(crate) fn open(&self) -> Loom {
        Loom::open(self.dir.path()).expect("the initialised repository opens")
    }

    /// The repository's directory, for handles opened where a fixture cannot go (other threads).
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Create a task (or idea, or epic) and return its id.
    pub(crate) fn create(&self, new: NewTask, secs: i64) -> TaskId {
        self.loom
            .create(&new, &actor("planner", secs))
            .expect("create succeeds")
            .id
    }

    /// Create a plain ready task titled `title` at `secs`.
    pub(crate) fn task(&self, title: &str, secs: i64) -> TaskId {
        self.create(NewTask::titled(title, Kind::Task), secs)
    }

    /// The task as stored now.
    pub(crate) fn get(&self, id: &TaskId) -> Task {
        self.loom.task(id.as_str()).expect("the task reads").task
    }

    /// What a user sees of `id` at `secs`.
    pub(crate) fn view(&self, id: &TaskId, secs: i64) -> View {
        let snapshot = self.loom.snapshot(at(secs)).expect("the snapshot reads");
        let entry = snapshot.tasks.get(id).expect("the task is in the snapshot");
        snapshot.derive(&entry.task).view
    }

    pub(crate) fn tip(&self, ref_name: &str) -> Option<ObjectId> {
        self.loom.store.tip(ref_name).expect("the ref reads")
    }

    /// The summaries of a task's versions, newest first.
    pub(crate) fn summaries(&self, id: &TaskId) -> Vec<String> {
        let history = self.loom.history(id.as_str()).expect("the history reads");
        history.into_iter().map(|version| version.summary).collect()
    }

    /// Move `ref_name` from `expected` to a new version holding `files`, behind the library's
    /// back: what a damaged write, or a writer killed half-way, leaves behind.
    pub(crate) fn force_version(&self, ref_name: &str, files: &[(&str, &[u8])], expected: Option<ObjectId>) {
        let signature = store::Signature {
            name: "outsider".into(),
            time: at(0),
        };
        let parents: Vec<ObjectId> = expected.into_iter().collect();
        let message = CommitMessage::version("written behind git-loom's back".into(), None, "outsider", "test");
        let commit = self
            .loom
            .store
            .write_version(files, &parents, &message, &signature)
            .expect("the version is written");
        self.set_ref(ref_name, expected, Some(commit));
    }

    /// Whether loading the repository afresh fails.
    pub(crate) fn open_fails(&self) -> bool {
        Store::discover(self.path()).map_or(true, |store| Loom::load(store).is_err())
    }

    /// Move `ref_name` from `expected` to `new` directly.
    pub(crate) fn set_ref(&self, ref_name: &str, expected: Option<ObjectId>, new: Option<ObjectId>) {
        let signature = store::Signature {
            name: "outsider".into(),
            time: at(0),
        };
        let update = RefUpdate {
            name: ref_name.to_owned(),
            expected: expected.map_or(Expected::Absent, Expected::Tip),
            new,
        };
        self.loom.store.apply(&[update], &signature).expect("the ref moves");
    }
}
