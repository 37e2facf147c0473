//! Plans read end to end: each source format, each error with its exact line, errors reported
//! together, unknown fields kept, and fingerprints.

use std::path::Path;

use serde_json::json;

use super::*;

const RATE_LIMIT_MD: &str = include_str!("../../fixtures/plans/rate-limit.md");
const RATE_LIMIT_TOML_MD: &str = include_str!("../../fixtures/plans/rate-limit-toml.md");
const RATE_LIMIT_TOML: &str = include_str!("../../fixtures/plans/rate-limit.toml");
const INVALID_MD: &str = include_str!("../../fixtures/plans/invalid.md");

/// A markdown plan around a yaml body whose first line is line 6 of the file.
fn md(yaml: &str) -> String {
    format!("# Plan\n\nSome prose.\n<!-- loom METADATA -->\n```yaml\n{yaml}```\n<!-- END loom METADATA -->\n")
}

/// A markdown plan with `stages` (yaml, indented as list items of `stages`) starting on line 9.
fn md_stages(stages: &str) -> String {
    md(&format!("loom:\n  version: 1\n  stages:\n{stages}"))
}

fn accepted(text: &str, source: PlanSource) -> ParsedPlan {
    parse_plan(text, source).unwrap_or_else(|errors| panic!("refused:\n{errors}"))
}

