//! Proves `plan import`, `verify` and the check `done` runs first, end to end on real
//! repositories: the rate-limit plan, as yaml in markdown, toml in markdown and plain toml,
//! becomes the same task graph, with its stage ids as task aliases and its plan, stage,
//! fingerprint and checks in `task.json`; re-importing writes nothing unless a stage changed,
//! updates only the changed stage's task (keeping its hand-set priority and labels), creates new
//! stages, reports removed ones (cancelling them only with `--prune`), never changes a done task,
//! and `--dry-run` writes nothing; every kind of bad plan is refused with exit 2, every error
//! listed with its line, and no ref written; `verify` runs acceptance commands (with expected
//! output and exit code, `LOOM_TASK` and `LOOM_WORKTREE` set), artifacts and wiring, exits 0 or 5
//! and reports each check (also as JSON), running a stage's commands in its `working_dir`; `done`
//! refuses with exit 5 while a check fails, keeping the claim, unless `--skip-verify`.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{AGENT, Repo, Run, is_task_id};
use serde_json::{Value, json};

/// The four stages of the rate-limit plan, in the plan's order.
const STAGES: [&str; 4] = ["rate-limit-config", "token-bucket", "middleware", "integration-verify"];

/// An example plan from `fixtures/plans`.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plans").join(name);
    std::fs::read_to_string(path).unwrap()
}

/// Write `text` to `name` in the repository's working tree.
fn write(repo: &Repo, name: &str, text: &str) {
    let path = repo.dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Every ref under `refs/loom/` with the object it points at.
fn loom_refs(repo: &Repo) -> String {
    repo.git(&["for-each-ref", "--format=%(refname) %(objectname)", "refs/loom/"])
}

fn import(repo: &Repo, args: &[&str]) -> Run {
    repo.loom(&[&["plan", "import"][..], args].concat())
}

/// The task a stage id names, through `show --json STAGE`.
fn id_of(repo: &Repo, stage: &str) -> String {
    repo.show(stage)["id"].as_str().unwrap().to_owned()
}

fn assert_has(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} is missing from:\n{text}");
    }
}

/// The imported graph by stage id: title, description without surrounding whitespace (a yaml `|`
/// block ends with a newline that a one-line toml string lacks), dependencies (as stage ids, from
/// the `graph --json` edges) and fingerprint.
fn stage_graph(repo: &Repo) -> BTreeMap<String, Value> {
    let graph = repo.json(&["graph"]);
    let task = |id: &Value| repo.stored_task(id.as_str().unwrap());
    let stage = |id: &Value| task(id)["stage"].as_str().unwrap().to_owned();
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for edge in graph["edges"].as_array().unwrap() {
        assert_eq!(edge["kind"], "dep", "{edge}");
        deps.entry(stage(&edge["from"])).or_default().push(stage(&edge["to"]));
    }
    let mut stages = BTreeMap::new();
    for node in graph["nodes"].as_array().unwrap() {
        let name = stage(&node["id"]);
        let mut waits = deps.remove(&name).unwrap_or_default();
        waits.sort();
        let description = node["description"].as_str().unwrap().trim();
        let print = task(&node["id"])["stage_fingerprint"].clone();
        let entry = json!({"title": node["title"], "description": description, "deps": waits, "fingerprint": print});
        stages.insert(name, entry);
    }
    assert!(deps.is_empty(), "edges from tasks that are not nodes: {deps:?}");
    stages
}

/// `value` with only the fields named in `keys` (separated by spaces); a missing one is `null`.
fn pick(value: &Value, keys: &str) -> Value {
    let fields = keys.split(' ').map(|key| (key.to_owned(), value[key].clone()));
    Value::Object(fields.collect())
}

/// Assert that `run` exited `code` and printed exactly `stdout` and `stderr`.
fn assert_run(run: &Run, code: i32, stdout: &str, stderr: &str) {
    let got = (run.code, run.stdout.as_str(), run.stderr.as_str());
    assert_eq!(got, (code, stdout, stderr), "{run}");
}

