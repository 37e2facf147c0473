//! Context variables in check commands: `${WORKTREE}`, `${PROJECT_ROOT}` and `${STAGE_ID}`, the
//! ones the Rust loom expands, replaced in a command's text before it is given to `sh -c`.
//!
//! Guarantees: expansion is a plain textual replacement of exactly these `${NAME}` forms (no
//! other syntax, no recursion into replaced text), so a command without them runs unchanged;
//! a variable with no value here (`${STAGE_ID}` for a task that is not a plan stage) is left
//! as written, for the shell to expand or fail on, as the Rust loom leaves unknown variables.
//! Values are absolute paths of the tree being checked, never of another one.

use std::fs;
use std::path::{Path, PathBuf};

/// Files whose presence makes a directory a project root, in the Rust loom's order.
const MANIFESTS: &[&str] = &[
    "Cargo.toml",
    "package.json",
    "go.mod",
    "pyproject.toml",
    "pom.xml",
    "build.gradle",
];

/// The values for one tree being checked.
#[derive(Debug, Clone)]
pub(super) struct Variables {
    pairs: Vec<(&'static str, String)>,
}

impl Variables {
    /// `worktree`: the root of the tree being checked; `dir`: the stage's working directory
    /// inside it; `stage`: the stage id, when the task is a plan stage.
    pub(super) fn new(worktree: &Path, dir: &Path, stage: Option<&str>) -> Variables {
        let project = project_root(dir)
            .or_else(|| project_root(worktree))
            .unwrap_or_else(|| dir.to_path_buf());
        let mut pairs = vec![
            ("WORKTREE", worktree.display().to_string()),
            ("PROJECT_ROOT", project.display().to_string()),
        ];
        if let Some(stage) = stage {
            pairs.push(("STAGE_ID", stage.to_owned()));
        }
        Variables { pairs }
    }

    /// `command` with every known `${NAME}` replaced by its value.
    pub(super) fn expand(&self, command: &str) -> String {
        let mut out = String::with_capacity(command.len());
        let mut rest = command;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let known = after.find('}').and_then(|end| {
                let name = &after[..end];
                self.pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (value, end))
            });
            match known {
                Some((value, end)) => {
                    out.push_str(value);
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str("${");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The first of `dir` and its immediate subdirectories (in name order) holding a manifest.
fn project_root(dir: &Path) -> Option<PathBuf> {
    let has_manifest = |candidate: &Path| MANIFESTS.iter().any(|name| candidate.join(name).is_file());
    if has_manifest(dir) {
        return Some(dir.to_path_buf());
    }
    let mut subdirs: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|entry| entry.file_name() != ".git")
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    subdirs.sort();
    subdirs.into_iter().find(|path| has_manifest(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_variables_expand_and_others_stay() {
        // Guards: `${WORKTREE}`, `${PROJECT_ROOT}` and `${STAGE_ID}` reached the shell
        // unexpanded, where they are empty.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("app")).unwrap();
        fs::create_dir_all(root.join("loom")).unwrap();
        fs::write(root.join("loom/Cargo.toml"), "[package]\n").unwrap();
        let vars = Variables::new(root, root, Some("setup-db"));
        let root_text = root.display().to_string();
        assert_eq!(
            vars.expand("cd ${PROJECT_ROOT} && ls ${WORKTREE}/x ${STAGE_ID}"),
            format!("cd {root_text}/loom && ls {root_text}/x setup-db")
        );
        assert_eq!(
            vars.expand("echo ${HOME} $WORKTREE ${WORKTREE"),
            "echo ${HOME} $WORKTREE ${WORKTREE"
        );
        assert_eq!(vars.expand("${STAGE_ID}${STAGE_ID}"), "setup-dbsetup-db");

        // The working directory's own manifest wins; without any, the working directory.
        let app = root.join("app");
        fs::write(app.join("package.json"), "{}").unwrap();
        let vars = Variables::new(root, &app, None);
        assert_eq!(vars.expand("${PROJECT_ROOT}"), app.display().to_string());
        assert_eq!(vars.expand("${STAGE_ID}"), "${STAGE_ID}");
        let empty = tempfile::tempdir().unwrap();
        let vars = Variables::new(empty.path(), empty.path(), None);
        assert_eq!(vars.expand("${PROJECT_ROOT}"), empty.path().display().to_string());
    }
}
