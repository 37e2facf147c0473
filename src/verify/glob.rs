//! Worktree-relative paths for verification: checking that a path stays inside the worktree,
//! matching glob patterns, and listing the files a pattern can match.
//!
//! Guarantees: a path accepted by [`relative_path`] is relative, has no `..` segment and so
//! cannot name anything outside the worktree; the walk never enters `.git` and never follows a
//! symbolic link to a directory, so it ends even when links form a loop.
//!
//! Glob rules are those of the `globset` crate, configured so that:
//!
//! - a pattern is a glob if it contains `*`, `?`, `[` or `{`; anything else is a literal path;
//! - `?` matches exactly one character other than `/`, and `*` any run of characters other than
//!   `/`, including none and including a leading `.` (unlike a shell, dot files are not hidden);
//! - `**` as a whole segment matches any number of whole segments: `src/**/*.rs` matches
//!   `src/lib.rs` and `src/a/b/c.rs`; `docs/**` matches every file under `docs`;
//! - `[abc]`, `[a-z]`, `[!x]` are character classes and `{a,b}` alternatives;
//! - matching is case-sensitive and done on `/`-separated paths relative to the directory the
//!   patterns are resolved in.

use std::fs;
use std::path::Path;

/// Check a path written in a task and return it in a normal form: `/`-separated, without `.`
/// or empty segments. Refused (with the reason, to complete "… {reason}"): an empty path, an
/// absolute path, and any path with a `..` segment, because checks must only look inside the
/// worktree.
pub(super) fn relative_path(path: &str) -> Result<String, &'static str> {
    let trimmed = path.trim();
    if trimmed.starts_with('/') || trimmed.starts_with('\\') || Path::new(trimmed).is_absolute() {
        return Err("is absolute; paths are relative to the worktree");
    }
    let mut segments = Vec::new();
    for segment in trimmed.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => return Err("leaves the worktree through `..`"),
            other => segments.push(other),
        }
    }
    if segments.is_empty() {
        return Err("is empty");
    }
    Ok(segments.join("/"))
}

/// Check a `working_dir` and return it normalised like [`relative_path`], except that a path
/// naming the root itself (`""`, `"."`, `"./"`) is allowed and comes back empty.
pub(super) fn working_dir(path: &str) -> Result<String, &'static str> {
    match relative_path(path) {
        Err("is empty") => Ok(String::new()),
        other => other,
    }
}

/// Whether a (normalised) pattern needs matching against the tree rather than one lookup.
pub(super) fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub(super) struct Glob {
    pattern: String,
    matcher: globset::GlobMatcher,
}

