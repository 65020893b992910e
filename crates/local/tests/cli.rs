//! The `ccx` binary as a user meets it: clear errors for missing files, bad JSON,
//! unknown intents and malformed events; seed, run, status and trace round trips.

use std::path::Path;
use std::process::{Command, Output};

use ccx_core::fixtures;
use serde_json::json;

fn ccx(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ccx"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("CCX_GATEWAY_URL")
        .env("RUST_LOG", "error")
        .output()
        .expect("ccx runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn seed_file(dir: &Path, intent_id: &str, expires_in_hours: i64) -> std::path::PathBuf {
    let now = chrono::Utc::now();
    let mut intent = fixtures::intent("t1", "a1", intent_id);
    intent.approval_timestamp = now;
    intent.created_at = now;
    intent.expires_at = now + chrono::Duration::hours(expires_in_hours);
    let seed = json!({
        "tenants": [fixtures::tenant_enabled("t1")],
        "registry": [fixtures::crm_task_registry_entry()],
        "intents": [intent],
    });
    let path = dir.join(format!("seed-{intent_id}.json"));
    std::fs::write(&path, seed.to_string()).unwrap();
    path
}

#[test]
fn graph_prints_mermaid_and_dot() {
    let dir = tempfile::tempdir().unwrap();
    let m = ccx(dir.path(), &["graph"]);
    assert!(m.status.success(), "{}", stderr(&m));
    assert!(stdout(&m).starts_with("flowchart TD"));
    assert!(stdout(&m).contains("InvokeTool"));
    let d = ccx(dir.path(), &["graph", "--format", "dot"]);
    assert!(stdout(&d).starts_with("digraph execution {"));
}

#[test]
fn missing_and_invalid_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = ccx(dir.path(), &["seed", "--file", "/nonexistent/seed.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read seed file /nonexistent/seed.json"),
        "{}",
        stderr(&out)
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"intents\": [").unwrap();
    let out = ccx(dir.path(), &["seed", "--file", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a valid seed file"),
        "{}",
        stderr(&out)
    );

    let unknown_field = dir.path().join("unknown.json");
    std::fs::write(&unknown_field, r#"{"intent": []}"#).unwrap();
    let out = ccx(
        dir.path(),
        &["seed", "--file", unknown_field.to_str().unwrap()],
    );
    assert!(
        stderr(&out).contains("unknown field `intent`"),
        "{}",
        stderr(&out)
    );

    let out = ccx(dir.path(), &["run", "--event", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not valid JSON"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn status_of_unknown_intent_and_empty_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = ccx(dir.path(), &["status", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no local data in"),
        "{}",
        stderr(&out)
    );

    let seed = seed_file(dir.path(), "ai-known", 1);
    assert!(
        ccx(dir.path(), &["seed", "--file", seed.to_str().unwrap()])
            .status
            .success()
    );
    let out = ccx(dir.path(), &["status", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown intent nope"),
        "{}",
        stderr(&out)
    );
    let out = ccx(dir.path(), &["status", "ai-known"]);
    assert!(stdout(&out).contains("not started"), "{}", stdout(&out));
}

#[test]
fn malformed_events_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path(), "ai-1", 1);
    assert!(
        ccx(dir.path(), &["seed", "--file", seed.to_str().unwrap()])
            .status
            .success()
    );
    let mut event = fixtures::action_approved_event("t1", "a1", "ai-1");
    event["detail"]["data"]
        .as_object_mut()
        .unwrap()
        .remove("tenant_id");
    let path = dir.path().join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    let out = ccx(dir.path(), &["run", "--event", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "malformed ACTION_APPROVED event: missing or non-string detail.data.tenant_id"
        ),
        "{}",
        stderr(&out)
    );
    let wrong_type = json!({"source": "cc-native", "detail-type": "ACTION_REJECTED", "detail": {}});
    std::fs::write(&path, wrong_type.to_string()).unwrap();
    let out = ccx(dir.path(), &["run", "--event", path.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("does not match the rule"),
        "{}",
        stderr(&out)
    );
    // Nothing was started: the intent has no attempt.
    let out = ccx(dir.path(), &["status", "ai-1"]);
    assert!(stdout(&out).contains("not started"), "{}", stdout(&out));
}

#[test]
fn run_status_trace_and_replay_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path(), "ai-run", 1);
    assert!(
        ccx(dir.path(), &["seed", "--file", seed.to_str().unwrap()])
            .status
            .success()
    );
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        fixtures::action_approved_event("t1", "a1", "ai-run").to_string(),
    )
    .unwrap();
    let out = ccx(dir.path(), &["run", "--event", event.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("status            Succeeded"),
        "{}",
        stdout(&out)
    );

    let status = stdout(&ccx(dir.path(), &["status", "ai-run"]));
    assert!(
        status.contains("attempt 1 of ai-run: SUCCEEDED"),
        "{status}"
    );
    let trace = status
        .lines()
        .find_map(|l| l.split(" trace ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("status names the trace")
        .to_string();
    let object_line = |status: &str| {
        status
            .lines()
            .find(|l| l.contains("external object"))
            .map(str::to_string)
            .expect("the outcome names the created object")
    };
    let first_object = object_line(&status);
    let out = ccx(dir.path(), &["trace", &trace]);
    let timeline = stdout(&out);
    assert!(
        timeline.contains("EXECUTION_STARTED") && timeline.contains("ACTION_EXECUTED"),
        "{timeline}"
    );

    // The same event again is a duplicate: exit 0, nothing new.
    let out = ccx(dir.path(), &["run", "--event", event.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("DuplicateStartIgnored"),
        "{}",
        stdout(&out)
    );

    // A replay needs both audit fields...
    let out = ccx(
        dir.path(),
        &["replay", "ai-run", "--reason", " ", "--requested-by", "ops"],
    );
    assert_eq!(out.status.code(), Some(1));
    // ...and with them runs attempt 2, which reuses the dedupe record: the
    // outcome names the very object the first attempt created (a second write
    // would have created a new one).
    let out = ccx(
        dir.path(),
        &[
            "replay",
            "ai-run",
            "--reason",
            "CRM lost it",
            "--requested-by",
            "ops:bob",
        ],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let status = stdout(&ccx(dir.path(), &["status", "ai-run"]));
    assert!(
        status.contains("attempt 2 of ai-run: SUCCEEDED"),
        "{status}"
    );
    assert!(
        status.contains("(replay by ops:bob: CRM lost it)"),
        "{status}"
    );
    assert_eq!(object_line(&status), first_object);
}

#[test]
fn readme_embeds_the_current_graph() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let begin = readme
        .find("<!-- ccx graph: begin -->\n```mermaid\n")
        .expect("README has the graph block");
    let body = &readme[begin + "<!-- ccx graph: begin -->\n```mermaid\n".len()..];
    let end = body
        .find("```\n<!-- ccx graph: end -->")
        .expect("graph block is closed");
    let dir = tempfile::tempdir().unwrap();
    let current = stdout(&ccx(dir.path(), &["graph"]));
    assert_eq!(
        &body[..end],
        current,
        "README.md's state graph is stale: paste the output of `ccx graph` between the markers"
    );
}
