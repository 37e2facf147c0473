//! The merge engine: finished tasks' branches come home to their target through a test-gated
//! queue, and the target never holds a commit that failed.
//!
//! `done` on a task with a branch queues a merge request (`refs/loom/merges/<id>`, written in
//! `done`'s own transaction, see [`request`]). The [`engine`] builds the candidate merge of the
//! target's tip with the queued branches without any working tree, tests exactly that commit
//! in a worktree of its own ([`testing`], with a test cache keyed by tree), and only then moves
//! the target to it with a compare-and-swap on the tip it was built from; a failing batch is
//! searched for its culprit by [`bisect`]ion. A conflict or a failure sends the task back to
//! its agents with a handoff. An engine serves the queue holding the merge [`lease`], so with a
//! coordination remote one engine at a time serves it, whichever clone it runs in.

pub mod bisect;
pub mod engine;
pub mod lease;
pub mod request;
pub mod testing;

pub use engine::{Decision, MergeEvent, RunOptions, RunReport};
pub use lease::MERGE_LEASE_TTL;
pub(crate) use request::queue_in;
pub use request::{MergeEntry, Queue, QueueRequest};
pub use testing::{TestOutcome, TestProgress, TestSpec};
