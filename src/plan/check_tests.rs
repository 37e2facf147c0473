//! The check fields of a stage read from a plan: `stderr_empty` and `description` on checks,
//! `before_stage`, `after_stage`, `wiring_tests`, and `working_dir` kept inside the worktree.

use super::*;

fn stage_plan(stage: &str) -> String {
    format!(
        "# Plan\n<!-- loom METADATA -->\n```yaml\nloom:\n  version: 1\n  stages:\n    - id: a\n      name: A\n      description: D\n{stage}```\n<!-- END loom METADATA -->\n"
    )
}

#[test]
fn check_fields_are_read_not_kept_as_unknown() {
    // Guards: `stderr_empty` was taken as an unknown key and dropped at import, and
    // before_stage, after_stage and wiring_tests were kept as unknown fields and never run.
    let text = stage_plan(concat!(
        "      working_dir: \".\"\n",
        "      acceptance:\n",
        "        - command: cargo build\n",
        "          stderr_empty: true\n",
        "          description: builds quietly\n",
        "      before_stage:\n",
        "        - command: rg -q Feature src\n",
        "          exit_code: 1\n",
        "      after_stage:\n",
        "        - command: rg -q Feature src\n",
        "      wiring_tests:\n",
        "        - name: flag registered\n",
        "          command: ./app --help\n",
        "          success_criteria:\n",
        "            exit_code: 0\n",
        "            stdout_contains: [\"--backend\"]\n",
        "            stderr_contains: warn\n",
        "            stderr_empty: false\n",
    ));
    let parsed = parse_plan(&text, PlanSource::Markdown).unwrap_or_else(|errors| panic!("{errors}"));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let stage = &parsed.plan.stages[0];
    assert!(stage.acceptance[0].stderr_empty);
    assert_eq!(stage.acceptance[0].description.as_deref(), Some("builds quietly"));
    assert_eq!(stage.before_stage[0].exit_code, Some(1));
    assert_eq!(stage.after_stage[0].command, "rg -q Feature src");
    let test = &stage.wiring_tests[0];
    assert_eq!(test.name, "flag registered");
    assert_eq!(test.check.command, "./app --help");
    assert_eq!(test.check.stdout_contains, ["--backend"]);
    assert_eq!(test.check.stderr_contains, ["warn"]);
    assert_eq!(test.check.exit_code, Some(0));

    // The fingerprint follows the new fields, so a re-import updates the task.
    let quiet = stage.fingerprint();
    let loud = parse_plan(
        &text.replace("stderr_empty: true", "stderr_empty: false"),
        PlanSource::Markdown,
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
    assert_ne!(loud.plan.stages[0].fingerprint(), quiet);
}

#[test]
fn bad_check_fields_are_refused_with_their_line() {
    let text = stage_plan(concat!(
        "      acceptance:\n",
        "        - command: make\n",
        "          stderr_empty: often\n",
        "      wiring_tests:\n",
        "        - name: no command\n",
        "        - command: ''\n",
        "          name: empty\n",
        "      after_stage:\n",
        "        - ' '\n",
    ));
    let errors: Vec<String> = match parse_plan(&text, PlanSource::Markdown) {
        Ok(_) => panic!("accepted"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(
        errors,
        [
            "line 12: `stderr_empty` of `acceptance` item 1 of stage `a` must be true or false, found a string",
            "line 14: `wiring_tests` item 1 of stage `a` is missing required field `command`",
            "line 15: stage `a` has an empty wiring test command",
            "line 18: stage `a` has an empty after_stage command",
        ]
    );
}

#[test]
fn working_dir_must_stay_inside_the_worktree() {
    // Guards: a working_dir with `..` or an absolute path was accepted at import.
    for (dir, reason) in [
        ("..", "leaves the worktree through `..`"),
        ("app/../../x", "leaves the worktree through `..`"),
        ("/srv/app", "is absolute"),
    ] {
        let text = stage_plan(&format!("      working_dir: \"{dir}\"\n"));
        let errors = match parse_plan(&text, PlanSource::Markdown) {
            Ok(_) => panic!("{dir} accepted"),
            Err(errors) => errors.to_string(),
        };
        assert!(
            errors.contains(&format!("working_dir {dir:?}, which {reason}")),
            "{errors}"
        );
    }
    for dir in [".", "./", "", "app/sub"] {
        let text = stage_plan(&format!("      working_dir: \"{dir}\"\n"));
        assert!(parse_plan(&text, PlanSource::Markdown).is_ok(), "{dir}");
    }
}

#[test]
fn dead_code_and_regression_test_are_read() {
    let text = stage_plan(concat!(
        "      bug_fix: true\n",
        "      dead_code_check:\n",
        "        command: cargo build\n",
        "        fail_patterns: [\"warning: unused\"]\n",
        "        ignore_patterns: [allowed]\n",
        "      regression_test:\n",
        "        file: tests/fix.rs\n",
        "        must_contain: [fix_works]\n",
    ));
    let parsed = parse_plan(&text, PlanSource::Markdown).unwrap_or_else(|errors| panic!("{errors}"));
    let stage = &parsed.plan.stages[0];
    let dead = stage.dead_code_check.as_ref().unwrap();
    assert_eq!(dead.command, "cargo build");
    assert_eq!(dead.fail_patterns, ["warning: unused"]);
    assert_eq!(dead.ignore_patterns, ["allowed"]);
    let test = stage.regression_test.as_ref().unwrap();
    assert_eq!(
        (test.file.as_str(), &test.must_contain[..]),
        ("tests/fix.rs", &["fix_works".to_owned()][..])
    );
    let refused = parse_plan(
        &stage_plan("      regression_test: tests/fix.rs\n"),
        PlanSource::Markdown,
    );
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("`regression_test` of stage `a` must be a map")
    );
}

#[test]
fn a_bug_fix_needs_a_regression_test() {
    // Guards: `bug_fix: true` without a `regression_test` was accepted (kept as an unknown
    // field), so a fix could be done with no test proving it.
    let errors = match parse_plan(&stage_plan("      bug_fix: true\n"), PlanSource::Markdown) {
        Ok(_) => panic!("a bug fix without a regression test was accepted"),
        Err(errors) => errors.to_string(),
    };
    assert!(errors.contains("line 7: stage `a` is a bug fix"), "{errors}");
    let parsed = parse_plan(&stage_plan("      bug_fix: false\n"), PlanSource::Markdown).unwrap();
    assert!(parsed.warnings.is_empty(), "bug_fix is known: {:?}", parsed.warnings);
    assert_eq!(parsed.plan.stages[0].extra.get("bug_fix"), Some(&Value::Bool(false)));
    let wrong = parse_plan(&stage_plan("      bug_fix: sometimes\n"), PlanSource::Markdown);
    assert!(wrong.is_err());
}
