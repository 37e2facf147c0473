//! Whole verification runs: every check kind in order, working directories, setup, variables,
//! before_stage trees, the report's JSON and the spec's JSON form.

use super::*;

fn context(worktree: &std::path::Path) -> Context {
    Context {
        task: "loom-0000abcd".to_owned(),
        worktree: worktree.to_path_buf(),
        env: Vec::new(),
        timeout: Duration::from_secs(10),
        stage: None,
        before: BeforeTree::Unavailable("no base".to_owned()),
    }
}

#[test]
fn every_check_runs_in_order_even_after_failures() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("src")).unwrap();
    fs::write(dir.path().join("src/lib.rs"), "pub mod verify;\n").unwrap();
    let spec = Spec {
        acceptance: vec![Check::new("exit 1"), Check::new("true")],
        artifacts: vec!["src/missing.rs".to_owned(), "src/*.rs".to_owned()],
        wiring: vec![Wiring {
            source: "src/lib.rs".to_owned(),
            pattern: "pub mod verify;".to_owned(),
            description: None,
            extra: Default::default(),
        }],
        ..Spec::default()
    };
    let mut seen = Vec::new();
    let report = verify_with_progress(&spec, &context(dir.path()), |check| seen.push(check.name.clone())).unwrap();
    let kinds: Vec<CheckKind> = report.checks.iter().map(|check| check.kind).collect();
    assert_eq!(
        kinds,
        [
            CheckKind::Acceptance,
            CheckKind::Acceptance,
            CheckKind::Artifact,
            CheckKind::Artifact,
            CheckKind::Wiring
        ]
    );
    let passed: Vec<bool> = report.checks.iter().map(|check| check.passed).collect();
    assert_eq!(passed, [false, true, false, true, true]);
    assert_eq!(seen.len(), 5);
    assert!(!report.passed());
    assert_eq!(report.failures().count(), 2);
}

fn spec_in(dir: &str) -> Spec {
    Spec {
        working_dir: Some(dir.to_owned()),
        ..Spec::default()
    }
}

fn outcomes(report: &Report) -> Vec<(CheckKind, bool)> {
    report.checks.iter().map(|check| (check.kind, check.passed)).collect()
}

#[test]
fn every_path_resolves_in_the_working_dir() {
    // Guards: `working_dir: "."` failed every check, and artifacts and wiring sources were
    // looked up at the worktree root instead of under the stage's working_dir.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("app/src")).unwrap();
    fs::write(dir.path().join("app/src/lib.rs"), "pub mod api;\n").unwrap();
    fs::write(dir.path().join("top.txt"), "top\n").unwrap();
    for root in [".", "./", ""] {
        let spec = Spec {
            acceptance: vec![Check::new("test -f top.txt")],
            artifacts: vec!["top.txt".to_owned()],
            ..spec_in(root)
        };
        let report = verify(&spec, &context(dir.path())).unwrap();
        assert!(report.passed(), "{root:?}: {:?}", report.checks);
    }
    let spec = Spec {
        acceptance: vec![Check::new("test -f src/lib.rs && pwd -P")],
        artifacts: vec!["src/*.rs".to_owned()],
        wiring: vec![Wiring {
            source: "src/lib.rs".to_owned(),
            pattern: "pub mod api".to_owned(),
            description: None,
            extra: Default::default(),
        }],
        ..spec_in("app")
    };
    let report = verify(&spec, &context(dir.path())).unwrap();
    assert!(report.passed(), "{:?}", report.checks);
    let app = fs::canonicalize(dir.path().join("app")).unwrap();
    assert_eq!(report.checks[0].stdout.trim(), app.display().to_string());

    // Guards: a working_dir leaving the worktree is refused, never used.
    for outside in ["..", "/tmp", "app/../.."] {
        let spec = Spec {
            acceptance: vec![Check::new("true")],
            artifacts: vec!["x".to_owned()],
            ..spec_in(outside)
        };
        let report = verify(&spec, &context(dir.path())).unwrap();
        assert!(!report.passed());
        for check in &report.checks {
            assert!(check.detail.starts_with("working directory"), "{}", check.detail);
        }
    }
}

#[test]
fn setup_runs_in_the_same_shell_before_each_acceptance_command() {
    // Guards: setup commands were ignored, so what they export was missing in the checks.
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        setup: vec!["export FOO=bar".to_owned(), "export BAZ=\"$FOO-2\"".to_owned()],
        acceptance: vec![
            Check::new("test \"$FOO\" = bar && echo \"$BAZ\""),
            Check::new("test \"$BAZ\" = bar-2"),
        ],
        truths: vec![Check::new("test -z \"$FOO\"")],
        ..Spec::default()
    };
    let report = verify(&spec, &context(dir.path())).unwrap();
    assert!(report.passed(), "{:?}", report.checks);
    assert_eq!(report.checks[0].stdout, "bar-2\n");
    assert_eq!(report.checks[0].name, "test \"$FOO\" = bar && echo \"$BAZ\"");

    let failing = Spec {
        setup: vec!["false".to_owned()],
        acceptance: vec![Check::new("true")],
        ..Spec::default()
    };
    assert!(!verify(&failing, &context(dir.path())).unwrap().passed());
}

