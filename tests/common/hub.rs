//! A real remote for the integration tests: bare repositories served by a real `git daemon` on
//! 127.0.0.1 (pushes allowed), and clones of them coordinating through it, all in one hermetic
//! [`TestEnv`], so that every clone shares its clock.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::thread;

use serde_json::Value;

use super::{GitDaemon, PROCESS_TIMEOUT, Run, TestEnv, finish, is_task_id};

/// Bare repositories served by one `git daemon` (pushes allowed), and clones of them, all in
/// one hermetic environment.
pub struct Hub {
    // Declared first so that the daemon is killed before the directories it serves go.
    pub daemon: GitDaemon,
    pub env: TestEnv,
}

impl Hub {
    pub fn new() -> Hub {
        let env = TestEnv::new();
        std::fs::create_dir(served(&env)).unwrap();
        let daemon = GitDaemon::start(&env, &served(&env));
        Hub { daemon, env }
    }

    /// A hub already serving an empty bare `origin.git`.
    pub fn with_origin() -> Hub {
        let hub = Hub::new();
        hub.bare("origin");
        hub
    }

    /// An empty bare repository `<name>.git` the daemon serves; returns its path.
    pub fn bare(&self, name: &str) -> PathBuf {
        self.env.git(
            &served(&self.env),
            &["init", "-q", "--bare", "-b", "main", &format!("{name}.git")],
        );
        self.bare_path(name)
    }

    pub fn bare_path(&self, name: &str) -> PathBuf {
        served(&self.env).join(format!("{name}.git"))
    }

    /// The daemon's URL of the bare repository `<name>.git`.
    pub fn url(&self, name: &str) -> String {
        self.daemon.url(&format!("{name}.git"))
    }

    /// Run plain git on the bare repository `<name>.git`; it must succeed.
    pub fn bare_git(&self, name: &str, args: &[&str]) -> String {
        let git_dir = self.bare_path(name);
        let mut all = vec!["--git-dir", git_dir.to_str().unwrap()];
        all.extend_from_slice(args);
        self.env.git(self.env.root(), &all)
    }

    /// `git for-each-ref refs/loom/` of the bare repository.
    pub fn remote_loom_refs(&self, name: &str) -> String {
        self.bare_git(name, &["for-each-ref", "refs/loom/"])
    }

    /// JSON blobs of the bare repository `<name>.git`, named `<rev>:<path>`, in order, read in
    /// one `git cat-file --batch`.
    pub fn blobs(&self, name: &str, revs: &[String]) -> Vec<Value> {
        if revs.is_empty() {
            return Vec::new();
        }
        let mut child = self
            .env
            .command("git", self.env.root())
            .arg("--git-dir")
            .arg(self.bare_path(name))
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let input: String = revs.iter().map(|rev| format!("{rev}\n")).collect();
        let mut stdin = child.stdin.take().unwrap();
        let writer = thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
        let run = finish("git cat-file --batch".into(), child, PROCESS_TIMEOUT);
        writer.join().unwrap();
        assert_eq!(run.code, 0, "{run}");
        // `<oid> blob <size>\n<content>\n` per object.
        let mut values = Vec::new();
        let mut rest = run.stdout.as_str();
        for _ in revs {
            let (header, after) = rest.split_once('\n').expect("a header line");
            let size: usize = header.rsplit(' ').next().unwrap().parse().unwrap();
            values.push(serde_json::from_str(&after[..size]).unwrap());
            rest = &after[size + 1..];
        }
        values
    }

    /// A new repository whose `origin` is the bare `origin.git` (which gets its `main`), with
    /// git-loom initialised, coordinating through `origin`, and its meta published.
    pub fn seeded(&self, dir: &str) -> Site<'_> {
        let site = Site {
            env: &self.env,
            dir: self.env.new_repo(dir),
        };
        site.git(&["remote", "add", "origin", &self.url("origin")]);
        site.git(&["push", "-q", "origin", "main"]);
        site.ok(&["init"]);
        let set = site.ok(&["remote", "origin"]);
        assert_eq!(set.stdout, "coordinating through origin\n", "{set}");
        let sync = site.ok(&["sync"]);
        assert_eq!(
            sync.stdout, "origin: 0 fetched, 0 fast-forwarded, 0 merged, 1 pushed\n",
            "{sync}"
        );
        site
    }

    /// `git clone` of `origin.git`, set to coordinate through `origin` and synced once.
    pub fn clone_of_origin(&self, dir: &str) -> Site<'_> {
        self.env
            .git(self.env.root(), &["clone", "-q", &self.url("origin"), dir]);
        let site = Site {
            env: &self.env,
            dir: self.env.root().join(dir),
        };
        site.ok(&["remote", "origin"]);
        site.ok(&["sync"]);
        assert_eq!(
            site.loom_refs(),
            self.remote_loom_refs("origin"),
            "a fresh clone's first sync brings everything"
        );
        site
    }
}

pub fn served(env: &TestEnv) -> PathBuf {
    env.root().join("served")
}

/// One clone, run through the environment of its [`Hub`].
pub struct Site<'h> {
    pub env: &'h TestEnv,
    pub dir: PathBuf,
}

impl Site<'_> {
    pub fn loom(&self, args: &[&str]) -> Run {
        self.env.loom(&self.dir, args)
    }

    /// `git-loom args`, which must exit 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.loom(args);
        assert_eq!(run.code, 0, "expected success: {run}");
        run
    }

    /// `git-loom args`, which must exit `code` with an error on stderr and nothing on stdout.
    pub fn fail(&self, code: i32, args: &[&str]) -> Run {
        let run = self.loom(args);
        assert_eq!(run.code, code, "expected exit {code}: {run}");
        assert_eq!(run.stdout, "", "a failed command prints no result: {run}");
        assert!(run.stderr.starts_with("error: "), "expected an error: {run}");
        run
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.env.git(&self.dir, args)
    }

    /// Every loom ref and its tip, as `git for-each-ref refs/loom/` prints them.
    pub fn loom_refs(&self) -> String {
        self.git(&["for-each-ref", "refs/loom/"])
    }

    /// `create TITLE extra…`, which must print exactly the new id.
    pub fn create(&self, args: &[&str]) -> String {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let run = self.ok(&all);
        let id = run.stdout.trim_end();
        assert!(is_task_id(id), "create printed more than an id: {run}");
        id.to_owned()
    }

    /// `task.json` at the tip of the task's ref, read with plain git.
    pub fn stored(&self, id: &str) -> Value {
        let text = self.git(&["cat-file", "-p", &format!("refs/loom/tasks/{id}:task.json")]);
        serde_json::from_str(&text).unwrap()
    }

    /// Point the remote `origin` at `url`.
    pub fn set_origin(&self, url: &str) {
        self.git(&["remote", "set-url", "origin", url]);
    }
}
