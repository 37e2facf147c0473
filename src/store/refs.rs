//! Reading refs exactly as named: one ref's tip, or every ref under a prefix with its tip.
//!
//! git-loom names its refs in full (`refs/loom/tasks/<id>`), so a lookup reads that one ref and
//! nothing else: no `refs/tags/…`/`refs/heads/…` guessing, which both costs file lookups and
//! could mistake a user's ref for ours. Listing reads the loose ref files and then the
//! `packed-refs` file in place (git's order: `pack-refs` writes `packed-refs` before it removes
//! the loose files, so a ref being packed is seen in at least one of them). A loose ref wins
//! over a packed one of the same name, as in git.

use std::path::Path;

use gix::bstr::ByteSlice;

use super::{Error, ObjectId, Result, Store};

/// A ref and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTip {
    pub name: String,
    pub tip: ObjectId,
}

impl Store {
    /// The commit a ref points at, or `None` if the ref does not exist.
    pub fn tip(&self, ref_name: &str) -> Result<Option<ObjectId>> {
        match std::fs::read(self.gix().common_dir().join(ref_name)) {
            Ok(bytes) => return parse_loose(ref_name, &bytes).map(Some),
            Err(err) if is_absent(&err) => {}
            Err(err) => return Err(unreadable(ref_name, &err.to_string())),
        }
        let packed = self
            .gix()
            .refs
            .cached_packed_buffer()
            .map_err(|err| unreadable("packed-refs", &err.to_string()))?;
        let Some(packed) = packed else { return Ok(None) };
        let found = packed.try_find(ref_name).map_err(|err| {
            // A damaged line met on the way: name it, as `list` does.
            self.check_packed_refs()
                .unwrap_or_else(|| unreadable(ref_name, &err.to_string()))
        })?;
        Ok(found.map(|reference| reference.target()))
    }

    /// Every ref under `prefix` (which ends in `/`) with its tip, in name order, plus the refs
    /// that could not be read.
    pub fn list(&self, prefix: &str) -> Result<(Vec<RefTip>, Vec<Error>)> {
        let mut loose = Vec::new();
        let mut broken = Vec::new();
        walk_loose(&self.gix().common_dir().join(prefix), prefix, &mut loose, &mut broken);
        loose.sort_by(|a, b| a.name.cmp(&b.name));
        let packed = self
            .gix()
            .refs
            .cached_packed_buffer()
            .map_err(|err| unreadable("packed-refs", &err.to_string()))?;
        let Some(packed) = packed else {
            return Ok((loose, broken));
        };
        let mut tips = Vec::with_capacity(loose.len() + 64);
        let mut loose = loose.into_iter().peekable();
        for record in packed_under(packed.as_ref().as_ref(), prefix) {
            let (name, tip) = record.map_err(|err| self.in_packed_refs_file(err))?;
            while let Some(ahead) = loose.next_if(|entry| entry.name.as_str() < name) {
                tips.push(ahead);
            }
            if loose.peek().is_some_and(|entry| entry.name == name) {
                continue;
            }
            tips.push(RefTip {
                name: name.to_owned(),
                tip,
            });
        }
        tips.extend(loose);
        Ok((tips, broken))
    }
}

impl Store {
    /// The `packed-refs` file, as git names it to its users.
    pub(super) fn packed_refs_path(&self) -> std::path::PathBuf {
        self.gix().common_dir().join("packed-refs")
    }

    /// The first damaged line of the `packed-refs` file, as an error naming the file and the
    /// line; `None` when the file is absent or sound.
    pub fn check_packed_refs(&self) -> Option<Error> {
        let path = self.packed_refs_path();
        let bytes = std::fs::read(&path).ok()?;
        let (line, problem) = check_packed_refs(&bytes)?;
        Some(Error::PackedRefs { path, line, problem })
    }

    /// Turn a damaged line found in the body of `packed-refs` (numbered from the first record)
    /// into an error naming the file and the line as numbered in the file, header included.
    fn in_packed_refs_file(&self, err: Error) -> Error {
        match err {
            Error::PackedRefs { line, problem, .. } => {
                let path = self.packed_refs_path();
                let has_header = std::fs::read(&path).is_ok_and(|bytes| bytes.starts_with(b"#"));
                Error::PackedRefs {
                    line: line + usize::from(has_header),
                    problem,
                    path,
                }
            }
            other => other,
        }
    }
}