#[test]
fn truths_after_stage_and_wiring_tests_run() {
    // Guards: `truths: ["false"]` said "no checks" and passed; after_stage and wiring_tests
    // were never run.
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        truths: vec![Check::new("false"), Check::new("true")],
        after_stage: vec![Check {
            stdout_contains: vec!["ready".to_owned()],
            ..Check::new("echo ready")
        }],
        wiring_tests: vec![
            WiringTest {
                name: "help lists the flag".to_owned(),
                check: Check {
                    stdout_contains: vec!["--backend".to_owned()],
                    stderr_contains: vec!["warn".to_owned()],
                    ..Check::new("echo '--backend'; echo warn >&2")
                },
            },
            WiringTest {
                name: "quiet".to_owned(),
                check: Check {
                    stderr_empty: true,
                    ..Check::new("echo noise >&2")
                },
            },
        ],
        ..Spec::default()
    };
    assert!(!spec.is_empty());
    let report = verify(&spec, &context(dir.path())).unwrap();
    assert_eq!(
        outcomes(&report),
        [
            (CheckKind::Truth, false),
            (CheckKind::Truth, true),
            (CheckKind::AfterStage, true),
            (CheckKind::WiringTest, true),
            (CheckKind::WiringTest, false),
        ]
    );
    assert_eq!(report.checks[3].name, "help lists the flag");
    assert_eq!(report.checks[4].detail, "stderr is not empty (6 bytes)");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["checks"][0]["kind"], "truth");
    assert_eq!(json["checks"][2]["kind"], "after_stage");
    assert_eq!(json["checks"][3]["kind"], "wiring_test");
}

#[test]
fn stderr_empty_is_enforced() {
    // Guards: `stderr_empty: true` on an acceptance item was dropped and never judged.
    let dir = tempfile::tempdir().unwrap();
    let quiet = |command: &str| Check {
        stderr_empty: true,
        ..Check::new(command)
    };
    let spec = Spec {
        acceptance: vec![quiet("echo fine"), quiet("echo oops >&2")],
        ..Spec::default()
    };
    let report = verify(&spec, &context(dir.path())).unwrap();
    assert_eq!(
        outcomes(&report),
        [(CheckKind::Acceptance, true), (CheckKind::Acceptance, false)]
    );
    assert_eq!(report.checks[1].detail, "stderr is not empty (5 bytes)");
}

#[test]
fn before_stage_runs_in_the_starting_tree_or_fails_as_not_run() {
    // Guards: before_stage checks were kept but never run, while verify reported a pass.
    let work = tempfile::tempdir().unwrap();
    let before = tempfile::tempdir().unwrap();
    fs::write(work.path().join("feature.rs"), "pub fn feature() {}\n").unwrap();
    let spec = Spec {
        before_stage: vec![Check {
            exit_code: Some(1),
            ..Check::new("cat feature.rs 2>/dev/null | grep -q feature")
        }],
        acceptance: vec![Check::new("grep -q feature feature.rs")],
        ..Spec::default()
    };
    let unavailable = verify(&spec, &context(work.path())).unwrap();
    assert_eq!(
        outcomes(&unavailable),
        [(CheckKind::BeforeStage, false), (CheckKind::Acceptance, true)]
    );
    assert_eq!(unavailable.checks[0].detail, "not run: no base");
    assert!(!unavailable.passed());

    let with_base = Context {
        before: BeforeTree::Dir(before.path().to_path_buf()),
        ..context(work.path())
    };
    let report = verify(&spec, &with_base).unwrap();
    assert!(report.passed(), "{:?}", report.checks);
    // The same check against a starting tree that already had the feature fails.
    fs::write(before.path().join("feature.rs"), "pub fn feature() {}\n").unwrap();
    assert!(!verify(&spec, &with_base).unwrap().passed());
}

#[test]
fn context_variables_are_expanded_in_commands() {
    // Guards: ${WORKTREE}, ${PROJECT_ROOT} and ${STAGE_ID} reached the shell unexpanded.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("svc")).unwrap();
    fs::write(dir.path().join("svc/go.mod"), "module x\n").unwrap();
    let spec = Spec {
        setup: vec!["cd ${PROJECT_ROOT}".to_owned()],
        acceptance: vec![Check::new("test -f go.mod && echo ${STAGE_ID}:${WORKTREE}")],
        ..Spec::default()
    };
    let context = Context {
        stage: Some("api-layer".to_owned()),
        ..context(dir.path())
    };
    let report = verify(&spec, &context).unwrap();
    assert!(report.passed(), "{:?}", report.checks);
    let root = fs::canonicalize(dir.path()).unwrap();
    assert_eq!(report.checks[0].stdout, format!("api-layer:{}\n", root.display()));
}

