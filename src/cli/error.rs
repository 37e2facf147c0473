//! The one place where failures become messages, hints and exit codes.
//!
//! Exit codes are interface (documented in `doc/cli.md`): 0 success, 1 error, 2 usage,
//! 3 conflict (lost a race, or not allowed in the current state), 4 nothing to do. A closed
//! stdout (`git loom list | head`) is not an error: the command stops quietly with 0.

use std::io;
use std::process::ExitCode;

use git_loom::{ops, repo, store};

/// Exit statuses, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Error = 1,
    Usage = 2,
    Conflict = 3,
    NothingToDo = 4,
    /// `verify` (or the verify `done` runs first) found a failing check.
    ChecksFailed = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A failed command: what to say, what to suggest, and how to exit.
#[derive(Debug)]
pub struct CommandError {
    pub exit: Exit,
    pub message: String,
    pub hints: Vec<String>,
}

impl CommandError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        CommandError {
            exit,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        CommandError::new(Exit::Usage, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Write the error to stderr and return the exit code.
    pub fn report(&self) -> ExitCode {
        if self.exit == Exit::Success {
            return Exit::Success.into();
        }
        let mut text = format!("error: {}\n", self.message);
        for hint in &self.hints {
            text.push_str(&format!("hint: {hint}\n"));
        }
        eprint!("{text}");
        self.exit.into()
    }
}

impl From<io::Error> for CommandError {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away; there is nobody left to tell.
            return CommandError::new(Exit::Success, "");
        }
        CommandError::new(Exit::Error, format!("cannot write output: {err}"))
    }
}

impl From<store::Error> for CommandError {
    fn from(err: store::Error) -> Self {
        CommandError::from(ops::Error::Store(err))
    }
}

impl From<repo::Error> for CommandError {
    fn from(err: repo::Error) -> Self {
        CommandError::from(ops::Error::Repo(err))
    }
}

