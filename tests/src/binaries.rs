//! Where the workspace is, and the compiled handler binaries the tests run.
//! `cargo test` does not build other packages' executables, so tests that spawn
//! them build them first, into the profile the test itself was built in, and
//! never run a stale binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use ccx_core::handlers::Handler;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// Builds the given binary packages and returns `target/<profile>/`.
pub fn build_binaries(packages: &[&str]) -> PathBuf {
    // The test runs from target/<profile>/deps/; build into the same profile.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let mut args = vec!["build", "--quiet"];
    for p in packages {
        args.extend(["-p", p]);
    }
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        args.push("--release");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(&args)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build of {packages:?} failed");
    profile_dir
}

/// Builds the seven handler binaries and returns their folder.
pub fn handler_binaries() -> PathBuf {
    let names: Vec<&str> = Handler::ALL.iter().map(|h| h.name()).collect();
    build_binaries(&names)
}

/// `target/<profile>/<name>`, freshly built.
pub fn handler_binary(name: &str) -> PathBuf {
    let bin = build_binaries(&[name]).join(name);
    assert!(bin.exists(), "{} not found", bin.display());
    bin
}
