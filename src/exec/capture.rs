//! Reading a child's stdout or stderr to its end on a thread of its own, keeping only the last
//! bytes of the stream while scanning all of it for given strings.
//!
//! Guarantees: memory stays bounded whatever the child writes (at most twice the tail size, plus
//! the longest needle); a needle split between two reads is still found; a reader thread that
//! panics leaves the capture as it was, never poisons the result.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

/// One output stream as read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The last bytes of the stream, at most the tail size asked for.
    pub tail: Vec<u8>,
    /// How many bytes the stream held in all.
    pub total: u64,
    /// Whether each needle asked for appeared anywhere in the stream, in the order asked.
    pub found: Vec<bool>,
}

impl Output {
    /// The tail as text, opening with a line saying how many bytes were cut before it; the
    /// cut falls on a character boundary rather than through a character.
    pub fn text(&self) -> String {
        let mut kept = self.tail.as_slice();
        if (kept.len() as u64) < self.total {
            while let Some((&byte, rest)) = kept.split_first()
                && byte & 0xC0 == 0x80
            {
                kept = rest;
            }
        }
        let cut = self.total - kept.len() as u64;
        let body = String::from_utf8_lossy(kept);
        if cut == 0 {
            body.into_owned()
        } else {
            format!("[{cut} earlier bytes cut]\n{body}")
        }
    }
}

/// One output stream as it is being read.
pub(super) struct Capture {
    /// Up to twice `tail_bytes`, so it is trimmed in batches rather than on every read.
    tail: Vec<u8>,
    tail_bytes: usize,
    total: u64,
    needles: Vec<Vec<u8>>,
    found: Vec<bool>,
    /// The last bytes of the stream, one fewer than the longest needle, so a needle split
    /// between two reads is still found.
    carry: Vec<u8>,
}

impl Capture {
    pub(super) fn new(tail_bytes: usize, needles: &[String]) -> Capture {
        let needles: Vec<Vec<u8>> = needles.iter().map(|needle| needle.as_bytes().to_vec()).collect();
        let found = needles.iter().map(Vec::is_empty).collect();
        Capture {
            tail: Vec::new(),
            tail_bytes,
            total: 0,
            needles,
            found,
            carry: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        if self.found.contains(&false) {
            let mut window = std::mem::take(&mut self.carry);
            window.extend_from_slice(chunk);
            for (needle, found) in self.needles.iter().zip(self.found.iter_mut()) {
                if !*found && window.windows(needle.len()).any(|part| part == needle.as_slice()) {
                    *found = true;
                }
            }
            let keep = self.needles.iter().map(Vec::len).max().unwrap_or(0).saturating_sub(1);
            self.carry = window.split_off(window.len().saturating_sub(keep));
        }
        self.tail.extend_from_slice(chunk);
        if self.tail.len() > 2 * self.tail_bytes {
            self.tail.drain(..self.tail.len() - self.tail_bytes);
        }
    }

    /// What has been read so far.
    pub(super) fn output(&self) -> Output {
        Output {
            tail: self.tail[self.tail.len().saturating_sub(self.tail_bytes)..].to_vec(),
            total: self.total,
            found: self.found.clone(),
        }
    }
}

/// A reader that panicked part-way through a push leaves at worst a slightly wrong tail or count,
/// which is better than losing the whole result, so a poisoned lock is used as it is.
pub(super) fn lock(capture: &Mutex<Capture>) -> MutexGuard<'_, Capture> {
    capture.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Read `pipe` to its end on a thread of its own, counting it in `readers` once started.
/// Every chunk read is also appended to `log` when given.
pub(super) fn spawn_reader(
    pipe: Option<impl Read + Send + 'static>,
    capture: &Arc<Mutex<Capture>>,
    log: Option<&Arc<Mutex<File>>>,
    done: &Sender<()>,
    readers: &mut usize,
) -> std::io::Result<()> {
    let Some(mut pipe) = pipe else {
        return Ok(());
    };
    let capture = Arc::clone(capture);
    let log = log.map(Arc::clone);
    let done = done.clone();
    thread::Builder::new().name("exec-output".to_owned()).spawn(move || {
        let mut buffer = [0u8; 8192];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => {
                    if let Some(log) = &log {
                        // A log that cannot be written (a full disk) must not stop the child's
                        // output from being read, or the child would block on a full pipe.
                        let mut file = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        let _ = file.write_all(&buffer[..read]);
                    }
                    lock(&capture).push(&buffer[..read]);
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // The receiver may have given up waiting already; nothing is owed to it then.
        let _ = done.send(());
    })?;
    *readers += 1;
    Ok(())
}

/// Wait until `readers` readers have finished or `until` passes; how many are still reading.
pub(super) fn wait_for_readers(done: &Receiver<()>, mut readers: usize, until: Option<Instant>) -> usize {
    while readers > 0 {
        let received = match until {
            Some(until) => done.recv_timeout(until.saturating_duration_since(Instant::now())),
            None => done.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(()) => readers -= 1,
            // Every sender gone means every reader has finished, whether or not it said so.
            Err(RecvTimeoutError::Disconnected) => return 0,
            Err(RecvTimeoutError::Timeout) => break,
        }
    }
    readers
}
