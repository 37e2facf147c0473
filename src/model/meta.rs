//! The repository-wide record in `refs/loom/meta`: `meta.json` (schema version, project name)
//! and `loom.toml` (settings shared by everyone who works on the repository).
//!
//! The schema version is checked before anything else is read, so a repository written by a
//! newer git-loom is refused instead of being misread.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::claim::MAX_DURATION_SECS;
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
}

impl super::Entity for Meta {
    const FILE: &'static str = "meta.json";
    const SCHEMA: u32 = SCHEMA_VERSION;

    fn owner(&self) -> Option<&super::TaskId> {
        None
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
    pub merge: MergeSettings,
    pub run: RunSettings,
    /// Agent presets for `git loom run --agent NAME`, beside the built-in ones.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub agents: std::collections::BTreeMap<String, AgentPreset>,
}

/// `[run]`: the defaults of `git loom run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSettings {
    /// The agent to run when `--agent` is not given: a preset's name or a shell command line.
    pub agent: String,
    /// How many sessions run at once.
    pub jobs: u64,
    /// How long one session may run before its process group is killed (0: no limit, unless
    /// the preset sets one).
    pub session_timeout_secs: u64,
    /// How long an agent asked to stop (Ctrl-C, a fresh session) has before it is killed.
    pub grace_secs: u64,
    /// The context percentage at which a handoff ends the session for a fresh one, for tasks
    /// whose stage sets no `context_budget` (0: only the stage's).
    pub context_budget: u64,
    /// The `--permission-mode` the built-in `claude` preset passes.
    pub permission_mode: String,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            agent: String::new(),
            jobs: 2,
            session_timeout_secs: 0,
            grace_secs: 10,
            context_budget: 0,
            permission_mode: "acceptEdits".into(),
        }
    }
}

impl RunSettings {
    /// The most sessions one runner may run at once.
    pub const MAX_JOBS: u64 = 256;
}

/// `[agents.<name>]`: how to start one kind of agent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentPreset {
    /// The program and its arguments; `{prompt}` in an argument is replaced by the signal
    /// text, `{signal}` by the path of the file holding it.
    pub command: Vec<String>,
    /// Added to the agent's environment.
    pub env: std::collections::BTreeMap<String, String>,
    /// How long one session may run (overrides `[run] session_timeout_secs`).
    pub timeout_secs: Option<u64>,
}

/// `[merge]`: how finished work comes home to the target branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeSettings {
    /// The command that must pass on a candidate merge before the target moves to it (run by
    /// `sh -c` at the root of the merge worktree); empty means no test but the tasks' own
    /// checks.
    pub test: String,
    /// How long the test command may run before it is killed and the candidate fails.
    pub test_timeout_secs: u64,
    /// When a dependent task may start: `merged` (its dependencies' work is on the target) or
    /// `done` (its worktree starts from its dependencies' branches merged onto the target);
    /// empty means `merged` when a test command is set, else `done`.
    pub gate: String,
    /// How many queued requests one candidate stacks (1 tests each alone).
    pub batch: u64,
    /// Delete a merged task's branch and worktree (when clean) once its work landed.
    pub cleanup: bool,
}

impl Default for MergeSettings {
    fn default() -> Self {
        MergeSettings {
            test: String::new(),
            test_timeout_secs: 3600,
            gate: String::new(),
            batch: 1,
            cleanup: true,
        }
    }
}

/// When a task whose dependencies are finished may start (`[merge] gate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gate {
    /// Only once every dependency's work is merged into the target.
    Merged,
    /// Once every dependency is done; its worktree starts from their branches. The default
    /// of settings without a test command.
    #[default]
    Done,
}

impl Gate {
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Merged => "merged",
            Gate::Done => "done",
        }
    }
}

impl MergeSettings {
    /// The longest a batch may be.
    pub const MAX_BATCH: u64 = 256;

    /// The gate in force: as set, else `merged` once a test command is set, else `done`.
    pub fn gate(&self) -> Gate {
        match self.gate.trim() {
            "merged" => Gate::Merged,
            "done" => Gate::Done,
            _ if !self.test.trim().is_empty() => Gate::Merged,
            _ => Gate::Done,
        }
    }
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
    /// new work without a manual sync.
    pub const MAX_FETCH_AFTER_SECS: u64 = 24 * 60 * 60;

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

/// Why a `loom.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    #[error("{key} = {value} is out of range: it must be between {min} and {max}")]
    OutOfRange {
        key: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error("cannot be edited: {0}")]
    Edit(String),
    #[error("{0}")]
    Preset(String),
    #[error("{key} = {value:?} is not one of: {allowed}")]
    NotOneOf {
        key: &'static str,
        value: String,
        allowed: &'static str,
    },
}