fn refused(text: &str, source: PlanSource) -> Vec<String> {
    match parse_plan(text, source) {
        Ok(parsed) => panic!("accepted: {:?}", parsed.plan),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn refused_md(stages: &str) -> Vec<String> {
    refused(&md_stages(stages), PlanSource::Markdown)
}

/// A stage that passes every check, for tests about one other stage.
const GOOD: &str = "    - {id: good, name: Good, description: Fine.}\n";

#[test]
fn markdown_yaml_plan_is_read_field_by_field() {
    let parsed = accepted(RATE_LIMIT_MD, PlanSource::Markdown);
    assert_eq!(parsed.warnings, []);
    let plan = &parsed.plan;
    assert_eq!(plan.version, 1);
    let ids: Vec<_> = plan
        .stages
        .iter()
        .map(|stage| (stage.id.as_str(), stage.line))
        .collect();
    assert_eq!(
        ids,
        [
            ("rate-limit-config", 19),
            ("token-bucket", 31),
            ("middleware", 55),
            ("integration-verify", 69)
        ]
    );
    let config = &plan.stages[0];
    assert_eq!(config.context_budget, Some(40));
    assert_eq!(config.working_dir.as_deref(), Some("."));
    assert!(config.description.starts_with("Add a `[rate_limit]` section"));
    let bucket = plan.stage("token-bucket").unwrap();
    assert_eq!(bucket.name, "Token bucket");
    assert_eq!(bucket.dependencies, ["rate-limit-config"]);
    assert_eq!(bucket.setup, ["cargo fetch"]);
    assert_eq!(bucket.files, ["src/limit/**"]);
    assert_eq!(bucket.artifacts, ["src/limit/bucket.rs"]);
    assert_eq!(
        bucket.acceptance,
        [
            Check {
                command: "cargo test limit::bucket".into(),
                ..Check::default()
            },
            Check {
                command: "cargo test limit::bucket -- --list".into(),
                stdout_contains: vec!["refills_over_time".into(), "bursts_up_to_capacity".into()],
                stdout_not_contains: vec!["FAILED".into()],
                exit_code: Some(0),
                extra: BTreeMap::new(),
                ..Check::default()
            },
        ]
    );
    assert_eq!(
        bucket.truths[0].command,
        "grep -q \"struct TokenBucket\" src/limit/bucket.rs"
    );
    assert_eq!(
        bucket.wiring,
        [Wiring {
            source: "src/limit/mod.rs".into(),
            pattern: "pub mod bucket;".into(),
            description: Some("the bucket module is part of the crate".into()),
            extra: BTreeMap::new(),
        }]
    );
    assert_eq!(plan.stages[2].wiring[0].pattern, "RateLimit::new\\(");
    assert_eq!(plan.stages[3].dependencies, ["middleware", "rate-limit-config"]);
}

#[test]
fn toml_in_markdown_and_plain_toml_give_the_same_plan() {
    let yaml = accepted(RATE_LIMIT_MD, PlanSource::Markdown).plan;
    for (text, source, lines) in [
        (RATE_LIMIT_TOML_MD, PlanSource::Markdown, [11, 23, 49, 62]),
        (RATE_LIMIT_TOML, PlanSource::Toml, [6, 18, 35, 48]),
    ] {
        let parsed = accepted(text, source);
        assert_eq!(parsed.warnings, []);
        let mut plan = parsed.plan;
        let found: Vec<_> = plan.stages.iter().map(|stage| stage.line).collect();
        assert_eq!(found, lines, "a toml stage starts at its [[loom.stages]] header");
        let fingerprints = |plan: &Plan| plan.stages.iter().map(Stage::fingerprint).collect::<Vec<_>>();
        assert_eq!(fingerprints(&plan), fingerprints(&yaml));
        // Descriptions differ only in their final newline, which toml's basic strings lack.
        for (stage, original) in plan.stages.iter_mut().zip(&yaml.stages) {
            stage.line = original.line;
            stage.description = original.description.clone();
        }
        assert_eq!(plan, yaml);
    }
}

#[test]
fn detect_source_goes_by_extension() {
    assert_eq!(detect_source(Path::new("plans/a.toml")), PlanSource::Toml);
    assert_eq!(detect_source(Path::new("A.TOML")), PlanSource::Toml);
    assert_eq!(detect_source(Path::new("plans/a.md")), PlanSource::Markdown);
    assert_eq!(detect_source(Path::new("PLAN")), PlanSource::Markdown);
}

#[test]
fn syntax_errors_name_lines_of_the_whole_file() {
    assert_eq!(
        refused(&md("loom:\n  version: 1\n  stages: [\n"), PlanSource::Markdown),
        ["line 8: YAML syntax error: unclosed bracket '[' (column 11)"]
    );
    let toml_md = RATE_LIMIT_TOML_MD.replace("context_budget = 40", "context_budget = ");
    assert_eq!(
        refused(&toml_md, PlanSource::Markdown),
        ["line 20: TOML syntax error: string values must be quoted, expected literal string"]
    );
    let toml = RATE_LIMIT_TOML.replace("id = \"middleware\"", "id = \"middleware");
    let errors = refused(&toml, PlanSource::Toml);
    assert!(errors[0].starts_with("line 36: TOML syntax error: "), "{errors:?}");
}

#[test]
fn duplicate_keys_are_syntax_errors() {
    let errors = refused_md("    - id: a\n      name: A\n      name: B\n      description: D\n");
    assert!(
        errors[0].starts_with("line 11: YAML syntax error: duplicate mapping key"),
        "{errors:?}"
    );
}

#[test]
fn missing_metadata_parts_are_refused() {
    assert_eq!(
        refused("# Plan\n\nNo metadata.\n", PlanSource::Markdown)[0],
        PlanErrorKind::MissingMetadata.to_string()
    );
    let no_end = "# Plan\n<!-- loom METADATA -->\n```yaml\nloom: {}\n```\n";
    assert_eq!(
        refused(no_end, PlanSource::Markdown),
        ["line 2: `<!-- loom METADATA -->` has no `<!-- END loom METADATA -->` after it"]
    );
    let no_fence = "<!-- loom METADATA -->\nloom:\n  version: 1\n<!-- END loom METADATA -->\n";
    assert_eq!(
        refused(no_fence, PlanSource::Markdown),
        ["line 1: no ```yaml or ```toml fenced block between the loom METADATA markers"]
    );
}

#[test]
fn missing_loom_version_and_stages_are_reported() {
    assert_eq!(
        refused(&md(""), PlanSource::Markdown),
        ["line 6: the plan is missing required field `loom`"]
    );
    assert_eq!(
        refused(&md("\n\nloom:\n  sandbox: {}\n"), PlanSource::Markdown),
        [
            "line 8: `loom` is missing required field `version`",
            "line 8: `loom` is missing required field `stages`"
        ]
    );
    assert_eq!(
        refused("[other]\n", PlanSource::Toml),
        ["line 1: the plan is missing required field `loom`"]
    );
}

#[test]
fn unsupported_version_stops_reading() {
    let text = md("loom:\n  version: 2\n  stages: nonsense\n");
    assert_eq!(
        refused(&text, PlanSource::Markdown),
        ["line 7: unsupported plan version 2 (this git-loom reads version 1)"]
    );
    let text = "[loom]\nversion = \"1\"\nstages = []\n";
    assert_eq!(
        refused(text, PlanSource::Toml),
        ["line 2: unsupported plan version \"1\" (this git-loom reads version 1)"]
    );
}

#[test]
fn missing_required_stage_fields_name_the_stage_line() {
    assert_eq!(
        refused_md("    - id: a\n      dependencies: []\n    - name: B\n      description: D\n      setup: ['']\n"),
        [
            "line 9: stage `a` is missing required field `name`",
            "line 11: stage `#2` is missing required field `id`",
            "line 13: stage `#2` has an empty setup command",
        ]
    );
}

#[test]
fn wrong_types_name_the_value_line() {
    let stages = "    - id: a\n      name: [A]\n      description: D\n      dependencies: good\n      acceptance:\n        - [5]\n        - {command: x, exit_code: nope}\n      context_budget: half\n";
    assert_eq!(
        refused_md(&format!("{GOOD}{stages}")),
        [
            "line 11: `name` of stage `a` must be a string, found a list",
            "line 13: `dependencies` of stage `a` must be a list of strings, found a string",
            "line 15: `acceptance` item 1 of stage `a` must be a command string or a map, found a list",
            "line 16: `exit_code` of `acceptance` item 2 of stage `a` must be a whole number within 32 bits, found a string",
            "line 17: `context_budget` of stage `a` must be a whole percent, found a string",
        ]
    );
    assert_eq!(
        refused_md("    - just a string\n"),
        ["line 9: stage `#1` must be a map, found a string"]
    );
}

#[test]
fn invalid_stage_ids_are_refused() {
    let errors = refused_md("    - {id: a.b, name: A, description: D}\n    - {id: 01-b, name: B, description: D}\n");
    assert_eq!(
        errors,
        [
            "line 9: invalid stage id \"a.b\": a stage id has only ascii letters, digits, `-` and `_`",
            "line 10: invalid stage id \"01-b\": a stage id does not start with two digits and a hyphen (`01-`)",
        ]
    );
}

#[test]
fn duplicate_stage_ids_name_both_lines() {
    assert_eq!(
        refused_md(&format!(
            "{GOOD}    - id: good\n      name: Again\n      description: D\n"
        )),
        ["line 10: duplicate stage id `good` (lines 9 and 10)"]
    );
}

#[test]
fn unknown_dependencies_name_the_dependency_line() {
    let stages =
        "    - id: a\n      name: A\n      description: D\n      dependencies:\n        - good\n        - nowhere\n";
    assert_eq!(
        refused_md(&format!("{GOOD}{stages}")),
        ["line 15: stage `a` depends on unknown stage `nowhere`"]
    );
}

#[test]
fn cycles_are_printed_from_their_first_stage() {
    let stages = "    - {id: a, name: A, description: D, dependencies: [b]}\n    - {id: b, name: B, description: D, dependencies: [c]}\n    - {id: c, name: C, description: D, dependencies: [a, d]}\n    - {id: d, name: D, description: D, dependencies: [d]}\n";
    assert_eq!(
        refused_md(&format!("{GOOD}{stages}")),
        [
            "line 10: dependency cycle: a → b → c → a",
            "line 13: dependency cycle: d → d"
        ]
    );
}

#[test]
fn a_cycle_in_toml_names_the_header_line() {
    let text = "[loom]\nversion = 1\n\n[[loom.stages]]\nid = \"x\"\nname = \"X\"\ndescription = \"D\"\ndependencies = [\"y\"]\n\n[[loom.stages]]\nid = \"y\"\nname = \"Y\"\ndescription = \"D\"\ndependencies = [\"x\"]\n";
    assert_eq!(refused(text, PlanSource::Toml), ["line 4: dependency cycle: x → y → x"]);
}

#[test]
fn empty_commands_are_refused_wherever_they_are() {
    let stages = "    - id: a\n      name: A\n      description: D\n      setup: [\"\"]\n      acceptance:\n        - {command: \" \"}\n      truths:\n        - ''\n";
    assert_eq!(
        refused_md(stages),
        [
            "line 12: stage `a` has an empty setup command",
            "line 14: stage `a` has an empty acceptance command",
            "line 16: stage `a` has an empty truth command",
        ]
    );
}

#[test]
fn invalid_wiring_patterns_carry_the_regex_error() {
    let stages = "    - id: a\n      name: A\n      description: D\n      wiring:\n        - source: src/lib.rs\n          pattern: 'fn main('\n        - {source: x, description: no pattern}\n";
    assert_eq!(
        refused_md(stages),
        [
            "line 14: stage `a` has a wiring pattern \"fn main(\" that is not a valid regex: unclosed group",
            "line 15: `wiring` item 2 of stage `a` is missing required field `pattern`",
        ]
    );
}

#[test]
fn context_budget_must_be_a_percent() {
    let stage = |budget: &str| format!("    - {{id: a, name: A, description: D, context_budget: {budget}}}\n");
    for (budget, expected) in [("0", "0"), ("101", "101"), ("-5", "-5"), ("99999999999", "99999999999")] {
        assert_eq!(
            refused_md(&stage(budget)),
            [format!(
                "line 9: stage `a` has context_budget {expected}, outside 1–100"
            )]
        );
    }
    for budget in ["1", "100"] {
        let parsed = accepted(&md_stages(&stage(budget)), PlanSource::Markdown);
        assert_eq!(parsed.plan.stages[0].context_budget, budget.parse().ok());
    }
}

#[test]
fn every_error_is_reported_together_in_line_order() {
    let errors = parse_plan(INVALID_MD, PlanSource::Markdown).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "line 11: invalid stage id \"setup/db\": a stage id has only ascii letters, digits, `-` and `_`\n\
         line 15: stage `setup/db` has an empty acceptance command\n\
         line 16: stage `api` is missing required field `name`\n\
         line 16: dependency cycle: api → client → api\n\
         line 18: stage `api` depends on unknown stage `schema`\n\
         line 19: stage `api` has context_budget 150, outside 1–100\n\
         line 26: stage `client` has a wiring pattern \"Client::new(\" that is not a valid regex: unclosed group\n\
         line 27: duplicate stage id `api` (lines 16 and 27)"
    );
}

#[test]
fn unknown_fields_are_kept_with_a_warning_each() {
    let yaml = "other: ignored\nloom:\n  version: 1\n  sandbox:\n    enabled: true\n  stages:\n    - id: a\n      name: A\n      description: D\n      code_review: true\n      acceptance:\n        - command: make\n          timeout: 30\n      wiring:\n        - {source: s, pattern: p, weight: 1.5}\n";
    let parsed = accepted(&md(yaml), PlanSource::Markdown);
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "line 6: top-level field `other` is ignored (only `loom` is read)",
            "line 15: unknown field `code_review` in stage `a` (kept as is)",
            "line 18: unknown field `timeout` in `acceptance` item 1 of stage `a` (kept as is)",
            "line 20: unknown field `weight` in `wiring` item 1 of stage `a` (kept as is)",
        ]
    );
    let plan = parsed.plan;
    assert_eq!(plan.sandbox, Some(json!({"enabled": true})));
    assert_eq!(plan.settings()["sandbox"], json!({"enabled": true}));
    assert_eq!(plan.stages[0].extra["code_review"], json!(true));
    assert_eq!(plan.stages[0].acceptance[0].extra["timeout"], json!(30));
    assert_eq!(plan.stages[0].wiring[0].extra["weight"], json!(1.5));
}

