//! Talking to a git remote: fetching `refs/loom/*` into a remote-tracking namespace, and pushing
//! ref updates each guarded by a lease on the value the remote must still hold.
//!
//! Network operations run the user's own `git` executable, so every URL scheme, credential
//! helper and ssh configuration the user has works unchanged. Output is read from
//! `--porcelain`, never from messages meant for people.
//!
//! Guarantees:
//! - a fetch writes only under `refs/loom-remote/<remote>/` (the remote's `refs/loom/*` as last
//!   seen), and only the refs that changed; never a ref the user owns, and never `FETCH_HEAD`;
//! - a fetch never deletes or moves back a mirror ref that a concurrent push of this clone set
//!   after the remote was listed (see [`Store::fetch_loom`]);
//! - a push sends exactly the refs asked for, each with `--force-with-lease=<ref>:<expected>`
//!   (an empty expected value means "must not exist"), all-or-nothing (`--atomic`); a ref the
//!   remote holds at another value rejects the whole push, reported as a rejection, not an error;
//! - a push whose refs do not fit one command line (git takes refspecs and leases only as
//!   arguments) is sent as several atomic pushes of at most [`PUSH_BATCH_BYTES`] of arguments
//!   each, in order, the refs of one record (`tasks/<id>`, `claims/<id>`, `handoffs/<id>`) always
//!   in the same one; the first refused batch stops it, and the batches before it stay landed
//!   (each of them whole, as a smaller push would have left them); a push of many refs is made
//!   from a repository without refs that borrows this one's objects, because git matches each
//!   explicit refspec against every local ref (quadratic in a clone of thousands of tasks);
//! - a remote that cannot be reached or does not exist is an [`Error::Remote`] naming it.

use std::collections::BTreeMap;
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

/// The most bytes of refspecs and leases one `git push` is given: far below the argument-list
/// limit of common systems (Linux allows 2 MiB for arguments and environment together), so that
/// the user's environment always fits beside them.
pub(super) const PUSH_BATCH_BYTES: usize = 512 * 1024;