impl SettingsError {
    /// The key a range problem is about (empty for syntax problems).
    pub fn key(&self) -> &'static str {
        match self {
            SettingsError::OutOfRange { key, .. } | SettingsError::NotOneOf { key, .. } => key,
            SettingsError::Syntax(_) | SettingsError::Edit(_) | SettingsError::Preset(_) => "",
        }
    }
}

impl Settings {
    /// Read and validate a `loom.toml`: every duration must lie within what git-loom can
    /// compute with, so no value can make a later command fail halfway through a write.
    pub fn parse(text: &str) -> Result<Self, SettingsError> {
        let settings: Settings = toml::from_str(text)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Check every bounded value; the first one out of range is the error.
    pub fn validate(&self) -> Result<(), SettingsError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every value out of its range.
    pub fn problems(&self) -> Vec<SettingsError> {
        let max = MAX_DURATION_SECS;
        let bounded: [(&'static str, u64, u64, u64); 13] = [
            ("claims.ttl_secs", self.claims.ttl_secs, 1, max),
            ("claims.heartbeat_secs", self.claims.heartbeat_secs, 1, max),
            ("retry.base_secs", self.retry.base_secs, 0, max),
            ("retry.max_secs", self.retry.max_secs, 0, max),
            // A lock younger than this is a live writer's: zero would break live writes.
            ("locks.stale_after_secs", self.locks.stale_after_secs, 1, max),
            ("verify.timeout_secs", self.verify.timeout_secs, 0, max),
            (
                "remote.fetch_after_secs",
                self.remote.fetch_after_secs,
                0,
                RemoteSettings::MAX_FETCH_AFTER_SECS,
            ),
            ("merge.test_timeout_secs", self.merge.test_timeout_secs, 1, max),
            ("merge.batch", self.merge.batch, 1, MergeSettings::MAX_BATCH),
            ("run.jobs", self.run.jobs, 1, RunSettings::MAX_JOBS),
            ("run.session_timeout_secs", self.run.session_timeout_secs, 0, max),
            ("run.grace_secs", self.run.grace_secs, 0, max),
            ("run.context_budget", self.run.context_budget, 0, 100),
        ];
        let mut problems: Vec<SettingsError> = bounded
            .into_iter()
            .filter(|(_, value, min, max)| !(*min..=*max).contains(value))
            .map(|(key, value, min, max)| SettingsError::OutOfRange { key, value, min, max })
            .collect();
        if !matches!(self.merge.gate.trim(), "" | "merged" | "done") {
            problems.push(SettingsError::NotOneOf {
                key: "merge.gate",
                value: self.merge.gate.clone(),
                allowed: "merged, done (or empty for the default)",
            });
        }
        for (name, preset) in &self.agents {
            if preset.timeout_secs.is_some_and(|secs| secs == 0 || secs > max) {
                problems.push(SettingsError::OutOfRange {
                    key: "agents.<name>.timeout_secs",
                    value: preset.timeout_secs.unwrap_or(0),
                    min: 1,
                    max,
                });
            }
            if preset.command.first().is_none_or(|program| program.trim().is_empty()) {
                problems.push(SettingsError::Preset(format!(
                    "[agents.{name}] needs a command: a list whose first item is the program"
                )));
            }
        }
        problems
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
        assert_eq!(settings.remote.fetch_after(), std::time::Duration::ZERO);
        let err = Settings::parse("[remote]\nfetch_after_secs = 86401\n").unwrap_err();
        assert!(err.to_string().starts_with("remote.fetch_after_secs"), "{err}");
    }

    // Guards: a `loom.toml` with durations of 10^12 seconds aborted every claim.
    #[test]
    fn out_of_range_durations_are_refused_naming_the_key() {
        for (text, key) in [
            ("[claims]\nttl_secs = 1000000000000\n", "claims.ttl_secs"),
            ("[claims]\nttl_secs = 0\n", "claims.ttl_secs"),
            ("[retry]\nbase_secs = 1000000000000\n", "retry.base_secs"),
            ("[retry]\nmax_secs = 1000000000000\n", "retry.max_secs"),
            ("[locks]\nstale_after_secs = 0\n", "locks.stale_after_secs"),
        ] {
            let err = Settings::parse(text).unwrap_err();
            assert!(err.to_string().starts_with(key), "{text}: {err}");
        }
        assert!(Settings::parse("[retry]\nbase_secs = 0\n").is_ok());
    }
}
