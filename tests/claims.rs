//! Proves the claim protocol end to end through the binary: `claim` and `claim --next` grant a
//! ready task to exactly one agent (best ready task first, `--label`/`--priority` respected,
//! blocked or claimed tasks refused) and record the grant in the task's history together with
//! `refs/loom/claims/<id>`; only the holder (or `--token`, or a recorded `--force`) may
//! `heartbeat`, `release`, `done` or `fail`; heartbeats extend the lease and report progress;
//! `done` stores output and branch, unblocks dependents and closes epics; `fail` backs off
//! exponentially (with ±20 % jitter) until the retry limit makes the task dead; `dead`, `dead
//! --retry` and `reset` bring tasks back; `sweep` takes back expired leases and revives failed
//! tasks whose backoff passed; `recover` tells active, stale and expired claims apart and only
//! changes anything with `--execute`; claimed tasks refuse `update --status` and `cancel`; and
//! `show`, `list`, `status` and every `--json` task object show the claim.

use crate::common;

use common::{AGENT, Repo, as_agent};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

fn claim_ref(id: &str) -> String {
    format!("refs/loom/claims/{id}")
}

/// Whether `refs/loom/claims/<id>` exists.
fn is_claimed(repo: &Repo, id: &str) -> bool {
    repo.rev(&claim_ref(id)).is_some()
}

fn ts(value: &Value) -> Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
        .parse()
        .unwrap_or_else(|err| panic!("not a timestamp ({err}): {value}"))
}

/// The subjects of a task's history, newest first.
fn history(repo: &Repo, id: &str) -> Vec<String> {
    repo.git(&["log", "--format=%s", &format!("refs/loom/tasks/{id}")])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The `Loom-Op` trailer of each version of a task, newest first.
fn ops(repo: &Repo, id: &str) -> Vec<String> {
    repo.git(&[
        "log",
        "--format=%(trailers:key=Loom-Op,valueonly,separator=)",
        &format!("refs/loom/tasks/{id}"),
    ])
    .lines()
    .filter(|line| !line.is_empty())
    .map(str::to_owned)
    .collect()
}

/// Claim `id` with `--json` as the default agent, plus `extra` arguments.
fn claim(repo: &Repo, id: &str, extra: &[&str]) -> Value {
    let mut args = vec!["claim", id];
    args.extend_from_slice(extra);
    repo.json(&args)
}

/// Assert `at` lies in `[from + low, to + high]`.
fn assert_between(at: Timestamp, from: Timestamp, low: f64, to: Timestamp, high: f64, what: &str) {
    let earliest = from + SignedDuration::from_secs_f64(low);
    let latest = to + SignedDuration::from_secs_f64(high);
    assert!(
        earliest <= at && at <= latest,
        "{what}: {at} is not within [{earliest}, {latest}]"
    );
}

fn is_token(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[test]
fn a_claim_shows_in_json_and_plain_output() {
    let repo = Repo::new();
    let id = repo.create("Claim me", &[]);
    let other = repo.create("Leave me", &[]);
    assert_eq!(repo.show(&id)["claim"], Value::Null);

    let before = Timestamp::now();
    let task = claim(&repo, &id, &["--ttl", "120"]);
    let after = Timestamp::now();
    assert_eq!(task["id"], json!(id));
    assert_eq!(task["status"], json!("claimed"));
    assert_eq!(task["attempts"], json!(1));
    let held = &task["claim"];
    assert_eq!(held["agent"], json!(AGENT), "LOOM_AGENT names the claimer");
    assert!(is_token(held["token"].as_str().unwrap()), "{held}");
    let claimed_at = ts(&held["claimed_at"]);
    assert!(before <= claimed_at && claimed_at <= after, "{held}");
    assert_eq!(
        ts(&held["expires_at"]).duration_since(claimed_at),
        SignedDuration::from_secs(120)
    );
    assert_eq!(held["heartbeat_at"], held["claimed_at"]);
    assert_eq!(held["progress"], Value::Null);
    assert_eq!(held["percent"], Value::Null);
    assert_eq!(held["attempt"], json!(1));
    let keys: Vec<&String> = held.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        8,
        "agent, token, claimed_at, expires_at, heartbeat_at, progress, percent, attempt: {held}"
    );

    let shown = repo.show(&id);
    assert_eq!(shown["status"], json!("claimed"));
    assert_eq!(shown["claim"], *held, "show --json carries the same claim");
    assert_eq!(repo.show(&other)["claim"], Value::Null);
    assert_eq!(repo.status_of(&other), "ready");

    // The listing carries the claim too, and null for the rest.
    let list = repo.json(&["list"]);
    let by_id = |wanted: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == json!(wanted))
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(&id)["claim"], *held);
    assert_eq!(by_id(&other)["claim"], Value::Null);

    // Plain `claim` prints the id and the token; the default lease comes from the settings.
    let run = repo.run_ok(&["claim", &other]);
    let fields: Vec<&str> = run.stdout.split_whitespace().collect();
    assert_eq!(fields[0], other, "{run}");
    assert_eq!(fields[1], "token", "{run}");
    let stored = repo.show(&other)["claim"].clone();
    assert_eq!(fields[2], stored["token"].as_str().unwrap(), "{run}");
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    assert!(run.stdout.contains("Leave me"), "{run}");
    assert_eq!(
        ts(&stored["expires_at"]).duration_since(ts(&stored["claimed_at"])),
        SignedDuration::from_secs(1800),
        "claims.ttl_secs defaults to 30 minutes"
    );
    assert_ne!(stored["token"], held["token"], "every claim gets its own token");
}

