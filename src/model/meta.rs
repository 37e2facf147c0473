//! The repository-wide record in `refs/loom/meta`: `meta.json` (schema version, project name)
//! and `loom.toml` (settings shared by everyone who works on the repository).
//!
//! The schema version is checked before anything else is read, so a repository written by a
//! newer git-loom is refused instead of being misread.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::task::Priority;

/// The newest repository schema this build understands.
pub const SCHEMA_VERSION: u32 = 1;

/// `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub schema: u32,
    pub project: String,
    pub created_at: Timestamp,
    /// Fields written by another version of git-loom, kept verbatim.
    #[serde(flatten)]
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Meta {
    pub fn new(project: String, now: Timestamp) -> Self {
        Meta {
            schema: SCHEMA_VERSION,
            project,
            created_at: now,
            extra: Default::default(),
        }
    }

    pub fn to_blob(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("meta serializes because every field is plain data");
        bytes.push(b'\n');
        bytes
    }
}

/// `loom.toml`: shared settings. Every field has a default, so a missing file or section means
/// "use the defaults", and unknown keys are ignored (a newer git-loom may have added them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tasks: TaskSettings,
    pub claims: ClaimSettings,
    pub retry: RetrySettings,
    pub locks: LockSettings,
    pub worktrees: WorktreeSettings,
    pub signal: SignalSettings,
    pub verify: VerifySettings,
    pub remote: RemoteSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteSettings {
    /// With a coordination remote, `claim --next` and `next` fetch first when the last fetch is
    /// older than this, so that work created in other clones is seen; 0 fetches every time.
    pub fetch_after_secs: u64,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        RemoteSettings { fetch_after_secs: 5 }
    }
}

impl RemoteSettings {
    /// The longest value `fetch_after_secs` may have: a day. Longer would mean never seeing
    /// other clones' work without a manual sync, which `sync` already says plainly.
    pub const MAX_FETCH_AFTER_SECS: u64 = 24 * 60 * 60;

    /// Refuse a value out of range, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.fetch_after_secs > Self::MAX_FETCH_AFTER_SECS {
            return Err(format!(
                "[remote] fetch_after_secs = {} is longer than a day ({} seconds)",
                self.fetch_after_secs,
                Self::MAX_FETCH_AFTER_SECS
            ));
        }
        Ok(())
    }

    /// How old the mirror of the remote may be before `claim --next` fetches.
    pub fn fetch_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.fetch_after_secs.min(Self::MAX_FETCH_AFTER_SECS))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VerifySettings {
    /// How long one acceptance command may run before it is killed and fails.
    pub timeout_secs: u64,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings { timeout_secs: 600 }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalSettings {
    /// A markdown template for `git loom signal` and `next`, relative to the main working tree;
    /// empty means the built-in layout.
    pub template: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorktreeSettings {
    /// Where task worktrees go, relative to the main working tree (kept out of git's view
    /// through `.git/info/exclude`).
    pub dir: String,
    /// The branch task branches start from and merge back into; empty means the branch the
    /// main working tree has checked out.
    pub target: String,
}

impl Default for WorktreeSettings {
    fn default() -> Self {
        WorktreeSettings {
            dir: ".loom/worktrees".into(),
            target: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockSettings {
    /// A ref lock file at least this old was left by a process that died mid-write; the next
    /// writer that runs into it removes it.
    pub stale_after_secs: u64,
}

impl Default for LockSettings {
    fn default() -> Self {
        LockSettings { stale_after_secs: 10 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaimSettings {
    /// Lease length of a new claim, renewed by every heartbeat (`claim --ttl` overrides it).
    pub ttl_secs: u64,
    /// How often a holder is expected to heartbeat; a lease with no heartbeat for three
    /// intervals counts as stale.
    pub heartbeat_secs: u64,
}

impl Default for ClaimSettings {
    fn default() -> Self {
        ClaimSettings {
            ttl_secs: 30 * 60,
            heartbeat_secs: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetrySettings {
    /// Wait before the first retry of a failed task; doubles with each further failure.
    pub base_secs: u64,
    /// The longest wait between retries.
    pub max_secs: u64,
    /// Failures after which a task is dead instead of retried (a task may override it).
    pub limit: u32,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            base_secs: 30,
            max_secs: 60 * 60,
            limit: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskSettings {
    /// Priority given to a task created without `-p`.
    pub default_priority: Priority,
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            default_priority: Priority::P2,
        }
    }
}

impl Settings {
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The file written by `git loom init`: the defaults, spelled out so they can be edited.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("settings serialize because every field is plain data");
        format!("# git-loom shared settings; see doc/refs.md for every key.\n\n{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_default() {
        let settings = Settings::default();
        assert_eq!(Settings::parse(&settings.to_toml()).unwrap(), settings);
        assert_eq!(Settings::parse("").unwrap(), settings);
        let custom = Settings::parse("[tasks]\ndefault_priority = \"p1\"\nfuture = 3\n[retry]\nlimit = 5\n").unwrap();
        assert_eq!(custom.tasks.default_priority, Priority::P1);
        assert_eq!(custom.retry.limit, 5);
        assert_eq!(custom.claims, ClaimSettings::default());
        assert_eq!(custom.remote.fetch_after_secs, 5);
    }

    #[test]
    fn remote_fetch_age_is_bounded() {
        let settings = Settings::parse("[remote]\nfetch_after_secs = 0\n").unwrap();
        assert_eq!(settings.remote.validate(), Ok(()));
        assert_eq!(settings.remote.fetch_after(), std::time::Duration::ZERO);
        let huge = Settings::parse("[remote]\nfetch_after_secs = 1000000000000\n").unwrap();
        let err = huge.remote.validate().unwrap_err();
        assert!(err.contains("fetch_after_secs"), "{err}");
        assert_eq!(huge.remote.fetch_after(), std::time::Duration::from_secs(86_400));
    }
}
