//! Records <-> DynamoDB items.
//!
//! A record is stored whole: its serde JSON fields become top-level attributes
//! (so conditions can name `status`, `trace_id`, `attempt_count` and the TTL
//! attribute `lock_expires_at` directly), plus the `pk`/`sk` key attributes from
//! `ccx_core::contracts::keys`. Reading strips the keys again, because several
//! records reject unknown fields.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use ccx_core::ExecutionError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

pub type Item = HashMap<String, AttributeValue>;

/// Names of the key attributes of every table.
pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// JSON value -> attribute value. Numbers keep their exact decimal text.
pub fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

/// Attribute value -> JSON value. Sets and binaries are never written by this
/// crate; if someone else wrote them they come back as arrays / base64-less
/// byte arrays so that the record's own deserialiser can reject them clearly.
pub fn from_attr(attr: &AttributeValue) -> Result<Value, String> {
    Ok(match attr {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::L(items) => {
            Value::Array(items.iter().map(from_attr).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), from_attr(v)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
        AttributeValue::Ss(items) => {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(items) => Value::Array(
            items
                .iter()
                .map(|n| parse_number(n).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::B(b) => Value::Array(
            b.as_ref()
                .iter()
                .map(|x| Value::Number((*x).into()))
                .collect(),
        ),
        other => return Err(format!("unsupported attribute value {other:?}")),
    })
}

fn parse_number(text: &str) -> Result<Number, String> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(u.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("number attribute {text:?} is not representable"))
}

/// The item for `record` under `pk`/`sk`.
pub fn to_item<T: Serialize>(record: &T, pk: &str, sk: &str) -> Result<Item, ExecutionError> {
    let value = serde_json::to_value(record).map_err(|e| {
        ExecutionError::permanent(
            ccx_core::ErrorClass::Unknown,
            "RECORD_NOT_SERIALISABLE",
            format!("cannot serialise record for {pk}/{sk}: {e}"),
        )
    })?;
    let Value::Object(fields) = value else {
        return Err(ExecutionError::permanent(
            ccx_core::ErrorClass::Unknown,
            "RECORD_NOT_AN_OBJECT",
            format!("record for {pk}/{sk} does not serialise to a JSON object"),
        ));
    };
    let mut item: Item = fields
        .iter()
        .map(|(k, v)| (k.clone(), to_attr(v)))
        .collect();
    item.insert(PK.into(), AttributeValue::S(pk.into()));
    item.insert(SK.into(), AttributeValue::S(sk.into()));
    Ok(item)
}

/// The record stored in `item` (key attributes ignored). `table` names the
/// source in the error of a record that no longer matches its contract.
pub fn from_item<T: DeserializeOwned>(item: &Item, table: &str) -> Result<T, ExecutionError> {
    let mut fields = Map::new();
    for (name, attr) in item {
        if name == PK || name == SK {
            continue;
        }
        let value = from_attr(attr).map_err(|e| corrupt(table, item, &e))?;
        fields.insert(name.clone(), value);
    }
    serde_json::from_value(Value::Object(fields)).map_err(|e| corrupt(table, item, &e.to_string()))
}

fn corrupt(table: &str, item: &Item, why: &str) -> ExecutionError {
    let key = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => "?".into(),
    };
    ExecutionError::permanent(
        ccx_core::ErrorClass::Unknown,
        "STORED_RECORD_INVALID",
        format!(
            "item {}/{} in table {table} does not match its record type: {why}",
            key(PK),
            key(SK)
        ),
    )
}

/// A string attribute value.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The key of an item.
pub fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_attribute_values() {
        let value = json!({
            "s": "x", "empty": "", "i": -3, "u": 18446744073709551615u64, "f": 1.5,
            "b": true, "null": null, "list": [1, "a", {"k": []}], "map": {"nested": {"z": 0}}
        });
        let back = from_attr(&to_attr(&value)).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn item_carries_keys_and_reading_strips_them() {
        #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
        #[serde(deny_unknown_fields)]
        struct R {
            a: u32,
            b: Option<String>,
        }
        let item = to_item(&R { a: 7, b: None }, "P", "S").unwrap();
        assert_eq!(item.get("pk"), Some(&s("P")));
        assert_eq!(item.get("sk"), Some(&s("S")));
        assert_eq!(item.get("a"), Some(&n(7)));
        let back: R = from_item(&item, "t").unwrap();
        assert_eq!(back, R { a: 7, b: None });
    }

    #[test]
    fn mismatching_item_is_a_clear_error() {
        let item = key("P", "S");
        let err = from_item::<ccx_core::contracts::TenantConfig>(&item, "tenants").unwrap_err();
        assert_eq!(err.code, "STORED_RECORD_INVALID");
        assert!(
            err.message.contains("P/S in table tenants"),
            "{}",
            err.message
        );
    }
}
