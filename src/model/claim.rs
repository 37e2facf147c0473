//! A claim: the record in `refs/loom/claims/<id>` that says one agent holds a task.
//!
//! The claim's existence is the lock (it is created with a create-only ref update, so exactly
//! one claimer wins); its contents are the lease. This module holds the record, the rules for
//! who may act on it, how a lease is judged, and the retry schedule of failed tasks. Pure
//! values and arithmetic: time is always passed in.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::id::TaskId;

/// The version of the claim blob layout this build reads and writes.
pub const CLAIM_SCHEMA: u32 = 1;

/// `claim.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub schema: u32,
    pub task: TaskId,
    pub agent: String,
    /// A secret shared with the claimer; proves holdership for a process that does not run
    /// under the claimer's agent name.
    pub token: String,
    pub claimed_at: Timestamp,
    pub expires_at: Timestamp,
    pub heartbeat_at: Timestamp,
    /// Lease length the claimer asked for, renewed by every heartbeat.
    pub ttl_secs: u64,
    #[serde(default)]
    pub progress: Option<String>,
    #[serde(default)]
    pub percent: Option<u8>,
    /// 1 for the first claim of a task, counting every claim since (including expired ones).
    pub attempt: u32,
    #[serde(default)]
    pub worktree: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    /// Fields written by another version of git-loom, kept verbatim.
    #[serde(flatten)]
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

/// How an agent proves it holds a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder<'a> {
    pub agent: &'a str,
    pub token: Option<&'a str>,
}

/// How a lease looks at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Heartbeats are arriving.
    Active,
    /// The lease still runs, but no heartbeat for [`STALE_AFTER_HEARTBEATS`] intervals.
    Stale,
    /// The lease has run out; the sweeper may take the task back.
    Expired,
}

impl Health {
    /// The name users see, the same as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Active => "active",
            Health::Stale => "stale",
            Health::Expired => "expired",
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Missed heartbeats after which a live lease counts as stale.
pub const STALE_AFTER_HEARTBEATS: u64 = 3;

impl Claim {
    pub fn new(task: TaskId, agent: String, token: String, ttl_secs: u64, attempt: u32, now: Timestamp) -> Self {
        Claim {
            schema: CLAIM_SCHEMA,
            task,
            agent,
            token,
            claimed_at: now,
            expires_at: later(now, ttl_secs),
            heartbeat_at: now,
            ttl_secs,
            progress: None,
            percent: None,
            attempt,
            worktree: None,
            branch: None,
            extra: Default::default(),
        }
    }

    /// Whether `holder` holds this claim: the same agent name, or the claim's token.
    pub fn is_held_by(&self, holder: &Holder<'_>) -> bool {
        holder.agent == self.agent || holder.token.is_some_and(|token| token == self.token)
    }

    /// Extend the lease from `now`, recording progress when given.
    pub fn renew(&mut self, now: Timestamp, progress: Option<String>, percent: Option<u8>) {
        self.heartbeat_at = now;
        self.expires_at = later(now, self.ttl_secs);
        if progress.is_some() {
            self.progress = progress;
        }
        if percent.is_some() {
            self.percent = percent.map(|p| p.min(100));
        }
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }

    /// Judge the lease at `now`, with heartbeats expected every `heartbeat_secs`.
    pub fn health(&self, now: Timestamp, heartbeat_secs: u64) -> Health {
        if self.is_expired(now) {
            Health::Expired
        } else if now.duration_since(self.heartbeat_at) >= secs(heartbeat_secs.saturating_mul(STALE_AFTER_HEARTBEATS)) {
            Health::Stale
        } else {
            Health::Active
        }
    }
}

impl super::Entity for Claim {
    const FILE: &'static str = "claim.json";
    const SCHEMA: u32 = CLAIM_SCHEMA;

    fn owner(&self) -> Option<&TaskId> {
        Some(&self.task)
    }

    fn problem(&self) -> Option<String> {
        (!(1..=MAX_DURATION_SECS).contains(&self.ttl_secs))
            .then(|| format!("has ttl_secs {}, outside 1..={MAX_DURATION_SECS}", self.ttl_secs))
    }
}

/// The longest duration git-loom accepts anywhere (a lease, a retry wait, a timeout): ten
/// years. Bounding every duration where it enters — flags, settings, blobs — keeps all time
/// arithmetic far from the limits of the timestamp type.
pub const MAX_DURATION_SECS: u64 = 10 * 366 * 24 * 60 * 60;

fn secs(seconds: u64) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(seconds.min(MAX_DURATION_SECS)).expect("ten years of seconds fit in i64"))
}

/// `now` plus `seconds`, saturating at the latest representable moment instead of panicking:
/// a value that slipped past validation must never abort the process.
pub fn later(now: Timestamp, seconds: u64) -> Timestamp {
    now.checked_add(secs(seconds)).unwrap_or(Timestamp::MAX)
}

