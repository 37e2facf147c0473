//! Talking to a git remote: fetching `refs/loom/*` into a remote-tracking namespace, and pushing
//! ref updates each guarded by a lease on the value the remote must still hold.
//!
//! Network operations run the user's own `git` executable, so every URL scheme, credential
//! helper and ssh configuration the user has works unchanged. Output is read from
//! `--porcelain`, never from messages meant for people.
//!
//! Guarantees:
//! - a fetch writes only under `refs/loom-remote/<remote>/` (the remote's `refs/loom/*` as last
//!   seen) and, for the moment it runs, under a namespace of its own in `refs/loom-fetch/`;
//!   never a ref the user owns, and never `FETCH_HEAD`;
//! - a fetch never deletes or moves back a mirror ref that a concurrent push of this clone set
//!   after the remote was listed (see [`Store::fetch_loom`]);
//! - a push sends exactly the refs asked for, each with `--force-with-lease=<ref>:<expected>`
//!   (an empty expected value means "must not exist"), all-or-nothing (`--atomic`); a ref the
//!   remote holds at another value rejects the whole push, reported as a rejection, not an error;
//! - a remote that cannot be reached or does not exist is an [`Error::Remote`] naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use super::{Error, Expected, ObjectId, Result, Store};

/// Where the remote's `refs/loom/*` are mirrored: `refs/loom-remote/<remote>/…`.
pub const REMOTE_TRACKING_ROOT: &str = "refs/loom-remote/";

/// The local mirror of `loom_ref` (a ref under `refs/loom/`) as last seen on `remote`.
pub fn tracking_ref(remote: &str, loom_ref: &str) -> String {
    let rest = loom_ref.strip_prefix("refs/loom/").unwrap_or(loom_ref);
    format!("{REMOTE_TRACKING_ROOT}{remote}/{rest}")
}

/// The prefix under which `remote`'s refs are mirrored (ends in `/`).
pub fn tracking_prefix(remote: &str) -> String {
    format!("{REMOTE_TRACKING_ROOT}{remote}/")
}

/// Whether `name` can be used as a remote name inside a ref name and on git's command line.
pub fn is_valid_remote_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.starts_with('.')
        && !name.ends_with(".lock")
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// One ref a fetch changed in the remote-tracking namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedRef {
    /// The mirror ref, under `refs/loom-remote/<remote>/`.
    pub tracking_ref: String,
    /// `None` when the ref is new.
    pub old: Option<ObjectId>,
    /// `None` when the remote no longer has the ref (it was pruned).
    pub new: Option<ObjectId>,
}

/// One ref to set on the remote: it must hold `expected` there, and is moved to `new` (or
/// deleted when `new` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUpdate {
    /// A ref under `refs/loom/`, named the same locally and on the remote.
    pub name: String,
    pub expected: Expected,
    pub new: Option<ObjectId>,
}

/// What the remote said to a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Every update landed.
    Accepted,
    /// Nothing landed: these refs were refused (with git's reason); with an atomic push the
    /// others are refused with them.
    Rejected(Vec<(String, String)>),
}

impl Store {
    /// Whether `name` is a remote configured in this repository.
    pub fn has_remote(&self, name: &str) -> bool {
        self.repo
            .config_snapshot()
            .string(format!("remote.{name}.url").as_str())
            .is_some()
    }

    /// A `git` command run on this repository.
    fn git(&self) -> Command {
        let mut command = Command::new("git");
        command.arg("--git-dir").arg(self.repo.git_dir());
        command
    }

