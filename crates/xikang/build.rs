//! Records the git commit the binary is built from as `XIKANG_GIT_REVISION`, for the
//! benchmarks' `--json` results (`src/bench_json.rs`). Outside a git checkout (a source
//! tarball) it is `unknown`. Uncommitted changes are not flagged: a run that matters is made
//! from a commit.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let revision = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=XIKANG_GIT_REVISION={revision}");
    // Rebuild when HEAD moves: the checkout's HEAD (a worktree has its own) and the refs.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
    }
    if let Some(common) = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]) {
        // A path that does not exist would rerun this script on every build.
        for path in [
            format!("{common}/refs/heads"),
            format!("{common}/packed-refs"),
        ] {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