#[test]
fn each_form_of_the_rate_limit_plan_imports_the_same_graph() {
    let config_text = "Add a `[rate_limit]` section to the configuration, with the requests per\n\
                       minute and the burst size, and defaults when it is absent.";
    let expected = json!({
        "rate-limit-config": {"title": "Rate limit configuration", "description": config_text, "deps": []},
        "token-bucket": {"title": "Token bucket", "deps": ["rate-limit-config"],
            "description": "A token bucket per client key, refilled continuously."},
        "middleware": {"title": "Rate limit middleware", "deps": ["token-bucket"],
            "description": "Apply the bucket to every request and answer 429 with a Retry-After header."},
        "integration-verify": {"title": "Verify the whole feature", "deps": ["middleware", "rate-limit-config"],
            "description": "Run the full suite and the linters on the merged work."},
    });
    let mut graphs = Vec::new();
    let mut last = None;
    for file in ["rate-limit.md", "rate-limit-toml.md", "rate-limit.toml"] {
        let repo = Repo::new();
        write(&repo, file, &fixture(file));
        let run = import(&repo, &[file]);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run}");
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 5, "{run}");
        assert_eq!(lines[4], "4 created, 0 updated, 0 unchanged, 0 removed from the plan");
        for (line, stage) in lines.iter().zip(STAGES) {
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert_eq!((parts.len(), parts[0], parts[2]), (3, "created", stage), "{run}");
            assert!(is_task_id(parts[1]), "{run}");
            assert_eq!(id_of(&repo, stage), parts[1], "`show {stage}` names the stage's task");
        }

        let graph = stage_graph(&repo);
        for (stage, node) in &graph {
            let shown = pick(node, "title description deps");
            assert_eq!(&shown, &expected[stage], "{file}: {stage}");
            let print = node["fingerprint"].as_str().unwrap();
            let hex = print.bytes().all(|b| b.is_ascii_hexdigit());
            assert!(print.len() == 64 && hex, "{print}");
        }
        assert_eq!(graph.len(), 4, "{graph:?}");

        let bucket = id_of(&repo, "token-bucket");
        let keys = "plan stage acceptance acceptance_checks artifacts wiring setup files";
        let stored = repo.stored_task(&bucket);
        let want = json!({
            "plan": file, "stage": "token-bucket", "acceptance": ["cargo test limit::bucket"],
            "acceptance_checks": [{
                "command": "cargo test limit::bucket -- --list",
                "stdout_contains": ["refills_over_time", "bursts_up_to_capacity"],
                "stdout_not_contains": ["FAILED"],
                "exit_code": 0,
            }],
            "artifacts": ["src/limit/bucket.rs"],
            "wiring": [{"source": "src/limit/mod.rs", "pattern": "pub mod bucket;",
                "description": "the bucket module is part of the crate"}],
            "setup": ["cargo fetch"], "files": ["src/limit/**"],
        });
        assert_eq!(pick(&stored, keys), want);
        let truth = r#"grep -q "struct TokenBucket" src/limit/bucket.rs"#;
        assert_eq!(stored["truths"][0]["command"], truth);
        let config = repo.stored_task(&id_of(&repo, "rate-limit-config"));
        let keys = "stage context_budget working_dir acceptance acceptance_checks wiring";
        let want = json!({"stage": "rate-limit-config", "context_budget": 40, "working_dir": ".",
            "acceptance": ["cargo test config::rate_limit"], "acceptance_checks": null, "wiring": null});
        assert_eq!(pick(&config, keys), want);
        let middleware = repo.stored_task(&id_of(&repo, "middleware"));
        assert_eq!(middleware["wiring"][0]["pattern"], r"RateLimit::new\(");

        // Stage ids work wherever a task id does.
        let config_id = id_of(&repo, "rate-limit-config");
        let claimed = repo.run_ok(&["claim", "rate-limit-config"]);
        assert!(claimed.stdout.starts_with(&format!("{config_id}  token ")), "{claimed}");
        assert!(repo.rev(&format!("refs/loom/claims/{config_id}")).is_some());
        let blocked = repo.loom(&["claim", "token-bucket"]);
        assert_eq!(blocked.code, 3, "{blocked}");
        assert_has(&blocked.stderr, &[&format!("{bucket} is blocked")]);
        repo.run_ok(&["update", "token-bucket", "--priority", "p1", "--add-label", "bucket"]);
        let shown = pick(&repo.show(&bucket), "priority labels");
        assert_eq!(shown, json!({"priority": "p1", "labels": ["bucket"]}));
        graphs.push(graph);
        last = Some(repo);
    }
    assert_eq!(graphs[0], graphs[1], "yaml and toml in markdown differ");
    assert_eq!(graphs[0], graphs[2], "markdown and a toml file differ");

    // The same stage ids from a second plan make the alias ambiguous.
    let repo = last.unwrap();
    write(&repo, "rate-limit.md", &fixture("rate-limit.md"));
    assert_eq!(import(&repo, &["rate-limit.md"]).code, 0);
    let run = repo.run_fail(1, &["show", "token-bucket"]);
    assert_has(&run.stderr, &["stage id \"token-bucket\" is used by several plans"]);
    // The plan-qualified form names one of them.
    assert_eq!(repo.show("rate-limit.md:token-bucket")["plan"], json!("rate-limit.md"));
}

