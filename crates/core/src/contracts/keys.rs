//! Key patterns shared by every store implementation (see DESIGN.md, Contracts).

pub fn tenant_account_pk(tenant_id: &str, account_id: &str) -> String {
    format!("TENANT#{tenant_id}#ACCOUNT#{account_id}")
}
pub fn intent_sk(intent_id: &str) -> String {
    format!("ACTION_INTENT#{intent_id}")
}
pub fn attempt_sk(intent_id: &str) -> String {
    format!("EXECUTION#{intent_id}")
}
pub fn outcome_sk(intent_id: &str) -> String {
    format!("OUTCOME#{intent_id}")
}
pub fn registry_pk(action_type: &str) -> String {
    format!("ACTION_TYPE#{action_type}")
}
pub fn registry_sk(version: u32) -> String {
    // Zero-padded so that lexical order is version order (latest = last).
    format!("REGISTRY_VERSION#{version:06}")
}
pub fn dedupe_pk(idempotency_key: &str) -> String {
    format!("IDEMPOTENCY_KEY#{idempotency_key}")
}
pub fn ledger_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}
/// Ledger sort key: grouped by execution trace so that "ledger by trace" is a
/// `begins_with` query, then ordered by the entry's sequence within the trace.
pub fn ledger_sk(trace_id: &str, seq: u32, entry_id: &str) -> String {
    format!("LEDGER#{trace_id}#{seq:04}#{entry_id}")
}
pub fn ledger_trace_prefix(trace_id: &str) -> String {
    format!("LEDGER#{trace_id}#")
}
pub fn tenant_config_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}
pub const TENANT_CONFIG_SK: &str = "CONFIG";
pub const GLOBAL_CONTROLS_PK: &str = "GLOBAL";
pub const GLOBAL_CONTROLS_SK: &str = "CONTROLS";
