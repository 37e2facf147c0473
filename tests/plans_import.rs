//! Proves, end to end on real repositories, how plans written for the Rust loom are imported
//! and how their tasks are named and shown: stages without a description are accepted; stage
//! ids with capitals, underscores or only hex digits resolve to their stage wherever a task id
//! is accepted, and an input that is both a stage id and another task's id prefix is refused
//! naming both, so no command acts on a task the user did not name; stage names that would
//! break a listing are refused with their lines; execution hints, plan-level settings and
//! unknown keys of checks and wiring are stored and shown (`show`, `show --json`, the signal);
//! plan and stage appear in `list`, `ready` and the task JSON; text holding control characters
//! is shown escaped; a plan keeps its identity through the Rust loom's renames and across
//! folders, by `plan_id` when it has one, and tasks stored under the file-name key of earlier
//! versions are recognised rather than duplicated.

use crate::common;

use std::path::Path;

use common::{Repo, Run};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plans").join(name);
    std::fs::read_to_string(path).unwrap()
}

fn write(repo: &Repo, name: &str, text: &str) {
    let path = repo.dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn import(repo: &Repo, args: &[&str]) -> Run {
    repo.loom(&[&["plan", "import"][..], args].concat())
}

fn id_of(repo: &Repo, stage: &str) -> String {
    repo.show(stage)["id"].as_str().unwrap().to_owned()
}

fn loom_refs(repo: &Repo) -> String {
    repo.git(&["for-each-ref", "--format=%(refname) %(objectname)", "refs/loom/"])
}

/// Every task as (plan, stage, id), sorted.
fn tasks(repo: &Repo) -> Vec<(String, String, String)> {
    let list = repo.json(&["list", "--all"]);
    let mut found: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|task| {
            let text = |key: &str| task[key].as_str().unwrap_or_default().to_owned();
            (text("plan"), text("stage"), text("id"))
        })
        .collect();
    found.sort();
    found
}

/// Write a hand-made task with the id `id`, copied from a task made with `create`, so that a
/// task id with a chosen prefix exists.
fn task_with_id(repo: &Repo, id: &str) {
    let template = repo.create("Template", &[]);
    repo.write_task(id, &repo.forged_task(&template, id));
}