#[test]
fn claim_next_takes_the_best_ready_task_within_its_filters() {
    let repo = Repo::new();
    let low = repo.create("Low", &["-p", "p3"]);
    let mid = repo.create("Mid", &["-p", "p1", "--label", "web"]);
    let urgent = repo.create("Urgent", &["-p", "p0"]);
    let blocked = repo.create("Blocked", &["-p", "p0", "--dep", &low]);
    let normal = repo.create("Normal", &["-p", "p2", "--label", "web"]);

    // Filters that match nothing ready.
    for args in [
        &["claim", "--next", "--label", "nope"][..],
        &["claim", "--next", "--priority", "p0", "--label", "web"],
    ] {
        let refs = repo.all_refs();
        let run = repo.loom(args);
        assert_eq!(run.code, 4, "{run}");
        assert_eq!(run.stdout, "", "{run}");
        assert_eq!(run.stderr, "nothing is ready to claim\n", "{run}");
        assert_eq!(repo.all_refs(), refs, "nothing is written: {run}");
    }

    let pick = |args: &[&str]| -> String {
        let mut all = vec!["claim", "--next"];
        all.extend_from_slice(args);
        let task = repo.json(&all);
        assert_eq!(task["status"], json!("claimed"), "{task}");
        task["id"].as_str().unwrap().to_owned()
    };
    assert_eq!(pick(&["--label", "web"]), mid, "the best task with the label");
    assert_eq!(pick(&["--priority", "p2..p3"]), normal, "the best within the range");
    assert_eq!(
        pick(&[]),
        urgent,
        "the most urgent ready task; the blocked p0 is skipped"
    );
    assert_eq!(pick(&["--priority", "p3"]), low);
    let run = repo.loom(&["claim", "--next"]);
    assert_eq!(run.code, 4, "the blocked task is all that is left: {run}");
    assert_eq!(run.stderr, "nothing is ready to claim\n", "{run}");
    assert_eq!(repo.status_of(&blocked), "blocked");

    // A reversed range means the same range; an unknown priority is a usage error.
    repo.run_ok(&["release", &low]);
    assert_eq!(pick(&["--priority", "p3..p2"]), low);
    let run = repo.loom(&["claim", "--next", "--priority", "p9"]);
    assert_eq!(run.code, 2, "{run}");
}

// Guards: `claim ID --label L` or `claim ID --priority P` silently claiming ID whatever its
// labels or priority: the filters only mean something with --next, so they are usage errors.
#[test]
fn next_filters_without_next_are_usage_errors() {
    let repo = Repo::new();
    let id = repo.create("Plain", &["-p", "p2"]);
    let refs = repo.all_refs();
    for args in [
        &["claim", &id, "--label", "web"][..],
        &["claim", &id, "--priority", "p0"],
    ] {
        let run = repo.loom(args);
        assert_eq!(run.code, 2, "--label and --priority need --next: {run}");
        assert!(run.stderr.contains("--next"), "{run}");
        assert_eq!(repo.all_refs(), refs, "{run}");
    }
}

#[test]
fn only_a_ready_unclaimed_task_can_be_claimed() {
    let repo = Repo::new();
    let dep = repo.create("Dep", &[]);
    let waiting = repo.create("Waiting", &["--dep", &dep]);
    let epic = repo.create("Epic", &["--epic"]);
    let idea = repo.run_ok(&["idea", "Idea"]).stdout.trim().to_owned();

    for (id, view) in [(&waiting, "blocked"), (&epic, "epic"), (&idea, "idea")] {
        let refs = repo.all_refs();
        let run = repo.run_fail(3, &["claim", id]);
        assert!(run.stderr.contains(&format!("{id} is {view}, not ready")), "{run}");
        assert_eq!(repo.all_refs(), refs, "{run}");
    }

    claim(&repo, &dep, &[]);
    let refs = repo.all_refs();
    for agent in [AGENT, "bob"] {
        let run = repo.run_fail(3, &as_agent(agent, &["claim", &dep]));
        assert!(
            run.stderr.contains(&format!("{dep} is claimed by {AGENT}")),
            "names the holder: {run}"
        );
        assert!(run.stderr.contains("claim --next"), "{run}");
    }
    assert_eq!(repo.all_refs(), refs, "a refused claim writes nothing");
    repo.run_fail(2, &["claim", &dep, "--ttl", "0"]);
}

#[test]
fn a_claim_is_recorded_in_the_history_and_its_ref_lives_until_the_task_is_given_back() {
    let repo = Repo::new();
    let done = repo.create("Done", &[]);
    let failed = repo.create("Failed", &[]);
    let released = repo.create("Released", &[]);

    for id in [&done, &failed, &released] {
        assert!(!is_claimed(&repo, id));
        claim(&repo, id, &[]);
        assert!(is_claimed(&repo, id));
        assert_eq!(history(&repo, id)[0], format!("claim by {AGENT} (attempt 1)"));
        assert_eq!(ops(&repo, id), ["claim", "create"]);
        let claims_log = repo.git(&["log", "--format=%s%n%b", &claim_ref(id)]);
        assert!(claims_log.contains("Loom-Op: claim"), "{claims_log}");
        assert!(claims_log.contains(&format!("Loom-Task: {id}")), "{claims_log}");
        let stored = repo.git(&["cat-file", "-p", &format!("{}:claim.json", claim_ref(id))]);
        let stored: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(stored["task"], json!(id));
        assert_eq!(stored["agent"], json!(AGENT));
    }

    repo.run_ok(&["done", &done]);
    repo.run_ok(&["fail", &failed, "--reason", "broken"]);
    repo.run_ok(&["release", &released]);
    for (id, view, op, note) in [
        (
            &done,
            "done",
            "done",
            format!("status pending -> done; done by {AGENT}"),
        ),
        (
            &failed,
            "failed",
            "fail",
            format!("status pending -> failed; failure 1 (retry limit 3) by {AGENT}: broken"),
        ),
        (&released, "ready", "release", format!("released by {AGENT}")),
    ] {
        assert!(!is_claimed(&repo, id), "{op} removes the claim");
        let shown = repo.show(id);
        assert_eq!(shown["status"], json!(view), "{op}");
        assert_eq!(shown["claim"], Value::Null, "{op}");
        assert_eq!(history(&repo, id)[0], note);
        assert_eq!(ops(&repo, id), [op, "claim", "create"]);
    }

    // Claiming again is another attempt.
    assert_eq!(claim(&repo, &released, &[])["claim"]["attempt"], json!(2));
    assert_eq!(history(&repo, &released)[0], format!("claim by {AGENT} (attempt 2)"));
}

