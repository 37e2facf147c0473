//! The data git-loom keeps and the rules for changing it: ids, the task record, repository
//! settings, and the state machine. Pure values: nothing here touches git or the outside world.

pub mod claim;
pub mod compact;
pub mod handoff;
pub mod id;
pub mod merge;
pub mod meta;
pub mod stage;
pub mod state;
pub mod task;

pub use claim::{Claim, ClaimBlobError, Health, Holder};
pub use handoff::{Handoff, HandoffBlobError};
pub use id::{IdError, IdQuery, TaskId};
pub use meta::{Meta, Settings};
pub use stage::{ExecutionMode, StageHints, StageType, title_problem};
pub use state::{Derived, Kind, Transition, TransitionError, View};
pub use task::{Priority, Status, Task, TaskBlobError, UnknownName};

/// The `schema` number of a versioned JSON blob, read before anything else so that a blob
/// written by a newer git-loom is refused instead of misread.
pub fn blob_schema(bytes: &[u8]) -> Result<u32, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct SchemaOnly {
        schema: u32,
    }
    Ok(serde_json::from_slice::<SchemaOnly>(bytes)?.schema)
}