#[test]
fn unknown_fields_in_toml_are_kept_too() {
    let text = "[loom]\nversion = 1\nauto_merge = false\nowner = \"me\"\n\n[loom.sandbox]\nenabled = true\n\n[[loom.stages]]\nid = \"a\"\nname = \"A\"\ndescription = \"D\"\nwhen = 2024-05-01\n";
    let parsed = accepted(text, PlanSource::Toml);
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "line 4: unknown field `owner` in `loom` (kept as is)",
            "line 13: unknown field `when` in stage `a` (kept as is)",
        ]
    );
    assert_eq!(parsed.plan.sandbox, Some(json!({"enabled": true})));
    assert_eq!(parsed.plan.auto_merge, Some(false));
    let settings = parsed.plan.settings();
    assert_eq!(
        (settings["owner"].clone(), settings["auto_merge"].clone()),
        (json!("me"), json!(false))
    );
    assert_eq!(parsed.plan.stages[0].extra["when"], json!("2024-05-01"));
}

#[test]
fn yaml_plain_scalars_are_strings_where_strings_are_wanted() {
    let stages = "    - id: a\n      name: 2024\n      description: yes\n      files: [0x1F, 1.50 , on]\n      truths:\n        - true\n        - &code 1e3\n      setup: [*code]\n      acceptance:\n        - {command: 'true', stdout_contains: 42}\n";
    let stage = &accepted(&md_stages(stages), PlanSource::Markdown).plan.stages[0];
    assert_eq!((stage.name.as_str(), stage.description.as_str()), ("2024", "yes"));
    assert_eq!(stage.files, ["0x1F", "1.50", "on"]);
    assert_eq!(stage.truths[0].command, "true");
    assert_eq!(stage.truths[1].command, "1e3");
    assert_eq!(stage.setup, ["1e3"], "an alias gives its anchor's text");
    assert_eq!(stage.acceptance[0].stdout_contains, ["42"]);
    let after_accents = "    - {id: a, name: \"é\", description: \"ü\", files: [\"ééé\", 12, \"ö\", 0x10, 1.0]}\n";
    let stage = &accepted(&md_stages(after_accents), PlanSource::Markdown).plan.stages[0];
    assert_eq!(stage.files, ["ééé", "12", "ö", "0x10", "1.0"]);
    // Toml states which values are strings.
    let toml = "[loom]\nversion = 1\n[[loom.stages]]\nid = \"a\"\nname = 2024\ndescription = \"D\"\n";
    assert_eq!(
        refused(toml, PlanSource::Toml),
        ["line 5: `name` of stage `a` must be a string, found a whole number"]
    );
}

