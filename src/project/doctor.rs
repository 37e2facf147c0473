//! `doctor`: one look at everything git-loom keeps, saying what is damaged or left over and
//! what mends it, and (with `fix`) mending what can be mended without losing anything.
//!
//! Checked: `packed-refs` line by line; every ref under `refs/loom/` (its objects readable
//! through its whole history, its blob valid, of a known schema and naming the id its ref
//! names); claims on tasks that moved on (void) or that do not exist; locks and temporary files
//! of dead writers; the read caches against a fresh read of the refs; and, when a coordination
//! remote is set, the mirror `refs/loom-remote/<remote>/*` against the remote's refs (read-only,
//! through `git ls-remote`).
//!
//! Guarantees: without `fix` nothing is written. With `fix`, only these are removed: void and
//! orphaned claims (each with a compare-and-swap on the claim commit judged, published like any
//! write), litter old enough that no live writer owns it, and cache files (rebuilt from the refs
//! on the next read). A task's, handoff's or meta's history is never touched: what is wrong
//! there is reported with the command that inspects or repairs it.

use std::collections::{BTreeMap, BTreeSet};

use crate::loom::publish::publish;
use crate::loom::read::{read_claim, read_task};
use crate::loom::{Actor, Error, Result, read_meta};
use crate::model::{Entity, Handoff, Status, TaskId};
use crate::store::{self, Expected, LitterKind, RefTip, RefUpdate, Store};

/// What kind of damage or leftover a finding is. The names (`kind` in `--json`) are interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A line of `packed-refs` is damaged: git and git-loom both refuse the file.
    PackedRefs,
    /// `refs/loom/meta` cannot be read: every command fails.
    UnreadableMeta,
    /// A ref under `refs/loom/` is not a plain ref to an object id (garbage, symbolic).
    UnreadableRef,
    /// A ref whose name is not one git-loom writes (a task ref not named by an id).
    UnknownRef,
    /// A task's version cannot be read, or its `task.json` is invalid, of a newer schema or
    /// names another id.
    UnreadableTask,
    /// An older version in an entity's history cannot be read (a broken link).
    BrokenHistory,
    /// A handoff cannot be read or is invalid.
    UnreadableHandoff,
    /// A claim cannot be read or is invalid.
    UnreadableClaim,
    /// A claim on a task that is no longer pending: nobody holds it.
    VoidClaim,
    /// A claim on a task that does not exist.
    OrphanClaim,
    /// A ref lock file older than the stale-lock age.
    StaleLock,
    /// A temporary object or cache file of a dead writer.
    TempFile,
    /// A read cache that would show something other than the refs hold.
    StaleCache,
    /// The mirror of the coordination remote differs from the remote.
    MirrorDiffers,
    /// The coordination remote could not be asked.
    RemoteUnreachable,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::PackedRefs => "packed-refs",
            FindingKind::UnreadableMeta => "unreadable-meta",
            FindingKind::UnreadableRef => "unreadable-ref",
            FindingKind::UnknownRef => "unknown-ref",
            FindingKind::UnreadableTask => "unreadable-task",
            FindingKind::BrokenHistory => "broken-history",
            FindingKind::UnreadableHandoff => "unreadable-handoff",
            FindingKind::UnreadableClaim => "unreadable-claim",
            FindingKind::VoidClaim => "void-claim",
            FindingKind::OrphanClaim => "orphan-claim",
            FindingKind::StaleLock => "stale-lock",
            FindingKind::TempFile => "temp-file",
            FindingKind::StaleCache => "stale-cache",
            FindingKind::MirrorDiffers => "mirror-differs",
            FindingKind::RemoteUnreachable => "remote-unreachable",
        }
    }
}

/// One thing found wrong.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: FindingKind,
    /// The ref or file concerned.
    pub subject: String,
    pub message: String,
    /// The command (or step) that mends it.
    pub fix: String,
    /// Whether `doctor --fix` mends it.
    pub fixable: bool,
    /// Whether this run mended it.
    pub fixed: bool,
}