/// When a task that has now failed `retries` times may be tried again:
/// `min(base × 2^(retries-1), max)`, moved by up to ±20 % according to `jitter` (a number in
/// `[-1, 1]`, drawn by the caller so this stays deterministic).
pub fn retry_delay(retries: u32, base_secs: u64, max_secs: u64, jitter: f64) -> SignedDuration {
    let exponent = retries.saturating_sub(1).min(40);
    let raw = base_secs
        .saturating_mul(1u64 << exponent)
        .min(max_secs)
        .min(MAX_DURATION_SECS) as f64;
    let jittered = raw * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    SignedDuration::try_from_secs_f64(jittered.max(0.0)).unwrap_or(SignedDuration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlobError, Entity};

    fn claim(now: Timestamp) -> Claim {
        Claim::new(
            TaskId::parse("loom-00000001").unwrap(),
            "alice".into(),
            "t0k3n".into(),
            60,
            1,
            now,
        )
    }

    #[test]
    fn holder_is_the_agent_or_the_token() {
        let c = claim(Timestamp::UNIX_EPOCH);
        assert!(c.is_held_by(&Holder {
            agent: "alice",
            token: None
        }));
        assert!(c.is_held_by(&Holder {
            agent: "bob",
            token: Some("t0k3n")
        }));
        assert!(!c.is_held_by(&Holder {
            agent: "bob",
            token: Some("wrong")
        }));
        assert!(!c.is_held_by(&Holder {
            agent: "bob",
            token: None
        }));
    }

    #[test]
    fn lease_health_moves_from_active_to_stale_to_expired() {
        let start = Timestamp::UNIX_EPOCH;
        let mut c = claim(start);
        c.ttl_secs = 600;
        c.renew(start, None, None);
        let at = |s: i64| start + SignedDuration::from_secs(s);
        assert_eq!(c.health(at(10), 60), Health::Active);
        assert_eq!(c.health(at(180), 60), Health::Stale);
        assert_eq!(c.health(at(600), 60), Health::Expired);
        // Guards: the name users read diverging from the JSON spelling.
        for health in [Health::Active, Health::Stale, Health::Expired] {
            assert_eq!(serde_json::to_value(health).unwrap(), health.to_string());
        }
        c.renew(at(590), Some("half".into()), Some(150));
        assert_eq!(c.health(at(600), 60), Health::Active);
        assert_eq!((c.progress.as_deref(), c.percent), (Some("half"), Some(100)));
    }

    #[test]
    fn retry_delay_doubles_up_to_the_cap_with_bounded_jitter() {
        assert_eq!(retry_delay(1, 30, 3600, 0.0), SignedDuration::from_secs(30));
        assert_eq!(retry_delay(2, 30, 3600, 0.0), SignedDuration::from_secs(60));
        assert_eq!(retry_delay(3, 30, 3600, 0.0), SignedDuration::from_secs(120));
        assert_eq!(retry_delay(20, 30, 3600, 0.0), SignedDuration::from_secs(3600));
        assert_eq!(retry_delay(1, 30, 3600, 1.0), SignedDuration::from_secs(36));
        assert_eq!(retry_delay(1, 30, 3600, -1.0), SignedDuration::from_secs(24));
    }

    // Guards: a lease or retry wait of 10^12 seconds aborted the process on timestamp overflow.
    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let now = Timestamp::UNIX_EPOCH;
        let mut c = Claim::new(
            TaskId::parse("loom-00000001").unwrap(),
            "a".into(),
            "t".into(),
            u64::MAX,
            1,
            now,
        );
        assert!(c.expires_at > now);
        c.renew(Timestamp::MAX, None, None);
        assert_eq!(c.expires_at, Timestamp::MAX);
        assert_eq!(c.health(now, u64::MAX), Health::Active);
        let wait = retry_delay(u32::MAX, u64::MAX, u64::MAX, 1.0);
        assert!(wait > SignedDuration::ZERO);
        assert!(later(Timestamp::MAX, 1) == Timestamp::MAX);
    }

    // Guards: a `ttl_secs` of 10^12 inside a claim.json aborted every command reading it.
    #[test]
    fn a_claim_blob_with_an_out_of_range_ttl_is_refused() {
        let mut c = claim(Timestamp::UNIX_EPOCH);
        c.ttl_secs = 1_000_000_000_000;
        assert!(matches!(
            Claim::from_blob(&c.to_blob(), Some(&c.task)),
            Err(BlobError::Invalid { .. })
        ));
        c.ttl_secs = 0;
        assert!(Claim::from_blob(&c.to_blob(), Some(&c.task)).is_err());
    }

    #[test]
    fn blob_round_trip_and_checks() {
        let c = claim(Timestamp::UNIX_EPOCH);
        assert_eq!(Claim::from_blob(&c.to_blob(), Some(&c.task)).unwrap(), c);
        let other = TaskId::parse("loom-00000002").unwrap();
        assert!(matches!(
            Claim::from_blob(&c.to_blob(), Some(&other)),
            Err(BlobError::WrongOwner { .. })
        ));
    }
}
