//! `git loom merge --ci` against a bare remote served by a real `git daemon` on 127.0.0.1: an
//! agent's clone finishes tasks (its `done` pushes the branch and queues the request on the
//! remote), and a fresh clone that exists only to run the queue lands the passing work on the
//! remote's target, sends the failing task back, and publishes every decision, so the agent's
//! clone sees them after one sync. Also: the lease on the remote's target, and one engine at a
//! time.

use crate::common;

use common::hub::{Hub, Site};
use serde_json::Value;

/// A task worked in `site` as an agent does: `next`, `files` committed in its worktree, `done`.
fn finish(site: &Site<'_>, title: &str, files: &[(&str, &str)]) -> String {
    let id = site.create(&[title]);
    let next = site.ok(&["--agent", "agent", "next"]);
    assert!(next.stdout.contains(&id), "{next}");
    let worktree = site.dir.join(".loom/worktrees").join(&id);
    for (path, content) in files {
        std::fs::write(worktree.join(path), content).unwrap();
    }
    site.env.git(&worktree, &["add", "--all"]);
    site.env.git(&worktree, &["commit", "-q", "-m", title]);
    site.ok(&["--agent", "agent", "done", &id]);
    id
}

fn decisions(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}")))
        .collect()
}

// Guards: a CI merge job that merges in a clone without the agents' branches, lands on its
// local target only, tests with a command the branch chose, or leaves the agents' clones
// unaware of the outcome.
#[test]
fn a_fresh_clone_runs_the_queue_against_the_daemon_and_publishes_every_decision() {
    let hub = Hub::with_origin();
    let agents = hub.seeded("agents");
    agents.ok(&["config", "merge.test", "test -f good.txt && ! test -f bad.txt"]);
    let good = finish(&agents, "good work", &[("good.txt", "good\n")]);
    let bad = finish(&agents, "bad work", &[("bad.txt", "bad\n")]);
    // `done` published each branch to the remote, so another machine can merge it.
    for id in [&good, &bad] {
        let branch = format!("refs/heads/loom/{id}");
        assert!(
            !hub.bare_git("origin", &["rev-parse", "--verify", "-q", &branch])
                .is_empty()
        );
    }
    let main_before = hub.bare_git("origin", &["rev-parse", "main"]);

    // The CI job: a fresh clone that never ran git-loom, with nothing but `merge --ci`.
    hub.env.git(hub.env.root(), &["clone", "-q", &hub.url("origin"), "ci"]);
    let ci = Site {
        env: &hub.env,
        dir: hub.env.root().join("ci"),
    };
    let run = ci.ok(&["--agent", "ci-merge", "--json", "merge", "--ci", "--remote", "origin"]);
    let decided = decisions(&run.stdout);
    let state_of = |id: &str| {
        decided
            .iter()
            .rev()
            .find(|decision| decision["task"] == id)
            .map(|decision| decision["state"].clone())
    };
    assert_eq!(state_of(&good), Some(Value::from("merged")), "{run}");
    assert_eq!(state_of(&bad), Some(Value::from("failed")), "{run}");

    // The remote's main is exactly the tested candidate holding the good work only.
    let landed = decided
        .iter()
        .find(|decision| decision["task"] == good.as_str())
        .unwrap()["landed"]
        .as_str()
        .unwrap()
        .to_owned();
    let main_after = hub.bare_git("origin", &["rev-parse", "main"]);
    assert_eq!(main_after.trim(), landed);
    assert_ne!(main_after, main_before);
    let files = hub.bare_git("origin", &["ls-tree", "--name-only", "main"]);
    assert!(files.contains("good.txt") && !files.contains("bad.txt"), "{files}");
    let parents = hub.bare_git("origin", &["rev-list", "--parents", "-n1", "main"]);
    assert!(
        parents.contains(main_before.trim()),
        "the landing builds on the old main: {parents}"
    );

    // Every decision is on the remote: the agents' clone sees them after one sync.
    agents.ok(&["sync"]);
    let good_task = agents.loom(&["--json", "show", &good]).json();
    assert_eq!(good_task["merged"]["commit"], Value::from(landed.clone()));
    let bad_task = agents.loom(&["--json", "show", &bad]).json();
    assert_eq!(bad_task["status"], "failed", "{bad_task}");
    let handoff = agents.ok(&["handoffs", &bad]);
    assert!(handoff.stdout.contains("failed"), "{handoff}");
    let request = agents.loom(&["--json", "merge", "show", &bad]).json();
    assert_eq!(request["state"], "failed");
    assert!(
        !hub.bare_git("origin", &["for-each-ref", "refs/loom/tests/"]).is_empty(),
        "the test cache travels with the decisions"
    );

    // A second run has nothing left to do.
    let again = ci.ok(&["--json", "merge", "--ci"]);
    assert_eq!(again.stdout, "", "{again}");
}