#[test]
fn empty_values_mean_absent() {
    let parsed = accepted(
        &md_stages("    - id: a\n      name: A\n      description: D\n      dependencies:\n      context_budget: ~\n"),
        PlanSource::Markdown,
    );
    assert_eq!(parsed.plan.stages[0].dependencies, Vec::<String>::new());
    assert_eq!(parsed.plan.stages[0].context_budget, None);
}

#[test]
fn crlf_input_keeps_its_lines() {
    let text = md_stages(&format!("{GOOD}    - {{id: B.d, name: B, description: D}}\n")).replace('\n', "\r\n");
    assert_eq!(
        refused(&text, PlanSource::Markdown),
        ["line 10: invalid stage id \"B.d\": a stage id has only ascii letters, digits, `-` and `_`"]
    );
}

#[test]
fn fingerprints_are_stable_and_follow_changes() {
    let fingerprints = |text: &str| -> Vec<String> {
        let plan = accepted(text, PlanSource::Markdown).plan;
        plan.stages.iter().map(Stage::fingerprint).collect()
    };
    let original = fingerprints(RATE_LIMIT_MD);
    assert_eq!(original, fingerprints(RATE_LIMIT_MD));
    assert!(
        original
            .iter()
            .all(|fingerprint| fingerprint.len() == 64 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    let distinct: std::collections::BTreeSet<_> = original.iter().collect();
    assert_eq!(distinct.len(), original.len());

    // Layout, prose and the order of dependencies are not content.
    let relaid = RATE_LIMIT_MD
        .replace("# Plan: rate limiting", "# Plan: rate limits\n\nMore prose.\n\n#")
        .replace("[middleware, rate-limit-config]", "[rate-limit-config, middleware]")
        .replace("name: Token bucket", "name: \"Token bucket\"");
    assert_eq!(fingerprints(&relaid), original);

    for changed in [
        RATE_LIMIT_MD.replace("name: Token bucket", "name: Token buckets"),
        RATE_LIMIT_MD.replace("cargo test limit::bucket\n", "cargo test limit::bucket --release\n"),
        RATE_LIMIT_MD.replace("      truths:\n", "      extra_field: 1\n      truths:\n"),
        RATE_LIMIT_MD.replace("stdout_not_contains: FAILED", "stdout_not_contains: PANIC"),
    ] {
        let fingerprints = fingerprints(&changed);
        assert_ne!(fingerprints[1], original[1], "{changed}");
        assert_eq!(
            [&fingerprints[0], &fingerprints[2], &fingerprints[3]],
            [&original[0], &original[2], &original[3]]
        );
    }
}

#[test]
fn a_stage_without_description_is_accepted() {
    // Guards: `description` is optional as in the Rust loom; a stage without one was refused.
    let stage = &accepted(&md_stages("    - {id: a, name: A}\n"), PlanSource::Markdown)
        .plan
        .stages[0];
    assert_eq!(stage.description, "");
}

#[test]
fn stage_names_are_checked_like_task_titles_with_their_line() {
    // Guards: empty, blank, multi-line and control-character names (ESC, BEL, U+202E) became task titles that break listings.
    let stages = "    - {id: a, name: \"\"}\n    - {id: b, name: \"   \"}\n    - id: c\n      name: |\n        two\n        lines\n    - {id: d, name: \"red \\e[31m\"}\n    - {id: e, name: \"bell \\a\"}\n    - {id: f, name: \"evil \\u202E txt\"}\n    - {id: g, name: \"  fine  \"}\n";
    let errors = refused_md(stages);
    let reason = |line: usize, id: &str, name: &str, why: &str| {
        format!(
            "line {line}: stage `{id}` has an invalid name {name:?}: {why} (a name is one line of text without control characters)"
        )
    };
    assert_eq!(
        errors,
        [
            reason(9, "a", "", "it is empty"),
            reason(10, "b", "   ", "it is empty"),
            reason(13, "c", "two\nlines\n", "it spans several lines"),
            reason(15, "d", "red \u{1b}[31m", "it contains a control character"),
            reason(16, "e", "bell \u{7}", "it contains a control character"),
            reason(
                17,
                "f",
                "evil \u{202e} txt",
                "it contains a bidirectional-text control character"
            ),
        ]
    );
}

#[test]
fn execution_hints_are_read_typed_and_checked() {
    // Guards: stage_type, execution_mode, model, reasoning_effort, sandbox and the other hints were kept as loose unknown fields.
    use crate::model::{ExecutionMode, StageType};
    let stages = "    - id: verify\n      name: Verify\n      stage_type: integration-verify\n      execution_mode: team\n      model: opus\n      reasoning_effort: xhigh\n      auto_merge: false\n      parallel_group: g1\n      ultracode: true\n      implementers: [codex, claude]\n      subagent_timeout_secs: 900\n      sandbox:\n        enabled: false\n";
    let parsed = accepted(&md_stages(stages), PlanSource::Markdown);
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let hints = &parsed.plan.stages[0].hints;
    assert_eq!(hints.stage_type, Some(StageType::IntegrationVerify));
    assert_eq!(hints.execution_mode, Some(ExecutionMode::Team));
    assert_eq!(
        (hints.model.as_deref(), hints.reasoning_effort.as_deref()),
        (Some("opus"), Some("xhigh"))
    );
    assert_eq!((hints.auto_merge, hints.ultracode), (Some(false), Some(true)));
    assert_eq!(hints.implementers, ["codex", "claude"]);
    assert_eq!(hints.subagent_timeout_secs, Some(900));
    assert_eq!(hints.sandbox, Some(json!({"enabled": false})));
    let bad = "    - id: a\n      name: A\n      stage_type: research\n      reasoning_effort: \"low; rm -rf /\"\n      implementers: [claude, claude]\n      model: two words\n";
    assert_eq!(
        refused_md(bad),
        [
            "line 11: `stage_type` of stage `a` is \"research\", expected one of: standard, knowledge, integration-verify, knowledge-distill, code-review",
            "line 12: `reasoning_effort` of stage `a` is \"low; rm -rf /\", expected one of: low, medium, high, xhigh, max",
            "line 13: an item of `implementers` of stage `a` is \"claude\", expected one of: claude, codex (each at most once)",
            "line 14: `model` of stage `a` is \"two words\", expected one of: a model name of one word (opus, sonnet, …)",
        ]
    );
}

#[test]
fn plan_level_settings_are_read() {
    // Guards: plan-level `plan_id`, `auto_merge` and `sandbox` were reported as "kept as is" but stored nowhere.
    let yaml =
        "loom:\n  version: 1\n  plan_id: rate-limit\n  auto_merge: true\n  sandbox: {enabled: true}\n  stages: []\n";
    let parsed = accepted(&md(yaml), PlanSource::Markdown);
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.plan.plan_id.as_deref(), Some("rate-limit"));
    assert_eq!(
        serde_json::Value::Object(parsed.plan.settings()),
        json!({"plan_id": "rate-limit", "auto_merge": true, "sandbox": {"enabled": true}})
    );
    assert_eq!(
        refused(
            &md("loom:\n  version: 1\n  plan_id: a/b\n  stages: []\n"),
            PlanSource::Markdown
        ),
        ["line 8: invalid plan_id \"a/b\": a stage id has only ascii letters, digits, `-` and `_`"]
    );
}
