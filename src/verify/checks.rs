//! The checks that read the worktree without running anything: artifacts (files that must
//! exist with real content) and wiring (a pattern that must appear in a file).
//!
//! Guarantees: neither check writes anything, and neither accepts a path that is absolute or
//! climbs out of the worktree with `..` (paths go through [`relative_path`]); every failure is a failed [`CheckResult`] whose detail says what was
//! missing or wrong, never an error that stops the other checks.
//!
//! What counts as a stub is decided by [`stub_reason`], whose documentation gives the exact
//! rule. Both checks resolve their paths in the stage's working directory, as the Rust loom
//! does.

use std::fs;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::glob::{Glob, files_under, is_glob, relative_path};
use super::{CheckKind, CheckResult, DeadCodeCheck, RegressionTest, Wiring};

/// One line that only holds placeholders: `todo!(…)`, `unimplemented!(…)`, `pass`, `...`,
/// separated by spaces or `;`.
static PLACEHOLDER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    let token = r"(?:(?:todo|unimplemented)!\([^)]*\)|pass|\.\.\.)";
    Regex::new(&format!(r"^{token}(?:\s*;\s*{token}|\s+{token})*\s*;?$"))
        .expect("the placeholder pattern is valid because it is a constant exercised by the tests")
});

/// How many stub files an artifact's detail names before summarising the rest.
const NAMED_STUBS: usize = 5;

/// Text that marks a file as unfinished wherever it appears (the markers the Rust loom uses).
pub const STUB_MARKERS: &[&str] = &[
    "TODO",
    "FIXME",
    "unimplemented!",
    "todo!",
    "panic!(\"not implemented",
    "pass  # TODO",
    "raise NotImplementedError",
    "throw new Error(\"Not implemented",
];

/// Why the file at `path` (its name decides whether it is markdown) with `content` is a stub
/// rather than work, or `None` when it is real. The rule, the Rust loom's:
///
/// 1. a file that is empty or holds only whitespace is a stub, whatever its kind;
/// 2. a markdown file (`.md`, `.mdx`, `.markdown`, any case) is otherwise real, since prose
///    and templates naturally mention TODO and FIXME;
/// 3. any other file is a stub when it contains one of [`STUB_MARKERS`] anywhere, in code or
///    in a comment: a finished artifact carries no `TODO`, `FIXME`, `todo!()` or
///    `unimplemented!()`;
/// 4. any other file is also a stub when nothing but comments and placeholders is left once
///    blank lines and comment lines (starting with `//` or `#`) are dropped: every remaining
///    line is a placeholder such as `todo!()`, `pass` or `...` (a file of comments, or a
///    Python file holding only `pass`);
/// 5. content that is not UTF-8 (a binary file) is real once it is not empty.
pub fn stub_reason(path: &str, content: &[u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(content) else {
        return content.is_empty().then(|| "is a stub (empty)".to_owned());
    };
    if text.trim().is_empty() {
        return Some("is a stub (empty)".to_owned());
    }
    let extension = Path::new(path)
        .extension()
        .map(|ext| ext.to_string_lossy().to_ascii_lowercase());
    if matches!(extension.as_deref(), Some("md" | "mdx" | "markdown")) {
        return None;
    }
    if let Some(marker) = STUB_MARKERS.iter().find(|marker| text.contains(**marker)) {
        return Some(format!("is a stub (contains `{marker}`)"));
    }
    let placeholders_only = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//") && !line.starts_with('#'))
        .all(|line| PLACEHOLDER_LINE.is_match(line));
    placeholders_only.then(|| "is a stub (no content beyond comments and placeholders)".to_owned())
}

/// What one existing file amounts to.
enum FileState {
    Real,
    Stub(String),
    Unreadable(String),
}

fn file_state(root: &Path, path: &str) -> FileState {
    match fs::read(root.join(path)) {
        Ok(bytes) => match stub_reason(path, &bytes) {
            Some(reason) => FileState::Stub(reason),
            None => FileState::Real,
        },
        Err(err) => FileState::Unreadable(err.to_string()),
    }
}

/// Check one artifact, resolved in `root` (the stage's working directory): a literal path must
/// name a real file; a glob must match at least one file, and every file it matches must be
/// real ([`stub_reason`]).
pub(super) fn artifact(root: &Path, pattern: &str) -> CheckResult {
    let mut result = CheckResult::new(CheckKind::Artifact, pattern.to_owned());
    let clean = match relative_path(pattern) {
        Ok(clean) => clean,
        Err(reason) => {
            result.detail = format!("the path {reason}");
            return result;
        }
    };
    if is_glob(&clean) {
        glob_artifact(root, &clean, &mut result);
    } else {
        literal_artifact(root, &clean, &mut result);
    }
    result
}

fn literal_artifact(root: &Path, path: &str, result: &mut CheckResult) {
    let full = root.join(path);
    if full.is_dir() {
        result.detail = format!("{path} is a directory, not a file (name files, or use a glob such as {path}/**)");
        return;
    }
    if !full.is_file() {
        result.detail = format!("{path} does not exist");
        return;
    }
    match file_state(root, path) {
        FileState::Real => {
            result.passed = true;
            result.detail = format!("{path} exists");
        }
        FileState::Stub(reason) => result.detail = format!("{path} {reason}"),
        FileState::Unreadable(err) => result.detail = format!("{path} cannot be read: {err}"),
    }
}

fn glob_artifact(root: &Path, pattern: &str, result: &mut CheckResult) {
    let glob = match Glob::new(pattern) {
        Ok(glob) => glob,
        Err(reason) => {
            result.detail = format!("invalid glob: {reason}");
            return;
        }
    };
    let matched: Vec<String> = files_under(root, &glob.base())
        .into_iter()
        .filter(|path| glob.matches(path))
        .collect();
    if matched.is_empty() {
        result.detail = format!("no file matches {pattern}");
        return;
    }
    let mut stubs = Vec::new();
    let mut unreadable = Vec::new();
    for path in &matched {
        match file_state(root, path) {
            FileState::Real => {}
            FileState::Stub(reason) => stubs.push(format!("{path} {reason}")),
            FileState::Unreadable(err) => unreadable.push(format!("{path} ({err})")),
        }
    }
    result.passed = stubs.is_empty() && unreadable.is_empty();
    let mut detail = match matched.len() {
        1 => "1 file matches".to_owned(),
        count => format!("{count} files match"),
    };
    if result.passed {
        detail.push_str(", all with content");
    }
    if !stubs.is_empty() {
        detail.push_str(&format!("; not real: {}", name_some(&stubs)));
    }
    if !unreadable.is_empty() {
        detail.push_str(&format!("; unreadable: {}", name_some(&unreadable)));
    }
    result.detail = detail;
}

/// The first few names, then how many more, so a glob over a large tree keeps a short detail.
fn name_some<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(NAMED_STUBS).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    if names.len() > NAMED_STUBS {
        text.push_str(&format!(" and {} more", names.len() - NAMED_STUBS));
    }
    text
}