/// What `doctor` found, and how much it looked at.
#[derive(Debug, Clone, Default)]
pub struct DoctorReport {
    pub findings: Vec<Finding>,
    pub tasks: usize,
    pub claims: usize,
    pub handoffs: usize,
}

impl DoctorReport {
    /// Whether nothing is left to mend.
    pub fn healthy(&self) -> bool {
        self.findings.iter().all(|finding| finding.fixed)
    }

    fn add(
        &mut self,
        kind: FindingKind,
        subject: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.findings.push(Finding {
            kind,
            subject: subject.into(),
            message: message.into(),
            fix: fix.into(),
            fixable: false,
            fixed: false,
        });
    }

    fn add_fixable(&mut self, kind: FindingKind, subject: impl Into<String>, message: impl Into<String>) {
        self.add(kind, subject, message, FIX);
        if let Some(last) = self.findings.last_mut() {
            last.fixable = true;
        }
    }
}

/// The command that mends what `doctor --fix` can mend.
const FIX: &str = "git loom doctor --fix";

/// Examine the repository behind `store`; with `fix`, mend what can be mended safely.
pub fn doctor(mut store: Store, fix: bool, actor: &Actor) -> Result<DoctorReport> {
    let mut report = DoctorReport::default();
    match read_meta(&store) {
        Ok(Some((_, (_, settings), _))) => {
            store.set_stale_lock_after(std::time::Duration::from_secs(settings.locks.stale_after_secs));
            if let Some(tip) = store.tip(store::META_REF)? {
                check_history(&store, store::META_REF, tip, &mut report);
            }
        }
        Ok(None) => return Err(Error::NotInitialized),
        Err(err) => report.add(
            FindingKind::UnreadableMeta,
            store::META_REF,
            err.to_string(),
            format!(
                "`git log {}` lists earlier versions to restore with `git update-ref`",
                store::META_REF
            ),
        ),
    }
    if let Some(store::Error::PackedRefs { path, line, problem }) = store.check_packed_refs() {
        report.add(
            FindingKind::PackedRefs,
            path.display().to_string(),
            format!("line {line}: {problem}"),
            format!(
                "repair or delete line {line} of {} by hand (git refuses the file too)",
                path.display()
            ),
        );
        // Refs cannot be listed reliably past the damaged line; the rest waits for the repair.
        check_litter(&store, fix, &mut report);
        return Ok(report);
    }
    let (readable, unreadable) = check_tasks(&store, &mut report)?;
    check_claims(&store, fix, actor, &readable, &unreadable, &mut report)?;
    check_handoffs(&store, &mut report)?;
    check_other_refs(&store, &mut report)?;
    check_litter(&store, fix, &mut report);
    check_caches(&store, fix, &readable, &unreadable, &mut report)?;
    if let Some(remote) = store.publish_remote().map(str::to_owned) {
        check_mirror(&store, &remote, &mut report)?;
    }
    Ok(report)
}

/// Refs listed under `prefix`, each unreadable one reported.
fn listed(store: &Store, prefix: &str, report: &mut DoctorReport) -> Result<Vec<RefTip>> {
    let (tips, broken) = store.list(prefix)?;
    for err in broken {
        let (subject, message) = match err {
            store::Error::Corrupt { ref_name, problem } => (ref_name, problem),
            other => (prefix.to_owned(), other.to_string()),
        };
        report.add(
            FindingKind::UnreadableRef,
            subject.clone(),
            message,
            format!("point it at a commit with `git update-ref {subject} <commit>`, or delete it"),
        );
    }
    Ok(tips)
}

/// Read every version reachable from `tip`; report the first that cannot be read.
fn check_history(store: &Store, ref_name: &str, tip: store::ObjectId, report: &mut DoctorReport) {
    if let Err(err) = store.history(ref_name, tip) {
        report.add(
            FindingKind::BrokenHistory,
            ref_name,
            format!("its history cannot be read: {err}"),
            format!(
                "fetch the missing objects from a clone that has them (`git log {ref_name}` shows where it breaks)"
            ),
        );
    }
}

/// Every task's status by id, as read afresh from its objects.
type Statuses = BTreeMap<String, Status>;

