//! The `synth` binary behind `make synth` / `make synth-check`, run on a scratch
//! copy of the workspace layout.

use std::path::Path;
use std::process::Command;

fn synth(root: &Path, check: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_synth"));
    cmd.arg("--root").arg(root);
    if check {
        cmd.arg("--check");
    }
    cmd.output().unwrap()
}

fn scratch_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("statemachine")).unwrap();
    std::fs::create_dir_all(dir.path().join("infra")).unwrap();
    std::fs::copy(
        ccx_infra::workspace_root().join(ccx_infra::paths::DEFINITION),
        dir.path().join(ccx_infra::paths::DEFINITION),
    )
    .unwrap();
    dir
}

#[test]
fn writes_both_files_then_check_passes_until_one_is_edited() {
    let dir = scratch_root();
    let root = dir.path();

    let check = synth(root, true);
    assert_eq!(
        check.status.code(),
        Some(1),
        "missing files are out of date"
    );

    let out = synth(root, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let template: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(ccx_infra::paths::TEMPLATE)).unwrap(),
    )
    .unwrap();
    assert_eq!(
        template["Resources"]["StarterFunction"]["Properties"]["Handler"],
        "bootstrap"
    );
    let rule: ccx_infra::EventRuleDef = serde_json::from_str(
        &std::fs::read_to_string(root.join(ccx_infra::paths::EVENT_RULE)).unwrap(),
    )
    .unwrap();
    assert_eq!(rule, ccx_infra::event_rule());

    assert!(synth(root, true).status.success());

    let path = root.join(ccx_infra::paths::TEMPLATE);
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("arm64", "x86_64");
    std::fs::write(&path, edited).unwrap();
    let check = synth(root, true);
    assert_eq!(check.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("out of date: infra/template.json"),
        "{stderr}"
    );
    assert!(!stderr.contains("event_rule.json"), "{stderr}");
}

#[test]
fn a_broken_definition_fails_with_its_reason() {
    let dir = scratch_root();
    let root = dir.path();
    std::fs::write(
        root.join(ccx_infra::paths::DEFINITION),
        r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Typo}", "End": true}}}"#,
    )
    .unwrap();
    let out = synth(root, false);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("${Typo}"), "{stderr}");
    assert!(!root.join(ccx_infra::paths::TEMPLATE).exists());
}
