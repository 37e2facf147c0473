//! The checks that read the worktree without running anything: artifacts (files that must
//! exist with real content) and wiring (a pattern that must appear in a file).
//!
//! Guarantees: neither check writes anything, and neither accepts a path that is absolute or
//! climbs out of the worktree with `..` (paths go through [`relative_path`]); every failure is a failed [`CheckResult`] whose detail says what was
//! missing or wrong, never an error that stops the other checks.
//!
//! What counts as a stub is decided by [`is_stub`], whose documentation gives the exact rule.

use std::fs;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::glob::{Glob, files_under, is_glob, relative_path};
use super::{CheckKind, CheckResult, Wiring};

/// Files larger than this are taken to have real content without being read.
pub const STUB_SCAN_LIMIT: u64 = 1024 * 1024;

/// How many stub files an artifact's detail names before summarising the rest.
const NAMED_STUBS: usize = 5;

/// One placeholder line as described in the module documentation.
static PLACEHOLDER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    let token = r"(?:(?:todo|unimplemented)!\([^)]*\)|pass|\.\.\.|TODO)";
    Regex::new(&format!(r"^(?:TODO:.*|{token}(?:\s*;\s*{token}|\s+{token})*\s*;?)$"))
        .expect("the placeholder pattern is valid because it is a constant exercised by the tests")
});

/// Whether `content` is a stub: a placeholder rather than work. After these steps, nothing but
/// placeholders may remain:
///
/// 1. split the content into lines and trim each;
/// 2. drop blank lines, and comment lines: those starting with `//` (so also `///`, `//!`) or
///    `#` (so also `#!` shebangs, and Rust attributes such as `#[test]`, which mean nothing
///    without code under them);
/// 3. every line left must be a placeholder line: either `TODO` alone or `TODO:` followed by
///    anything, or one or more of the placeholders `todo!(…)`, `unimplemented!(…)` (with any
///    arguments that contain no `)`), `pass` and `...`, separated by spaces or `;`, with an
///    optional trailing `;`.
///
/// So an empty file, a file of whitespace, a file of comments, a Rust file holding only
/// `todo!()` and a Python file holding only `pass` are stubs. The rule looks at whole files, not
/// bodies: `fn parse() { todo!() }` is *not* a stub, because a declaration is content and
/// calling real code a stub would fail finished work; an unimplemented body is for the
/// acceptance commands to catch. Content that is not UTF-8 is judged after lossy decoding, so
/// binary files are not stubs. Files over [`STUB_SCAN_LIMIT`] bytes are not read by the
/// artifact check and are never stubs: no placeholder file is that large.
pub fn is_stub(content: &[u8]) -> bool {
    let text = String::from_utf8_lossy(content);
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//") && !line.starts_with('#'))
        .all(|line| PLACEHOLDER_LINE.is_match(line))
}

/// What one existing file amounts to.
enum FileState {
    Real,
    Stub,
    Unreadable(String),
}

fn file_state(path: &Path) -> FileState {
    match fs::metadata(path) {
        Ok(meta) if meta.len() > STUB_SCAN_LIMIT => return FileState::Real,
        Ok(_) => {}
        Err(err) => return FileState::Unreadable(err.to_string()),
    }
    match fs::read(path) {
        Ok(bytes) if is_stub(&bytes) => FileState::Stub,
        Ok(_) => FileState::Real,
        Err(err) => FileState::Unreadable(err.to_string()),
    }
}

/// Check one artifact: a literal path must name a file with real content; a glob must match
/// at least one such file.
pub(super) fn artifact(worktree: &Path, pattern: &str) -> CheckResult {
    let mut result = CheckResult::new(CheckKind::Artifact, pattern.to_owned());
    let clean = match relative_path(pattern) {
        Ok(clean) => clean,
        Err(reason) => {
            result.detail = format!("the path {reason}");
            return result;
        }
    };
    if is_glob(&clean) {
        glob_artifact(worktree, &clean, &mut result);
    } else {
        literal_artifact(worktree, &clean, &mut result);
    }
    result
}

fn literal_artifact(worktree: &Path, path: &str, result: &mut CheckResult) {
    let full = worktree.join(path);
    if full.is_dir() {
        result.detail = format!("{path} is a directory, not a file (name files, or use a glob such as {path}/**)");
        return;
    }
    if !full.is_file() {
        result.detail = format!("{path} does not exist");
        return;
    }
    match file_state(&full) {
        FileState::Real => {
            result.passed = true;
            result.detail = format!("{path} exists");
        }
        FileState::Stub => result.detail = format!("{path} is a stub (no content beyond comments and placeholders)"),
        FileState::Unreadable(err) => result.detail = format!("{path} cannot be read: {err}"),
    }
}

