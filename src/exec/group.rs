//! Looking at, and signalling, a process group that another process started: an agent whose
//! runner recorded its process id. A process id is only a number that the system hands out
//! again once its process is gone, so before a group is signalled the caller can check that
//! the process alive under that id is the one recorded: it leads its own process group (as every
//! child started through [`super::Running`] does) and it started no later than the record says.
//!
//! Guarantees: nothing is signalled but the group named, and only with the signal asked for;
//! where the process table cannot be read (no `/proc`), nothing is claimed about a process, so
//! a caller that needs proof sends nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

/// The process table's clock ticks per second (`USER_HZ`), fixed at 100 for user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// When the live process `pid` started, if it leads its own process group. `None` when there is
/// no such process, it is a zombie waiting to be reaped, it belongs to another process's group,
/// or the process table cannot be read.
pub fn group_leader_started(pid: u32) -> Option<SystemTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let read_at = SystemTime::now();
    let fields = stat_fields(&stat)?;
    // Counted from the field after the command name: state, ppid, pgrp, ... starttime (the
    // 22nd field of the line, so the 20th here).
    let state = fields.first()?;
    let group: u32 = fields.get(2)?.parse().ok()?;
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    if *state == "Z" || *state == "X" || group != pid {
        return None;
    }
    let since_boot: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let age = (since_boot - start_ticks / TICKS_PER_SECOND).max(0.0);
    read_at.checked_sub(Duration::from_secs_f64(age))
}

/// The fields of a `/proc/<pid>/stat` line after the command name, which may itself hold
/// spaces and parentheses (so the line is split at its last `)`).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// Send SIGTERM to the process group `pgid`. Returns whether the signal was delivered.
pub fn terminate_group(pgid: u32) -> bool {
    if pgid <= 1 {
        // Group 0 is the sender's own and -1 is every process it may signal: never meant here.
        return false;
    }
    Command::new("kill")
        .args(["-TERM", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_name_may_hold_parentheses_and_spaces() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194304 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        let fields = stat_fields(line).unwrap();
        assert_eq!(fields[0], "S");
        assert_eq!(fields[2], "4242");
        assert_eq!(fields[19], "12345");
    }

    // Guards: a process that is not the leader of its group (a pid handed to another program
    // started from a shell) being taken for an agent and its group signalled.
    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_live_group_leader_is_recognised() {
        use std::os::unix::process::CommandExt;
        let mut leader = Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
        let mut member = Command::new("sleep").arg("30").spawn().unwrap();
        let started = group_leader_started(leader.id()).expect("a group leader is recognised");
        let off = SystemTime::now().duration_since(started).unwrap_or_default();
        assert!(off < Duration::from_secs(60), "started moments ago: {off:?}");
        assert_eq!(group_leader_started(member.id()), None, "it leads no group");
        assert!(terminate_group(leader.id()));
        let status = leader.wait().unwrap();
        assert!(!status.success());
        assert_eq!(group_leader_started(leader.id()), None, "reaped: gone");
        member.kill().unwrap();
        member.wait().unwrap();
    }
}