    /// Fetch `remote`'s `refs/loom/*` into `refs/loom-remote/<remote>/*` and return what changed
    /// there. `by` signs the mirror's claim updates; its time dates the fetch.
    ///
    /// A fetch's listing of the remote is older than a push another command of this clone may
    /// finish meanwhile, and that push moves the mirror to what it set. So nothing the listing
    /// lacks is deleted blindly: claims (the only refs a remote deletes) are fetched into a
    /// namespace private to this fetch, and a mirror claim is moved or removed only when it
    /// still holds the value it had before the remote was listed. A claim the listing lacks and
    /// that nobody wrote since is proven gone from the remote, and reported with `new: None`.
    pub fn fetch_loom(&self, remote: &str, by: &super::Signature) -> Result<Vec<FetchedRef>> {
        let mirror_claims = tracking_ref(remote, super::CLAIMS_PREFIX);
        let (before, _) = self.list(&mirror_claims)?;
        let private = private_prefix(remote, by);
        // Several commands of one clone may fetch at the same moment; git then refuses to move
        // a mirror ref another fetch is moving. That is not the remote's fault: try again.
        let mut attempt = 0;
        let (mut fetched, listed) = loop {
            attempt += 1;
            match self.fetch_once(remote, &private) {
                Err(FetchFailure::MirrorBusy) if attempt < FETCH_ATTEMPTS => {
                    let pause = getrandom::u32().unwrap_or(0) % (5_000 << attempt.min(4));
                    std::thread::sleep(std::time::Duration::from_micros(u64::from(pause)));
                }
                // The remote answered; other fetches of this clone keep refreshing the same
                // mirror from it, so it is as fresh as theirs. Whatever is stale shows up as a
                // refused lease on the next push.
                Err(FetchFailure::MirrorBusy) => {
                    self.forget_private(remote, &private, by);
                    return Ok(Vec::new());
                }
                Err(FetchFailure::Other(message)) => {
                    self.forget_private(remote, &private, by);
                    return Err(remote_error(remote, &message));
                }
                Ok(result) => break result,
            }
        };
        self.forget_private(remote, &private, by);
        let before: BTreeMap<String, ObjectId> = before.into_iter().map(|tip| (tip.name, tip.tip)).collect();
        let listed: BTreeMap<String, ObjectId> = listed
            .into_iter()
            .filter_map(|(name, id)| Some((format!("{mirror_claims}{}", name.strip_prefix(&private)?), id)))
            .collect();
        let changes: Vec<super::RefUpdate> = before
            .keys()
            .chain(listed.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|name| before.get(*name) != listed.get(*name))
            .map(|name| super::RefUpdate {
                name: name.clone(),
                expected: before.get(name).map_or(Expected::Absent, |id| Expected::Tip(*id)),
                new: listed.get(name).copied(),
            })
            .collect();
        self.mark_fetched(remote);
        // A mirror claim someone moved since it was read is theirs to keep (see above).
        for change in self.apply_each(&changes, by)? {
            fetched.push(FetchedRef {
                tracking_ref: change.name.clone(),
                old: match change.expected {
                    Expected::Absent => None,
                    Expected::Tip(id) => Some(id),
                },
                new: change.new,
            });
        }
        Ok(fetched)
    }

