//! Use cases on tasks as records: creating them, editing fields, dependencies and parents,
//! promoting ideas, cancelling, importing a plan, and reading a task's history back from its
//! commit chain. Every status change goes through the state machine ([`crate::model::state`]).

mod create;
pub(crate) mod edit;
mod graph;
mod history;
mod import;

pub use create::NewTask;
pub use edit::{CancelOutcome, Changes, EditOutcome};
pub use graph::GraphView;
pub use history::{Version, patch};
pub use import::{ImportOutcome, PlanKeys};

#[cfg(test)]
mod tests;
