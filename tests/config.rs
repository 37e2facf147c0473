//! Settings through `git loom config`, bounded durations, and the command-line details a new
//! user runs into first: `next` never stranding a claim, `-C` for file arguments, `-q`, and
//! JSON for "nothing ready".

use crate::common;

use common::{Repo, TestEnv};
use serde_json::Value;

const META: &str = "refs/loom/meta";

/// The lease a `claim --json` result was granted, in seconds.
fn lease_secs(held: &Value) -> i64 {
    let at = |field: &str| {
        held["claim"][field]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    at("expires_at").duration_since(at("claimed_at")).as_secs()
}

fn stored_settings(repo: &Repo) -> String {
    repo.git(&["cat-file", "-p", "refs/loom/meta:loom.toml"])
}

#[test]
fn config_lists_reads_sets_and_unsets_with_history() {
    let repo = Repo::new();
    let list = repo.json(&["config"]);
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    for key in [
        "claims.ttl_secs",
        "retry.base_secs",
        "verify.timeout_secs",
        "worktrees.target",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(repo.run_ok(&["config", "claims.ttl_secs"]).stdout, "1800\n");

    let set = repo.loom(&["config", "claims.ttl_secs", "600"]);
    assert_eq!((set.code, set.stdout.as_str()), (0, ""), "{set}");
    assert_eq!(set.stderr, "claims.ttl_secs = 600\n");
    assert!(stored_settings(&repo).contains("ttl_secs = 600"));
    // The comment at the top of the file survives the edit.
    assert!(stored_settings(&repo).starts_with("# git-loom shared settings"));
    // A claim now takes the new lease.
    let id = repo.create("work", &[]);
    let claim = repo.json(&["claim", &id]);
    assert_eq!(lease_secs(&claim), 600);

    let again = repo.json(&["config", "claims.ttl_secs", "600"]);
    assert_eq!(again["changed"], false);
    let unset = repo.json(&["config", "--unset", "claims.ttl_secs"]);
    assert_eq!(
        (unset["value"].clone(), unset["default"].clone()),
        (Value::from(1800), Value::Bool(true))
    );
    assert!(!stored_settings(&repo).contains("ttl_secs"));

    let log = repo.git(&["log", "--format=%s", META]);
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(
        subjects[..2],
        ["config: unset claims.ttl_secs", "config: set claims.ttl_secs = 600"]
    );
    assert!(
        repo.git(&["log", "-1", "--format=%B", META])
            .contains("Loom-Op: config")
    );
}

#[test]
fn config_refuses_unknown_keys_and_bad_values_and_writes_nothing() {
    let repo = Repo::new();
    let before = repo.rev(META);
    let unknown = repo.run_fail(2, &["config", "claims.nope", "1"]);
    assert!(
        unknown.stderr.contains("claims.ttl_secs"),
        "lists the known keys: {unknown}"
    );
    repo.run_fail(2, &["config", "claims.ttl_secs", "soon"]);
    repo.run_fail(2, &["config", "claims.ttl_secs", "-5"]);
    let zero = repo.run_fail(2, &["config", "claims.ttl_secs", "0"]);
    assert!(zero.stderr.contains("claims.ttl_secs = 0 is out of range"), "{zero}");
    repo.run_fail(2, &["config", "retry.max_secs", "1000000000000"]);
    repo.run_fail(2, &["config", "tasks.default_priority", "p9"]);
    assert_eq!(repo.rev(META), before, "nothing was written");
    // A valid priority is taken and used.
    assert_eq!(repo.loom(&["config", "tasks.default_priority", "p1"]).code, 0);
    let id = repo.create("prioritised", &[]);
    assert_eq!(repo.show(&id)["priority"], "p1");
}

// Guards: a loom.toml holding durations of 10^12 seconds aborted the process (SIGABRT), and
// with it no task could be claimed at all.
#[test]
fn out_of_range_settings_are_an_error_naming_key_and_ref_and_config_repairs_them() {
    let repo = Repo::new();
    let id = repo.create("work", &[]);
    repo.set_settings("[claims]\nttl_secs = 1000000000000\n[retry]\nmax_secs = 1000000000000\n");
    let claim = repo.run_fail(1, &["claim", &id]);
    assert!(claim.stderr.contains("refs/loom/meta"), "{claim}");
    assert!(
        claim.stderr.contains("claims.ttl_secs = 1000000000000 is out of range"),
        "{claim}"
    );
    assert!(claim.stderr.contains("git loom config claims.ttl_secs"), "{claim}");
    repo.run_fail(1, &["list"]);
    assert!(repo.rev(&format!("refs/loom/claims/{id}")).is_none());

    // Repaired one key at a time, although the other is still out of range.
    let listed = repo.run_ok(&["config", "--list"]);
    assert!(listed.stdout.contains("claims.ttl_secs = 1000000000000"), "{listed}");
    repo.loom(&["config", "claims.ttl_secs", "900"]);
    let still = repo.run_fail(1, &["claim", &id]);
    assert!(still.stderr.contains("retry.max_secs"), "{still}");
    let fixed = repo.loom(&["config", "--unset", "retry.max_secs"]);
    assert_eq!(fixed.code, 0, "{fixed}");
    let held = repo.json(&["claim", &id]);
    assert_eq!(lease_secs(&held), 900);
}

// Guards: `ttl_secs = 0` in settings was accepted while `--ttl 0` was refused.
#[test]
fn a_zero_lease_in_settings_is_refused_like_the_flag() {
    let repo = Repo::new();
    repo.set_settings("[claims]\nttl_secs = 0\n");
    let run = repo.run_fail(1, &["ready"]);
    assert!(run.stderr.contains("claims.ttl_secs = 0"), "{run}");
}

// Guards: `claim --ttl 300000000000` aborted the process.
#[test]
fn an_out_of_range_ttl_flag_is_a_usage_error() {
    let repo = Repo::new();
    let id = repo.create("work", &[]);
    for ttl in ["300000000000", "0"] {
        let run = repo.loom(&["claim", &id, "--ttl", ttl]);
        assert_eq!(run.code, 2, "{run}");
        let run = repo.loom(&["next", "--ttl", ttl]);
        assert_eq!(run.code, 2, "{run}");
    }
    assert!(repo.rev(&format!("refs/loom/claims/{id}")).is_none());
    let held = repo.json(&["claim", &id, "--ttl", "31536000"]);
    assert_eq!(lease_secs(&held), 31536000);
}

// Guards: a claim.json with `ttl_secs` of 10^12 aborted every command that read it.
#[test]
fn a_claim_blob_with_a_huge_lease_is_reported_and_the_rest_works() {
    let repo = Repo::new();
    let id = repo.create("damaged", &[]);
    let other = repo.create("healthy", &[]);
    repo.json(&["claim", &id]);
    let claim_ref = format!("refs/loom/claims/{id}");
    let mut claim: Value =
        serde_json::from_str(&repo.git(&["cat-file", "-p", &format!("{claim_ref}:claim.json")])).unwrap();
    claim["ttl_secs"] = Value::from(1_000_000_000_000u64);
    let tip = repo.rev(&claim_ref).unwrap();
    repo.write_entity(
        &claim_ref,
        &[("claim.json", &serde_json::to_vec(&claim).unwrap())],
        Some(&tip),
    );

    let run = repo.loom(&["heartbeat", &id]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains(&claim_ref) && run.stderr.contains("ttl_secs"),
        "{run}"
    );
    let sweep = repo.loom(&["sweep"]);
    assert!(sweep.code == 0 || sweep.code == 1, "no abort: {sweep}");
    assert!(!sweep.stderr.contains("panicked"), "{sweep}");
    let held = repo.json(&["claim", &other]);
    assert_eq!(held["id"], other.as_str());
}

// Guards: `next` in a bare repository claimed a task, then failed with exit 2, leaving the
// claim held for 30 minutes.
#[test]
fn next_in_a_bare_repository_claims_nothing_and_says_why() {
    let repo = Repo::new();
    let id = repo.create("work", &[]);
    let bare = repo.env.root().join("bare.git");
    repo.env.git(
        repo.env.root(),
        &[
            "clone",
            "-q",
            "--bare",
            repo.dir.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    repo.env.git(
        &bare,
        &["fetch", "-q", repo.dir.to_str().unwrap(), "refs/loom/*:refs/loom/*"],
    );
    let run = repo.env.loom(&bare, &["next"]);
    assert_eq!(run.code, 1, "an environment problem, not a usage error: {run}");
    assert!(
        run.stderr.contains("bare repository") && run.stderr.contains("hint:"),
        "{run}"
    );
    let claims = repo.env.git(&bare, &["for-each-ref", "refs/loom/claims/"]);
    assert_eq!(claims, "", "no claim left behind for {id}");
}

// Guards: `next` in a repository whose branch has no commits left a claim behind.
#[test]
fn next_with_an_unborn_branch_claims_nothing() {
    let env = TestEnv::new();
    let dir = env.root().join("empty");
    std::fs::create_dir_all(&dir).unwrap();
    env.git(&dir, &["init", "-q", "-b", "main"]);
    assert_eq!(env.loom(&dir, &["init", "-q"]).code, 0);
    let created = env.loom(&dir, &["create", "work"]);
    assert_eq!(created.code, 0, "{created}");
    let run = env.loom(&dir, &["next"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("no commits yet"), "{run}");
    assert_eq!(env.git(&dir, &["for-each-ref", "refs/loom/claims/"]), "");
}

// Guards: when a step after claiming fails, `next` released nothing.
#[test]
fn next_gives_back_the_claim_when_a_later_step_fails() {
    let repo = Repo::new();
    let id = repo.create("work", &[]);
    assert_eq!(repo.loom(&["config", "signal.template", "missing-template.md"]).code, 0);
    let run = repo.run_fail(1, &["next"]);
    assert!(run.stderr.contains("signal template"), "{run}");
    assert!(run.stderr.contains(&format!("the claim on {id} was released")), "{run}");
    assert!(repo.rev(&format!("refs/loom/claims/{id}")).is_none());
    assert_eq!(repo.status_of(&id), "ready");
}

// Guards: `-C dir plan import relative/path` read the path from the caller's directory.
#[test]
fn dash_c_applies_to_file_arguments() {
    let repo = Repo::new();
    std::fs::create_dir_all(repo.dir.join("doc/plans")).unwrap();
    std::fs::write(
        repo.dir.join("doc/plans/tiny.md"),
        "# Tiny\n\n<!-- loom METADATA -->\n```yaml\nloom:\n  version: 1\n  stages:\n    - id: only-stage\n      name: The only stage\n      description: Do it.\n      acceptance: [\"true\"]\n```\n<!-- END loom METADATA -->\n",
    )
    .unwrap();
    let outside = repo.env.root();
    let run = repo.env.loom(
        outside,
        &["-C", repo.dir.to_str().unwrap(), "plan", "import", "doc/plans/tiny.md"],
    );
    assert_eq!(run.code, 0, "{run}");
    let id = repo.create("handed off", &[]);
    repo.json(&["claim", &id]);
    std::fs::write(repo.dir.join("note.txt"), "written to a file\n").unwrap();
    let run = repo.env.loom(
        outside,
        &["-C", repo.dir.to_str().unwrap(), "handoff", &id, "--file", "note.txt"],
    );
    assert_eq!(run.code, 0, "{run}");
}

// Guards: `init -q` printed its confirmation; `claim --next --json` with nothing ready printed
// nothing at all; `status` said "1 tasks".
#[test]
fn quiet_init_json_null_and_singular_status() {
    let repo = Repo::uninitialized();
    let init = repo.loom(&["init", "-q"]);
    assert_eq!((init.code, init.stdout.as_str(), init.stderr.as_str()), (0, "", ""));
    let none = repo.loom(&["--json", "claim", "--next"]);
    assert_eq!((none.code, none.stdout.trim()), (4, "null"), "{none}");
    let none = repo.loom(&["--json", "next"]);
    assert_eq!((none.code, none.stdout.trim()), (4, "null"), "{none}");
    repo.create("only", &[]);
    let status = repo.run_ok(&["status"]);
    assert!(status.stdout.contains(": 1 task, 1 ready"), "{status}");
}