#[test]
fn a_rust_loom_plan_imports_with_its_hints_settings_and_unknown_keys_kept_and_shown() {
    // Guards: stages without `description` were refused; hints and plan-level settings were warned "kept as is" but stored nowhere.
    let repo = Repo::new();
    write(&repo, "doc/plans/PLAN-search.md", &fixture("rust-loom-style.md"));
    let run = import(&repo, &["doc/plans/PLAN-search.md"]);
    assert_eq!(run.code, 0, "{run}");
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        warnings,
        [
            "warning: doc/plans/PLAN-search.md: line 18: unknown field `review_owner` in `loom` (kept as is)",
            "warning: doc/plans/PLAN-search.md: line 46: unknown field `timeout_secs` in `acceptance` item 2 of stage `Rebuild_Index` (kept as is)",
            "warning: doc/plans/PLAN-search.md: line 51: unknown field `severity` in `wiring` item 1 of stage `Rebuild_Index` (kept as is)",
            "warning: doc/plans/PLAN-search.md: line 60: unknown field `code_review` in stage `integration-verify` (kept as is)",
        ]
    );

    // Every kept field is visible in `show --json`.
    let bootstrap = repo.show("knowledge-bootstrap");
    assert_eq!(bootstrap["description"], json!(""));
    assert_eq!(
        (&bootstrap["plan"], &bootstrap["stage"]),
        (&json!("search-refresh"), &json!("knowledge-bootstrap"))
    );
    let hints = json!({"stage_type": "knowledge", "model": "sonnet", "reasoning_effort": "high"});
    assert_eq!(bootstrap["stage_hints"], hints);
    let settings = json!({"plan_id": "search-refresh", "auto_merge": false, "review_owner": "search-team",
        "sandbox": {"enabled": true, "network": {"allowed_domains": ["crates.io"]}}});
    assert_eq!(bootstrap["extra"]["plan_settings"], settings);

    let rebuild = repo.show("Rebuild_Index");
    let hints = json!({"execution_mode": "team", "model": "opus", "reasoning_effort": "xhigh",
        "parallel_group": "indexing", "implementers": ["codex", "claude"], "subagent_timeout_secs": 900,
        "sandbox": {"filesystem": {"deny_write": ["../**"]}}});
    assert_eq!(rebuild["stage_hints"], hints);
    assert_eq!(rebuild["extra"]["stage_extra"], json!({"bug_fix": false}));
    assert_eq!(rebuild["extra"]["acceptance_checks"][0]["timeout_secs"], json!(60));
    assert_eq!(rebuild["extra"]["wiring"][0]["severity"], json!("high"));
    assert_eq!(rebuild["extra"]["working_dir"], json!("."));
    let verify = repo.show("integration-verify");
    let hints = json!({"stage_type": "integration-verify", "auto_merge": true, "ultracode": true});
    assert_eq!(verify["stage_hints"], hints);
    assert_eq!(
        verify["extra"]["stage_extra"]["code_review"],
        json!({"dimensions": ["security", "wiring"]})
    );

    // The human views name the plan and stage, and the hints.
    let shown = repo.run_ok(&["show", "Rebuild_Index"]).stdout;
    for row in [
        "  plan              search-refresh\n",
        "  stage             Rebuild_Index\n",
        "  execution         team\n",
        "  reasoning effort  xhigh\n",
        "  implementers      codex, claude\n",
    ] {
        assert!(shown.contains(row), "{row:?} missing from:\n{shown}");
    }
    let bootstrap_id = bootstrap["id"].as_str().unwrap();
    let signal = repo.run_ok(&["signal", "knowledge-bootstrap"]).stdout;
    let told = "Stage `knowledge-bootstrap` of plan `search-refresh`. Execution hints: stage type: knowledge; model: sonnet; reasoning effort: high.";
    assert!(signal.contains(told), "{signal}");
    let ready = repo.run_ok(&["ready"]).stdout;
    assert_eq!(
        ready,
        format!("{bootstrap_id}  p2  unblocks 2  search-refresh:knowledge-bootstrap  Learn how the index is built\n")
    );
    let list = repo.run_ok(&["list"]).stdout;
    assert!(list.contains("  search-refresh:Rebuild_Index  "), "{list}");
    let listed = repo.json(&["ready"]);
    assert_eq!(
        (&listed[0]["plan"], &listed[0]["stage"]),
        (&json!("search-refresh"), &json!("knowledge-bootstrap"))
    );
}

#[test]
fn control_characters_in_stored_text_are_shown_escaped() {
    // Guards: a description or handoff holding ESC was written raw to the terminal, where it recolours or rewrites the screen.
    let repo = Repo::new();
    write(&repo, "plan.md", &fixture("rust-loom-style.md"));
    assert_eq!(import(&repo, &["plan.md"]).code, 0);
    let shown = repo.run_ok(&["show", "Rebuild_Index"]).stdout;
    assert!(!shown.contains('\u{1b}'), "raw ESC printed:\n{shown}");
    assert!(shown.contains(r"progress as \u{1b}[1mbold\u{1b}[0m text."), "{shown}");
    // JSON keeps the text exactly, escaped the JSON way.
    let description = repo.show("Rebuild_Index")["description"].as_str().unwrap().to_owned();
    assert!(description.contains("\u{1b}[1mbold"));

    repo.run_ok(&["claim", "knowledge-bootstrap"]);
    let message = "stopped at \u{1b}]0;pwned\u{7} the title bar \u{202e}gnp.exe";
    repo.run_ok(&["handoff", "knowledge-bootstrap", "--message", message]);
    for args in [
        &["handoffs", "knowledge-bootstrap"][..],
        &["signal", "knowledge-bootstrap"][..],
    ] {
        let out = repo.run_ok(args).stdout;
        assert!(
            out.contains(r"stopped at \u{1b}]0;pwned\u{7} the title bar \u{202e}gnp.exe"),
            "{out}"
        );
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\u{202e}']),
            "raw control character in:\n{out}"
        );
    }
}

