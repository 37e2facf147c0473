//! The shapes every front end shares, independent of how they are shown: the JSON that
//! `--json` prints (and the MCP tools and web pages to come return) — tasks and claims, the
//! graph, status, history, plan imports, sessions and worktrees, leases, checks, the project
//! and its settings, and exchanges with a remote — and failures as a stable [`ErrorCode`]
//! with a message and hints.
//!
//! Nothing here reads or writes: each shape is built from a value the use cases return (with
//! whatever else it shows, such as the remote's name, passed in). A change to a shape here is
//! a change of interface, documented in `doc/cli.md`.

mod agent_session;
mod error;
mod graph;
mod history;
mod hooks;
mod lease;
mod merge;
mod plan;
mod project;
mod run;
mod session;
mod setup;
mod status;
mod sync;
mod task;
mod verify;

pub use agent_session::{AgentSessionJson, SessionKillJson, elapsed, signalled_name};
pub use error::{ErrorClass, ErrorCode, Failure};
pub use graph::{EdgeJson, GraphJson};
pub use history::VersionJson;
pub use hooks::{HookChangeJson, HookStatusJson};
pub use lease::{ExpiredJson, RecoveryJson, SkippedJson, SweepJson};
pub use merge::{DecisionJson, MergeRequestJson};
pub use plan::{PlanImportJson, PlanStageJson};
pub use project::{DoctorCheckedJson, DoctorReportJson, FindingJson, InitJson, SettingChangeJson, SettingJson};
pub use run::{run_end_json, run_event_json};
pub use session::{NextJson, RemovalJson, SignalJson, WorktreeAddedJson, WorktreeJson};
pub use setup::{HookContextJson, HookSpecificOutput, SetupFileJson, SetupJson};
pub use status::{ClaimedJson, RecentJson, StatusJson};
pub use sync::{MergedJson, RemoteJson, SyncReportJson};
pub use task::{ClaimJson, TaskJson, board_json, tasks_json, with_ready_json};
pub use verify::{UncommittedJson, VerifyReportJson};

#[cfg(test)]
mod board_json_tests;
