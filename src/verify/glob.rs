//! Worktree-relative paths for verification: checking that a path stays inside the worktree,
//! matching glob patterns, and listing the files a pattern can match.
//!
//! Guarantees: a path accepted by [`relative_path`] is relative, has no `..` segment and so
//! cannot name anything outside the worktree; the walk never enters `.git` and never follows a
//! symbolic link to a directory, so it ends even when links form a loop.
//!
//! Glob rules (no glob crate is a dependency, so the matcher is written here):
//!
//! - a pattern is a glob if it contains `*` or `?`; anything else is a literal path;
//! - `?` matches exactly one character other than `/`;
//! - `*` matches any run of characters other than `/`, including none and including a leading
//!   `.` (unlike a shell, dot files are not hidden);
//! - `**` as a whole segment matches any number of whole segments: `src/**/*.rs` matches
//!   `src/lib.rs` and `src/a/b/c.rs`. As the last segment it matches one or more, so `docs/**`
//!   matches every file under `docs` but not a file named `docs`. `**` inside a segment
//!   (`a**b`) is a plain `*`;
//! - there are no character classes or braces: `[`, `]`, `{` and `}` match themselves;
//! - matching is case-sensitive and done on `/`-separated paths relative to the worktree.

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

/// Whether a (normalised) pattern needs matching against the tree rather than one lookup.
pub(super) fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: any number of whole segments.
    AnyDepth,
    /// One segment, possibly with `*` and `?`.
    Name(Vec<char>),
}

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub(super) struct Glob {
    segments: Vec<Segment>,
}

impl Glob {
    /// Compile a pattern already normalised by [`relative_path`].
    pub(super) fn new(pattern: &str) -> Glob {
        let mut segments: Vec<Segment> = Vec::new();
        for part in pattern.split('/').filter(|part| !part.is_empty()) {
            let segment = if part == "**" {
                Segment::AnyDepth
            } else {
                Segment::Name(part.chars().collect())
            };
            // Consecutive `**` mean the same as one, and collapsing them keeps matching linear
            // in the number of `**` rather than exponential.
            if segment == Segment::AnyDepth && segments.last() == Some(&Segment::AnyDepth) {
                continue;
            }
            segments.push(segment);
        }
        Glob { segments }
    }

    /// The leading segments without wildcards, joined: the only directory that can hold a
    /// match, so the walk starts there instead of at the worktree's root.
    pub(super) fn base(&self) -> String {
        let mut base = Vec::new();
        // The last segment names the file itself, so it never belongs to the base directory.
        let dirs = self.segments.len().saturating_sub(1);
        for segment in &self.segments[..dirs] {
            match segment {
                Segment::Name(name) if !name.iter().any(|c| matches!(c, '*' | '?')) => {
                    base.push(name.iter().collect::<String>())
                }
                _ => break,
            }
        }
        base.join("/")
    }

    /// Whether a `/`-separated relative path matches.
    pub(super) fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        match_segments(&self.segments, &parts)
    }
}

fn match_segments(segments: &[Segment], parts: &[&str]) -> bool {
    match segments.split_first() {
        None => parts.is_empty(),
        Some((Segment::AnyDepth, rest)) => {
            let least = if rest.is_empty() { 1 } else { 0 };
            (least..=parts.len()).any(|skip| match_segments(rest, &parts[skip..]))
        }
        Some((Segment::Name(name), rest)) => match parts.split_first() {
            Some((first, tail)) => match_name(name, first) && match_segments(rest, tail),
            None => false,
        },
    }
}

/// Wildcard matching within one segment. On a mismatch after a `*`, the `*` takes one more
/// character and matching resumes: only the most recent `*` needs revisiting, so this is
/// linear in practice and never exponential.
fn match_name(pattern: &[char], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some('?') => {
                p += 1;
                n += 1;
            }
            Some(&c) if c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
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
        Glob::new(&relative_path(pattern).unwrap())
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
        assert!(glob("a**b").matches("aXYb"));
        assert!(!glob("a**b").matches("a/b"));
        assert!(glob("[x].rs?").matches("[x].rsa"));
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
        assert!(glob("a/**/**/b").matches("a/b"));
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
    }

    #[test]
    fn globs_are_told_from_literal_paths() {
        assert!(is_glob("src/*.rs"));
        assert!(is_glob("a?"));
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
