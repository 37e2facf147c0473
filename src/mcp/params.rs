//! The inputs of the MCP tools: one struct per tool, read from the call's JSON arguments. Their
//! doc comments become the tools' input schemas, so they stay short (a client pays for every
//! word of a schema on every session). Names and meanings follow the CLI's flags.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::claims::Credentials;

/// Tasks ready to claim, best first.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ReadyParams {
    /// Show at most this many
    pub limit: Option<usize>,
}

/// One task, by id.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdParams {
    /// Task id, or a unique prefix of one
    pub id: String,
}

/// Start or resume a session.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct NextParams {
    /// Only tasks with this label (when claiming)
    pub label: Option<String>,
    /// Lease seconds for a new claim
    pub ttl: Option<u64>,
}

/// Claim a task.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ClaimParams {
    /// Task id or prefix; omit to claim the best ready task
    pub id: Option<String>,
    /// Without id: only tasks with this label
    pub label: Option<String>,
    /// Without id: only these priorities, `p1` or `p0..p1`
    pub priority: Option<String>,
    /// Lease seconds
    pub ttl: Option<u64>,
}

/// Extend a lease.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HeartbeatParams {
    /// Task id or prefix
    pub id: String,
    /// What you are doing now
    pub progress: Option<String>,
    /// How far along, 0 to 100
    pub percent: Option<u8>,
    /// Claim token, when acting under another agent name
    pub token: Option<String>,
}

/// Leave an account of the work for the next session.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HandoffParams {
    /// Task id or prefix
    pub id: String,
    /// Markdown: done, next, pitfalls
    pub message: String,
    /// How full your context window is, 0 to 100
    pub context_percent: Option<u8>,
    /// Claim token, when acting under another agent name
    pub token: Option<String>,
}

/// Finish a task.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DoneParams {
    /// Task id or prefix
    pub id: String,
    /// What the work produced (any JSON)
    pub output: Option<serde_json::Value>,
    /// Branch holding the work
    pub branch: Option<String>,
    /// Do not run the task's checks first
    #[serde(default)]
    pub skip_verify: bool,
    /// Accept uncommitted changes in the worktree
    #[serde(default)]
    pub allow_dirty: bool,
    /// Run the checks in this directory
    pub worktree: Option<String>,
    /// Claim token, when acting under another agent name
    pub token: Option<String>,
}

/// Report a failure.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FailParams {
    /// Task id or prefix
    pub id: String,
    /// Why it failed
    pub reason: String,
    /// Claim token, when acting under another agent name
    pub token: Option<String>,
}

/// Give a task back.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReleaseParams {
    /// Task id or prefix
    pub id: String,
    /// Claim token, when acting under another agent name
    pub token: Option<String>,
}

/// A new task.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateParams {
    pub title: String,
    pub description: Option<String>,
    /// p0 (highest) to p4
    pub priority: Option<String>,
    /// Ids it waits for
    #[serde(default)]
    pub deps: Vec<String>,
    /// Epic it belongs to
    pub parent: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Acceptance checks: shell commands
    #[serde(default)]
    pub accept: Vec<String>,
    /// Globs of the files it may touch
    #[serde(default)]
    pub files: Vec<String>,
    /// Make it an epic
    #[serde(default)]
    pub epic: bool,
}

/// Changes to a task's fields.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateParams {
    /// Task id or prefix
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// p0 (highest) to p4
    pub priority: Option<String>,
    #[serde(default)]
    pub add_labels: Vec<String>,
    #[serde(default)]
    pub rm_labels: Vec<String>,
    /// Stored status: idea, pending, epic, done, failed, dead, cancelled
    pub status: Option<String>,
}

/// A dependency to add or remove.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DepParams {
    /// The task that waits
    pub id: String,
    /// The task it waits for
    pub dep: String,
    /// Remove the dependency instead
    #[serde(default)]
    pub remove: bool,
}

/// The task graph.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GraphParams {
    /// Include done and cancelled tasks
    #[serde(default)]
    pub all: bool,
}

/// The state of the whole graph.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct StatusParams {
    /// Recent changes to list [default 5]
    pub recent: Option<usize>,
}

/// Run a task's checks.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct VerifyParams {
    /// Task id or prefix
    pub id: String,
    /// Run the checks in this directory
    pub worktree: Option<String>,
}

/// An idea for the backlog.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdeaParams {
    pub title: String,
    pub description: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
}

/// The merge queue.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct MergeQueueParams {
    /// Include merged, dropped, failed and conflicting requests
    #[serde(default)]
    pub all: bool,
}

/// The credentials a holder's call carries: a token when given, never `force` (taking over
/// another agent's claim stays a deliberate act at the command line).
pub fn credentials(token: Option<&str>) -> Credentials<'_> {
    Credentials { token, force: false }
}