/// Every task, read afresh from its objects. Returns the readable tasks' statuses and the
/// unreadable refs.
fn check_tasks(store: &Store, report: &mut DoctorReport) -> Result<(Statuses, BTreeSet<String>)> {
    let mut readable = Statuses::new();
    let mut unreadable: BTreeSet<String> = BTreeSet::new();
    for tip in listed(store, store::TASKS_PREFIX, report)? {
        let Some(id) = store::task_id_from_ref(&tip.name) else {
            report.add(
                FindingKind::UnknownRef,
                tip.name.clone(),
                "the ref name is not a task id, so git-loom ignores it",
                format!("rename or delete it: `git update-ref -d {}`", tip.name),
            );
            continue;
        };
        report.tasks += 1;
        match read_task(store, &id, tip.tip) {
            Ok(entry) => {
                readable.insert(id.to_string(), entry.task.status());
                check_history(store, &tip.name, tip.tip, report);
            }
            Err(err) => {
                unreadable.insert(tip.name.clone());
                report.add(
                    FindingKind::UnreadableTask,
                    tip.name.clone(),
                    err.to_string(),
                    format!(
                        "inspect it with `git show {0}`; `git log {0}` lists earlier versions to restore with `git update-ref`",
                        tip.name
                    ),
                );
            }
        }
    }
    // Refs that could not even be listed as tips are unreadable tasks too.
    for finding in &report.findings {
        if finding.kind == FindingKind::UnreadableRef && finding.subject.starts_with(store::TASKS_PREFIX) {
            unreadable.insert(finding.subject.clone());
        }
    }
    Ok((readable, unreadable))
}

/// Every claim: readable, and on a pending task that exists (judged by the tasks `check_tasks`
/// just read). Void and orphaned ones are removed with `fix`.
fn check_claims(
    store: &Store,
    fix: bool,
    actor: &Actor,
    readable: &Statuses,
    unreadable: &BTreeSet<String>,
    report: &mut DoctorReport,
) -> Result<()> {
    for tip in listed(store, store::CLAIMS_PREFIX, report)? {
        let Some(id) = store::claim_id_from_ref(&tip.name) else {
            report.add(
                FindingKind::UnknownRef,
                tip.name.clone(),
                "the ref name is not a task id, so git-loom ignores it",
                format!("delete it: `git update-ref -d {}`", tip.name),
            );
            continue;
        };
        report.claims += 1;
        let claim = read_claim(store, &id, tip.tip);
        let task: Option<std::result::Result<Status, ()>> = match readable.get(id.as_str()) {
            Some(&status) => Some(Ok(status)),
            None if unreadable.contains(&store::task_ref(&id)) => Some(Err(())),
            None => None,
        };
        let (kind, message) = match (&claim, task) {
            (_, None) => (
                FindingKind::OrphanClaim,
                format!("a claim on {id}, which does not exist"),
            ),
            (_, Some(Ok(status))) if !crate::model::state::claim_is_live(status) => {
                let what = claim.as_ref().map_or_else(
                    |_| "an unreadable claim".to_owned(),
                    |c| format!("a claim of {}", c.agent),
                );
                (
                    FindingKind::VoidClaim,
                    format!("{what} on a {status} task: nobody holds it"),
                )
            }
            (Err(err), Some(Ok(_))) => {
                report.add(
                    FindingKind::UnreadableClaim,
                    tip.name.clone(),
                    err.to_string(),
                    format!("take the task back with `git loom reset {id}`"),
                );
                continue;
            }
            (Err(err), Some(Err(_))) => {
                report.add(
                    FindingKind::UnreadableClaim,
                    tip.name.clone(),
                    format!("{err} (its task cannot be read either)"),
                    format!("repair {} first, then `git loom reset {id}`", store::task_ref(&id)),
                );
                continue;
            }
            // A readable claim on a pending task is a lease: `sweep` and `recover` judge it.
            // One on an unreadable task is reported with the task.
            (Ok(_), Some(_)) => continue,
        };
        report.add_fixable(kind, tip.name.clone(), message);
        if fix {
            remove_claim(store, &id, tip.tip, actor, report)?;
        }
    }
    Ok(())
}

