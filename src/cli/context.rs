//! Building what the library needs from the outside world, in one place: which repository
//! (`-C`), who is acting (`--agent`, `LOOM_AGENT`, `loom.agent`, `user.name@host`) and when
//! (the real clock, or `GIT_LOOM_TEST_NOW` so tests can step past a lease without waiting).

use std::path::PathBuf;

use git_loom::loom::remote::configured_remote;
use git_loom::loom::{Actor, Loom};
use git_loom::store::Store;

use super::GlobalArgs;
use super::error::CommandError;

/// The environment variable that sets the clock every command judges leases and retries by: an
/// RFC 3339 timestamp, or a signed offset from the real clock (`+90s`, `-5s`, `+1h 30m`). Meant
/// for tests, which would otherwise have to sleep until a lease runs out.
pub const TEST_NOW_VARIABLE: &str = "GIT_LOOM_TEST_NOW";

pub struct Context<'a> {
    global: &'a GlobalArgs,
    now: jiff::Timestamp,
    /// How far `now` is from the real clock, so a long-running command's clock keeps the
    /// override while it ticks.
    offset: jiff::SignedDuration,
}

impl<'a> Context<'a> {
    /// Read the clock once; a `GIT_LOOM_TEST_NOW` that is not a timestamp or a signed offset is
    /// a usage error naming the variable, so a test never runs silently at the real time.
    pub fn new(global: &'a GlobalArgs) -> Result<Self, CommandError> {
        let real = jiff::Timestamp::now();
        let now = match std::env::var_os(TEST_NOW_VARIABLE) {
            None => real,
            Some(value) => {
                let value = value
                    .to_str()
                    .ok_or_else(|| CommandError::usage(format!("{TEST_NOW_VARIABLE} is not valid UTF-8: {value:?}")))?;
                clock_override(value, real).map_err(CommandError::usage)?
            }
        };
        let offset = now.duration_since(real);
        Ok(Context { global, now, offset })
    }

    /// A clock for a command that runs for a while: the real clock, moved as
    /// `GIT_LOOM_TEST_NOW` moved this command's `now`.
    pub fn clock(&self) -> git_loom::run::Clock {
        let offset = self.offset;
        std::sync::Arc::new(move || {
            let real = jiff::Timestamp::now();
            real.checked_add(offset).unwrap_or(real)
        })
    }

    /// The value of the global `--agent`, which `run` reads as the agent program to start.
    pub fn agent_flag(&self) -> Option<&str> {
        self.global.agent.as_deref()
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
            let remote = configured_remote(&store).filter(|name| !name.trim().is_empty());
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

    /// Send the rest of this command's output through git's pager, unless `--no-pager`.
    pub fn page(&self, ui: &mut super::ui::Ui) -> std::io::Result<()> {
        match self.global.no_pager {
            true => Ok(()),
            false => ui.page(&self.path()),
        }
    }

    pub fn loom(&self) -> Result<Loom, CommandError> {
        // Every board a command builds keeps the tasks' `--json` text for later listings.
        Ok(Loom::load(self.store()?)?.rendering_json(git_loom::api::board_json))
    }

    /// Who is acting: `--agent`, else `LOOM_AGENT`, else git config `loom.agent`, else
    /// `user.name@hostname`.
    pub fn actor(&self, store: &Store) -> Result<Actor, CommandError> {
        self.identity(store, self.global.agent.clone())
    }

    /// Who is acting when `named` (a flag's value) is not given: `LOOM_AGENT`, else git config
    /// `loom.agent`, else `user.name@hostname`.
    pub fn identity(&self, store: &Store, named: Option<String>) -> Result<Actor, CommandError> {
        let repo = store.repo();
        let agent = named
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

/// The moment `value` (of `GIT_LOOM_TEST_NOW`) names: an RFC 3339 timestamp, or — when it starts
/// with a sign — that offset from `real`.
fn clock_override(value: &str, real: jiff::Timestamp) -> Result<jiff::Timestamp, String> {
    let value = value.trim();
    let invalid = |why: String| {
        format!(
            "invalid {TEST_NOW_VARIABLE} {value:?}: expected an RFC 3339 timestamp \
             (2026-11-21T10:00:00Z) or a signed offset from now (+90s, -5s): {why}"
        )
    };
    if value.starts_with(['+', '-']) {
        let offset: jiff::SignedDuration = value.parse().map_err(|err: jiff::Error| invalid(err.to_string()))?;
        real.checked_add(offset)
            .map_err(|_| invalid("the offset reaches past the representable range".to_owned()))
    } else {
        value.parse().map_err(|err: jiff::Error| invalid(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::clock_override;
    use jiff::{SignedDuration, Timestamp};

    fn real() -> Timestamp {
        "2026-11-21T10:00:00Z"
            .parse()
            .expect("a valid timestamp because it is written out")
    }

    #[test]
    fn a_timestamp_replaces_the_real_clock() {
        let at = clock_override("2030-01-02T03:04:05.5+01:00", real()).unwrap();
        assert_eq!(at, "2030-01-02T02:04:05.5Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn a_signed_offset_moves_the_real_clock() {
        assert_eq!(
            clock_override("+90s", real()).unwrap(),
            real() + SignedDuration::from_secs(90)
        );
        assert_eq!(
            clock_override(" -5s ", real()).unwrap(),
            real() - SignedDuration::from_secs(5)
        );
        assert_eq!(
            clock_override("+1h 30m", real()).unwrap(),
            real() + SignedDuration::from_mins(90)
        );
        assert_eq!(
            clock_override("+PT2S", real()).unwrap(),
            real() + SignedDuration::from_secs(2)
        );
    }

    // Guards: a mistyped override silently running the command at the real time.
    #[test]
    fn anything_else_is_refused_with_the_variable_named() {
        for bad in ["", "90s", "tomorrow", "+", "+90 parsecs", "2026-13-01T00:00:00Z"] {
            let err = clock_override(bad, real()).unwrap_err();
            assert!(err.starts_with("invalid GIT_LOOM_TEST_NOW"), "{bad:?}: {err}");
        }
    }
}
