//! Proves that the board (`.git/loom/board.cache`, which human `ready` and `list` show) is only
//! a cache: with it present, deleted, garbled or truncated the tables are the same and nothing
//! fails, and a board damaged at any single byte never crashes `ready`; any ref change made
//! with plain git (a new task version, a deleted claim, packed refs, a loose ref over a packed
//! one, a ref that cannot be read) shows at once; a failed task becomes ready when its retry
//! time passes although no ref changed; `claim --next` takes what `done` just made ready, never
//! takes a claimed task, and is not derailed by a task that vanished; and `ready --json` and
//! `list --json` agree with the tables.

use crate::common;

use std::path::PathBuf;

use common::{Repo, ids};
use jiff::Timestamp;
use serde_json::Value;

const BOARD: &str = ".git/loom/board.cache";

fn board(repo: &Repo) -> PathBuf {
    repo.dir.join(BOARD)
}

fn board_bytes(repo: &Repo) -> Vec<u8> {
    std::fs::read(board(repo)).expect("the board file exists")
}

/// Everything human `ready`, `list` and `list --all` print (stdout and stderr); each must
/// exit 0.
fn shown(repo: &Repo) -> String {
    let mut text = String::new();
    for args in [&["ready"][..], &["list"], &["list", "--all"]] {
        let run = repo.loom(args);
        assert_eq!(run.code, 0, "{run}");
        text.push_str(&format!("$ {}\n{}stderr: {}\n", args.join(" "), run.stdout, run.stderr));
    }
    text
}

/// What the tables show with the board as it is, checked against what they show once the
/// board is deleted (the refs' own answer).
fn shown_fresh(repo: &Repo, what: &str) -> String {
    let warm = shown(repo);
    std::fs::remove_file(board(repo)).expect("every table run leaves a board");
    let cold = shown(repo);
    assert_eq!(warm, cold, "{what}: the board shows something the refs do not");
    warm
}

