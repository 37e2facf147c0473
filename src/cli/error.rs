//! The one place where failures become exit codes; the messages and hints are the shared
//! API's ([`git_loom::api::Failure`]), so every front end gives the same advice.
//!
//! Exit codes are interface (documented in `doc/cli.md`): 0 success, 1 error, 2 usage,
//! 3 conflict (lost a race, or not allowed in the current state), 4 nothing to do. A closed
//! stdout (`git loom list | head`) is not an error: the command stops quietly with 0.

use std::io;
use std::process::ExitCode;

use git_loom::api::{ErrorClass, Failure};
use git_loom::{hooks, loom, project, repo, store};

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
    /// Stopped by Ctrl-C (`run`), as a shell reports a process ended by SIGINT.
    Interrupted = 130,
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

    /// Write the error to stderr and return the exit code.
    pub fn report(&self) -> ExitCode {
        if self.exit == Exit::Success {
            return Exit::Success.into();
        }
        let color = super::terminal::stderr_enabled();
        let error = super::terminal::paint("error:", super::terminal::Style::Error, color);
        let mut text = format!("{error} {}\n", self.message);
        for hint in &self.hints {
            let prefix = super::terminal::paint("hint:", super::terminal::Style::Hint, color);
            text.push_str(&format!("{prefix} {hint}\n"));
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
        CommandError::from(loom::Error::Store(err))
    }
}

impl From<repo::Error> for CommandError {
    fn from(err: repo::Error) -> Self {
        CommandError::from(loom::Error::Repo(err))
    }
}

impl From<loom::Error> for CommandError {
    fn from(err: loom::Error) -> Self {
        let failure = Failure::of(&err);
        let exit = match failure.code.class() {
            ErrorClass::Usage => Exit::Usage,
            ErrorClass::Refused => Exit::Conflict,
            ErrorClass::Failed => Exit::Error,
        };
        CommandError {
            exit,
            message: failure.message,
            hints: failure.hints,
        }
    }
}

impl From<hooks::Error> for CommandError {
    fn from(err: hooks::Error) -> Self {
        match err {
            hooks::Error::Loom(err) => CommandError::from(err),
            hooks::Error::Repo(err) => CommandError::from(err),
            hooks::Error::Occupied { .. } => {
                let mut error = CommandError::new(Exit::Conflict, err.to_string());
                error.hints.push(
                    "move one of them out of the way (it may be a hook an earlier install chained to), then install again"
                        .to_owned(),
                );
                error
            }
            hooks::Error::BadRefLine { .. } => CommandError::usage(err.to_string()),
            hooks::Error::Io { .. } => CommandError::new(Exit::Error, err.to_string()),
        }
    }
}

impl From<project::SetupError> for CommandError {
    fn from(err: project::SetupError) -> Self {
        let mut error = CommandError::new(Exit::Error, err.to_string());
        if matches!(
            err,
            project::SetupError::InvalidJson { .. } | project::SetupError::NotText { .. }
        ) {
            error
                .hints
                .push("fix the file (or move it aside), then run setup again; nothing was written".to_owned());
        }
        error
    }
}
