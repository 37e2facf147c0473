//! The data git-loom keeps and the rules for changing it: ids, the task record, repository
//! settings, and the state machine. Pure values: nothing here touches git or the outside world.

pub mod agent_session;
pub mod checks;
pub mod claim;
pub mod compact;
pub mod entity;
pub mod handoff;
pub mod id;
pub mod merge_lease;
pub mod merge_request;
pub mod meta;
pub mod reconcile;
pub mod stage;
pub mod state;
pub mod task;
pub mod test_result;

pub use agent_session::{AgentSession, EndReason, SessionEnd, SessionId};
pub use claim::{Claim, Health, Holder};
pub use entity::{BlobError, Entity, blob_schema};
pub use handoff::Handoff;
pub use id::{IdError, IdQuery, TaskId};
pub use merge_lease::MergeLease;
pub use merge_request::{Attempt, AttemptOutcome, MergeRequest, MergeState, TestRun};
pub use meta::{Gate, Meta, Settings};
pub use stage::{ExecutionMode, StageData, StageHints, StageType, Stored, title_problem};
pub use state::{Derived, Kind, Transition, TransitionError, View};
pub use task::{MergedInto, Priority, Status, Task, UnknownName};
pub use test_result::TestResult;