/// The first column of a table.
fn first_column(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// `text` with every run of spaces squeezed to one, so rows compare without column widths.
fn squeezed(text: &str) -> String {
    let lines = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "));
    lines.map(|line| line + "\n").collect()
}

/// Give `id` a new version with another title, with plain git only.
fn retitle_by_hand(repo: &Repo, id: &str, title: &str) {
    let mut task = repo.stored_task(id);
    task["title"] = Value::String(title.to_owned());
    let bytes = serde_json::to_vec_pretty(&task).expect("JSON encodes");
    let tip = repo.tip(id);
    repo.write_entity(&format!("refs/loom/tasks/{id}"), &[("task.json", &bytes)], Some(&tip));
}

/// `claim --next` as `agent`: the id it claimed, or `None` when it exits 4.
fn claim_next(repo: &Repo, agent: &str) -> Option<String> {
    let run = repo.loom(&["--agent", agent, "claim", "--next"]);
    match run.code {
        0 => Some(first_column(&run.stdout).first().expect("an id").clone()),
        4 => {
            assert_eq!(run.stderr, "nothing is ready to claim\n", "{run}");
            None
        }
        _ => panic!("claim --next failed: {run}"),
    }
}

/// A repository showing every kind of row: ready (with labels), blocked, claimed, done, an
/// idea and an epic.
fn varied_repo() -> Repo {
    let repo = Repo::new();
    let base = repo.create("Base work", &["-p", "p3", "--label", "core"]);
    repo.create("Needs base", &["-p", "p0", "--dep", &base, "--label", "web"]);
    repo.create("Styling", &["-p", "p1", "--label", "web", "--label", "ui"]);
    let held = repo.create("Held by someone", &[]);
    repo.run_ok(&["--agent", "other", "claim", &held]);
    let finished = repo.create("Finished", &[]);
    repo.run_ok(&["claim", &finished]);
    repo.run_ok(&["done", &finished]);
    repo.run_ok(&["idea", "Someday"]);
    repo.run_ok(&["create", "Big theme", "--epic"]);
    repo
}

#[test]
fn deleting_or_corrupting_the_board_changes_nothing_and_it_is_rebuilt_silently() {
    let repo = varied_repo();
    let cold = shown(&repo);
    assert!(squeezed(&cold).contains("blocked p0 Needs base [web]"), "{cold}");
    assert!(cold.contains("claimed"), "{cold}");
    let good = board_bytes(&repo);
    assert_eq!(shown(&repo), cold, "a warm run shows the same");
    assert_eq!(
        board_bytes(&repo),
        good,
        "a warm run reads the board instead of rebuilding it"
    );

    std::fs::remove_file(board(&repo)).expect("the board exists");
    assert_eq!(shown(&repo), cold, "deleting the board loses nothing");
    assert!(board(&repo).is_file(), "the board is written again");

    let garbage: Vec<u8> = (0..=255u8).rev().cycle().take(700).collect();
    let corruptions = [
        ("garbage bytes", garbage),
        ("an empty file", Vec::new()),
        ("a copy truncated to half", good[..good.len() / 2].to_vec()),
        ("a copy missing its last byte", good[..good.len() - 1].to_vec()),
        ("a copy from another version", [b"x".as_slice(), &good[1..]].concat()),
    ];
    for (what, bytes) in corruptions {
        std::fs::write(board(&repo), &bytes).expect("write the board");
        assert_eq!(shown(&repo), cold, "{what}: same tables, exit 0, nothing on stderr");
        let rebuilt = board_bytes(&repo);
        assert_ne!(rebuilt, bytes, "{what}: the board is rebuilt");
        assert_eq!(shown(&repo), cold, "{what}: the rebuilt board shows the same");
        assert_eq!(
            board_bytes(&repo),
            rebuilt,
            "{what}: the rebuilt board is valid and used"
        );
    }
}

// Guards: a board that decodes but whose ready list points past its rows crashing `ready`
// (and `claim --next`) instead of being rebuilt.
#[test]
fn a_board_damaged_at_any_single_byte_never_crashes_ready() {
    let repo = Repo::new();
    repo.create("Solo", &[]);
    let expected = repo.run_ok(&["ready"]).stdout;
    let good = board_bytes(&repo);
    for at in 0..good.len() {
        let mut bytes = good.clone();
        bytes[at] = if bytes[at] == 5 { 6 } else { 5 };
        std::fs::write(board(&repo), &bytes).expect("write the board");
        let run = repo.loom(&["ready"]);
        assert!(
            run.code == 0 && run.stderr.is_empty(),
            "byte {at} of {} set to {}: {run}",
            good.len(),
            bytes[at]
        );
    }
    std::fs::remove_file(board(&repo)).expect("the board exists");
    assert_eq!(repo.run_ok(&["ready"]).stdout, expected);
}

#[test]
fn a_task_changed_or_a_claim_deleted_with_plain_git_shows_at_once() {
    let repo = Repo::new();
    let a = repo.create("Original title", &["-p", "p1"]);
    let b = repo.create("Taken", &["-p", "p2"]);
    repo.run_ok(&["--agent", "other", "claim", &b]);
    let before = shown(&repo);
    assert!(before.contains("Original title"), "{before}");
    assert_eq!(first_column(&repo.run_ok(&["ready"]).stdout), [a.as_str()]);

    retitle_by_hand(&repo, &a, "Changed by hand");
    let after = shown_fresh(&repo, "after a new task version");
    assert!(
        squeezed(&after).contains(&format!("{a} p1 unblocks 0 Changed by hand")),
        "{after}"
    );
    assert!(!after.contains("Original title"), "{after}");

    shown(&repo);
    repo.git(&["update-ref", "-d", &format!("refs/loom/claims/{b}")]);
    let after = shown_fresh(&repo, "after a claim was deleted");
    assert!(squeezed(&after).contains(&format!("{b} ready p2 Taken")), "{after}");
    assert_eq!(first_column(&repo.run_ok(&["ready"]).stdout), [a, b]);
}

#[test]
fn packed_refs_and_a_loose_ref_over_a_packed_one_are_shown_right() {
    let repo = Repo::new();
    let a = repo.create("First", &["-p", "p0"]);
    let b = repo.create("Second", &["-p", "p1", "--dep", &a]);
    let c = repo.create("Third", &["-p", "p2"]);
    repo.run_ok(&["--agent", "other", "claim", &c]);
    let before = shown(&repo);

    repo.git(&["pack-refs", "--all"]);
    let loose = repo.dir.join(format!(".git/refs/loom/tasks/{a}"));
    assert!(!loose.exists(), "pack-refs --all leaves no loose task ref");
    assert_eq!(shown(&repo), before, "packing refs changes nothing shown");
    assert_eq!(shown_fresh(&repo, "packed refs"), before);

    retitle_by_hand(&repo, &b, "Second, loose over packed");
    assert!(loose.with_file_name(&b).is_file(), "update-ref writes a loose ref");
    let after = shown_fresh(&repo, "a loose ref over a packed one");
    assert!(
        squeezed(&after).contains(&format!("{b} blocked p1 Second, loose over packed")),
        "{after}"
    );
    assert!(!after.contains("Second\n"), "{after}");

    repo.git(&["update-ref", "-d", &format!("refs/loom/claims/{c}")]);
    let after = shown_fresh(&repo, "a packed claim ref deleted");
    assert_eq!(first_column(&repo.run_ok(&["ready"]).stdout), [a.clone(), c]);

    repo.git(&["pack-refs", "--all"]);
    assert_eq!(shown(&repo), after, "packing again changes nothing shown");
    repo.git(&["update-ref", "-d", &format!("refs/loom/tasks/{a}")]);
    let after = shown_fresh(&repo, "a packed task ref deleted");
    assert!(!after.contains(&a), "{after}");
}

// Guards: refs that cannot be read are left out of what the board is keyed by, so one that
// appears or goes away is missed while the board stands.
#[test]
fn an_unreadable_ref_appearing_is_warned_about_at_once() {
    let repo = Repo::new();
    repo.create("Fine", &[]);
    shown(&repo);
    let odd = "refs/loom/tasks/loom-0000bad0";
    repo.git(&["symbolic-ref", odd, "refs/heads/main"]);
    let warm = shown(&repo);
    std::fs::remove_file(board(&repo)).expect("the board exists");
    let cold = shown(&repo);
    assert!(cold.contains(&format!("warning: skipping {odd}")), "{cold}");
    assert_eq!(warm, cold, "with the board present the warning is missing");
}

#[test]
fn an_unreadable_ref_removed_stops_being_warned_about_at_once() {
    let repo = Repo::new();
    repo.create("Fine", &[]);
    let odd = "refs/loom/tasks/loom-0000bad0";
    repo.git(&["symbolic-ref", odd, "refs/heads/main"]);
    assert!(shown(&repo).contains(&format!("warning: skipping {odd}")));
    repo.git(&["symbolic-ref", "--delete", odd]);
    let warm = shown(&repo);
    std::fs::remove_file(board(&repo)).expect("the board exists");
    let cold = shown(&repo);
    assert!(!cold.contains("warning"), "{cold}");
    assert_eq!(warm, cold, "with the board present a stale warning stays");
}

#[test]
fn a_failed_task_becomes_ready_when_its_retry_time_passes_though_no_ref_changed() {
    let repo = Repo::new();
    // A stopped clock: however slowly the machine runs, the retry time passes only when the
    // test says so.
    repo.env.stop_clock();
    repo.set_settings("[retry]\nbase_secs = 1\nmax_secs = 1\n");
    let flaky = repo.create("Flaky", &["-p", "p1"]);
    let waiting = repo.create("Waiting", &["-p", "p0", "--dep", &flaky]);
    repo.run_ok(&["claim", &flaky]);
    let failed = repo.json(&["fail", &flaky, "--reason", "flaky network"]);
    let retry_after: Timestamp = failed["retry_after"]
        .as_str()
        .expect("a retry time")
        .parse()
        .expect("a timestamp");

    let before = shown(&repo);
    assert_eq!(repo.run_ok(&["ready"]).stdout, "", "not ready before its retry time");
    assert!(
        squeezed(&before).contains(&format!("{flaky} failed p1 Flaky")),
        "{before}"
    );
    assert!(board(&repo).is_file(), "a board is built before the retry time");
    let refs = repo.all_refs();
    assert_eq!(
        claim_next(&repo, "early"),
        None,
        "nothing to claim before the retry time"
    );
    assert!(
        repo.env.now() < retry_after,
        "the test ran too slowly to check anything"
    );

    repo.env.advance_clock_past(retry_after);
    assert_eq!(repo.all_refs(), refs, "no ref changed");
    let after = shown(&repo);
    assert_eq!(
        first_column(&repo.run_ok(&["ready"]).stdout),
        [flaky.as_str()],
        "{after}"
    );
    assert!(squeezed(&after).contains(&format!("{flaky} ready p1 Flaky")), "{after}");
    assert!(
        squeezed(&after).contains(&format!("{waiting} blocked p0 Waiting")),
        "{after}"
    );
    assert_eq!(shown_fresh(&repo, "after the retry time"), after);
    assert_eq!(claim_next(&repo, "late"), Some(flaky));
}

#[test]
fn claim_next_after_done_takes_the_task_done_just_made_ready() {
    let repo = Repo::new();
    let low = repo.create("Foundation", &["-p", "p3"]);
    let side = repo.create("Side quest", &["-p", "p1"]);
    let urgent = repo.create("Needs foundation", &["-p", "p0", "--dep", &low]);
    assert_eq!(
        first_column(&repo.run_ok(&["ready"]).stdout),
        [side.clone(), low.clone()]
    );

    let run = repo.run_ok(&["claim", "--next", "--priority", "p3"]);
    assert_eq!(first_column(&run.stdout)[0], low);
    assert_eq!(first_column(&repo.run_ok(&["ready"]).stdout), [side.as_str()]);
    assert!(board(&repo).is_file(), "a board from before the done exists");

    repo.run_ok(&["done", &low]);
    assert_eq!(
        claim_next(&repo, "worker"),
        Some(urgent),
        "the best task, just unblocked"
    );
    assert_eq!(claim_next(&repo, "worker"), Some(side));
    assert_eq!(claim_next(&repo, "worker"), None);
}

#[test]
fn claim_next_never_takes_a_task_claimed_since_the_board_was_built() {
    let repo = Repo::new();
    let best = repo.create("Best", &["-p", "p0"]);
    let mut others = vec![
        repo.create("Good", &["-p", "p1"]),
        repo.create("Fair", &["-p", "p2"]),
        repo.create("Meh", &["-p", "p3"]),
    ];
    let ready = first_column(&repo.run_ok(&["ready"]).stdout);
    assert_eq!(ready[0], best, "the board lists the best task as ready");

    repo.run_ok(&["--agent", "other", "claim", &best]);
    let mut claimed = Vec::new();
    for round in 0.. {
        assert!(round < 10, "claim --next never ran out: {claimed:?}");
        match claim_next(&repo, ["one", "two"][round % 2]) {
            Some(id) => claimed.push(id),
            None => break,
        }
    }
    assert!(!claimed.contains(&best), "{claimed:?}");
    claimed.sort();
    others.sort();
    assert_eq!(claimed, others, "every other task claimed exactly once");
    assert_eq!(repo.show(&best)["claim"]["agent"], "other", "the first claim stands");
}

// Guards: `claim --next` picking from a recent board failing outright on a task whose ref was
// deleted since, instead of moving on to the next candidate.
#[test]
fn claim_next_moves_on_past_a_task_deleted_since_the_board_was_built() {
    let repo = Repo::new();
    let gone = repo.create("Gone", &["-p", "p0"]);
    let stays = repo.create("Stays", &["-p", "p2"]);
    assert_eq!(
        first_column(&repo.run_ok(&["ready"]).stdout),
        [gone.clone(), stays.clone()]
    );

    repo.git(&["update-ref", "-d", &format!("refs/loom/tasks/{gone}")]);
    assert_eq!(claim_next(&repo, "worker"), Some(stays));
    assert_eq!(repo.run_ok(&["ready"]).stdout, "");
}

#[test]
fn json_ready_and_list_agree_with_the_tables() {
    let repo = varied_repo();
    let flaky = repo.create("Flaky", &["-p", "p2", "--label", "web"]);
    repo.run_ok(&["claim", &flaky]);
    repo.run_ok(&["fail", &flaky, "--reason", "timeout"]);
    let listings: [&[&str]; 6] = [
        &["list"],
        &["list", "--all"],
        &["list", "--label", "web"],
        &["list", "--status", "blocked", "--status", "failed"],
        &["ready"],
        &["ready", "-n", "1"],
    ];
    for args in listings {
        let cold = repo.run_ok(args).stdout;
        let warm = repo.run_ok(args).stdout;
        assert_eq!(warm, cold, "{args:?}");
        let json = repo.json(args);
        assert_eq!(ids(&json), first_column(&cold), "{args:?}: same ids in the same order");
        assert!(!ids(&json).is_empty(), "{args:?} shows something");
        // The second column agrees too: the status of a list row, the priority of a ready one.
        let field = if args[0] == "list" { "status" } else { "priority" };
        let second: Vec<&str> = cold.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
        let from_json: Vec<&str> = json
            .as_array()
            .expect("an array")
            .iter()
            .map(|t| t[field].as_str().expect("a string"))
            .collect();
        assert_eq!(from_json, second, "{args:?}");
    }
    let listed = ids(&repo.json(&["list"]));
    assert!(listed.contains(&flaky), "a failed task is listed");
    assert!(!ids(&repo.json(&["ready"])).contains(&flaky), "but not ready");
}

/// Every `--json` listing's stdout and stderr; each must exit 0.
fn shown_json(repo: &Repo) -> String {
    let mut text = String::new();
    for args in [
        &["ready", "--json"][..],
        &["ready", "--json", "-n", "1"],
        &["list", "--json"],
        &["list", "--json", "--all"],
        &["list", "--json", "--status", "blocked"],
    ] {
        let run = repo.loom(args);
        assert_eq!(run.code, 0, "{run}");
        text.push_str(&format!("$ {}\n{}stderr: {}\n", args.join(" "), run.stdout, run.stderr));
    }
    text
}

// Guards: `--json` listings copied from the board's JSON text showing something the refs no
// longer say (a title changed with plain git, a claim taken), or a damaged or missing text file
// failing or being misread instead of rebuilt.
#[test]
fn json_listings_from_the_board_follow_the_refs() {
    let repo = Repo::new();
    let base = repo.create("base", &["--label", "core"]);
    for n in 0..3 {
        repo.create(&format!("waiting {n}"), &["--dep", &base]);
    }
    let other = repo.create("other", &[]);
    let cold = shown_json(&repo);
    assert!(
        repo.dir.join(".git/loom/board.json").exists(),
        "a --json listing keeps its text"
    );
    assert_eq!(shown_json(&repo), cold, "warm listings are the cold ones");
    // A change made behind git-loom's back shows at once.
    retitle_by_hand(&repo, &base, "renamed with plain git");
    let changed = shown_json(&repo);
    assert!(changed.contains("renamed with plain git"), "{changed}");
    for file in ["board.json", "board.ready.json", "board.cache"] {
        std::fs::remove_file(repo.dir.join(".git/loom").join(file)).expect("the file exists");
        assert_eq!(shown_json(&repo), changed, "without {file}");
    }
    // Damaged text is rebuilt, never shown.
    for file in ["board.json", "board.ready.json"] {
        let path = repo.dir.join(".git/loom").join(file);
        let mut bytes = std::fs::read(&path).expect("the file exists");
        let last = bytes.len() - 2;
        bytes[last] ^= 0x20;
        std::fs::write(&path, &bytes).expect("writable");
        assert_eq!(shown_json(&repo), changed, "with {file} damaged");
    }
    repo.run_ok(&["claim", &other]);
    let claimed = repo.json(&["list", "--status", "claimed"]);
    assert_eq!(ids(&claimed), vec![other.clone()]);
    assert!(claimed[0]["claim"]["agent"].is_string(), "{claimed}");
}
