//! Failures as every front end reports them: a stable [`ErrorCode`], the message, and hints
//! that say what to do next. The CLI turns the code's [`ErrorClass`] into its exit status; the
//! servers to come return the same code and hints, so an agent reads the same advice through
//! any of them.

use serde::Serialize;

use crate::loom::Error;
use crate::store;
use crate::sync;

/// What kind of failure an error is, stable across versions (`snake_case` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The repository has no git-loom data.
    NotInitialized,
    /// `init` where the coordination remote already holds a project.
    ProjectExists,
    /// Data or a repository this build cannot handle (a newer schema, reftable refs).
    Unsupported,
    /// Not inside a git repository.
    NotARepository,
    /// Another writer changed what the operation read.
    Conflict,
    /// A stored record under `refs/loom/` cannot be read; the message names its ref.
    Corrupt,
    /// The shared settings in `refs/loom/meta` do not validate.
    InvalidSettings,
    /// A remote could not be reached or refused to talk.
    Remote,
    /// The repository has no remote of that name.
    NoSuchRemote,
    /// A git operation failed.
    Git,
    /// The repository cannot do this (bare, no target branch, no commits).
    Environment,
    /// Input that is malformed in itself (a bad id, title, label, or exchange).
    InvalidInput,
    /// No task matches the input.
    NotFound,
    /// The input matches several tasks.
    Ambiguous,
    /// The task is claimed by someone else.
    Claimed,
    /// The task is not claimed.
    NotClaimed,
    /// The caller does not hold the claim.
    NotHolder,
    /// The task is not ready.
    NotReady,
    /// Not allowed in the task's current state (a transition, a cycle, an epic rule).
    NotAllowed,
    /// Something failed that is not the caller's doing.
    Internal,
}

/// How a failure should be read by whoever called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request itself was malformed.
    Usage,
    /// The request was refused in the current state, or lost a race: it may work later.
    Refused,
    /// It failed.
    Failed,
}

impl ErrorCode {
    pub fn of(err: &Error) -> ErrorCode {
        use ErrorCode as C;
        match err {
            Error::NotInitialized => C::NotInitialized,
            Error::RemoteHasProject { .. } => C::ProjectExists,
            Error::NewerSchema { .. } | Error::Store(store::Error::Reftable { .. }) => C::Unsupported,
            Error::Store(store::Error::NotARepository { .. }) => C::NotARepository,
            Error::Store(store::Error::Conflict { .. }) => C::Conflict,
            Error::Store(store::Error::Corrupt { .. } | store::Error::PackedRefs { .. }) => C::Corrupt,
            Error::Settings { .. } => C::InvalidSettings,
            Error::Store(store::Error::Remote { .. } | store::Error::Process { .. }) => C::Remote,
            Error::Store(store::Error::Git { .. }) | Error::Repo(_) => C::Git,
            Error::Store(store::Error::Io { .. } | store::Error::Random(_)) => C::Internal,
            Error::BareRepository
            | Error::NoTargetBranch
            | Error::UnbornTarget { .. }
            | Error::MissingTarget { .. }
            | Error::DependencyWorkMissing { .. } => C::Environment,
            Error::Id(_) | Error::NotIdOrStage { .. } | Error::Invalid(_) | Error::Field(_) => C::InvalidInput,
            Error::Sync(sync::Error::Diverged { .. }) => C::InvalidInput,
            Error::Sync(_) | Error::Internal(_) => C::Internal,
            Error::NoRemote | Error::InvalidRemoteName { .. } => C::InvalidInput,
            Error::UnknownRemote { .. } => C::NoSuchRemote,
            Error::SignalTemplate { .. } => C::InvalidSettings,
            Error::SessionAborted { source, .. } => ErrorCode::of(source),
            Error::UnknownTask { .. } | Error::UnknownName { .. } | Error::NoMergeRequest { .. } => C::NotFound,
            Error::UnknownSession { .. } => C::NotFound,
            Error::AmbiguousSession { .. } => C::Ambiguous,
            Error::SessionEnded(_) | Error::MergeLeaseHeld { .. } => C::NotAllowed,
            Error::AmbiguousId { .. } | Error::StageOrTask { .. } | Error::AmbiguousStage { .. } => C::Ambiguous,
            Error::Claimed { .. } => C::Claimed,
            Error::NotClaimed { .. } => C::NotClaimed,
            Error::NotHolder { .. } => C::NotHolder,
            Error::NotReady { .. } | Error::AwaitingMerge { .. } => C::NotReady,
            Error::NotDead { .. }
            | Error::Transition(_)
            | Error::Cycle(_)
            | Error::NotAnEpic { .. }
            | Error::NotAnIdea { .. }
            | Error::EpicWithDeps { .. }
            | Error::EpicDone { .. }
            | Error::MergeMove(_)
            | Error::BranchDiverged { .. }
            | Error::MergeBusy
            | Error::DependencyConflict { .. } => C::NotAllowed,
        }
    }