#[test]
fn stage_names_that_would_break_a_listing_are_refused_with_their_lines() {
    // Guards: empty, blank, multi-line and control-character stage names became task titles; `create` refuses the same titles.
    let repo = Repo::new();
    write(&repo, "bad-names.md", &fixture("bad-names.md"));
    let before = loom_refs(&repo);
    let run = repo.run_fail(2, &["plan", "import", "bad-names.md"]);
    let rule = "(a name is one line of text without control characters)";
    for (line, stage, name, why) in [
        (12, "empty", r#""""#, "it is empty"),
        (14, "blank", r#""   ""#, "it is empty"),
        (
            17,
            "two-lines",
            r#""First line\nsecond line\n""#,
            "it spans several lines",
        ),
        (
            20,
            "escape",
            r#""Colour \u{1b}[31mred""#,
            "it contains a control character",
        ),
        (
            22,
            "bell",
            r#""Ring \u{7} the bell""#,
            "it contains a control character",
        ),
        (
            24,
            "reversed",
            r#""invoice \u{202e}fdp.exe""#,
            "it contains a bidirectional-text control character",
        ),
    ] {
        let error = format!("  bad-names.md: line {line}: stage `{stage}` has an invalid name {name}: {why} {rule}\n");
        assert!(run.stderr.contains(&error), "{error:?} missing:\n{run}");
    }
    assert!(run.stderr.contains("(6 errors); nothing was imported"), "{run}");
    assert_eq!(loom_refs(&repo), before, "a refused plan wrote a ref");
    // The same titles are refused by `create`.
    repo.run_fail(2, &["create", "Colour \u{1b}[31mred"]);
    repo.run_fail(2, &["create", "invoice \u{202e}fdp.exe"]);
}

#[test]
fn hex_looking_stage_ids_name_their_stage_and_clashes_name_both() {
    // Guards: `show facade` said "no task matches" and `claim bc579` claimed another task whose id started with those digits.
    let repo = Repo::new();
    write(&repo, "hex.md", &fixture("hex-stages.md"));
    assert_eq!(import(&repo, &["hex.md"]).code, 0);
    for stage in ["facade", "cafe", "bead", "bc579"] {
        let task = repo.show(stage);
        assert_eq!(task["stage"], json!(stage), "{stage} resolves to its own task");
    }
    let (facade, cafe) = (id_of(&repo, "facade"), id_of(&repo, "cafe"));
    // `dep add` and `update` take stage ids too.
    repo.run_ok(&["dep", "add", "bead", "facade"]);
    let bead = repo.show("bead");
    assert!(bead["deps"].as_array().unwrap().contains(&json!(facade)), "{bead}");

    // A task whose id starts with bc579 now exists beside the stage bc579.
    task_with_id(&repo, "loom-bc579abc");
    let stage_task = id_of(&repo, "loom-bc579abc");
    assert_eq!(stage_task, "loom-bc579abc", "a full id is always a task id");
    let refs = loom_refs(&repo);
    for args in [
        &["claim", "bc579"][..],
        &["show", "bc579"][..],
        &["done", "bc579", "--skip-verify"][..],
        &["dep", "add", "cafe", "bc579"][..],
    ] {
        let run = repo.run_fail(1, args);
        let first = run.stderr.lines().next().unwrap();
        assert!(
            first.starts_with("error: \"bc579\" is ambiguous: it is the stage id of loom-")
                && first.ends_with("and also the start of task id loom-bc579abc"),
            "{run}"
        );
        assert!(run.stderr.contains("hint: name the task by its full id"), "{run}");
    }
    assert_eq!(loom_refs(&repo), refs, "a clash wrote nothing, and claimed nothing");

    // Unknown names say that stage ids were looked at too.
    let run = repo.run_fail(1, &["show", "deadbeef"]);
    assert!(
        run.stderr
            .starts_with("error: no task matches \"deadbeef\" (as a task id, an abbreviation of one, or a stage id)"),
        "{run}"
    );
    let run = repo.run_fail(2, &["claim", "no-such-stage"]);
    assert!(
        run.stderr
            .contains("no task matches \"no-such-stage\": it is no stage id of a task"),
        "{run}"
    );
    assert_eq!(repo.status_of(&cafe), "blocked");
}

#[test]
fn stage_ids_are_accepted_as_the_rust_loom_accepts_them() {
    // Guards: stage ids with capitals, underscores or more than 64 characters were refused though the Rust loom accepts them.
    let repo = Repo::new();
    let long = format!("Stage_{}", "x".repeat(122));
    assert_eq!(long.len(), 128);
    let plan = format!(
        "# P\n<!-- loom METADATA -->\n```yaml\nloom:\n  version: 1\n  stages:\n    - {{id: Setup_DB, name: Set up}}\n    - {{id: {long}, name: Long, dependencies: [Setup_DB]}}\n```\n<!-- END loom METADATA -->\n"
    );
    write(&repo, "ids.md", &plan);
    let run = import(&repo, &["ids.md"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(repo.show(&long)["deps"], json!([id_of(&repo, "Setup_DB")]));
    let too_long = plan.replace(&long, &format!("{long}y"));
    write(&repo, "ids.md", &too_long);
    let run = repo.run_fail(2, &["plan", "import", "ids.md"]);
    assert!(run.stderr.contains("a stage id has at most 128 characters"), "{run}");
}

#[test]
fn a_plan_keeps_its_identity_through_renames_and_folders_tell_plans_apart() {
    // Guards: re-importing after PLAN-x.md → IN_PROGRESS-PLAN-x.md → DONE-PLAN-x.md duplicated every task, and two plan.md in different folders were one plan.
    let repo = Repo::new();
    let plan = fixture("rate-limit.md");
    write(&repo, "doc/plans/PLAN-rate.md", &plan);
    assert_eq!(import(&repo, &["doc/plans/PLAN-rate.md"]).code, 0);
    let first = tasks(&repo);
    assert_eq!(first.len(), 4);
    assert!(
        first.iter().all(|(key, _, _)| key == "doc/plans/PLAN-rate.md"),
        "{first:?}"
    );
    for name in ["IN_PROGRESS-PLAN-rate.md", "DONE-PLAN-rate.md"] {
        let from = std::fs::read_dir(repo.dir.join("doc/plans"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::rename(from, repo.dir.join("doc/plans").join(name)).unwrap();
        let run = repo.run_ok(&["plan", "import", &format!("doc/plans/{name}")]);
        assert_eq!(
            run.stdout, "0 created, 0 updated, 4 unchanged, 0 removed from the plan\n",
            "{name}"
        );
    }
    assert_eq!(tasks(&repo), first, "no task was added or re-keyed");
    // Stage ids stay unambiguous.
    repo.show("token-bucket");

    // The same file name in two folders is two plans; pruning one leaves the other alone.
    write(&repo, "team-a/plan.md", &plan);
    write(&repo, "team-b/plan.md", &plan);
    assert_eq!(import(&repo, &["team-a/plan.md"]).code, 0);
    assert_eq!(import(&repo, &["team-b/plan.md"]).code, 0);
    let all = tasks(&repo);
    assert_eq!(all.len(), 12, "{all:?}");
    let only_first = plan.replace("    - id: integration-verify", "    - id: integration-check");
    write(&repo, "team-a/plan.md", &only_first);
    let pruned = repo.json(&["plan", "import", "team-a/plan.md", "--prune"]);
    assert_eq!(pruned["plan"], json!("team-a/plan.md"));
    assert_eq!(pruned["cancelled"].as_array().unwrap().len(), 1, "{pruned}");
    let team_b = tasks(&repo).into_iter().filter(|(key, _, _)| key == "team-b/plan.md");
    for (_, stage, id) in team_b {
        assert_ne!(
            repo.status_of(&id),
            "cancelled",
            "team-b's {stage} was cancelled by team-a's prune"
        );
    }
    // A stage id several plans use is an error naming their tasks, not a guess.
    let run = repo.run_fail(1, &["show", "token-bucket"]);
    assert!(
        run.stderr
            .starts_with("error: stage id \"token-bucket\" is used by several plans"),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("hint: name the task by its full id, or as PLAN:STAGE"),
        "{run}"
    );
    // The plan-qualified form `list` shows names one of them, by key or short name.
    let team_b_bucket = repo.show("team-b/plan.md:token-bucket");
    let names = (&team_b_bucket["plan"], &team_b_bucket["stage"]);
    assert_eq!(names, (&json!("team-b/plan.md"), &json!("token-bucket")));
    assert_eq!(
        repo.show("PLAN-rate:token-bucket")["plan"],
        json!("doc/plans/PLAN-rate.md")
    );
}

#[test]
fn plan_id_is_the_identity_when_the_plan_has_one() {
    // Guards: a plan with a `plan_id` must stay one plan when its file moves to another folder.
    let repo = Repo::new();
    let plan = fixture("rate-limit.md").replace("  version: 1\n", "  version: 1\n  plan_id: rate-limit\n");
    write(&repo, "plans/draft.md", &plan);
    assert_eq!(import(&repo, &["plans/draft.md"]).code, 0);
    let first = tasks(&repo);
    assert!(first.iter().all(|(key, _, _)| key == "rate-limit"), "{first:?}");
    write(&repo, "elsewhere/final.md", &plan);
    let run = repo.run_ok(&["plan", "import", "elsewhere/final.md"]);
    assert_eq!(
        run.stdout,
        "0 created, 0 updated, 4 unchanged, 0 removed from the plan\n"
    );
    assert_eq!(tasks(&repo), first);
}

#[test]
fn tasks_stored_under_the_old_file_name_key_are_recognised_not_duplicated() {
    // Guards: tasks imported by an earlier version (keyed by bare file name) must be adopted on re-import, not created again.
    let repo = Repo::new();
    write(&repo, "doc/plans/PLAN-rate.md", &fixture("rate-limit.md"));
    assert_eq!(import(&repo, &["doc/plans/PLAN-rate.md"]).code, 0);
    let ids: Vec<String> = tasks(&repo).into_iter().map(|(_, _, id)| id).collect();
    // Rewrite them the way the earlier version stored them: `plan` is the file name alone.
    for id in &ids {
        let mut stored = repo.stored_task(id);
        stored["plan"] = Value::String("PLAN-rate.md".into());
        repo.write_task(id, &stored);
    }
    let config = id_of(&repo, "rate-limit-config");
    repo.run_ok(&["claim", "rate-limit-config"]);
    repo.run_ok(&["done", "rate-limit-config", "--skip-verify"]);

    // The plan has moved on in its life since.
    std::fs::rename(
        repo.dir.join("doc/plans/PLAN-rate.md"),
        repo.dir.join("doc/plans/IN_PROGRESS-PLAN-rate.md"),
    )
    .unwrap();
    let run = repo.run_ok(&["plan", "import", "doc/plans/IN_PROGRESS-PLAN-rate.md"]);
    // The three open tasks move to the new key; the done one is recognised and left as it is.
    assert_eq!(
        run.stdout.lines().filter(|line| line.starts_with("updated ")).count(),
        3,
        "{run}"
    );
    assert!(
        run.stdout
            .ends_with("0 created, 3 updated, 1 unchanged, 0 removed from the plan\n"),
        "{run}"
    );
    let after = tasks(&repo);
    assert_eq!(after.len(), 4, "no task was duplicated: {after:?}");
    for (key, stage, id) in &after {
        let want = if *id == config {
            "PLAN-rate.md"
        } else {
            "doc/plans/PLAN-rate.md"
        };
        assert_eq!(key, want, "{stage}");
    }
    assert_eq!(repo.status_of(&config), "done");
    let again = repo.run_ok(&["plan", "import", "doc/plans/IN_PROGRESS-PLAN-rate.md"]);
    assert_eq!(
        again.stdout,
        "0 created, 0 updated, 4 unchanged, 0 removed from the plan\n"
    );
}
