//! Building what the library needs from the outside world, in one place: which repository
//! (`-C`), who is acting (`--agent`, `LOOM_AGENT`, `loom.agent`, `user.name@host`) and when.

use std::path::PathBuf;

use git_loom::ops::{Actor, Loom};
use git_loom::store::Store;

use super::GlobalArgs;
use super::error::CommandError;

pub struct Context<'a> {
    global: &'a GlobalArgs,
    now: jiff::Timestamp,
}

impl<'a> Context<'a> {
    pub fn new(global: &'a GlobalArgs) -> Self {
        Context {
            global,
            now: jiff::Timestamp::now(),
        }
    }

    /// The moment this command runs at: one clock reading for everything it judges.
    pub fn now(&self) -> jiff::Timestamp {
        self.now
    }

    fn path(&self) -> PathBuf {
        self.global.directory.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    /// The repository, set to publish every write to the coordination remote (git config
    /// `loom.remote`) unless `--offline`.
    pub fn store(&self) -> Result<Store, CommandError> {
        let mut store = Store::discover(&self.path())?;
        if !self.global.offline {
            let remote = store
                .repo()
                .config_string("loom.remote")
                .filter(|name| !name.trim().is_empty());
            store.set_publish_remote(remote);
        }
        Ok(store)
    }

    /// A path the user typed, as `git -C` reads it: relative paths are relative to `-C`.
    pub fn user_path(&self, path: &std::path::Path) -> PathBuf {
        match &self.global.directory {
            Some(directory) if path.is_relative() => directory.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// Whether `--offline` keeps this command's writes local.
    pub fn offline(&self) -> bool {
        self.global.offline
    }

    pub fn loom(&self) -> Result<Loom, CommandError> {
        Ok(Loom::load(self.store()?)?)
    }

    /// Who is acting: `--agent`, else `LOOM_AGENT`, else git config `loom.agent`, else
    /// `user.name@hostname`.
    pub fn actor(&self, store: &Store) -> Result<Actor, CommandError> {
        let repo = store.repo();
        let agent = self
            .global
            .agent
            .clone()
            .or_else(|| std::env::var("LOOM_AGENT").ok().filter(|a| !a.trim().is_empty()))
            .or_else(|| repo.config_string("loom.agent").filter(|a| !a.trim().is_empty()))
            .unwrap_or_else(|| {
                let user = repo
                    .config_string("user.name")
                    .filter(|u| !u.trim().is_empty())
                    .unwrap_or_else(|| "agent".to_owned());
                let host = gethostname::gethostname().to_string_lossy().into_owned();
                format!("{user}@{host}")
            });
        let agent = agent.trim().to_owned();
        if agent.is_empty() {
            return Err(CommandError::usage("the agent name must not be empty"));
        }
        if agent.chars().any(|c| c.is_control() || c == '<' || c == '>') {
            return Err(CommandError::usage(format!(
                "invalid agent name {agent:?}: it must be one line without `<` or `>`"
            )));
        }
        Ok(Actor { agent, now: self.now })
    }
}