fn glob_artifact(worktree: &Path, pattern: &str, result: &mut CheckResult) {
    let glob = Glob::new(pattern);
    let matched: Vec<String> = files_under(worktree, &glob.base())
        .into_iter()
        .filter(|path| glob.matches(path))
        .collect();
    if matched.is_empty() {
        result.detail = format!("no file matches {pattern}");
        return;
    }
    let mut real = 0;
    let mut stubs = Vec::new();
    let mut unreadable = Vec::new();
    for path in &matched {
        match file_state(&worktree.join(path)) {
            FileState::Real => real += 1,
            FileState::Stub => stubs.push(path.as_str()),
            FileState::Unreadable(err) => unreadable.push(format!("{path} ({err})")),
        }
    }
    result.passed = real > 0;
    let files = match matched.len() {
        1 => "1 file matches".to_owned(),
        count => format!("{count} files match"),
    };
    let mut detail = if result.passed {
        format!("{files}, {real} with content")
    } else {
        format!("{files}, none with content")
    };
    if !stubs.is_empty() {
        detail.push_str(&format!("; stubs: {}", name_some(&stubs)));
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

/// Check one wiring rule: the regex must match somewhere in the file.
pub(super) fn wiring(worktree: &Path, wiring: &Wiring) -> CheckResult {
    let name = format!("{}: /{}/", wiring.source, wiring.pattern);
    let mut result = CheckResult::new(CheckKind::Wiring, name);
    let prefix = wiring
        .description
        .as_deref()
        .map(|text| format!("{text}: "))
        .unwrap_or_default();
    let outcome = wiring_outcome(worktree, wiring);
    result.passed = outcome.is_ok();
    result.detail = match outcome {
        Ok(detail) | Err(detail) => format!("{prefix}{detail}"),
    };
    result
}

fn wiring_outcome(worktree: &Path, wiring: &Wiring) -> Result<String, String> {
    // The pattern is checked before the file so that a broken rule is reported as such even
    // while the file it names does not exist yet.
    let regex = regex::bytes::Regex::new(&wiring.pattern).map_err(|err| format!("invalid regex: {err}"))?;
    let source = relative_path(&wiring.source).map_err(|reason| format!("the source path {reason}"))?;
    let full = worktree.join(&source);
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
        assert!(is_stub(b""));
        assert!(is_stub(b"  \n\t\n"));
        assert!(is_stub(b"// only a comment\n# and another\n"));
        assert!(is_stub(b"//! Module docs.\n\ntodo!()\n"));
        assert!(is_stub(b"todo!();\nunimplemented!(\"later\");\n"));
        assert!(is_stub(b"#!/usr/bin/env python\n# TODO\npass\n"));
        assert!(is_stub(b"...\n"));
        assert!(is_stub(b"TODO\n"));
        assert!(is_stub(b"TODO: write the parser\n"));
        assert!(is_stub(b"pass; pass\n"));
        assert!(!is_stub(b"fn main() {}\n"));
        assert!(!is_stub(b"fn parse() { todo!() }\n"));
        assert!(!is_stub(b"password = 1\n"));
        assert!(!is_stub(b"TODOs live in the tracker\n"));
        assert!(!is_stub(b"todo!(); x\n"));
        assert!(!is_stub(&[0, 159, 146, 150]));
    }

    #[test]
    fn literal_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/real.rs", "pub fn f() -> u8 { 1 }\n");
        write(root, "src/empty.rs", "");
        write(root, "src/todo.rs", "// Placeholder.\ntodo!()\n");
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
        for stub in ["src/empty.rs", "src/todo.rs", "app/main.py"] {
            let result = artifact(root, stub);
            assert!(!result.passed, "{stub}");
            assert!(result.detail.contains("is a stub"), "{}", result.detail);
        }
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

        let found = artifact(root, "src/**/*.rs");
        assert!(found.passed, "{}", found.detail);
        assert_eq!(found.detail, "2 files match, 1 with content; stubs: src/a/b/deep.rs");

        let stubs = artifact(root, "src/a/**/*.rs");
        assert!(!stubs.passed);
        assert_eq!(
            stubs.detail,
            "1 file matches, none with content; stubs: src/a/b/deep.rs"
        );

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