/// How far a push has come, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushProgress {
    /// Refs in the batches that landed so far.
    pub refs_done: usize,
    pub refs_total: usize,
    /// Batches that landed so far, of `batches`.
    pub batches_done: usize,
    pub batches: usize,
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
        self.gix()
            .config_snapshot()
            .string(format!("remote.{name}.url").as_str())
            .is_some()
    }

    /// A `git` command run on this repository.
    fn git(&self) -> Command {
        let mut command = Command::new("git");
        command.arg("--git-dir").arg(self.gix().git_dir());
        command
    }

    /// Fetch `remote`'s `refs/loom/*` into `refs/loom-remote/<remote>/*` and return what changed
    /// there. `by` signs the mirror updates.
    ///
    /// A fetch's listing of the remote is older than a push another command of this clone may
    /// finish meanwhile, and that push moves the mirror to what it set. So nothing the listing
    /// lacks is deleted blindly: git only downloads the objects and reports, against the mirror
    /// as it found it, what it would change (`--dry-run --porcelain`); the mirror is then moved
    /// here, each ref with compare-and-swap. A mirror claim is moved or removed only when git
    /// found it holding the value it had before the remote was listed, and still holds it: a
    /// claim the listing lacks and that nobody wrote since is proven gone from the remote, and
    /// reported with `new: None`. Only refs that changed are written, whatever the remote holds.
    pub fn fetch_loom(&self, remote: &str, by: &super::Signature) -> Result<Vec<FetchedRef>> {
        let mirror_claims = tracking_ref(remote, super::CLAIMS_PREFIX);
        let (before, _) = self.list(&mirror_claims)?;
        let before: BTreeMap<String, ObjectId> = before.into_iter().map(|tip| (tip.name, tip.tip)).collect();
        let reported = self.fetch_once(remote)?;
        let mut changes = Vec::with_capacity(reported.len());
        for fetched in reported {
            let is_claim = fetched.tracking_ref.starts_with(&mirror_claims);
            if is_claim {
                // Written since it was recorded (a push of this clone): that value is newer
                // than anything this listing can say.
                if before.get(&fetched.tracking_ref).copied() != fetched.old {
                    continue;
                }
            } else if fetched.new.is_none() {
                // Tasks, handoffs and meta are never deleted on a remote; a ref missing from
                // the listing is not a reason to forget its history here.
                continue;
            }
            changes.push(super::RefUpdate {
                name: fetched.tracking_ref,
                expected: fetched.old.map_or(Expected::Absent, Expected::Tip),
                new: fetched.new,
            });
        }
        self.mark_fetched(remote);
        // A mirror ref someone moved since git compared it is theirs to keep (see above).
        Ok(self
            .apply_each(&changes, by)?
            .into_iter()
            .map(|change| FetchedRef {
                tracking_ref: change.name.clone(),
                old: match change.expected {
                    Expected::Absent => None,
                    Expected::Tip(id) => Some(id),
                },
                new: change.new,
            })
            .collect())
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

    /// One `git fetch --dry-run`: the objects of `refs/loom/*` are downloaded, no ref is
    /// written, and every mirror ref the fetch would change is returned with the value git found
    /// it holding (`old`) and the remote's (`new`, `None` when the remote lacks it).
    fn fetch_once(&self, remote: &str) -> Result<Vec<FetchedRef>> {
        let tracking = tracking_prefix(remote);
        let mut command = self.git();
        command
            // Protocol v2 lets the remote advertise only the refs under the refspecs' prefixes.
            .args(["-c", "protocol.version=2"])
            .args([
                "fetch",
                "--dry-run",
                "--porcelain",
                "--prune",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-auto-gc",
                "--no-recurse-submodules",
            ])
            .arg(remote)
            .arg(format!("+refs/loom/meta*:{tracking}meta*"))
            .arg(format!("+refs/loom/tasks/*:{tracking}tasks/*"))
            .arg(format!("+refs/loom/handoffs/*:{tracking}handoffs/*"))
            .arg(format!("+refs/loom/claims/*:{tracking}claims/*"))
            .arg(format!("+refs/loom/merges/*:{tracking}merges/*"))
            .arg(format!("+refs/loom/tests/*:{tracking}tests/*"))
            .arg(format!("+refs/loom/candidates/*:{tracking}candidates/*"))
            .arg(format!("+refs/loom/sessions/*:{tracking}sessions/*"))
            .arg(format!("+refs/loom/leases/*:{tracking}leases/*"));
        let output = run_against(&mut command, remote)?;
        if !output.status.success() {
            return Err(process_error(&command, remote, &output));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut fetched = Vec::new();
        for line in stdout.lines() {
            if let Some(change) = parse_fetch_line(line, &tracking) {
                fetched.push(change);
            }
        }
        Ok(fetched)
    }

    /// The commit `remote` holds at `name` (a full ref name), asked of the remote itself.
    pub fn remote_tip(&self, remote: &str, name: &str) -> Result<Option<ObjectId>> {
        let mut command = self.git();
        command
            .args(["-c", "protocol.version=2", "ls-remote", "--refs"])
            .arg(remote)
            .arg(name);
        let output = run_against(&mut command, remote)?;
        if !output.status.success() {
            return Err(process_error(&command, remote, &output));
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

    /// Push `updates` to `remote` atomically, each with a lease on its expected value (in
    /// batches when they do not fit one command line: see the module's guarantees). On success
    /// the remote-tracking refs are moved to match, signed by `by`.
    pub fn push_loom(&self, remote: &str, updates: &[PushUpdate], by: &super::Signature) -> Result<PushOutcome> {
        if updates.is_empty() {
            return Ok(PushOutcome::Accepted);
        }
        let batches = batches(updates, self.push_batch_bytes);
        let progress = |refs_done, batches_done| {
            if let Some(report) = &self.push_progress {
                report(PushProgress {
                    refs_done,
                    refs_total: updates.len(),
                    batches_done,
                    batches: batches.len(),
                });
            }
        };
        // git matches every explicit refspec against every local ref before it sends anything:
        // quadratic in a clone holding as many refs as it pushes. Large pushes therefore go
        // from a repository of no refs that borrows this one's objects.
        let refless = match updates.len() >= REFLESS_FROM {
            true => self.refless_pusher(remote)?,
            false => None,
        };
        let mut refs_done = 0;
        for (done, batch) in batches.iter().enumerate() {
            progress(refs_done, done);
            match self.push_batch(remote, refless.as_ref(), batch, by)? {
                PushOutcome::Accepted => refs_done += batch.len(),
                rejected => return Ok(rejected),
            }
        }
        progress(refs_done, batches.len());
        Ok(PushOutcome::Accepted)
    }

    /// One atomic `git push` of `updates`; on success the mirror is moved to match.
    fn push_batch(
        &self,
        remote: &str,
        refless: Option<&(tempfile::TempDir, String)>,
        updates: &[PushUpdate],
        by: &super::Signature,
    ) -> Result<PushOutcome> {
        let mut command = match refless {
            Some((dir, _)) => {
                let mut command = Command::new("git");
                command.arg("--git-dir").arg(dir.path());
                command
            }
            None => self.git(),
        };
        command.args(["push", "--porcelain", "--atomic", "--no-verify"]);
        for update in updates {
            command.arg(lease_arg(update));
        }
        command.arg(refless.map_or(remote, |(_, url)| url.as_str()));
        for update in updates {
            command.arg(refspec_arg(update));
        }
        let output = run_against(&mut command, remote)?;
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
        if !output.status.success() {
            return Err(process_error(&command, remote, &output));
        }
        if reported == 0 {
            return Err(remote_error(remote, &String::from_utf8_lossy(&output.stderr)));
        }
        self.record_pushed(remote, updates, by);
        Ok(PushOutcome::Accepted)
    }

    /// A bare repository without refs whose objects are this repository's (through
    /// `objects/info/alternates`), and the one URL `remote` pushes to, for a large push; `None`
    /// (push from here) when the remote pushes to several URLs. Removed when dropped.
    fn refless_pusher(&self, remote: &str) -> Result<Option<(tempfile::TempDir, String)>> {
        let mut command = self.git();
        command.args(["remote", "get-url", "--push", "--all", remote]);
        let output = run_against(&mut command, remote)?;
        if !output.status.success() {
            return Err(process_error(&command, remote, &output));
        }
        let urls = String::from_utf8_lossy(&output.stdout);
        let [url] = urls.lines().collect::<Vec<_>>()[..] else {
            return Ok(None);
        };
        let io = |context: &str| {
            let context = format!("remote {remote:?}: {context}");
            move |source| Error::Io { context, source }
        };
        let local = self.local_dir();
        std::fs::create_dir_all(&local).map_err(io("cannot make the local directory"))?;
        let dir = tempfile::Builder::new()
            .prefix("push-")
            .tempdir_in(&local)
            .map_err(io("cannot make a directory to push from"))?;
        let mut init = Command::new("git");
        init.args(["init", "--quiet", "--bare", "--template="]).arg(dir.path());
        let output = run_against(&mut init, remote)?;
        if !output.status.success() {
            return Err(process_error(&init, remote, &output));
        }
        let objects = self.gix().common_dir().join("objects");
        let objects = std::fs::canonicalize(&objects).unwrap_or(objects);
        let info = dir.path().join("objects").join("info");
        std::fs::create_dir_all(&info).map_err(io("cannot borrow the objects"))?;
        std::fs::write(info.join("alternates"), format!("{}\n", objects.display()))
            .map_err(io("cannot borrow the objects"))?;
        Ok(Some((dir, url.to_owned())))
    }

    /// Move the remote-tracking refs to what a push just set on the remote. A mirror that moved
    /// meanwhile (a concurrent fetch) is left alone: the next fetch sets it right. A mirror ref
    /// that is only locked by a concurrent writer is tried again, because a claim missing from
    /// the mirror would make a later release of it look like one the remote never had.
    fn record_pushed(&self, remote: &str, updates: &[PushUpdate], by: &super::Signature) {
        let mirrored: Vec<super::RefUpdate> = updates
            .iter()
            .map(|update| super::RefUpdate {
                name: tracking_ref(remote, &update.name),
                expected: update.expected,
                new: update.new,
            })
            .collect();
        // One transaction for all of them when nothing moved meanwhile (the common case, and
        // the only affordable one for thousands of refs); else ref by ref, as below.
        if self.apply(&mirrored, by).is_ok() {
            return;
        }
        for mirrored in mirrored {
            for attempt in 0..RECORD_ATTEMPTS {
                match self.apply(std::slice::from_ref(&mirrored), by) {
                    Err(Error::Conflict { .. }) => {}
                    _ => break,
                }
                let still_expected = match (self.tip(&mirrored.name), mirrored.expected) {
                    (Ok(tip), Expected::Absent) => tip.is_none(),
                    (Ok(tip), Expected::Tip(id)) => tip == Some(id),
                    (Err(_), _) => false,
                };
                if !still_expected {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2 << attempt.min(4)));
            }
        }
    }
}

/// From how many refs a push goes from a repository of no refs (see [`Store::push_loom`]).
const REFLESS_FROM: usize = 64;

/// `--force-with-lease=<ref>:<expected>`, empty when the ref must not exist.
fn lease_arg(update: &PushUpdate) -> String {
    let expected = match update.expected {
        Expected::Absent => String::new(),
        Expected::Tip(id) => id.to_string(),
    };
    format!("--force-with-lease={}:{expected}", update.name)
}

/// `<new>:<ref>`, with an empty source for a deletion.
fn refspec_arg(update: &PushUpdate) -> String {
    let source = update.new.map(|id| id.to_string()).unwrap_or_default();
    format!("{source}:{}", update.name)
}

/// The record a ref belongs to (`tasks/<id>`, `claims/<id>`, `handoffs/<id>` share their id),
/// so that the refs of one record are pushed together.
fn record_key(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Split `updates` into batches whose arguments take at most `budget` bytes, keeping the
/// refs of one record together and the records in the order they first appear. One record
/// larger than the budget (which no record is) gets a batch of its own.
pub(super) fn batches(updates: &[PushUpdate], budget: usize) -> Vec<Vec<PushUpdate>> {
    let cost = |update: &PushUpdate| lease_arg(update).len() + refspec_arg(update).len() + 2;
    let total: usize = updates.iter().map(cost).sum();
    if total <= budget {
        return vec![updates.to_vec()];
    }
    let mut records: Vec<(&str, Vec<&PushUpdate>)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for update in updates {
        let key = record_key(&update.name);
        let at = *index.entry(key).or_insert_with(|| {
            records.push((key, Vec::new()));
            records.len() - 1
        });
        records[at].1.push(update);
    }
    let mut batches = Vec::new();
    let (mut batch, mut used) = (Vec::new(), 0);
    for (_, record) in records {
        let size: usize = record.iter().map(|update| cost(update)).sum();
        if !batch.is_empty() && used + size > budget {
            batches.push(std::mem::take(&mut batch));
            used = 0;
        }
        batch.extend(record.into_iter().cloned());
        used += size;
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// How often a mirror ref that a concurrent writer holds locked is tried again after a push.
const RECORD_ATTEMPTS: u32 = 8;

/// One line of `git fetch --porcelain`: `<flag> <old> <new> <local ref>`, where the flag is one
/// character and may be a space (a fast-forward). Up-to-date (`=`) and refused (`!`) refs, and
/// refs outside `tracking`, are not changes to make.
fn parse_fetch_line(line: &str, tracking: &str) -> Option<FetchedRef> {
    let (flag, rest) = line.split_at_checked(1)?;
    let mut fields = rest.trim_start_matches(' ').splitn(3, ' ');
    let (old, new, name) = (fields.next()?, fields.next()?, fields.next()?);
    if flag == "=" || flag == "!" || !name.starts_with(tracking) {
        return None;
    }
    Some(FetchedRef {
        tracking_ref: name.to_owned(),
        old: parse_id(old),
        new: parse_id(new),
    })
}

/// An object id as printed by git; the all-zero id (and anything unreadable) means "none".
fn parse_id(text: &str) -> Option<ObjectId> {
    ObjectId::from_hex(text.as_bytes()).ok().filter(|id| !id.is_null())
}

fn remote_error(remote: &str, message: &str) -> Error {
    Error::Remote {
        remote: remote.to_owned(),
        message: one_line(message),
    }
}

/// git's message, its non-empty lines trimmed and joined with "; ".
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Run `command`, a `git` that talks to `remote`, and collect what it printed; a `git` that
/// cannot be started is an [`Error::Io`] naming the remote.
pub(super) fn run_against(command: &mut Command, remote: &str) -> Result<std::process::Output> {
    command.output().map_err(|source| Error::Io {
        context: format!("remote {remote:?}: cannot run git"),
        source,
    })
}

/// The failure of a `git` that talked to `remote` and exited unsuccessfully.
pub(super) fn process_error(command: &Command, remote: &str, output: &std::process::Output) -> Error {
    let line = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    Error::Process {
        remote: remote.to_owned(),
        command: line,
        status: output.status,
        stderr: one_line(&String::from_utf8_lossy(&output.stderr)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards: a fast-forward's line starts with a space flag, and was read as no change, so a
    // fetch left the mirror (and the clone) behind the remote.
    #[test]
    fn fetch_lines_are_read_whatever_their_flag() {
        let (a, b) = ("1".repeat(40), "2".repeat(40));
        let zero = "0".repeat(40);
        let tracking = "refs/loom-remote/origin/";
        let line = |flag: &str, old: &str, new: &str| format!("{flag} {old} {new} {tracking}tasks/loom-00000001");
        let ff = parse_fetch_line(&line(" ", &a, &b), tracking).unwrap();
        assert_eq!((ff.old.is_some(), ff.new.is_some()), (true, true));
        assert!(parse_fetch_line(&line("+", &a, &b), tracking).is_some());
        let new = parse_fetch_line(&line("*", &zero, &b), tracking).unwrap();
        assert_eq!(new.old, None);
        let pruned = parse_fetch_line(&line("-", &a, &zero), tracking).unwrap();
        assert_eq!(pruned.new, None);
        assert!(parse_fetch_line(&line("=", &a, &a), tracking).is_none());
        assert!(parse_fetch_line(&line("!", &a, &b), tracking).is_none());
        assert!(parse_fetch_line(&format!("  {a} {b} refs/heads/main"), tracking).is_none());
    }

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