impl From<ops::Error> for CommandError {
    fn from(err: ops::Error) -> Self {
        use ops::Error as E;
        let message = err.to_string();
        match err {
            E::NotInitialized => CommandError::new(Exit::Error, message)
                .hint("in a clone of a repository that has git-loom data, fetch it: `git loom remote origin && git loom sync`")
                .hint("to start tracking tasks here instead: `git loom init`"),
            E::RemoteHasProject { ref remote } => CommandError::new(Exit::Conflict, message).hint(format!(
                "join it instead: `git loom remote {remote} && git loom sync` (or `git loom --offline init` for a project of this clone only)"
            )),
            E::NewerSchema { .. } => CommandError::new(Exit::Error, message)
                .hint("upgrade git-loom; this version leaves the data untouched rather than misread it"),
            E::Store(store::Error::NotARepository { .. }) => CommandError::new(Exit::Error, message)
                .hint("run git-loom inside a git repository, or point at one with -C PATH"),
            E::Store(store::Error::Reftable { .. }) => CommandError::new(Exit::Error, message)
                .hint("convert the repository with `git refs migrate --ref-format=files`"),
            E::Store(store::Error::Conflict { .. }) => CommandError::new(Exit::Conflict, message)
                .hint("another agent changed it at the same moment; run the command again"),
            E::Settings { ref source, ref ref_name } => {
                let key = source.key();
                let repair = if key.is_empty() {
                    format!(
                        "inspect it with `git show {ref_name}:loom.toml`; `git log -p {ref_name}` shows every change, and an earlier version can be restored with `git update-ref`"
                    )
                } else {
                    format!("set it with `git loom config {key} VALUE`, or restore the default with `git loom config --unset {key}`")
                };
                CommandError::new(Exit::Error, message)
                    .hint(format!("every command needs valid settings in {ref_name}"))
                    .hint(repair)
            }
            E::Store(store::Error::Corrupt { ref_name, .. }) | E::CorruptTask { ref_name, .. }
                if ref_name == store::META_REF =>
            {
                CommandError::new(Exit::Error, message).hint(format!(
                    "every command needs {ref_name}: inspect it with `git show {ref_name}`; \
                     `git log {ref_name}` lists earlier versions to restore with `git update-ref`"
                ))
            }
            E::Store(store::Error::Corrupt { ref_name, .. }) | E::CorruptTask { ref_name, .. } => {
                CommandError::new(Exit::Error, message).hint(format!(
                    "inspect it with `git show {ref_name}`; other tasks are unaffected"
                ))
            }
            E::Store(store::Error::PackedRefs { .. }) => CommandError::new(Exit::Error, message).hint(
                "git refuses this file too: repair or delete the damaged line (`git loom doctor` checks the whole file)",
            ),
            E::Store(store::Error::Remote { ref remote, .. } | store::Error::Process { ref remote, .. }) => CommandError::new(Exit::Error, message).hint(format!(
                "nothing changed here that {remote} did not accept; check that fetching from and pushing to it work, or pass --offline to change only this clone"
            )),
            E::Store(store::Error::Git { context, source }) => {
                CommandError::new(Exit::Error, format!("{context}: {source}"))
            }
            E::Store(store::Error::Io { .. } | store::Error::Random(_)) => CommandError::new(Exit::Error, message),
            // A git that failed or could not start, or a file that could not be written, in the
            // user's repository: git's own message says what to do.
            E::Repo(_) => CommandError::new(Exit::Error, message),
            E::BareRepository => CommandError::new(Exit::Error, message).hint(
                "run it in a clone with a working tree (`git clone` this repository); `claim` works here without a worktree",
            ),
            E::NoTargetBranch => CommandError::new(Exit::Error, message).hint(
                "check out a branch, pass --base, or name one with `git loom config worktrees.target BRANCH`",
            ),
            E::UnbornTarget { .. } => CommandError::new(Exit::Error, message)
                .hint("make a first commit (`git commit --allow-empty -m init`), or name another branch with `git loom config worktrees.target BRANCH`"),
            E::Id(_) | E::NotIdOrStage { .. } => CommandError::new(Exit::Usage, message),
            E::Invalid(_) => CommandError::new(Exit::Usage, message),
            E::Internal(_) => CommandError::new(Exit::Error, message),
            E::UnknownTask { .. } => {
                CommandError::new(Exit::Error, message).hint("see every task with `git loom list --all`")
            }
            E::AmbiguousId { .. } => CommandError::new(Exit::Error, message).hint("type more of the id"),
            E::UnknownName { .. } => CommandError::new(Exit::Error, message)
                .hint("see every task with `git loom list --all`; stage ids come from `git loom plan import`"),
            E::StageOrTask { .. } => {
                CommandError::new(Exit::Error, message).hint("name the task by its full id (`loom-` and 8 hex digits)")
            }
            E::AmbiguousStage { .. } => CommandError::new(Exit::Error, message)
                .hint("name the task by its full id, or as PLAN:STAGE the way `git loom list` shows it"),
            E::Claimed { ref id, .. } => CommandError::new(Exit::Conflict, message).hint(format!(
                "use `git loom claim --next` for another task, or wait for the lease on {id} to expire"
            )),
            E::NotClaimed { .. } => CommandError::new(Exit::Conflict, message).hint(
                "if you held it, the claim was lost (released, or swept after its lease expired); claim it again",
            ),
            E::NotHolder { .. } => CommandError::new(Exit::Conflict, message).hint(
                "only the holder may do this: pass --token if you hold it under another agent name, \
                 or --force (recorded in the task's history)",
            ),
            E::NotReady { ref id, .. } => {
                CommandError::new(Exit::Conflict, message).hint(format!("see why with `git loom show {id}`"))
            }
            E::NotDead { .. } => CommandError::new(Exit::Conflict, message),
            E::Transition(_)
            | E::Cycle(_)
            | E::NotAnEpic { .. }
            | E::NotAnIdea { .. }
            | E::EpicWithDeps { .. }
            | E::EpicDone { .. } => CommandError::new(Exit::Conflict, message),
        }
    }
}
