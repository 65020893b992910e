//! The DynamoDB tables, as data. One definition serves three uses: the
//! CloudFormation resources, the IAM policies (table and index ARNs), and the AWS
//! adapter's tests, which create the same tables on the moto emulator from
//! [`tables()`] / [`TableDef::create_table_input`].

use serde::Serialize;
use serde_json::{Value, json};

/// Which table. The handlers' permissions and environment refer to tables by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableId {
    Intents,
    Attempts,
    Outcomes,
    Registry,
    Dedupe,
    Ledger,
    Tenants,
}

impl TableId {
    pub const ALL: [TableId; 7] = [
        TableId::Intents,
        TableId::Attempts,
        TableId::Outcomes,
        TableId::Registry,
        TableId::Dedupe,
        TableId::Ledger,
        TableId::Tenants,
    ];

    /// Short name: the suffix of the physical table name (`<prefix>-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            TableId::Intents => "intents",
            TableId::Attempts => "attempts",
            TableId::Outcomes => "outcomes",
            TableId::Registry => "registry",
            TableId::Dedupe => "dedupe",
            TableId::Ledger => "ledger",
            TableId::Tenants => "tenants",
        }
    }

    /// The environment variable a function reads the physical table name from.
    pub fn env_var(self) -> &'static str {
        match self {
            TableId::Intents => "CCX_TABLE_INTENTS",
            TableId::Attempts => "CCX_TABLE_ATTEMPTS",
            TableId::Outcomes => "CCX_TABLE_OUTCOMES",
            TableId::Registry => "CCX_TABLE_REGISTRY",
            TableId::Dedupe => "CCX_TABLE_DEDUPE",
            TableId::Ledger => "CCX_TABLE_LEDGER",
            TableId::Tenants => "CCX_TABLE_TENANTS",
        }
    }

    /// CloudFormation logical id (`IntentsTable`, ...).
    pub fn logical_id(self) -> String {
        let name = self.name();
        format!("{}{}Table", name[..1].to_uppercase(), &name[1..])
    }

    pub fn def(self) -> TableDef {
        tables()
            .into_iter()
            .find(|t| t.id == self)
            .expect("every TableId has a definition")
    }
}

/// A global secondary index (both keys strings, all attributes projected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GsiDef {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
}

/// One table: keys are strings, billing is on demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableDef {
    pub id: TableId,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
    pub gsis: Vec<GsiDef>,
    /// The numeric epoch-seconds attribute DynamoDB expires items by, if any.
    pub ttl_attribute: Option<&'static str>,
}

/// Every table of the stack, in a stable order.
pub fn tables() -> Vec<TableDef> {
    let plain = |id| TableDef {
        id,
        partition_key: "pk",
        sort_key: Some("sk"),
        gsis: vec![],
        ttl_attribute: None,
    };
    vec![
        plain(TableId::Intents),
        TableDef {
            // The execution lock expires so an abandoned RUNNING attempt can be retaken.
            ttl_attribute: Some("lock_expires_at"),
            ..plain(TableId::Attempts)
        },
        plain(TableId::Outcomes),
        plain(TableId::Registry),
        TableDef {
            ttl_attribute: Some("expires_at"),
            ..plain(TableId::Dedupe)
        },
        TableDef {
            // Audit look-up: every ledger entry of one intent, in time order.
            gsis: vec![GsiDef {
                name: "by-intent",
                partition_key: "action_intent_id",
                sort_key: Some("timestamp"),
            }],
            ..plain(TableId::Ledger)
        },
        plain(TableId::Tenants),
    ]
}

impl TableDef {
    /// Every attribute that is a key of the table or of an index (all strings).
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.partition_key];
        names.extend(self.sort_key);
        for g in &self.gsis {
            names.push(g.partition_key);
            names.extend(g.sort_key);
        }
        let mut seen = Vec::new();
        for n in names {
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        seen
    }

    fn key_schema(pk: &str, sk: Option<&str>) -> Value {
        let mut schema = vec![json!({"AttributeName": pk, "KeyType": "HASH"})];
        if let Some(sk) = sk {
            schema.push(json!({"AttributeName": sk, "KeyType": "RANGE"}));
        }
        Value::Array(schema)
    }

    fn attribute_definitions(&self) -> Value {
        self.key_attributes()
            .into_iter()
            .map(|a| json!({"AttributeName": a, "AttributeType": "S"}))
            .collect()
    }

    fn gsi_specs(&self) -> Value {
        self.gsis
            .iter()
            .map(|g| {
                json!({
                    "IndexName": g.name,
                    "KeySchema": Self::key_schema(g.partition_key, g.sort_key),
                    "Projection": {"ProjectionType": "ALL"},
                })
            })
            .collect()
    }

    /// The DynamoDB `CreateTable` request body (API shape) for a table named
    /// `table_name`: what the AWS adapter's tests send to moto. TTL is a separate
    /// API call there (`UpdateTimeToLive` with [`TableDef::ttl_attribute`]).
    pub fn create_table_input(&self, table_name: &str) -> Value {
        let mut input = json!({
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": self.attribute_definitions(),
            "KeySchema": Self::key_schema(self.partition_key, self.sort_key),
        });
        if !self.gsis.is_empty() {
            input["GlobalSecondaryIndexes"] = self.gsi_specs();
        }
        input
    }

    /// Properties of the `AWS::DynamoDB::Table` resource.
    pub(crate) fn cfn_properties(&self) -> Value {
        let mut props = json!({
            "TableName": crate::cfn::sub(&format!("${{ResourcePrefix}}-{}", self.id.name())),
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": self.attribute_definitions(),
            "KeySchema": Self::key_schema(self.partition_key, self.sort_key),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
            "SSESpecification": {"SSEEnabled": true},
            "Tags": [{"Key": "ccx:table", "Value": self.id.name()}],
        });
        if !self.gsis.is_empty() {
            props["GlobalSecondaryIndexes"] = self.gsi_specs();
        }
        if let Some(attr) = self.ttl_attribute {
            props["TimeToLiveSpecification"] = json!({"AttributeName": attr, "Enabled": true});
        }
        props
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_string_pk_and_sk() {
        for t in tables() {
            assert_eq!(t.partition_key, "pk");
            assert_eq!(t.sort_key, Some("sk"));
        }
        assert_eq!(tables().len(), TableId::ALL.len());
    }

    #[test]
    fn ledger_create_input_declares_index_attributes_once() {
        let input = TableId::Ledger.def().create_table_input("t-ledger");
        let attrs: Vec<&str> = input["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["AttributeName"].as_str().unwrap())
            .collect();
        assert_eq!(attrs, ["pk", "sk", "action_intent_id", "timestamp"]);
        assert_eq!(input["GlobalSecondaryIndexes"][0]["IndexName"], "by-intent");
        assert_eq!(
            input["GlobalSecondaryIndexes"][0]["KeySchema"][1],
            json!({"AttributeName": "timestamp", "KeyType": "RANGE"})
        );
        assert_eq!(input["TableName"], "t-ledger");
    }

    #[test]
    fn ttl_attributes_are_the_contract_fields() {
        assert_eq!(
            TableId::Attempts.def().ttl_attribute,
            Some("lock_expires_at")
        );
        assert_eq!(TableId::Dedupe.def().ttl_attribute, Some("expires_at"));
        assert_eq!(TableId::Intents.def().ttl_attribute, None);
        assert_eq!(TableId::Dedupe.logical_id(), "DedupeTable");
    }
}
