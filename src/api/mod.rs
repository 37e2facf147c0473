//! The shapes every front end shares, independent of how they are shown: the JSON of tasks
//! and claims that `--json` prints (and the MCP tools and web pages to come return), and
//! failures as a stable [`ErrorCode`] with a message and hints.
//!
//! Nothing here reads or writes: values are built from what the use cases return. A change to
//! a shape here is a change of interface, documented in `doc/cli.md`.

mod error;
mod task;

pub use error::{ErrorClass, ErrorCode, Failure};
pub use task::{ClaimJson, TaskJson, tasks_json};
