//! `make synth`: writes `infra/template.json` and `infra/event_rule.json` from the
//! model and `statemachine/execution.asl.json`.
//!
//! `synth --check` writes nothing and exits 1 when either file is out of date
//! (what CI runs, so a model change without a re-synth cannot land).

use std::path::PathBuf;
use std::process::ExitCode;

use ccx_infra::{StackOptions, paths, render, workspace_root};

fn main() -> ExitCode {
    let mut check = false;
    let mut root: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--root" => root = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("usage: synth [--check] [--root <workspace>]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("synth: unknown argument {other:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    let root = root.unwrap_or_else(workspace_root);
    let outputs = match render(&root, &StackOptions::default()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("synth: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = Vec::new();
    for (rel, text) in [
        (paths::TEMPLATE, &outputs.template),
        (paths::EVENT_RULE, &outputs.event_rule),
    ] {
        let path = root.join(rel);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == *text {
            continue;
        }
        if check {
            stale.push(rel);
        } else if let Err(e) = std::fs::write(&path, text) {
            eprintln!("synth: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("wrote {rel}");
        }
    }
    if !stale.is_empty() {
        eprintln!(
            "synth: out of date: {} (run `make synth` and commit)",
            stale.join(", ")
        );
        return ExitCode::FAILURE;
    }
    if check {
        println!("infra/template.json and infra/event_rule.json are up to date");
    }
    ExitCode::SUCCESS
}