/// The refs under `prefix` in the body of a sorted `packed-refs` file, in order, each with its
/// tip. Read in place: the block of lines is found with one substring search (a ref name cannot
/// contain a space, so `" <prefix>"` only matches where a name starts) and only its lines are
/// parsed. Every line of the block, and the line that ends it, must be a well-formed record in
/// order: a damaged line is an error (as it is to git), never the silent end of the block, which
/// would hide every ref packed after it.
fn packed_under<'a>(body: &'a [u8], prefix: &'a str) -> impl Iterator<Item = Result<(&'a str, ObjectId)>> + 'a {
    let needle = format!(" {prefix}");
    let start = body
        .find(needle.as_bytes())
        .map(|at| body[..at].rfind_byte(b'\n').map_or(0, |newline| newline + 1));
    let block = start.map_or(&[][..], |start| &body[start..]);
    let mut previous: Option<&'a [u8]> = None;
    let mut done = false;
    let mut offset = start.unwrap_or(0);
    block
        .lines_with_terminator()
        .map_while(move |raw| {
            if done {
                return None;
            }
            let at = offset;
            offset += raw.len();
            let line = raw.strip_suffix(b"\n").unwrap_or(raw);
            let problem = match parse_packed_line(line) {
                // A peeled line (`^<id>`) belongs to the tag above it.
                Ok(None) => return Some(Ok(None)),
                Ok(Some((name, _))) if previous.is_some_and(|previous| previous >= name.as_bytes()) => {
                    format!("{name} is out of order")
                }
                Ok(Some((name, tip))) => {
                    previous = Some(name.as_bytes());
                    if !name.starts_with(prefix) {
                        done = true;
                        return None;
                    }
                    return Some(Ok(Some((name, tip))));
                }
                Err(problem) => problem,
            };
            done = true;
            Some(Err(Error::PackedRefs {
                path: std::path::PathBuf::from("packed-refs"),
                line: line_number(body, at),
                problem,
            }))
        })
        .filter_map(Result::transpose)
}

/// One line of a `packed-refs` body: `Ok(None)` for a peeled line (`^<id>`), the ref and its
/// tip for a record, or what is wrong with it.
fn parse_packed_line(line: &[u8]) -> std::result::Result<Option<(&str, ObjectId)>, String> {
    let unexpected = || format!("unexpected line {:?}", line.as_bstr());
    if let Some(peeled) = line.strip_prefix(b"^") {
        return ObjectId::from_hex(peeled).map(|_| None).map_err(|_| unexpected());
    }
    let (hex, name) = line.split_once_str(" ").ok_or_else(unexpected)?;
    let tip = ObjectId::from_hex(hex).map_err(|_| unexpected())?;
    let name = std::str::from_utf8(name).map_err(|_| "a ref name is not UTF-8".to_owned())?;
    if name.is_empty() || name.contains([' ', '\t', '\r']) || !name.starts_with("refs/") && name != "HEAD" {
        return Err(unexpected());
    }
    Ok(Some((name, tip)))
}

/// The 1-based line number of the body byte at `at`, counted from the first record.
fn line_number(body: &[u8], at: usize) -> usize {
    body[..at].iter().filter(|&&byte| byte == b'\n').count() + 1
}

/// Check every line of a `packed-refs` file (header included), as git does when it reads it:
/// the first damaged or out-of-order line and what is wrong with it, if any.
fn check_packed_refs(file: &[u8]) -> Option<(usize, String)> {
    let mut previous: Option<&[u8]> = None;
    for (index, line) in file.lines().enumerate() {
        if index == 0 && line.starts_with(b"# ") {
            continue;
        }
        match parse_packed_line(line) {
            Ok(None) => {}
            Ok(Some((name, _))) => {
                if previous.is_some_and(|previous| previous >= name.as_bytes()) {
                    return Some((index + 1, format!("{name} is out of order")));
                }
                previous = Some(name.as_bytes());
            }
            Err(problem) => return Some((index + 1, problem)),
        }
    }
    None
}

