//! Use cases on claims: granting one (a task by id, or the next ready one), heartbeats,
//! releasing, finishing (`done`, `fail`), and the lease housekeeping that recovers work from
//! agents that vanished (`sweep`, `recover`, `reset`, dead letters).
//!
//! A claim is a create-only ref: two agents racing for one task cannot both get it, here or,
//! through a coordination remote, on different machines.

mod claim;
mod lease;

pub(crate) use claim::record_failure;
pub use claim::{ClaimOptions, Credentials, DoneRecord, Held, HeldClaim, NextFilter, check_holder};
pub use lease::{Recovery, SweepOutcome};

#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod tests;
