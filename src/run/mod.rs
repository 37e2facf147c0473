//! Running agents: `git loom run`'s loop ([`runner`]), which starts agents ([`agent`]) from
//! presets ([`preset`]) in their task worktrees, supervises them, hands off and retries by the
//! rules of [`decide`], with the merge engine beside it ([`merger`]); and the records of the
//! agent sessions a runner starts (`sessions`), kept in refs so that every clone can list them
//! and ask for one to be killed.

pub mod agent;
pub mod decide;
mod ending;
pub mod merger;
pub mod options;
pub mod preset;
pub mod runner;
pub mod sessions;

pub use options::{Clock, Control, RunEnd, RunEvent, RunOptions, RunReport, Summary};
pub use preset::{AgentCommand, ClaudeFiles, Launch};
pub use sessions::{NewSession, SessionList, Signalled, signal_session};