    /// The code as JSON spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotInitialized => "not_initialized",
            ErrorCode::ProjectExists => "project_exists",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::NotARepository => "not_a_repository",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Corrupt => "corrupt",
            ErrorCode::InvalidSettings => "invalid_settings",
            ErrorCode::Remote => "remote",
            ErrorCode::NoSuchRemote => "no_such_remote",
            ErrorCode::Git => "git",
            ErrorCode::Environment => "environment",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Ambiguous => "ambiguous",
            ErrorCode::Claimed => "claimed",
            ErrorCode::NotClaimed => "not_claimed",
            ErrorCode::NotHolder => "not_holder",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn class(self) -> ErrorClass {
        use ErrorCode as C;
        match self {
            C::InvalidInput => ErrorClass::Usage,
            C::ProjectExists
            | C::Conflict
            | C::Claimed
            | C::NotClaimed
            | C::NotHolder
            | C::NotReady
            | C::NotAllowed => ErrorClass::Refused,
            _ => ErrorClass::Failed,
        }
    }
}

/// A failure as a front end reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
    /// What to do next, most useful first; commands are spelled as `git loom` takes them.
    pub hints: Vec<String>,
}

impl Failure {
    pub fn of(err: &Error) -> Failure {
        if let Error::SessionAborted {
            id,
            source,
            release_error,
        } = err
        {
            // The session's own failure, and what became of the claim taken for it.
            let mut failure = Failure::of(source);
            failure.hints.push(match release_error {
                None => format!("the claim on {id} was released"),
                Some(why) => format!("the claim on {id} could not be released ({why}); run `git loom release {id}`"),
            });
            return failure;
        }
        let message = match err {
            // The store's own message is only the context: the git error says what went wrong.
            Error::Store(store::Error::Git { context, source }) => format!("{context}: {source}"),
            other => other.to_string(),
        };
        Failure {
            code: ErrorCode::of(err),
            message,
            hints: hints(err),
        }
    }
}

