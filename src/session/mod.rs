//! Use cases around one agent's working session on a claimed task: its git worktree, the
//! signal that tells the agent what to do, handoffs to the next session, and the checks that
//! judge its work before `done`.

mod checks;
mod done;
mod handoff;
mod next;
mod signal;
mod start;
mod worktree;

pub use checks::{Checked, DEFAULT_CHECK_TIMEOUT, WorkState, has_checks, short_commit, spec_of};
pub use done::{ChecksRun, DoneEvent, DoneOptions, DoneOutcome};
pub use handoff::HandoffNote;
pub use next::{NextOptions, Session};
pub use signal::{PLACEHOLDERS, SignalInput, handoff_markdown, render_default, render_template, sections};
pub use worktree::{Removal, TaskWorktree, WorktreeStatus};