    /// Apply `updates` (all at once when nothing moved meanwhile, else one by one); an update
    /// whose ref no longer holds its expected value is left out. Returns the updates applied.
    pub fn apply_each<'u>(
        &self,
        updates: &'u [super::RefUpdate],
        by: &super::Signature,
    ) -> Result<Vec<&'u super::RefUpdate>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        match self.apply(updates, by) {
            Ok(()) => return Ok(updates.iter().collect()),
            Err(Error::Conflict { .. }) => {}
            Err(err) => return Err(err),
        }
        let mut applied = Vec::new();
        for update in updates {
            match self.apply(std::slice::from_ref(update), by) {
                Ok(()) => applied.push(update),
                Err(Error::Conflict { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(applied)
    }

    /// Delete this fetch's private refs, and those a fetch killed before it could clean up left
    /// behind (older than [`PRIVATE_LEFTOVER_SECS`]). Best effort: what stays is retried by the
    /// next fetch, and only costs a little space.
    fn forget_private(&self, remote: &str, private: &str, by: &super::Signature) {
        let root = format!("{PRIVATE_ROOT}{remote}/");
        let Ok((tips, _)) = self.list(&root) else { return };
        let now = by.time.as_second();
        let leftovers: Vec<super::RefUpdate> = tips
            .into_iter()
            .filter(|tip| {
                let started = tip.name.strip_prefix(&root).and_then(|rest| rest.split('-').next());
                let old = started
                    .and_then(|secs| secs.parse::<i64>().ok())
                    .is_some_and(|secs| now.saturating_sub(secs) > PRIVATE_LEFTOVER_SECS);
                tip.name.starts_with(private) || old
            })
            .map(|tip| super::RefUpdate {
                name: tip.name,
                expected: Expected::Tip(tip.tip),
                new: None,
            })
            .collect();
        let _ = self.apply_each(&leftovers, by);
        // Deleting a ref leaves its directory behind; a namespace's directory goes with it (only
        // when empty, so a concurrent fetch that reuses nothing loses nothing).
        let namespaces: BTreeSet<&str> = leftovers
            .iter()
            .filter_map(|update| update.name.rsplit_once('/').map(|(dir, _)| dir))
            .chain(std::iter::once(private.trim_end_matches('/')))
            .collect();
        for namespace in namespaces {
            let _ = std::fs::remove_dir(self.repo.common_dir().join(namespace));
        }
    }

    /// One `git fetch`: tasks, handoffs and meta into the mirror, claims into `private`.
    /// Returns the mirror refs git changed, and every claim the remote listed (by private name).
    fn fetch_once(&self, remote: &str, private: &str) -> std::result::Result<(Vec<FetchedRef>, Listed), FetchFailure> {
        let tracking = tracking_prefix(remote);
        let output = self
            .git()
            // Protocol v2 lets the remote advertise only the refs under the refspecs' prefixes.
            .args(["-c", "protocol.version=2"])
            .args([
                "fetch",
                "--porcelain",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-auto-gc",
                "--no-recurse-submodules",
            ])
            .arg(remote)
            .arg(format!("+refs/loom/meta*:{tracking}meta*"))
            .arg(format!("+refs/loom/tasks/*:{tracking}tasks/*"))
            .arg(format!("+refs/loom/handoffs/*:{tracking}handoffs/*"))
            .arg(format!("+refs/loom/claims/*:{private}*"))
            .output()
            .map_err(|err| FetchFailure::Other(format!("cannot run git: {err}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            let mirror_busy = stderr.contains(&format!("cannot lock ref '{tracking}"));
            return Err(match mirror_busy {
                true => FetchFailure::MirrorBusy,
                false => FetchFailure::Other(stderr),
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut fetched = Vec::new();
        let mut listed = Vec::new();
        for line in stdout.lines() {
            // `<flag> <old> <new> <local ref>`
            let mut fields = line.splitn(4, ' ');
            let (Some(flag), Some(old), Some(new), Some(name)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if flag == "=" || flag == "!" {
                continue;
            }
            if name.starts_with(private) {
                // The private namespace starts empty: every claim the remote has is new in it.
                if let Some(id) = parse_id(new) {
                    listed.push((name.to_owned(), id));
                }
                continue;
            }
            fetched.push(FetchedRef {
                tracking_ref: name.to_owned(),
                old: parse_id(old),
                new: parse_id(new),
            });
        }
        Ok((fetched, listed))
    }

    /// The commit `remote` holds at `name` (a full ref name), asked of the remote itself.
    pub fn remote_tip(&self, remote: &str, name: &str) -> Result<Option<ObjectId>> {
        let output = self
            .git()
            .args(["-c", "protocol.version=2", "ls-remote", "--refs"])
            .arg(remote)
            .arg(name)
            .output()
            .map_err(|err| remote_error(remote, &format!("cannot run git: {err}")))?;
        if !output.status.success() {
            return Err(remote_error(remote, &String::from_utf8_lossy(&output.stderr)));
        }
        // `<id>\t<ref>` per line; the pattern also matches refs that merely end like `name`.
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .find(|(_, listed)| *listed == name)
            .and_then(|(id, _)| parse_id(id)))
    }

    /// How long ago this clone last fetched from `remote`; `None` when it never did (or the
    /// record of it cannot be read).
    pub fn fetched_ago(&self, remote: &str) -> Option<std::time::Duration> {
        let modified = std::fs::metadata(self.fetch_stamp(remote))
            .and_then(|meta| meta.modified())
            .ok()?;
        Some(
            std::time::SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default(),
        )
    }

    /// Remember that a fetch from `remote` just succeeded (the file's time says when).
    fn mark_fetched(&self, remote: &str) {
        let stamp = self.fetch_stamp(remote);
        if let Some(dir) = stamp.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // Rewriting the file moves its modification time; its content says what it is for.
        let _ = std::fs::write(&stamp, "the modification time of this file is the last fetch\n");
    }

    fn fetch_stamp(&self, remote: &str) -> std::path::PathBuf {
        self.local_dir().join(format!("fetched-{remote}"))
    }

    /// Push `updates` to `remote` in one atomic push, each with a lease on its expected value.
    /// On success the remote-tracking refs are moved to match, signed by `by`.
    pub fn push_loom(&self, remote: &str, updates: &[PushUpdate], by: &super::Signature) -> Result<PushOutcome> {
        if updates.is_empty() {
            return Ok(PushOutcome::Accepted);
        }
        let mut command = self.git();
        command.args(["push", "--porcelain", "--atomic", "--no-verify"]);
        for update in updates {
            let expected = match update.expected {
                Expected::Absent => String::new(),
                Expected::Tip(id) => id.to_string(),
            };
            command.arg(format!("--force-with-lease={}:{expected}", update.name));
        }
        command.arg(remote);
        for update in updates {
            let source = update.new.map(|id| id.to_string()).unwrap_or_default();
            command.arg(format!("{source}:{}", update.name));
        }
        let output = command
            .output()
            .map_err(|err| remote_error(remote, &format!("cannot run git: {err}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut rejected = Vec::new();
        let mut reported = 0;
        for line in stdout.lines() {
            // `<flag>\t<from>:<to>\t<summary>`
            let mut fields = line.splitn(3, '\t');
            let (Some(flag), Some(refs), summary) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            let Some((_, to)) = refs.split_once(':') else { continue };
            reported += 1;
            if flag == "!" {
                rejected.push((to.to_owned(), summary.unwrap_or_default().to_owned()));
            }
        }
        // `[remote rejected]` is the remote's policy (a hook, permissions, a protected
        // namespace), not a race: trying again would be refused again. Except when its reason
        // names the atomic transaction: `(atomic push failed)` says a sibling ref was refused,
        // and `(atomic transaction failed)` that a concurrent push moved a ref between the
        // lease check and the update, which is a lost race.
        let refused_by_policy: Vec<String> = rejected
            .iter()
            .filter(|(_, summary)| summary.starts_with("[remote rejected]") && !summary.contains("atomic"))
            .map(|(name, summary)| format!("{name} {summary}"))
            .collect();
        if !refused_by_policy.is_empty() {
            return Err(remote_error(
                remote,
                &format!("the remote refused the push: {}", refused_by_policy.join("; ")),
            ));
        }
        if !rejected.is_empty() {
            return Ok(PushOutcome::Rejected(rejected));
        }
        if !output.status.success() || reported == 0 {
            return Err(remote_error(remote, &String::from_utf8_lossy(&output.stderr)));
        }
        self.record_pushed(remote, updates, by);
        Ok(PushOutcome::Accepted)
    }

    /// Move the remote-tracking refs to what a push just set on the remote. A mirror that moved
    /// meanwhile (a concurrent fetch) is left alone: the next fetch sets it right.
    fn record_pushed(&self, remote: &str, updates: &[PushUpdate], by: &super::Signature) {
        let mirrored: Vec<super::RefUpdate> = updates
            .iter()
            .map(|update| super::RefUpdate {
                name: tracking_ref(remote, &update.name),
                expected: update.expected,
                new: update.new,
            })
            .collect();
        for update in mirrored {
            let _ = self.apply(std::slice::from_ref(&update), by);
        }
    }
}

/// Refs a fetch listed, each with the commit the remote holds there.
type Listed = Vec<(String, ObjectId)>;

/// How many times a fetch is tried while another fetch of the same clone holds a mirror ref.
const FETCH_ATTEMPTS: u32 = 8;

/// Where each fetch lists the remote's claims, in a namespace of its own:
/// `refs/loom-fetch/<remote>/<unix seconds>-<random>/<id>`.
const PRIVATE_ROOT: &str = "refs/loom-fetch/";

/// Private fetch refs older than this were left by a fetch that was killed.
const PRIVATE_LEFTOVER_SECS: i64 = 600;

/// A namespace no other fetch uses, named after the moment it starts.
fn private_prefix(remote: &str, by: &super::Signature) -> String {
    let nonce = getrandom::u64().unwrap_or_else(|_| u64::from(std::process::id()));
    format!("{PRIVATE_ROOT}{remote}/{}-{nonce:016x}/", by.time.as_second())
}

/// Why one fetch failed: git's message, and whether only a concurrent local fetch was in the way.
enum FetchFailure {
    MirrorBusy,
    Other(String),
}

/// An object id as printed by git; the all-zero id (and anything unreadable) means "none".
fn parse_id(text: &str) -> Option<ObjectId> {
    ObjectId::from_hex(text.as_bytes()).ok().filter(|id| !id.is_null())
}

fn remote_error(remote: &str, message: &str) -> Error {
    let message = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Error::Remote {
        remote: remote.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_refs_mirror_the_loom_namespace() {
        assert_eq!(
            tracking_ref("origin", "refs/loom/tasks/loom-0000abcd"),
            "refs/loom-remote/origin/tasks/loom-0000abcd"
        );
        assert_eq!(tracking_prefix("up"), "refs/loom-remote/up/");
    }

    #[test]
    fn remote_names_that_could_escape_a_ref_or_an_argument_are_refused() {
        assert!(is_valid_remote_name("origin"));
        assert!(is_valid_remote_name("team-2.mirror"));
        for bad in ["", "-x", ".hidden", "a..b", "a/b", "x.lock", "a b"] {
            assert!(!is_valid_remote_name(bad), "{bad:?}");
        }
    }
}
