//! Repository-wide use cases, apart from any one task: creating the project (`init`), its
//! shared settings in `refs/loom/meta` (`config`), and checking and repairing the whole store
//! (`doctor`).

mod config;
mod doctor;
mod init;

pub use config::{ConfigChange, SettingEntry, config_get, config_list, config_set};
pub use doctor::{DoctorReport, Finding, FindingKind, doctor};
pub use init::InitOutcome;
