//! Verifying a task's work: its checks (acceptance commands, artifacts, wiring) run in the
//! directory its work lives in.
//!
//! A task carries its acceptance commands in `acceptance`; a task imported from a plan may also
//! carry richer checks in these fields of `task.json` (kept by every version, since unknown
//! fields are preserved): `acceptance_checks` (commands with expected output and exit code),
//! `artifacts` (paths or globs that must exist and not be stubs) and `wiring` (`{source,
//! pattern, description}`: the pattern must match in the file).

use std::path::PathBuf;
use std::time::Duration;

use super::{Error, Loom, Result};
use crate::model::Task;
use crate::verify::{self, Acceptance, Report, Spec, Wiring};

/// How long one acceptance command may run when the settings do not say.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(600);

/// The checks of a task.
pub fn spec_of(task: &Task) -> Spec {
    let mut acceptance: Vec<Acceptance> = task
        .acceptance
        .iter()
        .map(|command| Acceptance::new(command.clone()))
        .collect();
    let field = |name: &str| task.extra.get(name).cloned();
    if let Some(checks) =
        field("acceptance_checks").and_then(|value| serde_json::from_value::<Vec<Acceptance>>(value).ok())
    {
        acceptance.extend(checks);
    }
    // A plan stage's `working_dir` is where its commands run (relative to the worktree).
    if let Some(dir) = field("working_dir").and_then(|value| value.as_str().map(str::to_owned)) {
        for check in acceptance.iter_mut().filter(|check| check.working_dir.is_none()) {
            check.working_dir = Some(dir.clone());
        }
    }
    let artifacts = field("artifacts")
        .and_then(|value| serde_json::from_value::<Vec<String>>(value).ok())
        .unwrap_or_default();
    let wiring = field("wiring")
        .and_then(|value| serde_json::from_value::<Vec<Wiring>>(value).ok())
        .unwrap_or_default();
    Spec {
        acceptance,
        artifacts,
        wiring,
    }
}

/// Whether a task has anything to check.
pub fn has_checks(spec: &Spec) -> bool {
    !spec.acceptance.is_empty() || !spec.artifacts.is_empty() || !spec.wiring.is_empty()
}

impl Loom {
    /// Where a task's work is checked: `worktree` when given, else the claim's worktree, else
    /// the task's worktree when it exists, else the main working tree.
    pub fn work_dir_of(&self, task: &Task, worktree: Option<PathBuf>) -> Result<PathBuf> {
        if let Some(path) = worktree {
            return Ok(path);
        }
        if let Some((_, Ok(claim))) = self.live_claim(&task.id)?
            && let Some(path) = claim.worktree
        {
            return Ok(PathBuf::from(path));
        }
        if let Ok(path) = self.worktree_path(&task.id)
            && path.is_dir()
        {
            return Ok(path);
        }
        self.store.main_work_dir().ok_or_else(|| {
            Error::Invalid("a bare repository has no working tree to check work in: pass --worktree".into())
        })
    }

    /// Run a task's checks. `env` is added to the commands' environment; `progress` sees each
    /// result as it ends.
    pub fn verify_task(
        &self,
        task: &Task,
        worktree: Option<PathBuf>,
        env: Vec<(String, String)>,
        progress: impl FnMut(&verify::CheckResult),
    ) -> Result<(PathBuf, Report)> {
        let dir = self.work_dir_of(task, worktree)?;
        let timeout = match self.settings.verify.timeout_secs {
            0 => DEFAULT_CHECK_TIMEOUT,
            secs => Duration::from_secs(secs),
        };
        let context = verify::Context {
            task: task.id.to_string(),
            worktree: dir.clone(),
            env,
            timeout,
        };
        let report = verify::verify_with_progress(&spec_of(task), &context, progress)
            .map_err(|err| Error::Invalid(err.to_string()))?;
        Ok((dir, report))
    }
}