/// What to suggest after `err`.
fn hints(err: &Error) -> Vec<String> {
    let hints: Vec<String> = match err {
        Error::NotInitialized => vec![
            "in a clone of a repository that has git-loom data, fetch it: `git loom remote origin && git loom sync`".into(),
            "to start tracking tasks here instead: `git loom init`".into(),
        ],
        Error::RemoteHasProject { remote } => vec![format!(
            "join it instead: `git loom remote {remote} && git loom sync` (or `git loom --offline init` for a project of this clone only)"
        )],
        Error::NewerSchema { .. } => {
            vec!["upgrade git-loom; this version leaves the data untouched rather than misread it".into()]
        }
        Error::Store(store::Error::NotARepository { .. }) => {
            vec!["run git-loom inside a git repository, or point at one with -C PATH".into()]
        }
        Error::Store(store::Error::Reftable { .. }) => {
            vec!["convert the repository with `git refs migrate --ref-format=files`".into()]
        }
        Error::Store(store::Error::Conflict { .. }) => {
            vec!["another agent changed it at the same moment; run the command again".into()]
        }
        Error::Settings { source, ref_name } => {
            let key = source.key();
            let repair = if key.is_empty() {
                format!(
                    "inspect it with `git show {ref_name}:loom.toml`; `git log -p {ref_name}` shows every change, and an earlier version can be restored with `git update-ref`"
                )
            } else {
                format!("set it with `git loom config {key} VALUE`, or restore the default with `git loom config --unset {key}`")
            };
            vec![format!("every command needs valid settings in {ref_name}"), repair]
        }
        Error::Store(store::Error::Corrupt { ref_name, .. }) if ref_name == store::META_REF => vec![format!(
            "every command needs {ref_name}: inspect it with `git show {ref_name}`; \
             `git log {ref_name}` lists earlier versions to restore with `git update-ref`"
        )],
        Error::Store(store::Error::Corrupt { ref_name, .. }) => {
            vec![format!("inspect it with `git show {ref_name}`; other tasks are unaffected")]
        }
        Error::Store(store::Error::PackedRefs { .. }) => vec![
            "git refuses this file too: repair or delete the damaged line (`git loom doctor` checks the whole file)".into(),
        ],
        Error::Store(store::Error::Remote { remote, .. } | store::Error::Process { remote, .. }) => vec![format!(
            "nothing changed here that {remote} did not accept; check that fetching from and pushing to it work, or pass --offline to change only this clone"
        )],
        Error::BareRepository => vec![
            "run it in a clone with a working tree (`git clone` this repository); `claim` works here without a worktree".into(),
        ],
        Error::NoTargetBranch => vec![
            "check out a branch, pass --base, or name one with `git loom config worktrees.target BRANCH`".into(),
        ],
        Error::UnbornTarget { .. } => vec![
            "make a first commit (`git commit --allow-empty -m init`), or name another branch with `git loom config worktrees.target BRANCH`".into(),
        ],
        Error::UnknownTask { .. } => vec!["see every task with `git loom list --all`".into()],
        Error::AmbiguousId { .. } => vec!["type more of the id".into()],
        Error::UnknownName { .. } => vec![
            "see every task with `git loom list --all`; stage ids come from `git loom plan import`".into(),
        ],
        Error::StageOrTask { .. } => vec!["name the task by its full id (`loom-` and 8 hex digits)".into()],
        Error::AmbiguousStage { .. } => {
            vec!["name the task by its full id, or as PLAN:STAGE the way `git loom list` shows it".into()]
        }
        Error::Claimed { id, .. } => vec![format!(
            "use `git loom claim --next` for another task, or wait for the lease on {id} to expire"
        )],
        Error::NotClaimed { .. } => vec![
            "if you held it, the claim was lost (released, or swept after its lease expired); claim it again".into(),
        ],
        Error::NotHolder { .. } => vec![
            "only the holder may do this: pass --token if you hold it under another agent name, \
             or --force (recorded in the task's history)"
                .into(),
        ],
        Error::NotReady { id, .. } => vec![format!("see why with `git loom show {id}`")],
        Error::AwaitingMerge { id, .. } => vec![
            format!("{id} becomes ready once that work lands on the target branch (`[merge] gate` is \"merged\")"),
            "use `git loom claim --next` for a task that is ready now".into(),
        ],
        Error::DependencyConflict { .. } => vec![
            "resolve it between the dependencies' branches (merge one into the other and commit the resolution on it), then try again".into(),
            "or land the dependencies first: with `git loom config merge.gate merged` a task starts only once its dependencies' work is merged".into(),
        ],
        Error::DependencyWorkMissing { branch, .. } => vec![format!(
            "fetch it from the remote its agent pushed to (`git fetch REMOTE {branch}:{branch}`), then try again"
        )],
        Error::NoRemote => {
            vec!["name one (`git loom sync origin`) or set one with `git loom remote origin`".into()]
        }
        Error::UnknownRemote { name } => vec![format!("add it first: git remote add {name} <url>")],
        Error::SignalTemplate { .. } => vec!["fix or clear `[signal] template` in loom.toml".into()],
        Error::BranchDiverged { remote, branch, .. } => vec![format!(
            "fetch it (`git fetch {remote} {branch}`), merge it into the work, commit, and finish again"
        )],
        Error::MissingTarget { branch } => vec![format!(
            "create it, or drop the requests that name it (`git loom merge drop ID`); `git loom merge queue --json` shows each request's target ({branch} here)"
        )],
        Error::MergeBusy => vec!["wait for it to finish; one engine serves the whole queue".into()],
        Error::MergeLeaseHeld { .. } => vec![
            "wait for it to finish; one engine serves the whole queue, and a lease its engine stops renewing runs out by itself".into(),
        ],
        Error::UnknownSession { .. } | Error::AmbiguousSession { .. } => {
            vec!["list them with `git loom sessions --all`".into()]
        }
        Error::SessionEnded(err) => vec![format!("see it with `git loom sessions --all` ({} is over)", err.id)],
        Error::NoMergeRequest { .. } => vec!["see the queue with `git loom merge queue --all`".into()],
        Error::MergeMove(err) => vec![format!("see the request with `git loom merge show {}`", err.task)],
        _ => Vec::new(),
    };
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards: the name a front end prints drifting from the JSON spelling of the same code.
    #[test]
    fn every_code_is_spelled_the_same_in_json_and_as_str() {
        let codes = [
            ErrorCode::NotInitialized,
            ErrorCode::ProjectExists,
            ErrorCode::Unsupported,
            ErrorCode::NotARepository,
            ErrorCode::Conflict,
            ErrorCode::Corrupt,
            ErrorCode::InvalidSettings,
            ErrorCode::Remote,
            ErrorCode::NoSuchRemote,
            ErrorCode::Git,
            ErrorCode::Environment,
            ErrorCode::InvalidInput,
            ErrorCode::NotFound,
            ErrorCode::Ambiguous,
            ErrorCode::Claimed,
            ErrorCode::NotClaimed,
            ErrorCode::NotHolder,
            ErrorCode::NotReady,
            ErrorCode::NotAllowed,
            ErrorCode::Internal,
        ];
        for code in codes {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        }
    }

    #[test]
    fn a_damaged_record_is_corrupt_names_its_ref_and_fails() {
        let err = Error::corrupt("refs/loom/tasks/loom-0000abcd", "task.json is missing");
        let failure = Failure::of(&err);
        assert_eq!(failure.code, ErrorCode::Corrupt);
        assert_eq!(failure.code.class(), ErrorClass::Failed);
        assert_eq!(failure.message, "refs/loom/tasks/loom-0000abcd: task.json is missing");
        assert_eq!(
            failure.hints,
            ["inspect it with `git show refs/loom/tasks/loom-0000abcd`; other tasks are unaffected"]
        );
    }

    #[test]
    fn a_lost_race_is_refused_not_failed() {
        let err = Error::Store(store::Error::Conflict {
            ref_name: "refs/loom/claims/loom-0000abcd".into(),
        });
        assert_eq!(ErrorCode::of(&err).class(), ErrorClass::Refused);
    }
}