#[test]
fn empty_spec_passes_vacuously() {
    let dir = tempfile::tempdir().unwrap();
    let report = verify(&Spec::default(), &context(dir.path())).unwrap();
    assert!(report.passed());
    assert!(report.is_empty());
}

#[test]
fn unusable_worktree_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    assert!(matches!(
        verify(&Spec::default(), &context(&missing)),
        Err(VerifyError::Worktree { .. })
    ));
    let file = dir.path().join("file");
    fs::write(&file, "x").unwrap();
    assert!(matches!(
        verify(&Spec::default(), &context(&file)),
        Err(VerifyError::NotADirectory { .. })
    ));
}

#[test]
fn report_json_names_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        acceptance: vec![Check::new("echo out; echo err >&2; exit 2")],
        artifacts: vec!["nothing.txt".to_owned()],
        ..Spec::default()
    };
    let report = verify(&spec, &context(dir.path())).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["passed"], false);
    let first = &json["checks"][0];
    assert_eq!(first["kind"], "acceptance");
    assert_eq!(first["name"], "echo out; echo err >&2; exit 2");
    assert_eq!(first["passed"], false);
    assert_eq!(first["detail"], "exit code 2, expected 0");
    assert_eq!(first["exit_code"], 2);
    assert_eq!(first["stdout"], "out\n");
    assert_eq!(first["stderr"], "err\n");
    assert!(first["duration_ms"].is_u64());
    let second = &json["checks"][1];
    assert_eq!(second["kind"], "artifact");
    assert_eq!(second["exit_code"], serde_json::Value::Null);
    assert_eq!(second["stdout"], "");
    let keys: Vec<&String> = second.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 8);
}

#[test]
fn spec_reads_from_json_with_defaults() {
    let spec: Spec = serde_json::from_str(
        r#"{"acceptance": [{"command": "cargo test", "exit_code": 1}],
            "wiring": [{"source": "src/lib.rs", "pattern": "mod x"}]}"#,
    )
    .unwrap();
    assert_eq!(spec.acceptance[0].exit_code, Some(1));
    assert!(spec.acceptance[0].stdout_contains.is_empty());
    assert!(spec.artifacts.is_empty());
    assert_eq!(spec.wiring[0].description, None);
}

#[test]
fn dead_code_and_regression_tests_are_checked() {
    // Guards: `dead_code_check` and `regression_test`, check kinds of the plan format, were
    // never run.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("tests")).unwrap();
    fs::write(dir.path().join("tests/fix.rs"), "#[test]\nfn parses_empty_input() {}\n").unwrap();
    let build =
        "echo 'warning: unused function `old`'; echo \"warning: unused import 'x' (allowed_unused)\" >&2; exit 3";
    let spec = Spec {
        dead_code_check: Some(DeadCodeCheck {
            command: build.to_owned(),
            fail_patterns: vec!["warning: unused".to_owned()],
            ignore_patterns: vec!["allowed_unused".to_owned()],
            extra: Default::default(),
        }),
        regression_test: Some(RegressionTest {
            file: "tests/fix.rs".to_owned(),
            must_contain: vec!["parses_empty_input".to_owned(), "#[test]".to_owned()],
            extra: Default::default(),
        }),
        ..Spec::default()
    };
    let report = verify(&spec, &context(dir.path())).unwrap();
    assert_eq!(
        outcomes(&report),
        [(CheckKind::DeadCode, false), (CheckKind::RegressionTest, true)]
    );
    assert_eq!(
        report.checks[0].detail,
        "dead code found: warning: unused function `old`"
    );
    assert_eq!(report.checks[1].detail, "tests/fix.rs holds the regression test");

    let clean = Spec {
        dead_code_check: Some(DeadCodeCheck {
            command: "echo 'all good'; exit 1".to_owned(),
            fail_patterns: vec!["warning: unused".to_owned(), "it's dead".to_owned()],
            ignore_patterns: Vec::new(),
            extra: Default::default(),
        }),
        regression_test: Some(RegressionTest {
            file: "tests/fix.rs".to_owned(),
            must_contain: vec!["regression".to_owned()],
            extra: Default::default(),
        }),
        ..Spec::default()
    };
    let report = verify(&clean, &context(dir.path())).unwrap();
    assert_eq!(
        outcomes(&report),
        [(CheckKind::DeadCode, true), (CheckKind::RegressionTest, false)]
    );
    assert_eq!(report.checks[1].detail, "tests/fix.rs does not contain \"regression\"");
    let missing = RegressionTest {
        file: "tests/none.rs".to_owned(),
        must_contain: Vec::new(),
        extra: Default::default(),
    };
    let spec = Spec {
        regression_test: Some(missing),
        ..Spec::default()
    };
    let report = verify(&spec, &context(dir.path())).unwrap();
    assert_eq!(report.checks[0].detail, "tests/none.rs does not exist");
}
