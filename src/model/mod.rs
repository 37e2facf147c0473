//! The data git-loom keeps and the rules for changing it: ids, the task record, repository
//! settings, and the state machine. Pure values: nothing here touches git or the outside world.

pub mod claim;
pub mod compact;
pub mod id;
pub mod meta;
pub mod state;
pub mod task;

pub use claim::{Claim, ClaimBlobError, Health, Holder};
pub use id::{IdError, IdQuery, TaskId};
pub use meta::{Meta, Settings};
pub use state::{Derived, Kind, Transition, TransitionError, View};
pub use task::{Priority, Status, Task, TaskBlobError, UnknownName};
