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
        match std::fs::read(self.repo.common_dir().join(ref_name)) {
            Ok(bytes) => return parse_loose(ref_name, &bytes).map(Some),
            Err(err) if is_absent(&err) => {}
            Err(err) => return Err(unreadable(ref_name, &err.to_string())),
        }
        let packed = self
            .repo
            .refs
            .cached_packed_buffer()
            .map_err(|err| unreadable("packed-refs", &err.to_string()))?;
        let Some(packed) = packed else { return Ok(None) };
        let found = packed
            .try_find(ref_name)
            .map_err(|err| unreadable(ref_name, &err.to_string()))?;
        Ok(found.map(|reference| reference.target()))
    }

    /// Every ref under `prefix` (which ends in `/`) with its tip, in name order, plus the refs
    /// that could not be read.
    pub fn list(&self, prefix: &str) -> Result<(Vec<RefTip>, Vec<Error>)> {
        let mut loose = Vec::new();
        let mut broken = Vec::new();
        walk_loose(&self.repo.common_dir().join(prefix), prefix, &mut loose, &mut broken);
        loose.sort_by(|a, b| a.name.cmp(&b.name));
        let packed = self
            .repo
            .refs
            .cached_packed_buffer()
            .map_err(|err| unreadable("packed-refs", &err.to_string()))?;
        let Some(packed) = packed else {
            return Ok((loose, broken));
        };
        let iter = packed
            .iter_prefixed(prefix.into())
            .map_err(|err| unreadable("packed-refs", &err.to_string()))?;
        let mut tips = Vec::with_capacity(loose.len() + 64);
        let mut loose = loose.into_iter().peekable();
        for item in iter {
            let reference = match item {
                Ok(reference) => reference,
                Err(err) => {
                    broken.push(unreadable("packed-refs", &err.to_string()));
                    break;
                }
            };
            let name = reference.name.as_bstr().to_str_lossy();
            while let Some(ahead) = loose.next_if(|entry| entry.name.as_str() < name.as_ref()) {
                tips.push(ahead);
            }
            if loose.peek().is_some_and(|entry| entry.name == name) {
                continue;
            }
            tips.push(RefTip {
                name: name.into_owned(),
                tip: reference.target(),
            });
        }
        tips.extend(loose);
        Ok((tips, broken))
    }
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