impl Glob {
    /// Compile a pattern already normalised by [`relative_path`]; the error says what is wrong
    /// with it (an unclosed `[` or `{`, say).
    pub(super) fn new(pattern: &str) -> Result<Glob, String> {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|err| err.kind().to_string())?;
        Ok(Glob {
            pattern: pattern.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    /// The leading segments without wildcards, joined: the only directory that can hold a
    /// match, so the walk starts there instead of at the root.
    pub(super) fn base(&self) -> String {
        let segments: Vec<&str> = self.pattern.split('/').collect();
        // The last segment names the file itself, so it never belongs to the base directory.
        let dirs = segments.len().saturating_sub(1);
        segments[..dirs]
            .iter()
            .take_while(|segment| !is_glob(segment))
            .copied()
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Whether a `/`-separated relative path matches.
    pub(super) fn matches(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }
}

/// Every file under `root/base` (`base` relative to `root`, may be empty), as sorted
/// `/`-separated paths relative to `root`. Symbolic links to files count as files; links to
/// directories are not entered. Directories that cannot be read are passed over: a check then
/// fails for want of a match rather than for an error unrelated to what it looks for.
pub(super) fn files_under(root: &Path, base: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![base.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == ".git" {
                continue;
            }
            let relative = if dir.is_empty() {
                name.into_owned()
            } else {
                format!("{dir}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(relative);
            } else if kind.is_file() || (kind.is_symlink() && entry.path().is_file()) {
                files.push(relative);
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str) -> Glob {
        Glob::new(&relative_path(pattern).unwrap()).unwrap()
    }

    #[test]
    fn paths_are_normalised_and_kept_inside() {
        assert_eq!(relative_path("./src//lib.rs").unwrap(), "src/lib.rs");
        assert_eq!(relative_path(" src/./a/ ").unwrap(), "src/a");
        assert!(relative_path("/etc/passwd").is_err());
        assert!(relative_path("../other/file").is_err());
        assert!(relative_path("src/../../x").is_err());
        assert!(relative_path("").is_err());
        assert!(relative_path("./").is_err());
    }

    #[test]
    fn working_dirs_may_name_the_root() {
        // Guards: `working_dir: "."` (and `""`, `"./"`) was refused as an empty path, failing
        // every check of the most common stage layout.
        for root in ["", ".", "./", " . ", ".//."] {
            assert_eq!(working_dir(root).unwrap(), "", "{root:?}");
        }
        assert_eq!(working_dir("./loom/").unwrap(), "loom");
        assert!(working_dir("..").unwrap_err().contains("leaves the worktree"));
        assert!(working_dir("a/../..").is_err());
        assert!(working_dir("/tmp").unwrap_err().contains("is absolute"));
    }

    #[test]
    fn star_and_question_mark_stay_within_a_segment() {
        assert!(glob("*.rs").matches("lib.rs"));
        assert!(glob("*.rs").matches(".hidden.rs"));
        assert!(!glob("*.rs").matches("src/lib.rs"));
        assert!(glob("src/*").matches("src/lib.rs"));
        assert!(!glob("src/*").matches("src/a/lib.rs"));
        assert!(glob("a?.rs").matches("ab.rs"));
        assert!(!glob("a?.rs").matches("a.rs"));
        assert!(!glob("a?b").matches("a/b"));
        assert!(glob("f*o*r").matches("fooobar"));
        assert!(!glob("f*o*r").matches("fooobaz"));
        assert!(glob("*").matches("x"));
        assert!(glob("[xy].rs").matches("y.rs"));
        assert!(glob("{lib,main}.rs").matches("main.rs"));
        assert!(!glob("{lib,main}.rs").matches("mod.rs"));
        // Guards: a malformed pattern is an error to report, not a silent non-match.
        assert!(Glob::new("src/[ab.rs").is_err());
    }

    #[test]
    fn double_star_spans_whole_segments() {
        let rust = glob("src/**/*.rs");
        assert!(rust.matches("src/lib.rs"));
        assert!(rust.matches("src/a/b/c.rs"));
        assert!(!rust.matches("src.rs"));
        assert!(!rust.matches("tests/a.rs"));
        assert!(!rust.matches("src/a/b/c.txt"));
        assert!(glob("**/x").matches("x"));
        assert!(glob("**/x").matches("a/b/x"));
        assert!(glob("**").matches("a/b/c"));
        assert!(glob("docs/**").matches("docs/a"));
        assert!(glob("docs/**").matches("docs/a/b"));
        assert!(!glob("docs/**").matches("docs"));
        assert!(glob("a/**/m/**/z").matches("a/1/m/2/3/z"));
        assert!(!glob("a/**/m/**/z").matches("a/1/2/3/z"));
    }

    #[test]
    fn base_is_the_literal_directory_prefix() {
        assert_eq!(glob("src/**/*.rs").base(), "src");
        assert_eq!(glob("src/verify/*.rs").base(), "src/verify");
        assert_eq!(glob("*.rs").base(), "");
        assert_eq!(glob("**/x").base(), "");
        assert_eq!(glob("a/b*/c").base(), "a");
        assert_eq!(glob("a/{b,c}/d").base(), "a");
    }

    #[test]
    fn globs_are_told_from_literal_paths() {
        assert!(is_glob("src/*.rs"));
        assert!(is_glob("a?"));
        assert!(is_glob("src/[ab].rs"));
        assert!(is_glob("src/{a,b}.rs"));
        assert!(!is_glob("src/lib.rs"));
    }

    #[test]
    fn walk_lists_files_skips_git_and_directory_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("src/a/b")).unwrap();
        fs::create_dir_all(root.join(".git/objects")).unwrap();
        fs::write(root.join("src/lib.rs"), "x").unwrap();
        fs::write(root.join("src/a/b/c.rs"), "x").unwrap();
        fs::write(root.join(".git/objects/x.rs"), "x").unwrap();
        fs::write(root.join("top.rs"), "x").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("src"), root.join("src/a/loop")).unwrap();
            std::os::unix::fs::symlink(root.join("top.rs"), root.join("src/link.rs")).unwrap();
        }
        let all = files_under(root, "");
        assert!(all.contains(&"src/lib.rs".to_owned()));
        assert!(all.contains(&"src/a/b/c.rs".to_owned()));
        assert!(all.contains(&"top.rs".to_owned()));
        assert!(!all.iter().any(|path| path.starts_with(".git")));
        assert!(!all.iter().any(|path| path.starts_with("src/a/loop/")));
        #[cfg(unix)]
        assert!(all.contains(&"src/link.rs".to_owned()));
        let under_src = files_under(root, "src");
        assert!(under_src.iter().all(|path| path.starts_with("src/")));
        assert!(files_under(root, "missing").is_empty());
    }
}