/// Delete the claim on `id` if it is still the commit judged, and mark its finding fixed.
fn remove_claim(
    store: &Store,
    id: &TaskId,
    tip: store::ObjectId,
    actor: &Actor,
    report: &mut DoctorReport,
) -> Result<()> {
    let update = RefUpdate {
        name: store::claim_ref(id),
        expected: Expected::Tip(tip),
        new: None,
    };
    let finding = report.findings.last_mut().expect("the claim's finding was just added");
    match publish(store, &[update], actor) {
        Ok(()) => finding.fixed = true,
        // Moved since it was judged (a sweep, a reset): judged again by the next run.
        Err(err) if err.is_conflict() => finding.message.push_str("; it changed meanwhile, so it was left"),
        Err(Error::Store(err @ (store::Error::Remote { .. } | store::Error::Process { .. }))) => {
            finding.message.push_str(&format!("; not removed: {err}"));
        }
        Err(err) => return Err(err),
    }
    Ok(())
}

/// Every handoff chain, readable through its history and valid.
fn check_handoffs(store: &Store, report: &mut DoctorReport) -> Result<()> {
    for tip in listed(store, store::HANDOFFS_PREFIX, report)? {
        let Some(id) = store::handoff_id_from_ref(&tip.name) else {
            report.add(
                FindingKind::UnknownRef,
                tip.name.clone(),
                "the ref name is not a task id, so git-loom ignores it",
                format!("delete it: `git update-ref -d {}`", tip.name),
            );
            continue;
        };
        report.handoffs += 1;
        let problem = match store.history(&tip.name, tip.tip) {
            Err(err) => Some(err.to_string()),
            Ok(versions) => versions.iter().find_map(|version| {
                let bytes = version.files.get("handoff.json")?;
                Handoff::from_blob(bytes, Some(&id))
                    .err()
                    .map(|err| format!("version {}: {err}", version.commit_id))
            }),
        };
        if let Some(problem) = problem {
            report.add(
                FindingKind::UnreadableHandoff,
                tip.name.clone(),
                problem,
                format!(
                    "`git log {0}` lists its versions; point it at a readable one with `git update-ref`",
                    tip.name
                ),
            );
        }
    }
    Ok(())
}

/// Refs under `refs/loom/` outside the namespaces checked above: their objects must be readable.
fn check_other_refs(store: &Store, report: &mut DoctorReport) -> Result<()> {
    let known = [store::TASKS_PREFIX, store::CLAIMS_PREFIX, store::HANDOFFS_PREFIX];
    let (tips, broken) = store.list("refs/loom/")?;
    for err in broken {
        if let store::Error::Corrupt { ref_name, problem } = err
            && !known.iter().any(|prefix| ref_name.starts_with(prefix))
        {
            report.add(
                FindingKind::UnreadableRef,
                ref_name.clone(),
                problem,
                format!("point it at a commit with `git update-ref {ref_name} <commit>`, or delete it"),
            );
        }
    }
    for tip in tips {
        if tip.name == store::META_REF || known.iter().any(|prefix| tip.name.starts_with(prefix)) {
            continue;
        }
        check_history(store, &tip.name, tip.tip, report);
    }
    Ok(())
}

/// Locks and temporary files of dead writers; removed with `fix`.
fn check_litter(store: &Store, fix: bool, report: &mut DoctorReport) {
    let litter = store.find_litter();
    let removed: BTreeSet<std::path::PathBuf> = match fix {
        true => store.remove_litter(&litter).into_iter().map(|item| item.path).collect(),
        false => BTreeSet::new(),
    };
    for item in litter {
        let (kind, what) = match item.kind {
            LitterKind::Lock => (FindingKind::StaleLock, "a lock file"),
            LitterKind::TempFile => (FindingKind::TempFile, "a temporary file"),
        };
        let message = format!("{what} left {}s ago by a writer that is gone", item.age.as_secs());
        report.add_fixable(kind, item.path.display().to_string(), message);
        if let Some(last) = report.findings.last_mut() {
            last.fixed = removed.contains(&item.path);
        }
    }
}