/// The stage ids of an import report's list.
fn stage_ids(list: &Value) -> Vec<&str> {
    let entries = list.as_array().unwrap().iter();
    entries.map(|entry| entry["stage"].as_str().unwrap()).collect()
}

#[test]
fn reimporting_an_unchanged_plan_writes_nothing_and_a_dry_run_never_writes() {
    let repo = Repo::new();
    write(&repo, "rate-limit.md", &fixture("rate-limit.md"));
    let before = loom_refs(&repo);
    let dry = import(&repo, &["rate-limit.md", "--dry-run"]);
    assert_eq!((dry.code, dry.stderr.as_str()), (0, ""), "{dry}");
    // Guards: a dry run printed random ids the real import then did not use; it names the stages instead.
    let would: Vec<&str> = dry
        .stdout
        .lines()
        .filter(|l| l.starts_with("would create  (new task)"))
        .collect();
    assert_eq!(would.len(), 4, "{dry}");
    assert!(
        !dry.stdout.contains("loom-"),
        "a dry run shows no id it does not know: {dry}"
    );
    let dry_json = repo.json(&["plan", "import", "rate-limit.md", "--dry-run"]);
    assert_eq!(
        dry_json["created"][0],
        json!({"stage": "rate-limit-config", "id": null})
    );
    let summary = "4 created, 0 updated, 0 unchanged, 0 removed from the plan (dry run";
    assert_has(&dry.stdout, &[summary]);
    assert_eq!(loom_refs(&repo), before, "a dry run wrote a ref");

    assert_eq!(import(&repo, &["rate-limit.md"]).code, 0);
    let imported = loom_refs(&repo);
    let tasks = imported.lines().filter(|l| l.starts_with("refs/loom/tasks/"));
    assert_eq!(tasks.count(), 4, "{imported}");
    let summary = "0 created, 0 updated, 4 unchanged, 0 removed from the plan\n";
    assert_run(&import(&repo, &["rate-limit.md"]), 0, summary, "");
    assert_eq!(loom_refs(&repo), imported, "an unchanged plan wrote a ref");

    let report = repo.json(&["plan", "import", "rate-limit.md"]);
    assert_eq!(stage_ids(&report["unchanged"]), STAGES);
    let flags = pick(&report, "plan dry_run created updated removed cancelled warnings");
    let empty = json!({"plan": "rate-limit.md", "dry_run": false, "created": [], "updated": [],
        "removed": [], "cancelled": [], "warnings": []});
    assert_eq!(flags, empty);
    assert_eq!(loom_refs(&repo), imported);
}

