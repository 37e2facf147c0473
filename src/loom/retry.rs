//! Re-running an operation that lost a race: every write re-reads what it depends on and
//! re-applies its intent, a bounded number of times, with jittered backoff between attempts.

use super::Result;

/// How many times an operation re-reads and re-applies itself after losing a race.
const MAX_ATTEMPTS: u32 = 32;
/// The longest pause between two attempts; pauses grow from 1 ms, doubling, up to this.
const MAX_BACKOFF_MICROS: u32 = 50_000;

/// Run `attempt` until it does not lose a race, at most [`MAX_ATTEMPTS`] times. Each attempt
/// must re-read everything it depends on.
pub(crate) fn with_retries<T>(mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
    let mut tries: u32 = 0;
    loop {
        tries += 1;
        match attempt() {
            Err(err) if err.is_conflict() && tries < MAX_ATTEMPTS => {
                // Spread racing writers apart (exponential backoff, full jitter) so that under
                // contention each attempt is likely to find the refs quiet.
                let ceiling = (1_000u32 << (tries - 1).min(16)).min(MAX_BACKOFF_MICROS);
                let pause = getrandom::u32().unwrap_or(ceiling / 2) % ceiling;
                std::thread::sleep(std::time::Duration::from_micros(u64::from(pause)));
            }
            result => return result,
        }
    }
}