#[test]
fn a_claim_that_cannot_be_published_leaves_the_task_untouched() {
    let repo = Repo::new();
    // A fresh lock belongs to a live writer; never take it for a dead one's here.
    repo.set_settings("[locks]\nstale_after_secs = 3600\n");
    let id = repo.create("Locked", &[]);
    let tip = repo.tip(&id);
    // Another writer holds the task ref's lock (and never lets go).
    let lock = repo.dir.join(format!(".git/refs/loom/tasks/{id}.lock"));
    std::fs::write(&lock, "").unwrap();
    let run = repo.run_fail(3, &["claim", &id]);
    assert!(run.stderr.contains("another writer"), "{run}");
    std::fs::remove_file(&lock).unwrap();
    assert!(!is_claimed(&repo, &id), "no claim without the task's record of it");
    assert_eq!(repo.tip(&id), tip);
    assert_eq!(repo.status_of(&id), "ready");
    assert_eq!(claim(&repo, &id, &[])["claim"]["attempt"], json!(1));
}

#[test]
fn done_that_cannot_remove_the_claim_leaves_the_task_open() {
    let repo = Repo::new();
    repo.set_settings("[locks]\nstale_after_secs = 3600\n");
    let id = repo.create("Locked", &[]);
    claim(&repo, &id, &[]);
    let refs = repo.all_refs();
    let lock = repo.dir.join(format!(".git/{}.lock", claim_ref(&id)));
    std::fs::write(&lock, "").unwrap();
    let run = repo.run_fail(3, &["done", &id]);
    assert!(run.stderr.contains("another writer"), "{run}");
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(repo.all_refs(), refs, "neither the task nor its claim moved");
    assert_eq!(repo.status_of(&id), "claimed");
    repo.run_ok(&["done", &id]);
    assert_eq!(repo.status_of(&id), "done");
    assert!(!is_claimed(&repo, &id));
}

// Guards: a claim whose ref cannot be created (a ref `refs/loom/claims/<id>/…` is in its way)
// still writing `claim by … (attempt 1)` into the task's history: the task ref and the claim
// ref must move together or not at all.
#[test]
fn a_claim_blocked_by_a_ref_in_its_way_records_nothing() {
    let repo = Repo::new();
    let id = repo.create("Shadowed", &[]);
    let tip = repo.tip(&id);
    let head = repo.rev("HEAD").unwrap();
    repo.git(&["update-ref", &format!("{}/stray", claim_ref(&id)), &head]);
    let run = repo.loom(&["claim", &id]);
    assert_ne!(run.code, 0, "{run}");
    assert!(!is_claimed(&repo, &id), "{run}");
    assert_eq!(
        repo.tip(&id),
        tip,
        "the task's history must not record a claim that was never granted: {:?}",
        history(&repo, &id)
    );
    assert_eq!(repo.stored_task(&id)["attempts"], json!(0));
}

#[test]
fn only_the_holder_may_act_on_a_claim() {
    let repo = Repo::new();
    let id = repo.create("Mine", &[]);
    let token = claim(&repo, &id, &[])["claim"]["token"].as_str().unwrap().to_owned();

    let refs = repo.all_refs();
    for args in [
        &["heartbeat", &id][..],
        &["heartbeat", &id, "--progress", "stolen"],
        &["release", &id],
        &["done", &id],
        &["fail", &id, "--reason", "sabotage"],
        &["release", &id, "--token", "0000000000000000"],
    ] {
        let run = repo.run_fail(3, &as_agent("bob", args));
        assert!(
            run.stderr.contains(&format!("{id} is claimed by {AGENT}, not by you")),
            "{run}"
        );
        assert!(
            run.stderr.contains("--force") && run.stderr.contains("--token"),
            "{run}"
        );
        assert_eq!(repo.all_refs(), refs, "a refused action changes nothing: {run}");
    }

    // The token proves holdership under another name.
    let beat = repo.json(&as_agent(
        "bob",
        &["heartbeat", &id, "--token", &token, "--progress", "via token"],
    ));
    assert_eq!(beat["claim"]["agent"], json!(AGENT), "the claim stays the claimer's");
    assert_eq!(beat["claim"]["progress"], json!("via token"));
    repo.run_ok(&as_agent("bob", &["release", &id, "--token", &token]));
    assert!(!is_claimed(&repo, &id));
    assert_eq!(repo.status_of(&id), "ready");
    let author = repo.git(&[
        "log",
        "-1",
        "--format=%(trailers:key=Loom-Agent,valueonly)",
        &format!("refs/loom/tasks/{id}"),
    ]);
    assert_eq!(author.trim(), "bob", "the release is bob's doing");

    // The token of an old claim is worthless on a new one.
    claim(&repo, &id, &[]);
    let run = repo.run_fail(3, &as_agent("bob", &["done", &id, "--token", &token]));
    assert!(run.stderr.contains("not by you"), "{run}");

    // --force works, and says so in the task's history.
    let forced = format!("forced by bob (claim held by {AGENT})");
    repo.run_ok(&as_agent("bob", &["heartbeat", &id, "--force", "--percent", "10"]));
    assert_eq!(history(&repo, &id)[0], format!("heartbeat {forced}"));
    assert_eq!(repo.show(&id)["claim"]["percent"], json!(10));
    repo.run_ok(&as_agent("bob", &["release", &id, "--force"]));
    assert_eq!(history(&repo, &id)[0], format!("released, {forced}"));

    claim(&repo, &id, &[]);
    repo.run_ok(&as_agent("bob", &["fail", &id, "--force", "--reason", "gave up"]));
    assert_eq!(
        history(&repo, &id)[0],
        format!("status pending -> failed; failure 1 (retry limit 3) {forced}: gave up")
    );
    assert_eq!(repo.show(&id)["last_failure"], json!("gave up"));

    let other = repo.create("Other", &[]);
    claim(&repo, &other, &[]);
    repo.run_ok(&as_agent("bob", &["done", &other, "--force"]));
    assert_eq!(
        history(&repo, &other)[0],
        format!("status pending -> done; done, {forced}")
    );
    assert!(!is_claimed(&repo, &other));
    assert_eq!(repo.status_of(&other), "done");
}

