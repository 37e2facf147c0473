//! Git hooks as every front end reports them: the state of each hook git-loom installs, and
//! what `hooks install` / `hooks uninstall` changed. The shapes are interface, documented in
//! `doc/cli.md` (`hooks`).

use serde::Serialize;

use crate::hooks::{HookChange, HookStatus};

/// One hook's state (`hooks status`).
#[derive(Debug, Serialize)]
pub struct HookStatusJson {
    pub hook: &'static str,
    pub path: String,
    /// `installed`, `chained` (git-loom's script runs the user's hook too), `absent` or
    /// `foreign` (a hook that is not git-loom's).
    pub state: &'static str,
    /// For git-loom's script: whether it is this version's (`install` updates an older one).
    pub current: bool,
}

impl From<&HookStatus> for HookStatusJson {
    fn from(status: &HookStatus) -> Self {
        HookStatusJson {
            hook: status.hook.as_str(),
            path: status.path.to_string_lossy().into_owned(),
            state: status.state.as_str(),
            current: status.current,
        }
    }
}

/// What `install` or `uninstall` did to one hook.
#[derive(Debug, Serialize)]
pub struct HookChangeJson {
    pub hook: &'static str,
    pub path: String,
    /// `installed`, `chained`, `updated`, `removed`, `restored` (removed, and the user's hook
    /// put back) or `unchanged`.
    pub action: &'static str,
    /// Where the user's hook was moved to (`chained` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aside: Option<String>,
}

impl From<&HookChange> for HookChangeJson {
    fn from(change: &HookChange) -> Self {
        let text = |path: &std::path::Path| path.to_string_lossy().into_owned();
        let (hook, path, action, aside) = match change {
            HookChange::Installed { hook, path } => (hook, path, "installed", None),
            HookChange::Chained { hook, path, aside } => (hook, path, "chained", Some(text(aside))),
            HookChange::Updated { hook, path } => (hook, path, "updated", None),
            HookChange::Removed { hook, path, restored } => {
                (hook, path, if *restored { "restored" } else { "removed" }, None)
            }
            HookChange::Unchanged { hook, path, .. } => (hook, path, "unchanged", None),
        };
        HookChangeJson {
            hook: hook.as_str(),
            path: text(path),
            action,
            aside,
        }
    }
}
