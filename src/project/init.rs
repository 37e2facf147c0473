//! `init`: creating `refs/loom/meta` for a new project, or renaming an existing one. A clone
//! of a project that already has data is joined by `sync`, never initialised a second time.

use crate::loom::publish::publish;
use crate::loom::{Actor, Error, Loom, META_FILE, RawMeta, Result, SETTINGS_FILE, read_raw_meta, with_retries};
use crate::model::{Entity, Meta, Settings};
use crate::store::{self, CommitMessage, Expected, RefUpdate, Store};

/// What `init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    Created,
    Renamed { from: String },
    AlreadyInitialized,
}

impl Loom {
    /// Create `refs/loom/meta`, or leave it as it is (only renaming the project when `name`
    /// differs). The project is named after the working tree's directory when no name is given.
    pub fn init(store: Store, name: Option<&str>, actor: &Actor) -> Result<(Loom, InitOutcome)> {
        let outcome = with_retries(|| init_once(&store, name, actor))?;
        let loom = Loom::load(store)?;
        Ok((loom, outcome))
    }
}

fn init_once(store: &Store, name: Option<&str>, actor: &Actor) -> Result<InitOutcome> {
    // Raw: settings that no longer validate must not stop a rename (or `init` saying "already
    // initialized"); `config` is how they are repaired.
    let existing = read_raw_meta(store)?;
    let (meta, settings_text, expected, outcome, summary) = match existing {
        Some(RawMeta {
            tip,
            meta,
            settings_text,
            ..
        }) => match name {
            Some(name) if name != meta.project => {
                let from = meta.project.clone();
                let renamed = Meta {
                    project: name.to_owned(),
                    ..meta
                };
                let summary = format!("rename project {from:?} to {name:?}");
                // The settings file is carried over byte for byte: keys and comments this
                // version does not know survive a rename.
                (
                    renamed,
                    settings_text,
                    Expected::Tip(tip),
                    InitOutcome::Renamed { from },
                    summary,
                )
            }
            _ => return Ok(InitOutcome::AlreadyInitialized),
        },
        None => {
            // A clone of a project is joined by syncing, not initialised: a second meta would be
            // replaced by the remote's at the next sync, and meanwhile split the work in two.
            if let Some(remote) = store.publish_remote()
                && store.remote_tip(remote, store::META_REF)?.is_some()
            {
                return Err(Error::RemoteHasProject {
                    remote: remote.to_owned(),
                });
            }
            let project = name.map(str::to_owned).unwrap_or_else(|| default_project_name(store));
            let summary = format!("init project {project:?}");
            let meta = Meta::new(project, actor.now);
            (
                meta,
                Settings::default().to_toml(),
                Expected::Absent,
                InitOutcome::Created,
                summary,
            )
        }
    };
    if meta.project.trim().is_empty() {
        return Err(Error::Invalid("the project name must not be empty".into()));
    }
    let parents: Vec<_> = match expected {
        Expected::Tip(tip) => vec![tip],
        Expected::Absent => vec![],
    };
    let meta_blob = meta.to_blob();
    let message = CommitMessage::version(summary, None, &actor.agent, "init");
    let signature = actor.signature();
    let commit = store.write_version(
        &[(META_FILE, &meta_blob), (SETTINGS_FILE, settings_text.as_bytes())],
        &parents,
        &message,
        &signature,
    )?;
    publish(
        store,
        &[RefUpdate {
            name: store::META_REF.to_owned(),
            expected,
            new: Some(commit),
        }],
        actor,
    )?;
    Ok(outcome)
}

fn default_project_name(store: &Store) -> String {
    let repo = store.repo();
    let dir = repo.work_dir().unwrap_or_else(|| store.git_dir());
    dir.canonicalize()
        .ok()
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty() && name != ".git")
        .unwrap_or_else(|| "project".to_owned())
}
