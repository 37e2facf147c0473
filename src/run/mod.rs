//! Running agents: the records of the agent sessions a runner starts (`sessions`), kept in refs
//! so that every clone can list them and ask for one to be killed.

pub mod sessions;

pub use sessions::{NewSession, SessionList, Signalled, signal_session};