/// Check one wiring rule, its source resolved in `root` (the stage's working directory): the
/// regex must match somewhere in the file.
pub(super) fn wiring(root: &Path, wiring: &Wiring) -> CheckResult {
    let name = format!("{}: /{}/", wiring.source, wiring.pattern);
    let mut result = CheckResult::new(CheckKind::Wiring, name);
    let prefix = wiring
        .description
        .as_deref()
        .map(|text| format!("{text}: "))
        .unwrap_or_default();
    let outcome = wiring_outcome(root, wiring);
    result.passed = outcome.is_ok();
    result.detail = match outcome {
        Ok(detail) | Err(detail) => format!("{prefix}{detail}"),
    };
    result
}

fn wiring_outcome(root: &Path, wiring: &Wiring) -> Result<String, String> {
    // The pattern is checked before the file so that a broken rule is reported as such even
    // while the file it names does not exist yet.
    let regex = regex::bytes::Regex::new(&wiring.pattern).map_err(|err| format!("invalid regex: {err}"))?;
    let source = relative_path(&wiring.source).map_err(|reason| format!("the source path {reason}"))?;
    let full = root.join(&source);
    if !full.is_file() {
        return Err(if full.is_dir() {
            format!("{source} is a directory, not a file")
        } else {
            format!("{source} does not exist")
        });
    }
    let bytes = fs::read(&full).map_err(|err| format!("{source} cannot be read: {err}"))?;
    match regex.find(&bytes) {
        Some(found) => {
            let line = bytes[..found.start()].iter().filter(|&&b| b == b'\n').count() + 1;
            Ok(format!("found in {source} at line {line}"))
        }
        None => Err(format!("not found in {source}")),
    }
}