#[test]
fn an_edited_stage_updates_only_its_task_and_keeps_what_was_set_by_hand() {
    let repo = Repo::new();
    let original = fixture("rate-limit.md");
    write(&repo, "rate-limit.md", &original);
    assert_eq!(import(&repo, &["rate-limit.md"]).code, 0);
    let bucket = id_of(&repo, "token-bucket");
    repo.run_ok(&["update", "token-bucket", "--priority", "p0", "--add-label", "hand-set"]);
    let tips: Vec<String> = STAGES.iter().map(|s| repo.tip(&id_of(&repo, s))).collect();
    let before = loom_refs(&repo);

    // Reword one stage, and add a stage after the last one.
    let (old, new) = ("refilled continuously.", "refilled every second.");
    let docs = "      context_budget: 25\n\n    - id: docs\n      name: Document the limits\n      \
                description: Describe the limits.\n      dependencies: [token-bucket]\n";
    let edited = original.replace(old, new).replace("      context_budget: 25\n", docs);
    assert!(edited.contains(new) && edited.contains("id: docs"));
    write(&repo, "rate-limit.md", &edited);
    let dry = import(&repo, &["rate-limit.md", "--dry-run"]);
    assert_eq!((dry.code, dry.stderr.as_str()), (0, ""), "{dry}");
    let would = format!("would update  {bucket}  token-bucket\n");
    let summary = "1 created, 1 updated, 3 unchanged, 0 removed from the plan (dry run";
    assert_has(&dry.stdout, &[&would, "would create  (new task)     docs\n", summary]);
    assert_eq!(loom_refs(&repo), before, "a dry run wrote a ref");

    let run = import(&repo, &["rate-limit.md"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run}");
    let created: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!((created[0], created[2]), ("created", "docs"), "{run}");
    assert_eq!(lines[1], format!("updated    {bucket}  token-bucket"));
    assert_eq!(lines[2], "1 created, 1 updated, 3 unchanged, 0 removed from the plan");

    for (stage, old_tip) in STAGES.iter().zip(&tips) {
        let moved = repo.tip(&id_of(&repo, stage)) != *old_tip;
        let edited = *stage == "token-bucket";
        assert_eq!(moved, edited, "{stage}: only the edited stage's task moves");
    }
    let shown = pick(&repo.show("token-bucket"), "description priority labels");
    let description = "A token bucket per client key, refilled every second.\n";
    let want = json!({"description": description, "priority": "p0", "labels": ["hand-set"]});
    assert_eq!(shown, want);
    let log = repo.run_ok(&["log", "token-bucket"]).stdout;
    let newest = log.split("\ncommit ").next().unwrap();
    let note = "update from plan rate-limit.md (stage token-bucket)";
    assert_has(newest, &["Op:     plan import", note]);
    let docs = pick(&repo.show("docs"), "id title deps");
    let want = json!({"id": created[1], "title": "Document the limits", "deps": [bucket]});
    assert_eq!(docs, want);

    let settled = loom_refs(&repo);
    let summary = "0 created, 0 updated, 5 unchanged, 0 removed from the plan\n";
    assert_run(&import(&repo, &["rate-limit.md"]), 0, summary, "");
    assert_eq!(loom_refs(&repo), settled);
}

#[test]
fn removed_stages_are_reported_then_pruned_and_done_tasks_stay_done() {
    let repo = Repo::new();
    let original = fixture("rate-limit.md");
    write(&repo, "rate-limit.md", &original);
    assert_eq!(import(&repo, &["rate-limit.md"]).code, 0);
    let (config, verify) = (id_of(&repo, "rate-limit-config"), id_of(&repo, "integration-verify"));
    repo.run_ok(&["claim", "rate-limit-config"]);
    repo.run_ok(&["done", "rate-limit-config", "--skip-verify"]);

    // Rename the done stage and drop the last stage.
    let start = original.find("    - id: integration-verify").unwrap();
    let end = original.find("```\n\n<!-- END loom METADATA").unwrap();
    let edited = [&original[..start], &original[end..]].concat();
    let edited = edited.replace("name: Rate limit configuration", "name: Rate limit settings");
    write(&repo, "rate-limit.md", &edited);
    // Guards: re-importing rewrote a done task (its title changed); done tasks are never changed and the skip is reported.
    let stdout = "0 created, 0 updated, 2 unchanged, 1 skipped (done), 1 removed from the plan\n";
    let stderr = format!(
        "warning: stage rate-limit-config changed in the plan but {config} is done; it was left as it is\n\
         warning: stage integration-verify ({verify}) is no longer in the plan; its task stays open \
         (--prune cancels it)\n"
    );
    assert_run(&import(&repo, &["rate-limit.md"]), 0, stdout, &stderr);
    let done = pick(&repo.show(&config), "status title");
    let want = json!({"status": "done", "title": "Rate limit configuration"});
    assert_eq!(done, want, "a done task is left as it is");
    assert_eq!(repo.status_of(&verify), "blocked", "a removed stage's task stays open");

    let before = loom_refs(&repo);
    let dry = import(&repo, &["rate-limit.md", "--prune", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry}");
    assert_has(&dry.stdout, &[&format!("would cancel  {verify}  integration-verify\n")]);
    assert_eq!(loom_refs(&repo), before, "a dry run wrote a ref");

    let pruned = repo.json(&["plan", "import", "rate-limit.md", "--prune"]);
    let entry = json!([{"stage": "integration-verify", "id": verify}]);
    let want = json!({"removed": entry, "cancelled": entry});
    assert_eq!(pick(&pruned, "removed cancelled"), want);
    assert_eq!(repo.status_of(&verify), "cancelled");
    let log = repo.run_ok(&["log", &verify]).stdout;
    assert_has(&log, &["stage integration-verify is no longer in plan rate-limit.md"]);
    let summary = "0 created, 0 updated, 2 unchanged, 1 skipped (done), 0 removed from the plan\n";
    let run = import(&repo, &["rate-limit.md", "--prune"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, summary), "{run}");
    assert_eq!(repo.status_of(&config), "done");
}

/// A markdown plan: line 1 a title, 2 the start marker, 3 the fence, 4–6 `loom`, `version` and
/// `stages`, so the stages start on line 7.
fn md(stages: &str) -> String {
    let head = "# Plan\n<!-- loom METADATA -->\n```yaml\nloom:\n  version: 1\n  stages:\n";
    format!("{head}{stages}```\n<!-- END loom METADATA -->\n")
}

/// A stage of three lines plus `extra`.
fn stage(id: &str, extra: &str) -> String {
    format!("    - id: {id}\n      name: Stage {id}\n      description: The {id} stage.\n{extra}")
}

#[test]
fn a_bad_plan_is_refused_whole_with_every_error_on_its_line() {
    let repo = Repo::new();
    write(&repo, "plan.md", &md(&[stage("one", ""), stage("two", "")].concat()));
    assert_eq!(import(&repo, &["plan.md"]).code, 0);
    let before = loom_refs(&repo);
    // A valid plan (lines 7 to 13) that would change the tasks, then one bad stage.
    let good = stage("one", "") + &stage("new", "      dependencies: [one]\n");
    let then = |id: &str, extra: &str| md(&format!("{good}{}", stage(id, extra)));
    let cycle = stage("a", "      dependencies: [b]\n") + &stage("b", "      dependencies: [a]\n") + &good;
    let empty = "      acceptance:\n        - cargo test\n        - \"  \"\n";
    let regex = "      wiring:\n        - source: src/lib.rs\n          pattern: \"a[b\"\n";
    let toml = "[loom]\nversion = 1\n\n[[loom.stages]]\nid = \"one\"\nname = Token bucket\ndescription = \"D\"\n";
    let invalid = [
        "line 11: invalid stage id \"setup/db\": a stage id has only ascii letters, digits, `-` and `_`",
        "line 15: stage `setup/db` has an empty acceptance command",
        "line 16: stage `api` is missing required field `name`",
        "line 16: dependency cycle: api → client → api",
        "line 18: stage `api` depends on unknown stage `schema`",
        "line 19: stage `api` has context_budget 150, outside 1–100",
        "line 26: stage `client` has a wiring pattern \"Client::new(\" that is not a valid regex: unclosed group",
        "line 27: duplicate stage id `api` (lines 16 and 27)",
    ];
    #[rustfmt::skip]
    let cases: [(&str, String, &[&str]); 11] = [
        ("plan.md", then("two", "      dependencies: [one\n"),
            &["line 17: YAML syntax error: unclosed bracket '[' (column 21)"]),
        ("plan.md", then("two", "      dependencies: [one, nope]\n"),
            &["line 17: stage `two` depends on unknown stage `nope`"]),
        ("plan.md", md(&cycle), &["line 7: dependency cycle: a → b → a"]),
        ("plan.md", then("one", ""), &["line 14: duplicate stage id `one` (lines 7 and 14)"]),
        ("plan.md", then("a.b", ""),
            &["line 14: invalid stage id \"a.b\": a stage id has only ascii letters, digits, `-` and `_`"]),
        ("plan.md", then("two", empty), &["line 19: stage `two` has an empty acceptance command"]),
        ("plan.md", then("two", regex),
            &["line 19: stage `two` has a wiring pattern \"a[b\" that is not a valid regex: unclosed character class"]),
        ("invalid.md", fixture("invalid.md"), &invalid),
        ("plan.md", md(&good).replace("<!-- loom METADATA -->\n", ""), &["no `<!-- loom METADATA -->` line"]),
        ("plan.md", md(&good).replace("<!-- END loom METADATA -->\n", ""),
            &["line 2: `<!-- loom METADATA -->` has no `<!-- END loom METADATA -->` after it"]),
        ("plan.toml", toml.to_owned(), &["line 6: TOML syntax error: string values must be quoted"]),
    ];
    for (file, text, errors) in cases {
        write(&repo, file, &text);
        let run = repo.run_fail(2, &["plan", "import", file]);
        let count = match errors.len() {
            1 => "1 error".to_owned(),
            n => format!("{n} errors"),
        };
        let head = format!("error: {file} is not a valid plan ({count}); nothing was imported:\n");
        assert!(run.stderr.starts_with(&head), "{run}");
        let listed: Vec<&str> = run.stderr.lines().skip(1).collect();
        assert_eq!(listed.len(), errors.len(), "{run}");
        for (line, error) in listed.iter().zip(errors) {
            let want = format!("  {file}: {error}");
            assert!(line.starts_with(&want), "expected {want:?}:\n{run}");
        }
        assert_eq!(loom_refs(&repo), before, "a refused plan wrote a ref:\n{text}");
    }
}

/// A repository with `fixtures/plans/checks.md` imported and the files its checks look at.
fn checks_repo() -> Repo {
    let repo = Repo::new();
    write(&repo, "src/real.rs", "pub fn answer() -> u32 {\n    42\n}\n");
    write(&repo, "src/empty.rs", "");
    write(&repo, "src/stub.rs", "todo!()\n");
    write(&repo, "src/gate.rs", "todo!()\n");
    write(&repo, "sub/marker", "here\n");
    write(&repo, "checks.md", &fixture("checks.md"));
    let run = import(&repo, &["checks.md"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run}");
    repo
}

/// Each check of a `verify --json` report as `verify` prints it: `pass|FAIL  kind  name`.
fn marks(report: &Value) -> Vec<String> {
    let checks = report["checks"].as_array().unwrap();
    let mark = |check: &Value| if check["passed"] == true { "pass" } else { "FAIL" };
    let text = |check: &Value, key: &str| check[key].as_str().unwrap().to_owned();
    let line = |c: &Value| format!("{}  {:<10}  {}", mark(c), text(c, "kind"), text(c, "name"));
    checks.iter().map(line).collect()
}

/// The check lines of `verify`'s text output.
fn printed_marks(stdout: &str) -> Vec<&str> {
    let check = |line: &&str| line.starts_with("pass  ") || line.starts_with("FAIL  ");
    stdout.lines().filter(check).collect()
}

#[test]
fn verify_runs_every_check_and_exits_5_when_one_fails() {
    let repo = checks_repo();
    let worktree = repo.dir.canonicalize().unwrap().display().to_string();
    let pass = id_of(&repo, "all-pass");
    let env_check = r#"printf '%s|%s' "$LOOM_TASK" "$LOOM_WORKTREE""#;
    let run = repo.loom(&["verify", "all-pass"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run}");
    let expected = [
        "pass  acceptance  test -f src/real.rs",
        "pass  acceptance  echo ready to go",
        "pass  acceptance  exit 3",
        &format!("pass  acceptance  {env_check}"),
        "pass  artifact    src/real.rs",
        "pass  artifact    src/re*.rs",
        r"pass  wiring      src/real.rs: /pub fn answer\(\)/",
    ];
    assert_eq!(printed_marks(&run.stdout), expected, "{run}");
    let summary = format!("{pass}: all 7 checks pass in {worktree}");
    assert_eq!(run.stdout.lines().last(), Some(summary.as_str()));
    let report = repo.loom(&["--json", "verify", "all-pass"]);
    assert_eq!(report.code, 0, "{report}");
    let report = report.json();
    let want = json!({"task": pass, "worktree": worktree, "passed": true});
    assert_eq!(pick(&report, "task worktree passed"), want);
    assert_eq!(marks(&report), expected);
    let env = &report["checks"][3]["stdout"];
    let seen = json!(format!("{pass}|{worktree}"));
    assert_eq!(env, &seen, "the commands see LOOM_TASK and LOOM_WORKTREE");
    let fields = "detail duration_ms exit_code kind name passed stderr stdout";
    for check in report["checks"].as_array().unwrap() {
        let mut keys: Vec<&str> = check.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys.join(" "), fields);
        assert!(check["duration_ms"].is_u64(), "{check}");
    }
    let checks = report["checks"].as_array().unwrap();
    let exit_codes: Vec<Value> = checks.iter().map(|c| c["exit_code"].clone()).collect();
    assert_eq!(Value::from(exit_codes), json!([0, 0, 3, 0, null, null, null]));

    let fail = id_of(&repo, "some-fail");
    let run = repo.loom(&["verify", "some-fail"]);
    assert_eq!((run.code, run.stderr.as_str()), (5, ""), "{run}");
    let expected = [
        "FAIL  acceptance  echo nothing here",
        "pass  acceptance  exit 3",
        "FAIL  acceptance  true",
        "pass  artifact    src/real.rs",
        "FAIL  artifact    src/empty.rs",
        "FAIL  artifact    src/stub.rs",
        r"pass  wiring      src/real.rs: /pub fn answer\(\)/",
        r"FAIL  wiring      src/real.rs: /pub fn missing\(/",
    ];
    assert_eq!(printed_marks(&run.stdout), expected, "{run}");
    let summary = format!("{fail}: 5 of 8 checks failed in {worktree}\n");
    let reasons = [
        "stdout does not contain \"ready\"",
        "exit code 0, expected 3",
        "src/empty.rs is a stub",
    ];
    assert_has(&run.stdout, &reasons);
    assert_has(&run.stdout, &["src/stub.rs is a stub", &summary]);
    let report = repo.loom(&["--json", "verify", "some-fail"]);
    assert_eq!(report.code, 5, "{report}");
    let report = report.json();
    let want = json!({"task": fail, "passed": false});
    assert_eq!(pick(&report, "task passed"), want);
    assert_eq!(marks(&report), expected);

    let none = id_of(&repo, "no-checks");
    let note = format!("{none} has no checks\n");
    assert_run(&repo.loom(&["verify", "no-checks"]), 0, "", &note);
}

#[test]
fn done_runs_the_checks_first_and_a_failure_keeps_the_task_claimed() {
    let repo = checks_repo();
    let gated = id_of(&repo, "gated");
    repo.run_ok(&["claim", "gated"]);
    let (claim_ref, task_ref) = (format!("refs/loom/claims/{gated}"), format!("refs/loom/tasks/{gated}"));
    let held = (repo.rev(&claim_ref), repo.rev(&task_ref));
    let run = repo.loom(&["done", "gated"]);
    assert_eq!(run.code, 5, "{run}");
    let failed = ["FAIL  acceptance  cat src/gate.rs", "FAIL  artifact    src/gate.rs"];
    assert_eq!(printed_marks(&run.stdout), failed, "{run}");
    assert_has(&run.stderr, &[&format!("{gated} stays claimed")]);
    let now = (repo.rev(&claim_ref), repo.rev(&task_ref));
    assert_eq!(now, held, "a refused done wrote a ref");
    let shown = repo.show(&gated);
    assert_eq!(
        (&shown["status"], &shown["claim"]["agent"]),
        (&json!("claimed"), &json!(AGENT))
    );

    write(&repo, "src/gate.rs", "pub fn gate() -> bool {\n    true\n}\n");
    let run = repo.loom(&["done", "gated"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run}");
    let passed = ["pass  acceptance  cat src/gate.rs", "pass  artifact    src/gate.rs"];
    assert_eq!(printed_marks(&run.stdout), passed, "{run}");
    let done = format!("{gated}  status pending -> done; done by {AGENT}\n");
    assert_has(&run.stdout, &[&done]);
    assert_eq!(repo.status_of(&gated), "done");
    assert_eq!(repo.rev(&claim_ref), None, "done deletes the claim");

    let skipped = id_of(&repo, "skipped");
    repo.run_ok(&["claim", "skipped"]);
    assert_eq!(repo.loom(&["done", "skipped"]).code, 5);
    let stdout = format!("{skipped}  status pending -> done; done by {AGENT}\n");
    assert_run(&repo.loom(&["done", "skipped", "--skip-verify"]), 0, &stdout, "");
    assert_eq!(repo.status_of(&skipped), "done");

    let none = id_of(&repo, "no-checks");
    repo.run_ok(&["claim", "no-checks"]);
    let stdout = format!("{none}  status pending -> done; done by {AGENT}\n");
    assert_run(&repo.loom(&["done", "no-checks"]), 0, &stdout, "");
}

#[test]
fn a_stage_working_dir_is_where_its_commands_run() {
    let repo = checks_repo();
    assert_eq!(repo.stored_task(&id_of(&repo, "in-sub"))["working_dir"], "sub");
    let run = repo.loom(&["verify", "in-sub"]);
    let expected = ["pass  acceptance  test -f marker", "pass  acceptance  ls"];
    let got = (run.code, printed_marks(&run.stdout));
    let doc = "plans.md: `working_dir` is where the stage's commands run";
    assert_eq!(got, (0, expected.to_vec()), "{doc}");
}
