//! The two caches of the core, kept as files in the repository's `.git/loom/` and never
//! trusted beyond what they can prove: [`tasks`] (decoded tasks keyed by their tips) and
//! [`board`] (the derived board and ready order, keyed by the ref listing they were built
//! from), with the `--json` text of its tasks beside it ([`board_json`]). Losing any costs one rebuild, never a wrong answer.

pub(crate) mod board;
pub(crate) mod board_json;
pub(crate) mod tasks;