/// The shell script for a dead-code check: run `command` (its exit code does not matter, as a
/// build may fail on warnings), keep the output lines (stdout and stderr) that contain a fail
/// pattern and no ignore pattern, and exit 1 printing them when there are any.
pub(super) fn dead_code_script(command: &str, check: &DeadCodeCheck) -> String {
    if check.fail_patterns.is_empty() {
        return format!("{{ {command}\n}} >/dev/null 2>&1; exit 0");
    }
    let patterns = |list: &[String]| {
        list.iter()
            .map(|pattern| format!("-e {}", shell_quote(pattern)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut filter = format!("grep -F {}", patterns(&check.fail_patterns));
    if !check.ignore_patterns.is_empty() {
        filter.push_str(&format!(" | grep -v -F {}", patterns(&check.ignore_patterns)));
    }
    format!(
        "found=$( {{ {command}\n}} 2>&1 | {filter} ); if [ -n \"$found\" ]; then printf '%s\\n' \"$found\"; exit 1; fi"
    )
}

/// Say what a failed dead-code check found, in one line.
pub(super) fn explain_dead_code(result: &mut CheckResult) {
    if !result.passed && result.exit_code == Some(1) {
        let lines: Vec<&str> = result
            .stdout
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        result.detail = format!("dead code found: {}", name_some(&lines));
    }
}

/// `text` as one single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Check a bug fix's regression test, resolved in `root`: the file exists, is not empty, and
/// contains every required text.
pub(super) fn regression_test(root: &Path, test: &RegressionTest) -> CheckResult {
    let mut result = CheckResult::new(CheckKind::RegressionTest, test.file.clone());
    let path = match relative_path(&test.file) {
        Ok(path) => path,
        Err(reason) => {
            result.detail = format!("the path {reason}");
            return result;
        }
    };
    let text = match fs::read(root.join(&path)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            result.detail = format!("{path} does not exist");
            return result;
        }
        Err(err) => {
            result.detail = format!("{path} cannot be read: {err}");
            return result;
        }
    };
    if text.trim().is_empty() {
        result.detail = format!("{path} is empty");
        return result;
    }
    let missing: Vec<String> = test
        .must_contain
        .iter()
        .filter(|needle| !text.contains(needle.as_str()))
        .map(|needle| format!("{needle:?}"))
        .collect();
    result.passed = missing.is_empty();
    result.detail = if result.passed {
        format!("{path} holds the regression test")
    } else {
        format!("{path} does not contain {}", missing.join(", "))
    };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, content: &str) {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, content).unwrap();
    }

    #[test]
    fn stub_rules() {
        let stub = |path: &str, content: &[u8]| stub_reason(path, content).is_some();
        assert!(stub("a.rs", b""));
        assert!(stub("a.md", b"  \n\t\n"));
        assert!(stub("a.rs", b"// only a comment\n# and another\n"));
        assert!(stub("a.py", b"#!/usr/bin/env python\npass\n"));
        assert!(stub("a.rs", b"...\n"));
        assert!(stub("a.rs", b"todo!();\nunimplemented!(\"later\");\n"));
        // Guards: a file with real code and a marker counted as real; the Rust loom's rule is
        // that no finished artifact carries TODO, FIXME, todo!() or unimplemented!().
        assert!(stub("a.rs", b"fn parse() { todo!() }\n"));
        assert!(stub("a.rs", b"fn main() {}\n// TODO: errors\n"));
        assert!(stub("a.rs", b"fn main() { unimplemented!() }\n"));
        assert!(stub("a.py", b"def f():\n    raise NotImplementedError\n"));
        assert!(stub("a.toml", b"x = 1 # FIXME\n"));
        assert_eq!(
            stub_reason("a.rs", b"fn f() { todo!() }").as_deref(),
            Some("is a stub (contains `todo!`)")
        );
        assert!(!stub("a.rs", b"fn main() {}\n"));
        assert!(!stub("a.rs", b"password = 1\n"));
        // Markdown may mention TODO; only an empty one is a stub.
        assert!(!stub("NOTES.md", b"# Notes\n- TODO: later\n"));
        assert!(!stub("README.MARKDOWN", b"FIXME\n"));
        assert!(stub("README.md", b"\n"));
        assert!(!stub("a.bin", &[0, 159, 146, 150]));
    }

    #[test]
    fn literal_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/real.rs", "pub fn f() -> u8 { 1 }\n");
        write(root, "src/empty.rs", "");
        write(root, "src/todo.rs", "// Placeholder.\ntodo!()\n");
        write(root, "src/half.rs", "pub fn f() -> u8 { 1 }\n// FIXME: overflow\n");
        write(root, "app/main.py", "# later\npass\n");
        write(root, "app/real.py", "print('hi')\n");

        let real = artifact(root, "src/real.rs");
        assert!(real.passed, "{}", real.detail);
        assert_eq!(real.kind, CheckKind::Artifact);
        assert_eq!(real.name, "src/real.rs");
        assert!(artifact(root, "./app/real.py").passed);

        let missing = artifact(root, "src/missing.rs");
        assert!(!missing.passed);
        assert_eq!(missing.detail, "src/missing.rs does not exist");
        for stub in ["src/todo.rs", "app/main.py", "src/half.rs"] {
            let result = artifact(root, stub);
            assert!(!result.passed, "{stub}");
            assert!(result.detail.contains("is a stub"), "{}", result.detail);
        }
        assert_eq!(artifact(root, "src/empty.rs").detail, "src/empty.rs is a stub (empty)");
        assert!(artifact(root, "src").detail.contains("is a directory"));
        assert!(artifact(root, "../x").detail.contains("leaves the worktree"));
        assert!(artifact(root, "/etc/hostname").detail.contains("is absolute"));
    }

    #[test]
    fn glob_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/lib.rs", "pub mod a;\n");
        write(root, "src/a/b/deep.rs", "todo!()\n");
        write(root, "notes.txt", "text\n");
        write(root, ".git/hooks/x.rs", "fn main() {}\n");

        write(root, "src/a/real.rs", "pub fn g() {}\n");

        // Guards: one real file used to carry a glob whose other matches were stubs; every
        // matched file must be real.
        let found = artifact(root, "src/**/*.rs");
        assert!(!found.passed, "{}", found.detail);
        assert_eq!(
            found.detail,
            "3 files match; not real: src/a/b/deep.rs is a stub (contains `todo!`)"
        );

        let real = artifact(root, "src/*.rs");
        assert!(real.passed, "{}", real.detail);
        assert_eq!(real.detail, "1 file matches, all with content");
        assert!(artifact(root, "src/{lib,a/real}.rs").passed);
        assert!(artifact(root, "src/[").detail.starts_with("invalid glob: "));

        let none = artifact(root, "tests/**/*.rs");
        assert!(!none.passed);
        assert_eq!(none.detail, "no file matches tests/**/*.rs");

        // Files under .git are never artifacts of the work.
        assert!(!artifact(root, "**/hooks/*.rs").passed);
        assert!(artifact(root, "*.txt").passed);
    }

    #[test]
    fn glob_details_name_a_bounded_number_of_stubs() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..8 {
            write(dir.path(), &format!("gen/f{n}.py"), "pass\n");
        }
        let result = artifact(dir.path(), "gen/*.py");
        assert!(!result.passed);
        assert!(result.detail.ends_with(" and 3 more"), "{}", result.detail);
    }

    fn rule(source: &str, pattern: &str) -> Wiring {
        Wiring {
            source: source.to_owned(),
            pattern: pattern.to_owned(),
            description: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn wiring_checks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/lib.rs", "pub mod graph;\npub mod verify;\n");

        let found = wiring(root, &rule("src/lib.rs", r"pub mod verify\b"));
        assert!(found.passed, "{}", found.detail);
        assert_eq!(found.kind, CheckKind::Wiring);
        assert_eq!(found.name, r"src/lib.rs: /pub mod verify\b/");
        assert_eq!(found.detail, "found in src/lib.rs at line 2");

        let mut absent = rule("src/lib.rs", "pub mod plan;");
        absent.description = Some("the plan module is declared".to_owned());
        let absent = wiring(root, &absent);
        assert!(!absent.passed);
        assert_eq!(absent.detail, "the plan module is declared: not found in src/lib.rs");

        let missing = wiring(root, &rule("src/main.rs", "fn main"));
        assert!(!missing.passed);
        assert_eq!(missing.detail, "src/main.rs does not exist");

        let invalid = wiring(root, &rule("src/lib.rs", "pub mod (verify"));
        assert!(!invalid.passed);
        assert!(invalid.detail.starts_with("invalid regex: "), "{}", invalid.detail);

        assert!(
            wiring(root, &rule("../lib.rs", "x"))
                .detail
                .contains("leaves the worktree")
        );
        assert!(wiring(root, &rule("src", "x")).detail.contains("is a directory"));
    }
}