/// Collect the loose refs in `dir`, whose ref name starts with `prefix`, recursively.
fn walk_loose(dir: &Path, prefix: &str, tips: &mut Vec<RefTip>, broken: &mut Vec<Error>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if is_absent(&err) => return,
        Err(err) => {
            broken.push(unreadable(prefix, &err.to_string()));
            return;
        }
    };
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            broken.push(unreadable(prefix, "a ref name under it is not UTF-8"));
            continue;
        };
        // A writer's lock file, not a ref.
        if file_name.ends_with(".lock") {
            continue;
        }
        let name = format!("{prefix}{file_name}");
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        if is_dir {
            walk_loose(&entry.path(), &format!("{name}/"), tips, broken);
            continue;
        }
        match std::fs::read(entry.path()) {
            Ok(bytes) => match parse_loose(&name, &bytes) {
                Ok(tip) => tips.push(RefTip { name, tip }),
                Err(err) => broken.push(err),
            },
            // Deleted since the directory was read: it is gone.
            Err(err) if is_absent(&err) => {}
            Err(err) => broken.push(unreadable(&name, &err.to_string())),
        }
    }
}

/// The object id a loose ref file holds.
fn parse_loose(ref_name: &str, bytes: &[u8]) -> Result<ObjectId> {
    let text = bytes.trim();
    if text.starts_with(b"ref:") {
        return Err(Error::Corrupt {
            ref_name: ref_name.to_owned(),
            problem: "the ref is symbolic, not a commit".into(),
        });
    }
    ObjectId::from_hex(text).map_err(|_| Error::Corrupt {
        ref_name: ref_name.to_owned(),
        problem: format!("the ref file holds {:?}, not an object id", text.as_bstr()),
    })
}

fn is_absent(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
    )
}

fn unreadable(ref_name: &str, why: &str) -> Error {
    Error::Corrupt {
        ref_name: ref_name.to_owned(),
        problem: format!("the ref cannot be read: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn body(lines: &[String]) -> Vec<u8> {
        let mut text = lines.join("\n");
        text.push('\n');
        text.into_bytes()
    }

    fn names(body: &[u8], prefix: &str) -> Result<Vec<String>> {
        packed_under(body, prefix)
            .map(|record| record.map(|(name, _)| name.to_owned()))
            .collect()
    }

    #[test]
    fn the_block_under_a_prefix_is_read_and_ends_at_the_next_ref() {
        let lines = vec![
            format!("{A} refs/heads/main"),
            format!("{A} refs/loom/claims/loom-00000001"),
            format!("{A} refs/loom/tasks/loom-00000001"),
            format!("{B} refs/loom/tasks/loom-00000002"),
            format!("{B} refs/tags/v1"),
            format!("^{A}"),
        ];
        let body = body(&lines);
        assert_eq!(
            names(&body, "refs/loom/tasks/").unwrap(),
            ["refs/loom/tasks/loom-00000001", "refs/loom/tasks/loom-00000002"]
        );
        assert_eq!(names(&body, "refs/loom/handoffs/").unwrap(), Vec::<String>::new());
        assert_eq!(check_packed_refs(&body), None);
    }

    // Guards: a damaged line inside the block silently ending it, hiding the refs after it.
    #[test]
    fn a_damaged_line_in_the_block_is_an_error_naming_its_line() {
        for bad in ["garbage", "zz refs/loom/tasks/loom-00000009", "", A] {
            let lines = vec![
                format!("{A} refs/heads/main"),
                format!("{A} refs/loom/tasks/loom-00000001"),
                bad.to_owned(),
                format!("{B} refs/loom/tasks/loom-00000002"),
            ];
            let body = body(&lines);
            match names(&body, "refs/loom/tasks/") {
                Err(Error::PackedRefs { line, .. }) => assert_eq!(line, 3, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
            assert_eq!(check_packed_refs(&body).map(|(line, _)| line), Some(3), "{bad:?}");
        }
    }

    // Guards: refs out of order (which git refuses in a sorted file) being read as the end.
    #[test]
    fn refs_out_of_order_are_an_error() {
        let lines = vec![
            format!("{A} refs/loom/tasks/loom-00000002"),
            format!("{A} refs/loom/tasks/loom-00000001"),
        ];
        let body = body(&lines);
        assert!(matches!(
            names(&body, "refs/loom/tasks/"),
            Err(Error::PackedRefs { line: 2, .. })
        ));
        let mut with_header = b"# pack-refs with: peeled fully-peeled sorted \n".to_vec();
        with_header.extend_from_slice(&body);
        assert_eq!(check_packed_refs(&with_header).map(|(line, _)| line), Some(3));
    }
}