#[test]
fn heartbeat_extends_the_lease_and_reports_progress() {
    let repo = Repo::new();
    let id = repo.create("Long job", &[]);
    let first = claim(&repo, &id, &["--ttl", "100"])["claim"].clone();
    let task_tip = repo.tip(&id);

    let beat = repo.json(&["heartbeat", &id, "--progress", "compiling", "--percent", "40"]);
    assert_eq!(
        beat["id"],
        json!(id),
        "heartbeat --json is the task with its claim: {beat}"
    );
    assert_eq!(beat["status"], json!("claimed"));
    let beat = beat["claim"].clone();
    let heartbeat_at = ts(&beat["heartbeat_at"]);
    assert!(heartbeat_at > ts(&first["heartbeat_at"]), "{beat}");
    assert_eq!(ts(&beat["expires_at"]), heartbeat_at + SignedDuration::from_secs(100));
    assert!(ts(&beat["expires_at"]) > ts(&first["expires_at"]), "the lease moved on");
    assert_eq!(beat["claimed_at"], first["claimed_at"]);
    assert_eq!(beat["token"], first["token"]);
    assert_eq!(beat["attempt"], json!(1));
    assert_eq!((&beat["progress"], &beat["percent"]), (&json!("compiling"), &json!(40)));
    assert_eq!(repo.show(&id)["claim"], beat, "show --json sees the renewed claim");
    assert_eq!(repo.tip(&id), task_tip, "a heartbeat only touches the claim");
    let claim_log = repo.git(&["log", "--format=%s", &claim_ref(&id)]);
    assert_eq!(
        claim_log.lines().collect::<Vec<_>>(),
        ["heartbeat: compiling (40%)", &format!("claim by {AGENT}")]
    );

    // Progress stays until replaced; the percentage alone can move.
    let run = repo.run_ok(&["heartbeat", &id, "--percent", "60"]);
    assert!(run.stdout.starts_with(&format!("{id}  by {AGENT} for ")), "{run}");
    assert!(run.stdout.contains("left, attempt 1, 60%: compiling"), "{run}");
    let shown = repo.run_ok(&["show", &id]).stdout;
    let line = shown.lines().find(|l| l.trim_start().starts_with("claimed")).unwrap();
    assert!(line.contains(&format!("by {AGENT} for ")), "{shown}");
    assert!(
        line.contains("lease 1m") && line.ends_with(", attempt 1, 60%: compiling"),
        "{shown}"
    );
    assert!(shown.contains("status       claimed"), "{shown}");

    repo.run_fail(2, &["heartbeat", &id, "--percent", "101"]);

    repo.run_ok(&["release", &id]);
    let refs = repo.all_refs();
    let run = repo.run_fail(3, &["heartbeat", &id]);
    assert!(run.stderr.contains(&format!("{id} is not claimed")), "{run}");
    assert_eq!(repo.all_refs(), refs);
}

