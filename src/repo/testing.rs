//! Small repositories for the unit tests of this module, built with the real `git` CLI in a
//! temporary directory: the tests see exactly what a user's repository would hold.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ObjectId;

/// A repository in a temporary directory, removed when dropped.
pub struct TestRepo {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub gix: gix::Repository,
}

impl TestRepo {
    /// A new non-bare repository on branch `main` with one commit holding `files`.
    pub fn with_files(files: &[(&str, &str)]) -> TestRepo {
        let dir = tempfile::tempdir().expect("a temporary directory can be made");
        let path = dir.path().join("repo");
        run(dir.path(), &["init", "--quiet", "-b", "main", "repo"]);
        for (key, value) in [("user.name", "Tester"), ("user.email", "tester@example.com")] {
            run(&path, &["config", key, value]);
        }
        let repo = TestRepo {
            gix: gix::open(&path).expect("the new repository opens"),
            path,
            _dir: dir,
        };
        repo.write(files);
        repo.commit_all("base");
        repo
    }

    pub fn repo(&self) -> super::Repo<'_> {
        super::Repo::new(&self.gix)
    }

    /// Run git in the working tree and return its trimmed stdout; panics when git fails.
    pub fn git(&self, args: &[&str]) -> String {
        run(&self.path, args)
    }

    /// Write files (creating directories) in the working tree.
    pub fn write(&self, files: &[(&str, &str)]) {
        for (name, content) in files {
            self.write_bytes(name, content.as_bytes());
        }
    }

    pub fn write_bytes(&self, name: &str, content: &[u8]) {
        let file = self.path.join(name);
        std::fs::create_dir_all(file.parent().expect("a file in the repository has a parent"))
            .expect("the directory can be made");
        std::fs::write(file, content).expect("the file can be written");
    }

    /// Stage everything and commit; the new HEAD.
    pub fn commit_all(&self, message: &str) -> ObjectId {
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.rev("HEAD")
    }

    /// On a new branch `name` from `from`: apply `change` to the working tree, commit, and
    /// return to `main`. The branch's tip.
    pub fn branch(&self, name: &str, from: &str, change: impl FnOnce(&TestRepo)) -> ObjectId {
        self.git(&["checkout", "--quiet", "-b", name, from]);
        change(self);
        let tip = self.commit_all(name);
        self.git(&["checkout", "--quiet", "main"]);
        tip
    }

    pub fn rev(&self, spec: &str) -> ObjectId {
        ObjectId::from_hex(self.git(&["rev-parse", spec]).as_bytes()).expect("git prints an object id")
    }

    /// The content of `path` in `treeish`, or `None` when it has no such file.
    pub fn show(&self, treeish: ObjectId, path: &str) -> Option<String> {
        let output = Command::new("git")
            .current_dir(&self.path)
            .args(["show", &format!("{treeish}:{path}")])
            .output()
            .expect("git runs");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Run git in `dir` and return its trimmed stdout; panics when git fails.
pub fn run(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
