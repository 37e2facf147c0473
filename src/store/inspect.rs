//! Read-only looks at a remote, for checking the local mirror against it: what `refs/loom/*`
//! the remote has now, asked through the user's `git` (so its transports, credentials and
//! configuration apply) without fetching anything or touching a ref.

use std::process::Command;

use super::{Error, ObjectId, RefTip, Result, Store};

impl Store {
    /// Every ref under `refs/loom/` on `remote` with its tip, in name order (`git ls-remote`).
    pub fn remote_loom_refs(&self, remote: &str) -> Result<Vec<RefTip>> {
        let remote_error = |message: String| Error::Remote {
            remote: remote.to_owned(),
            message,
        };
        if !super::is_valid_remote_name(remote) {
            return Err(remote_error("not a valid remote name".into()));
        }
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(self.repo.git_dir())
            .args(["-c", "protocol.version=2", "ls-remote", "--refs"])
            .arg(remote)
            .arg("refs/loom/*")
            .output()
            .map_err(|err| remote_error(format!("cannot run git: {err}")))?;
        if !output.status.success() {
            return Err(remote_error(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
        }
        let mut refs = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Some((hex, name)) = line.split_once('\t') else {
                return Err(remote_error(format!("unexpected ls-remote line {line:?}")));
            };
            let tip = ObjectId::from_hex(hex.as_bytes())
                .map_err(|_| remote_error(format!("unexpected ls-remote line {line:?}")))?;
            if name.starts_with("refs/loom/") {
                refs.push(RefTip {
                    name: name.to_owned(),
                    tip,
                });
            }
        }
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(refs)
    }
}