#[test]
fn done_stores_what_the_work_produced_and_unblocks_dependents() {
    let repo = Repo::new();
    let first = repo.create("First", &[]);
    let second = repo.create("Second", &["--dep", &first]);
    let third = repo.create("Third", &["--dep", &first, "--dep", &second]);

    let run = repo.run_fail(3, &["done", &first]);
    assert!(run.stderr.contains(&format!("{first} is not claimed")), "{run}");

    claim(&repo, &first, &[]);
    let run = repo.run_ok(&["done", &first, "--output", r#"{"a":1}"#, "--branch", "feat/first"]);
    assert_eq!(
        run.stdout,
        format!("{first}  status pending -> done; done by {AGENT}\n")
    );
    let shown = repo.show(&first);
    assert_eq!(shown["status"], json!("done"));
    assert_eq!(shown["output"], json!({"a": 1}), "JSON output is kept as JSON");
    assert_eq!(shown["branch"], json!("feat/first"));
    assert_eq!(shown["claim"], Value::Null);
    assert!(!is_claimed(&repo, &first));
    assert_eq!(repo.status_of(&second), "ready");
    assert_eq!(repo.status_of(&third), "blocked");

    claim(&repo, &second, &[]);
    let done = repo.json(&["done", &second, "--output", "all good, see log"]);
    assert_eq!(done["status"], json!("done"));
    assert_eq!(
        done["output"],
        json!("all good, see log"),
        "text output is kept as a string"
    );
    assert_eq!(done["branch"], Value::Null);
    let human = repo.run_ok(&["show", &second]).stdout;
    assert!(human.contains("output       all good, see log"), "{human}");
    assert_eq!(repo.status_of(&third), "ready");

    let run = repo.run_fail(3, &["done", &second]);
    assert!(run.stderr.contains("not claimed"), "done twice: {run}");
}

#[test]
fn done_on_the_last_child_closes_the_epic() {
    let repo = Repo::new();
    let epic = repo.create("Epic", &["--epic"]);
    let one = repo.create("One", &["--parent", &epic]);
    let two = repo.create("Two", &["--parent", &epic]);

    claim(&repo, &one, &[]);
    repo.run_ok(&["done", &one]);
    assert_eq!(repo.status_of(&epic), "epic");
    claim(&repo, &two, &[]);
    repo.run_ok(&["fail", &two, "--reason", "flaky"]);
    assert_eq!(repo.status_of(&epic), "epic", "a failed child keeps the epic open");
    repo.run_ok(&["reset", &two]);
    claim(&repo, &two, &[]);
    let run = repo.run_ok(&["done", &two]);
    assert_eq!(repo.status_of(&epic), "done");
    assert!(run.stdout.contains(&epic), "the closed epic is reported: {run}");
    assert_eq!(ops(&repo, &epic)[0], "done");
}

#[test]
fn fail_backs_off_and_a_due_task_is_ready_again() {
    let repo = Repo::new();
    let id = repo.create("Flaky", &[]);
    let dependent = repo.create("After", &["--dep", &id]);
    claim(&repo, &id, &[]);

    let run = repo.run_fail(2, &["fail", &id, "--reason", "  "]);
    assert!(run.stderr.contains("reason"), "{run}");
    let before = Timestamp::now();
    let failed = repo.json(&["fail", &id, "--reason", "tests time out"]);
    let after = Timestamp::now();
    assert_eq!(failed["status"], json!("failed"));
    assert_eq!(failed["retries"], json!(1));
    assert_eq!(failed["last_failure"], json!("tests time out"));
    // The default base is 30 s, so the first retry waits 24 to 36 s.
    assert_between(ts(&failed["retry_after"]), before, 24.0, after, 36.0, "first retry");
    assert!(!is_claimed(&repo, &id));
    assert_eq!(repo.status_of(&dependent), "blocked");

    // While backing off the task cannot be claimed.
    let refs = repo.all_refs();
    let run = repo.run_fail(3, &["claim", &id]);
    assert!(run.stderr.contains(&format!("{id} is failed, not ready")), "{run}");
    assert_eq!(repo.loom(&["claim", "--next"]).code, 4);
    let run = repo.loom(&["sweep"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, "nothing to sweep\n"), "{run}");
    assert_eq!(repo.all_refs(), refs);
    let human = repo.run_ok(&["show", &id]).stdout;
    assert!(human.contains("failures      1, next try in "), "{human}");
    assert!(human.contains("last failure  tests time out"), "{human}");
}

#[test]
fn the_retry_delay_is_capped_by_max_secs_and_sweep_revives_the_task() {
    let repo = Repo::new();
    repo.set_settings("[retry]\nbase_secs = 1000\nmax_secs = 1\n");
    let id = repo.create("Capped", &[]);
    claim(&repo, &id, &[]);
    let before = repo.env.now();
    let failed = repo.json(&["fail", &id, "--reason", "once"]);
    let after = repo.env.now();
    let retry_after = ts(&failed["retry_after"]);
    assert_between(retry_after, before, 0.8, after, 1.2, "capped retry");

    repo.env.advance_clock_past(retry_after);
    let swept = repo.json(&["sweep"]);
    assert_eq!(swept["revived"], json!([id]), "{swept}");
    assert_eq!(swept["expired"], json!([]), "{swept}");
    assert_eq!(repo.stored_task(&id)["status"], json!("pending"));
}

#[test]
fn failures_back_off_exponentially_until_the_task_is_dead() {
    let repo = Repo::new();
    repo.set_settings("[retry]\nbase_secs = 1\nmax_secs = 2\nlimit = 2\n");
    let id = repo.create("Doomed", &[]);

    // Failure 1: retry after 1 s ± 20 %.
    claim(&repo, &id, &[]);
    let before = repo.env.now();
    let failed = repo.json(&["fail", &id, "--reason", "first"]);
    let after = repo.env.now();
    let retry_after = ts(&failed["retry_after"]);
    assert_between(retry_after, before, 0.8, after, 1.2, "retry 1");
    assert_eq!(
        history(&repo, &id)[0],
        format!("status pending -> failed; failure 1 (retry limit 2) by {AGENT}: first")
    );

    // Once the backoff has passed the failed task is shown ready and can be claimed again.
    repo.env.advance_clock_past(retry_after);
    let shown = repo.show(&id);
    assert_eq!(shown["status"], json!("ready"));
    assert_eq!(
        repo.stored_task(&id)["status"],
        json!("failed"),
        "stored status is unchanged"
    );
    let ready = repo.json(&["ready"]);
    assert_eq!(ready[0]["id"], json!(id), "{ready}");
    let again = repo.json(&["claim", "--next"]);
    assert_eq!(again["id"], json!(id));
    assert_eq!(again["status"], json!("claimed"));
    assert_eq!(again["claim"]["attempt"], json!(2));
    assert_eq!(repo.stored_task(&id)["status"], json!("pending"));
    assert_eq!(
        history(&repo, &id)[0],
        format!("status failed -> pending; claim by {AGENT} (attempt 2)")
    );

    // Failure 2: retry after 2 s ± 20 %.
    let before = repo.env.now();
    let failed = repo.json(&["fail", &id, "--reason", "second"]);
    let after = repo.env.now();
    assert_eq!(failed["retries"], json!(2));
    let retry_after = ts(&failed["retry_after"]);
    assert_between(retry_after, before, 1.6, after, 2.4, "retry 2");

    // The sweeper makes a due failed task pending again.
    repo.env.advance_clock_past(retry_after);
    let run = repo.run_ok(&["sweep"]);
    assert_eq!(run.stdout, format!("{id}  pending again: retry backoff passed\n"));
    assert_eq!(repo.stored_task(&id)["status"], json!("pending"));
    assert_eq!(repo.status_of(&id), "ready");
    assert_eq!(
        history(&repo, &id)[0],
        "status failed -> pending; retry: backoff passed"
    );
    assert_eq!(ops(&repo, &id)[0], "sweep");

    // Failure 3 is past the limit: dead, and no longer retried.
    assert_eq!(claim(&repo, &id, &[])["claim"]["attempt"], json!(3));
    let dead = repo.json(&["fail", &id, "--reason", "third"]);
    assert_eq!(dead["status"], json!("dead"));
    assert_eq!(dead["retries"], json!(3));
    assert_eq!(dead["retry_after"], Value::Null);
    assert_eq!(dead["last_failure"], json!("third"));
    let run = repo.run_fail(3, &["claim", &id]);
    assert!(run.stderr.contains("is dead, not ready"), "{run}");

    let listed = repo.json(&["dead"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], json!(id));
    let human = repo.run_ok(&["dead"]).stdout;
    assert!(
        human.starts_with(&id) && human.contains("3 failures") && human.contains("third"),
        "{human}"
    );

    let retried = repo.json(&["dead", "--retry", &id]);
    assert_eq!(retried["status"], json!("ready"));
    assert_eq!(retried["retries"], json!(0));
    assert_eq!(retried["retry_after"], Value::Null);
    assert_eq!(repo.stored_task(&id)["status"], json!("pending"));
    assert_eq!(repo.json(&["dead"]), json!([]));
    let run = repo.run_fail(3, &["dead", "--retry", &id]);
    assert!(run.stderr.contains("not dead"), "{run}");
}

#[test]
fn reset_returns_tasks_to_pending_and_removes_stuck_claims() {
    let repo = Repo::new();
    repo.set_settings("[retry]\nlimit = 0\n");
    let failed = repo.create("Failed", &[]);
    let dead = repo.create("Dead", &[]);
    let cancelled = repo.create("Cancelled", &[]);
    let stuck = repo.create("Stuck", &[]);
    let done = repo.create("Done", &[]);

    // With limit 0 the first failure is final; a task's own max_retries overrides it.
    claim(&repo, &dead, &[]);
    assert_eq!(
        repo.json(&["fail", &dead, "--reason", "fatal"])["status"],
        json!("dead")
    );
    let mut task = repo.stored_task(&failed);
    task["max_retries"] = json!(5);
    repo.write_entity(
        &format!("refs/loom/tasks/{failed}"),
        &[("task.json", &serde_json::to_vec_pretty(&task).unwrap())],
        Some(&repo.tip(&failed)),
    );
    claim(&repo, &failed, &[]);
    let shown = repo.json(&["fail", &failed, "--reason", "transient"]);
    assert_eq!(shown["status"], json!("failed"));
    repo.run_ok(&["cancel", &cancelled]);
    claim(&repo, &stuck, &[]);

    for id in [&failed, &dead, &cancelled, &stuck] {
        let reset = repo.json(&["reset", id]);
        assert_eq!(reset["status"], json!("ready"), "{reset}");
        assert_eq!(reset["retries"], json!(0));
        assert_eq!(reset["retry_after"], Value::Null);
        assert_eq!(repo.stored_task(id)["status"], json!("pending"));
        assert!(!is_claimed(&repo, id));
    }
    assert_eq!(history(&repo, &stuck)[0], "claim removed by reset");
    assert_eq!(ops(&repo, &stuck)[0], "reset");
    assert_eq!(
        repo.show(&failed)["last_failure"],
        json!("transient"),
        "kept without --clear-output"
    );
    let run = repo.run_fail(3, &["heartbeat", &stuck]);
    assert!(run.stderr.contains("not claimed"), "the old holder lost it: {run}");

    // --clear-output forgets the output and the last failure.
    let mut task = repo.stored_task(&failed);
    task["output"] = json!({"partial": true});
    repo.write_entity(
        &format!("refs/loom/tasks/{failed}"),
        &[("task.json", &serde_json::to_vec_pretty(&task).unwrap())],
        Some(&repo.tip(&failed)),
    );
    assert_eq!(repo.json(&["reset", &failed])["output"], json!({"partial": true}));
    let cleared = repo.json(&["reset", &failed, "--clear-output"]);
    assert_eq!(cleared["output"], Value::Null);
    assert_eq!(cleared["last_failure"], Value::Null);

    // Done is final.
    claim(&repo, &done, &[]);
    repo.run_ok(&["done", &done, "--output", "result"]);
    let refs = repo.all_refs();
    for args in [&["reset", &done][..], &["reset", &done, "--clear-output"]] {
        let run = repo.run_fail(3, args);
        assert!(run.stderr.contains("from done to pending"), "{run}");
    }
    assert_eq!(repo.all_refs(), refs);
    assert_eq!(repo.show(&done)["output"], json!("result"));
}

#[test]
fn sweep_takes_back_expired_leases_but_not_renewed_ones() {
    let repo = Repo::new();
    let expiring = repo.create("Expiring", &[]);
    let renewed = repo.create("Renewed", &[]);
    claim(&repo, &expiring, &["--ttl", "1"]);
    repo.json(&as_agent("bob", &["claim", &renewed, "--ttl", "2"]));

    repo.env.advance_clock(1.2);
    repo.run_ok(&as_agent("bob", &["heartbeat", &renewed]));
    repo.env.advance_clock(1.0);
    // Both original leases have run out; only the renewed one still holds.
    let swept = repo.json(&["sweep"]);
    assert_eq!(swept["expired"], json!([{"id": expiring, "agent": AGENT}]), "{swept}");
    assert_eq!(swept["revived"], json!([]), "{swept}");
    assert!(!is_claimed(&repo, &expiring));
    assert!(is_claimed(&repo, &renewed));
    assert_eq!(repo.status_of(&expiring), "ready");
    assert_eq!(repo.status_of(&renewed), "claimed");
    assert_eq!(
        history(&repo, &expiring)[0],
        format!("lease of {AGENT} expired (attempt 1)")
    );
    assert_eq!(ops(&repo, &expiring)[0], "sweep");

    // The old holder lost the task: nothing it does with it counts any more.
    let refs = repo.all_refs();
    for args in [&["done", &expiring][..], &["heartbeat", &expiring]] {
        let run = repo.run_fail(3, args);
        assert!(run.stderr.contains(&format!("{expiring} is not claimed")), "{run}");
    }
    assert_eq!(repo.all_refs(), refs);
    // And once someone else has it, the old holder is not them.
    assert_eq!(
        repo.json(&as_agent("carol", &["claim", &expiring]))["claim"]["attempt"],
        json!(2)
    );
    let run = repo.run_fail(3, &["done", &expiring]);
    assert!(run.stderr.contains("claimed by carol, not by you"), "{run}");

    let refs = repo.all_refs();
    let run = repo.loom(&["sweep"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run}");
    assert_eq!(run.stderr, "nothing to sweep\n");
    assert_eq!(repo.all_refs(), refs);
}

#[test]
fn recover_tells_active_stale_and_expired_claims_apart() {
    let repo = Repo::new();
    repo.set_settings("[claims]\nheartbeat_secs = 1\n");
    let stale = repo.create("Stale", &[]);
    let expired = repo.create("Expired", &[]);
    let active = repo.create("Active", &[]);
    claim(&repo, &stale, &["--ttl", "60"]);
    repo.json(&as_agent("bob", &["claim", &expired, "--ttl", "1"]));
    claim(&repo, &active, &["--ttl", "60"]);

    repo.env.advance_clock(2.0);
    repo.run_ok(&["heartbeat", &active, "--progress", "alive"]);
    repo.env.advance_clock(1.5);

    let refs = repo.all_refs();
    let judged = repo.json(&["recover"]);
    let entry = |judged: &Value, id: &str| -> Value {
        judged
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == json!(id))
            .unwrap_or_else(|| panic!("{id} missing: {judged}"))
            .clone()
    };
    assert_eq!(judged.as_array().unwrap().len(), 3, "{judged}");
    for (id, health, requeue) in [
        (&stale, "stale", true),
        (&expired, "expired", true),
        (&active, "active", false),
    ] {
        let row = entry(&judged, id);
        assert_eq!(row["health"], json!(health), "{row}");
        assert_eq!(row["requeue"], json!(requeue), "{row}");
        assert_eq!(row["requeued"], json!(false), "a dry run requeues nothing: {row}");
        assert_eq!(row["claim"], repo.show(id)["claim"], "{row}");
    }
    assert_eq!(entry(&judged, &expired)["claim"]["agent"], json!("bob"));
    let human = repo.run_ok(&["recover"]).stdout;
    for (id, health, action) in [
        (&stale, "stale", "would requeue"),
        (&expired, "expired", "would requeue"),
        (&active, "active", "keep"),
    ] {
        let line = human.lines().find(|l| l.starts_with(id.as_str())).unwrap();
        assert!(line.contains(health) && line.ends_with(action), "{human}");
    }
    assert_eq!(repo.all_refs(), refs, "a dry run changes nothing");

    let done = repo.json(&["recover", "--execute"]);
    for (id, requeued) in [(&stale, true), (&expired, true), (&active, false)] {
        assert_eq!(entry(&done, id)["requeued"], json!(requeued), "{done}");
        assert_eq!(is_claimed(&repo, id), !requeued);
    }
    assert_eq!(repo.status_of(&stale), "ready");
    assert_eq!(repo.status_of(&expired), "ready");
    assert_eq!(repo.status_of(&active), "claimed");
    assert_eq!(
        history(&repo, &stale)[0],
        format!("recovered from {AGENT} (stale claim)")
    );
    assert_eq!(history(&repo, &expired)[0], "recovered from bob (expired claim)");
    assert_eq!(ops(&repo, &stale)[0], "recover");
    assert_eq!(repo.show(&active)["claim"]["progress"], json!("alive"));
}

#[test]
fn a_claimed_task_refuses_status_changes_behind_its_holder() {
    let repo = Repo::new();
    let id = repo.create("Held", &[]);
    let upstream = repo.create("Upstream", &[]);
    claim(&repo, &id, &[]);

    let refs = repo.all_refs();
    for args in [
        &["update", &id, "--status", "done"][..],
        &["update", &id, "--status", "cancelled"],
        &["update", &id, "--status", "pending"],
        &["cancel", &id],
        &["cancel", &id, "--cascade"],
    ] {
        for agent in [AGENT, "bob"] {
            let run = repo.run_fail(3, &as_agent(agent, args));
            assert!(run.stderr.contains(&format!("{id} is claimed by {AGENT}")), "{run}");
        }
    }
    assert_eq!(repo.all_refs(), refs);

    // Other fields may still change, and a cascade that would reach the claimed task is
    // refused as a whole.
    repo.run_ok(&["update", &id, "--title", "Renamed"]);
    repo.run_ok(&["dep", "add", &id, &upstream]);
    assert_eq!(repo.status_of(&id), "claimed");
    let refs = repo.all_refs();
    let run = repo.run_fail(3, &["cancel", &upstream, "--cascade"]);
    assert!(run.stderr.contains(&format!("{id} is claimed by {AGENT}")), "{run}");
    assert_eq!(repo.all_refs(), refs);
    assert_eq!(repo.status_of(&upstream), "ready");
}

#[test]
fn status_lists_the_claims() {
    let repo = Repo::new();
    // Every command runs at one moment, so the lease left is exactly the ttl.
    repo.env.stop_clock();
    let id = repo.create("Busy", &[]);
    let idle = repo.create("Idle", &[]);
    let plain = repo.run_ok(&["status"]).stdout;
    assert!(!plain.contains("claims:"), "{plain}");
    assert_eq!(repo.json(&["status"])["claims"], json!([]));

    let held = claim(&repo, &id, &["--ttl", "600"])["claim"].clone();
    repo.run_ok(&["heartbeat", &id, "--progress", "writing tests", "--percent", "75"]);
    let plain = repo.run_ok(&["status"]).stdout;
    let lines: Vec<&str> = plain.lines().collect();
    let header = lines
        .iter()
        .position(|l| *l == "claims:")
        .unwrap_or_else(|| panic!("{plain}"));
    let row = lines[header + 1];
    assert!(row.starts_with(&format!("  {id}  by {AGENT} for ")), "{plain}");
    assert!(row.contains(", lease 10m00s left,"), "{plain}");
    assert!(row.ends_with("left, attempt 1, 75%: writing tests"), "{plain}");
    assert!(!plain.contains(&format!("  {idle}  by")), "{plain}");
    assert!(plain.contains("claimed  1"), "{plain}");

    let status = repo.json(&["status"]);
    assert_eq!(status["counts"]["claimed"], json!(1));
    assert_eq!(status["ready"], json!(1));
    let claims = status["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 1, "{status}");
    let entry = &claims[0];
    assert_eq!(entry["id"], json!(id));
    assert_eq!(entry["agent"], json!(AGENT));
    assert_eq!(entry["token"], held["token"]);
    assert_eq!(entry["progress"], json!("writing tests"));
    assert_eq!(entry["percent"], json!(75));
    assert_eq!(entry["attempt"], json!(1));
    assert_eq!(entry["claimed_at"], held["claimed_at"]);
}

// Guards: a `--json` task object reporting `"status": "claimed"` with `"claim": null`, which
// tells a reader the task is not claimed.
#[test]
fn every_json_task_object_of_a_claimed_task_carries_its_claim() {
    let repo = Repo::new();
    let id = repo.create("Held", &[]);
    let other = repo.create("Other", &[]);
    let held = claim(&repo, &id, &[])["claim"].clone();
    for args in [
        &["show", &id][..],
        &["update", &id, "--title", "Renamed"],
        &["update", &id, "--add-label", "x"],
        &["dep", "add", &id, &other],
    ] {
        let task = repo.json(args);
        assert_eq!(task["status"], json!("claimed"), "{args:?}: {task}");
        assert_eq!(task["claim"], held, "{args:?}: {task}");
    }
}

#[test]
fn a_task_can_override_the_retry_limit() {
    let repo = Repo::new();
    let id = repo.create("Fragile", &["--max-retries", "1"]);
    assert_eq!(repo.show(&id)["max_retries"], 1);
    claim(&repo, &id, &[]);
    repo.run_ok(&["fail", &id, "--reason", "first"]);
    assert_eq!(repo.show(&id)["status"], "failed", "one failure is within its limit");
    repo.run_ok(&["reset", &id]);
    claim(&repo, &id, &[]);
    repo.run_ok(&["fail", &id, "--reason", "again"]);
    repo.run_ok(&["update", &id, "--max-retries", "0"]);
    repo.run_ok(&["reset", &id]);
    claim(&repo, &id, &[]);
    repo.run_ok(&["fail", &id, "--reason", "no retries allowed"]);
    assert_eq!(
        repo.show(&id)["status"],
        "dead",
        "with a limit of 0 the first failure is final"
    );
}

/// Put back a claim ref that was deleted, as a writer killed between the task's update and the
/// claim's deletion would leave it.
fn leave_void_claim(repo: &Repo, id: &str, claim_commit: &str) {
    repo.git(&["update-ref", &claim_ref(id), claim_commit, ""]);
}

// Guards: a void claim coming back to life when its task is reopened.
#[test]
fn a_void_claim_never_counts_and_is_removed_when_the_task_is_reopened() {
    let repo = Repo::new();
    let id = repo.create("Flaky", &[]);
    claim(&repo, &id, &[]);
    let claim_commit = repo.rev(&claim_ref(&id)).unwrap();
    repo.run_ok(&["fail", &id, "--reason", "boom"]);
    leave_void_claim(&repo, &id, &claim_commit);

    let shown = repo.show(&id);
    assert_eq!(shown["claim"], Value::Null, "a claim on a failed task is void: {shown}");
    assert_ne!(shown["status"], json!("claimed"));
    let run = repo.run_fail(3, &["heartbeat", &id]);
    assert!(run.stderr.contains("not claimed"), "{run}");

    repo.run_ok(&["update", &id, "--status", "pending"]);
    assert!(!is_claimed(&repo, &id), "reopening the task removed the void claim");
    assert_eq!(repo.status_of(&id), "ready");

    // On a done task, sweep removes it.
    claim(&repo, &id, &[]);
    let claim_commit = repo.rev(&claim_ref(&id)).unwrap();
    repo.run_ok(&["done", &id]);
    leave_void_claim(&repo, &id, &claim_commit);
    assert_eq!(repo.status_of(&id), "done");
    let swept = repo.json(&["sweep"]);
    assert_eq!(swept["void"][0]["id"], json!(id), "{swept}");
    assert!(!is_claimed(&repo, &id));
}

// Guards: a stray claim on a task that no longer exists stopping every sweep.
#[test]
fn sweep_removes_an_expired_claim_whose_task_is_gone() {
    let repo = Repo::new();
    let gone = repo.create("Gone", &[]);
    let kept = repo.create("Kept", &[]);
    claim(&repo, &gone, &["--ttl", "1"]);
    claim(&repo, &kept, &["--ttl", "1"]);
    repo.git(&["update-ref", "-d", &format!("refs/loom/tasks/{gone}")]);
    repo.env.advance_clock(1.5);
    let swept = repo.json(&["sweep"]);
    let expired: Vec<&str> = swept["expired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(expired.contains(&kept.as_str()), "{swept}");
    assert!(!is_claimed(&repo, &gone), "the stray claim was removed: {swept}");
}
