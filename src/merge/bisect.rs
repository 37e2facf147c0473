//! Finding the culprit in a failed batch: prefix bisection over a stack of candidates.
//!
//! A batch of `n` requests is stacked into commits `c1 … cn`, each `ci` the target with the
//! first `i` requests merged. The whole stack is tested first; when it passes, all `n` land
//! in one run. When it fails, the first failing prefix is found by binary search between
//! the target (known good) and `cn` (known bad): the requests before it land, it fails, and the
//! requests after it are stacked again in the next round. With `k` bad requests in a queue of
//! `N`, that is at most `(k+1) + k·⌈log₂N⌉` test runs.
//!
//! A failure seen only once may be a flaky test: when the search blames the last request on
//! the strength of the whole stack's single failing run, the stack is tested once more (without
//! the test cache) before anyone is blamed; a pass then lands all `n`. A culprit found in the
//! middle of the stack was seen failing twice (the whole stack and its own prefix), so it is
//! not retested. This keeps the retest inside the bound above.
//!
//! Pure: the caller's `test(prefix, retest)` builds and runs whatever it must.

/// What a batch's round of tests decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// How many requests, from the front of the stack, passed and may land (their prefix's
    /// candidate is the commit that was tested).
    pub good: usize,
    /// The index of the request that fails the tests, if one does; the requests after it are
    /// undecided and go back to the queue.
    pub culprit: Option<usize>,
}

/// Decide a stack of `n` candidates (`n ≥ 1`). `test(prefix, retest)` tests the candidate with
/// the first `prefix` requests merged and says whether it passed; `retest` asks it to run
/// again rather than answer from the test cache.
pub fn decide<E>(n: usize, mut test: impl FnMut(usize, bool) -> Result<bool, E>) -> Result<Verdict, E> {
    if n == 0 {
        return Ok(Verdict { good: 0, culprit: None });
    }
    if test(n, false)? {
        return Ok(Verdict { good: n, culprit: None });
    }
    // `lo` passed (the bare target when 0), `hi` failed.
    let (mut lo, mut hi) = (0, n);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if test(mid, false)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Blamed on the whole stack's one failing run: make sure it was not a flake.
    if hi == n && test(n, true)? {
        return Ok(Verdict { good: n, culprit: None });
    }
    Ok(Verdict {
        good: lo,
        culprit: Some(hi - 1),
    })
}

/// The most test runs the queue may take for `n` requests with `k` bad ones, batched whole:
/// `(k+1) + k·⌈log₂n⌉`.
pub fn run_bound(n: usize, k: usize) -> usize {
    let log = match n {
        0 | 1 => 0,
        n => (usize::BITS - (n - 1).leading_zeros()) as usize,
    };
    (k + 1) + k * log
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// Run a whole queue of `n` requests (those in `bad` fail) through rounds of [`decide`],
    /// as the engine does: land the good prefix, fail the culprit, stack the rest again.
    /// Returns (landed, failed, runs).
    fn drain(n: usize, bad: &[usize], flaky_first_run: bool) -> (Vec<usize>, Vec<usize>, usize) {
        let mut queue: Vec<usize> = (0..n).collect();
        let (mut landed, mut failed, mut runs) = (Vec::new(), Vec::new(), 0);
        let mut flake = flaky_first_run;
        for _ in 0..=n {
            if queue.is_empty() {
                break;
            }
            let verdict = decide(queue.len(), |prefix, _| {
                runs += 1;
                if std::mem::take(&mut flake) {
                    return Ok::<_, Infallible>(false);
                }
                Ok(!queue[..prefix].iter().any(|item| bad.contains(item)))
            })
            .unwrap();
            landed.extend(queue.drain(..verdict.good));
            if verdict.culprit.is_some() {
                failed.push(queue.remove(0));
            }
        }
        (landed, failed, runs)
    }

    #[test]
    fn a_clean_batch_lands_in_one_run() {
        let (landed, failed, runs) = drain(16, &[], false);
        assert_eq!((landed.len(), failed.len(), runs), (16, 0, 1));
    }

    // Guards: a bad request landing, a good one failed for its neighbour, or the search
    // costing more runs than the bound the queue promises.
    #[test]
    fn every_bad_request_is_found_within_the_bound() {
        for n in [1usize, 2, 3, 5, 8, 16, 17, 32] {
            let patterns: Vec<Vec<usize>> = vec![
                vec![0],
                vec![n - 1],
                vec![n / 2],
                vec![0, n - 1],
                vec![n / 3, n / 2],
                (0..n).filter(|i| i % 5 == 2).collect(),
            ];
            for bad in patterns {
                let mut bad = bad;
                bad.sort_unstable();
                bad.dedup();
                let (mut landed, mut failed, runs) = drain(n, &bad, false);
                landed.sort_unstable();
                failed.sort_unstable();
                let good: Vec<usize> = (0..n).filter(|i| !bad.contains(i)).collect();
                assert_eq!(landed, good, "n={n} bad={bad:?}");
                assert_eq!(failed, bad, "n={n} bad={bad:?}");
                assert!(
                    runs <= run_bound(n, bad.len()),
                    "n={n} bad={bad:?}: {runs} runs > bound {}",
                    run_bound(n, bad.len())
                );
            }
        }
    }

    #[test]
    fn a_flaky_failure_of_the_whole_stack_lands_everything() {
        let (landed, failed, runs) = drain(8, &[], true);
        assert_eq!((landed.len(), failed.len()), (8, 0));
        assert_eq!(
            runs,
            1 + 3 + 1,
            "one failing run, a bisection that clears everyone, one retest"
        );
    }

    #[test]
    fn the_bound_matches_the_table() {
        assert_eq!(run_bound(8, 0), 1);
        assert_eq!(run_bound(8, 1), 5);
        assert_eq!(run_bound(16, 1), 6);
        assert_eq!(run_bound(16, 2), 11);
        assert_eq!(run_bound(64, 3), 22);
    }
}
