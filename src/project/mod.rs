//! Repository-wide use cases, apart from any one task: creating the project (`init`), its
//! shared settings in `refs/loom/meta` (`config`), checking and repairing the whole store
//! (`doctor`), and wiring coding agents to git-loom (`setup`).

mod config;
mod doctor;
mod init;
mod setup;
mod setup_edit;

pub use config::{ConfigChange, SettingEntry, config_get, config_list, config_set};
pub use doctor::{DoctorReport, Finding, FindingKind, doctor};
pub use init::InitOutcome;
pub use setup::{
    AgentKind, CODEX_MCP, FileAction, FileReport, INSTRUCTIONS, SetupError, SetupPlace, SetupReport,
    remove as setup_remove, setup,
};
pub use setup_edit::AGENT_HOOK_COMMAND;