/// The read caches against a fresh read: a cached task whose ref still points at the commit it
/// was made from must be what that commit holds. With `fix`, disagreeing caches are deleted.
fn check_caches(
    store: &Store,
    fix: bool,
    readable: &Statuses,
    unreadable: &BTreeSet<String>,
    report: &mut DoctorReport,
) -> Result<()> {
    let dir = store.local_dir();
    let mut disagreements = Vec::new();
    for (id, cached_tip, cached) in crate::loom::cache::tasks::entries(&dir) {
        let ref_name = store::task_ref(&id);
        if store.tip(&ref_name).ok().flatten() != Some(cached_tip) {
            // Made from an older version: never used again.
            continue;
        }
        match read_task(store, &id, cached_tip) {
            Ok(entry) if entry.task == cached => {}
            Ok(_) => disagreements.push(format!("the task cache holds another {id} than its commit")),
            Err(_) => disagreements.push(format!(
                "the task cache still shows {id}, whose objects cannot be read: list, status and graph do not see the damage"
            )),
        }
    }
    let readable_ids: BTreeSet<&str> = readable.keys().map(String::as_str).collect();
    let unreadable_refs: BTreeSet<&str> = unreadable.iter().map(String::as_str).collect();
    if let Some(problem) = crate::loom::cache::board::board_disagreement(store, &readable_ids, &unreadable_refs)? {
        disagreements.push(problem);
    }
    if disagreements.is_empty() {
        return Ok(());
    }
    report.add_fixable(
        FindingKind::StaleCache,
        dir.display().to_string(),
        disagreements.join("; "),
    );
    if fix {
        crate::loom::cache::tasks::forget(&dir);
        crate::loom::cache::board::forget(&dir);
        if let Some(last) = report.findings.last_mut() {
            last.fixed = true;
        }
    }
    Ok(())
}

/// The mirror of `remote` against what the remote has now (read-only).
fn check_mirror(store: &Store, remote: &str, report: &mut DoctorReport) -> Result<()> {
    let theirs = match store.remote_loom_refs(remote) {
        Ok(refs) => refs,
        Err(err) => {
            report.add(
                FindingKind::RemoteUnreachable,
                remote,
                err.to_string(),
                format!("check that `git ls-remote {remote}` works"),
            );
            return Ok(());
        }
    };
    let prefix = store::tracking_prefix(remote);
    let (mirror, _) = store.list(&prefix)?;
    let mirror: std::collections::BTreeMap<String, store::ObjectId> = mirror
        .into_iter()
        .map(|tip| (format!("refs/loom/{}", &tip.name[prefix.len()..]), tip.tip))
        .collect();
    let theirs: std::collections::BTreeMap<String, store::ObjectId> =
        theirs.into_iter().map(|tip| (tip.name, tip.tip)).collect();
    let names: BTreeSet<&String> = mirror.keys().chain(theirs.keys()).collect();
    for name in names {
        let message = match (mirror.get(name), theirs.get(name)) {
            (Some(ours), Some(remote_tip)) if ours == remote_tip => continue,
            (Some(ours), Some(remote_tip)) => format!("the mirror has {ours}, {remote} has {remote_tip}"),
            (Some(ours), None) => format!("the mirror has {ours}, {remote} no longer has the ref"),
            (None, Some(remote_tip)) => format!("{remote} has {remote_tip}, the mirror does not have the ref"),
            (None, None) => continue,
        };
        report.add(
            FindingKind::MirrorDiffers,
            store::tracking_ref(remote, name),
            message,
            "git loom sync",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_healthy_only_when_every_finding_was_fixed() {
        let mut report = DoctorReport::default();
        assert!(report.healthy());
        report.add_fixable(FindingKind::TempFile, "x", "left");
        assert!(!report.healthy());
        report.findings[0].fixed = true;
        assert!(report.healthy());
        report.add(FindingKind::UnreadableTask, "refs/loom/tasks/x", "bad", "inspect");
        assert!(!report.healthy());
        assert_eq!(FIX, report.findings[0].fix);
        assert_eq!(FindingKind::StaleCache.as_str(), "stale-cache");
    }
}
