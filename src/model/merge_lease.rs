//! The merge lease: `lease.json` in `refs/loom/leases/merge`, saying which merge engine serves
//! the queue until when. With a coordination remote, engines on every clone take it through
//! the remote, so one engine at a time lands work on the targets whatever machine it runs on.
//!
//! The record is the lease; its ref is moved only with compare-and-swap, so of two engines
//! that read the same version only one replaces it. The rules for when a lease may be taken
//! are here, as pure functions of the record and the time.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::id::TaskId;

/// The version of the lease blob layout this build reads and writes.
pub const LEASE_SCHEMA: u32 = 1;

/// `lease.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeLease {
    pub schema: u32,
    /// Who holds it: a name unique to one engine's run.
    pub holder: String,
    /// When the holder took it (renewals keep this).
    pub acquired: Timestamp,
    /// When it runs out unless renewed; a released lease runs out when it was released.
    pub expires: Timestamp,
    /// Fields written by another version of git-loom, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl MergeLease {
    /// A lease taken by `holder` at `now` for `ttl`.
    pub fn new(holder: &str, now: Timestamp, ttl: SignedDuration) -> MergeLease {
        MergeLease {
            schema: LEASE_SCHEMA,
            holder: holder.to_owned(),
            acquired: now,
            expires: now.saturating_add(ttl).unwrap_or(now),
            extra: BTreeMap::new(),
        }
    }

    /// Whether the lease still holds at `now`.
    pub fn is_held_at(&self, now: Timestamp) -> bool {
        now < self.expires
    }

    /// Whether `holder` may take (or keep) the lease at `now`: it holds it already, or the
    /// lease has run out.
    pub fn takeable_by(&self, holder: &str, now: Timestamp) -> bool {
        self.holder == holder || !self.is_held_at(now)
    }

    /// The lease renewed by its holder at `now` for `ttl` (never shortened).
    pub fn renewed(&self, now: Timestamp, ttl: SignedDuration) -> MergeLease {
        let mut lease = self.clone();
        lease.expires = self.expires.max(now.saturating_add(ttl).unwrap_or(now));
        lease
    }

    /// The lease given up at `now`: it runs out at once.
    pub fn released(&self, now: Timestamp) -> MergeLease {
        let mut lease = self.clone();
        lease.expires = self.expires.min(now);
        lease
    }
}

impl super::Entity for MergeLease {
    const FILE: &'static str = "lease.json";
    const SCHEMA: u32 = LEASE_SCHEMA;

    fn owner(&self) -> Option<&TaskId> {
        None
    }

    fn problem(&self) -> Option<String> {
        if self.holder.trim().is_empty() {
            return Some("names no holder".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entity;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("a small second count is a valid time")
    }

    const TTL: SignedDuration = SignedDuration::from_secs(60);

    #[test]
    fn a_lease_round_trips_and_keeps_unknown_fields() {
        let lease = MergeLease::new("engine-a", at(100), TTL);
        assert_eq!(MergeLease::from_blob(&lease.to_blob(), None).unwrap(), lease);
        let mut value: serde_json::Value = serde_json::from_slice(&lease.to_blob()).unwrap();
        value["host"] = serde_json::json!("box");
        let read = MergeLease::from_blob(value.to_string().as_bytes(), None).unwrap();
        assert_eq!(read.extra["host"], "box");
        value["holder"] = serde_json::json!(" ");
        assert!(MergeLease::from_blob(value.to_string().as_bytes(), None).is_err());
    }

    // Guards: a second engine taking a lease that still runs, or an expired one staying blocked.
    #[test]
    fn only_the_holder_or_anyone_after_expiry_may_take_it() {
        let lease = MergeLease::new("engine-a", at(100), TTL);
        assert!(lease.takeable_by("engine-a", at(120)));
        assert!(!lease.takeable_by("engine-b", at(159)));
        assert!(lease.takeable_by("engine-b", at(160)));
        let renewed = lease.renewed(at(150), TTL);
        assert_eq!(renewed.expires, at(210));
        assert_eq!(renewed.acquired, at(100));
        assert!(!renewed.takeable_by("engine-b", at(200)));
        assert_eq!(
            renewed.renewed(at(100), TTL).expires,
            at(210),
            "a renewal never shortens it"
        );
        let released = renewed.released(at(170));
        assert!(released.takeable_by("engine-b", at(170)));
    }
}