// Guards: a CI job landing a candidate built on a target that another push moved meanwhile
// (overwriting that push), instead of building again on the new tip.
#[test]
fn a_push_to_the_target_during_the_test_is_kept_and_the_work_lands_on_top() {
    let hub = Hub::with_origin();
    let agents = hub.seeded("agents");
    // The test itself pushes a commit to the remote's main from another clone, once.
    let pusher = hub.env.root().join("pusher");
    hub.env
        .git(hub.env.root(), &["clone", "-q", &hub.url("origin"), "pusher"]);
    let marker = hub.env.root().join("pushed-once");
    let script = format!(
        "test -e {marker} || {{ touch {marker}; cd {pusher} && git pull -q origin main && \
         echo moved > moved.txt && git add moved.txt && git commit -q -m moved && git push -q origin HEAD:main; }}",
        marker = marker.display(),
        pusher = pusher.display(),
    );
    agents.ok(&["config", "merge.test", &script]);
    let id = finish(&agents, "work", &[("work.txt", "work\n")]);

    hub.env.git(hub.env.root(), &["clone", "-q", &hub.url("origin"), "ci"]);
    let ci = Site {
        env: &hub.env,
        dir: hub.env.root().join("ci"),
    };
    let run = ci.ok(&["--json", "merge", "--ci"]);
    let decided = decisions(&run.stdout);
    assert_eq!(
        decided.first().unwrap()["state"],
        "queued",
        "first landing refused: {run}"
    );
    assert_eq!(decided.last().unwrap()["state"], "merged", "{run}");
    let files = hub.bare_git("origin", &["ls-tree", "--name-only", "main"]);
    assert!(files.contains("moved.txt") && files.contains("work.txt"), "{files}");
    let request = ci.loom(&["--json", "merge", "show", &id]).json();
    let outcomes: Vec<&Value> = request["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| &attempt["outcome"])
        .collect();
    assert_eq!(outcomes, [&Value::from("target_moved"), &Value::from("landed")]);
}

// Guards: two engines in one repository fighting over the merge worktree.
#[test]
fn a_second_engine_in_the_same_repository_is_refused() {
    let hub = Hub::with_origin();
    let agents = hub.seeded("agents");
    let release = hub.env.root().join("release");
    let started = hub.env.root().join("started");
    // The test command waits (bounded) until the test lets it go.
    let script = format!(
        "touch {started}; i=0; while [ ! -e {release} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done",
        started = started.display(),
        release = release.display(),
    );
    agents.ok(&["config", "merge.test", &script]);
    finish(&agents, "work", &[("work.txt", "work\n")]);
    let mut first = hub
        .env
        .command(common::BIN, &agents.dir)
        .args(["merge"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !started.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(started.exists(), "the first engine never started its test");
    let second = agents.fail(3, &["merge"]);
    assert!(
        second.stderr.contains("another `git loom merge` is running"),
        "{second}"
    );
    std::fs::write(&release, "").unwrap();
    let status = first.wait().unwrap();
    assert!(status.success());
}
