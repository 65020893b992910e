//! Creating the stack's data resources on an emulator (moto, LocalStack) from
//! the same definitions the CloudFormation template uses: the tables from
//! `ccx_infra::tables()` (their `CreateTable` input and TTL attribute), the
//! artifacts bucket and the event bus. Used by the adapter tests and by the
//! emulator workflow tests; on AWS the template creates these.

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use ccx_core::error::Result;
use ccx_core::{ErrorClass, ExecutionError};
use ccx_infra::TableDef;
use serde_json::Value;

use crate::config::TableNames;
use crate::deps::AwsClients;
use crate::sdk_error::service_error;

fn invalid(what: impl Into<String>) -> ExecutionError {
    ExecutionError::permanent(ErrorClass::Unknown, "TABLE_DEFINITION_INVALID", what)
}

fn str_field<'a>(v: &'a Value, field: &str) -> Result<&'a str> {
    v[field]
        .as_str()
        .ok_or_else(|| invalid(format!("{field} missing in {v}")))
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>> {
    v.as_array()
        .ok_or_else(|| invalid(format!("KeySchema is not a list: {v}")))?
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(str_field(k, "AttributeName")?)
                .key_type(KeyType::from(str_field(k, "KeyType")?))
                .build()
                .map_err(|e| invalid(e.to_string()))
        })
        .collect()
}

/// Creates the table `name` from `def`'s `CreateTable` input, waits until it is
/// ACTIVE (emulators are immediate; AWS takes seconds), and enables its TTL.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    def: &TableDef,
    name: &str,
) -> Result<()> {
    let input = def.create_table_input(name);
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(str_field(&input, "BillingMode")?))
        .set_key_schema(Some(key_schema(&input["KeySchema"])?));
    for a in input["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(str_field(a, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(str_field(a, "AttributeType")?))
                .build()
                .map_err(|e| invalid(e.to_string()))?,
        );
    }
    for g in input["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let projection =
            ProjectionType::from(g["Projection"]["ProjectionType"].as_str().unwrap_or("ALL"));
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(str_field(g, "IndexName")?)
                .set_key_schema(Some(key_schema(&g["KeySchema"])?))
                .projection(Projection::builder().projection_type(projection).build())
                .build()
                .map_err(|e| invalid(e.to_string()))?,
        );
    }
    req.send()
        .await
        .map_err(|e| service_error("DynamoDB CreateTable", name, "TABLE_CREATE_FAILED", &e))?;
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(std::time::Duration::from_secs(120))
        .await
        .map_err(|e| {
            ExecutionError::transient(
                ErrorClass::Timeout,
                "TABLE_NOT_ACTIVE",
                format!("table {name} did not become active: {e}"),
            )
        })?;
    if let Some(attr) = def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attr)
                    .build()
                    .map_err(|e| invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| {
                service_error("DynamoDB UpdateTimeToLive", name, "TABLE_TTL_FAILED", &e)
            })?;
    }
    Ok(())
}

/// Creates every table of `ccx_infra::tables()` under the names in `tables`.
pub async fn create_tables(client: &aws_sdk_dynamodb::Client, tables: &TableNames) -> Result<()> {
    for def in ccx_infra::tables() {
        create_table(client, &def, tables.get(def.id)?).await?;
    }
    Ok(())
}

/// Every table, the bucket and the bus, named after `prefix` as the stack
/// would name them. Returns the names (tables, bucket, bus).
pub async fn create_stack_resources(
    clients: &AwsClients,
    prefix: &str,
) -> Result<(TableNames, String, String)> {
    let tables = TableNames::with_prefix(prefix);
    create_tables(&clients.dynamodb, &tables).await?;
    let bucket = format!("{prefix}-artifacts");
    // Outside us-east-1, AWS wants the region restated as the location constraint.
    let location = clients
        .s3
        .config()
        .region()
        .map(|r| r.as_ref().to_string())
        .filter(|r| r != "us-east-1")
        .map(|r| {
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(r.as_str()))
                .build()
        });
    clients
        .s3
        .create_bucket()
        .bucket(&bucket)
        .set_create_bucket_configuration(location)
        .send()
        .await
        .map_err(|e| service_error("S3 CreateBucket", &bucket, "BUCKET_CREATE_FAILED", &e))?;
    let bus = format!("{prefix}-bus");
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .map_err(|e| service_error("EventBridge CreateEventBus", &bus, "BUS_CREATE_FAILED", &e))?;
    Ok((tables, bucket, bus))
}

/// Deletes what [`create_stack_resources`] created (best effort, for test
/// clean-up on LocalStack or a real account): the rules and targets on the bus,
/// the bus, every object and the bucket, and the tables. Returns the failures.
pub async fn delete_stack_resources(
    clients: &AwsClients,
    tables: &TableNames,
    bucket: &str,
    bus: &str,
) -> Vec<String> {
    let mut failures = Vec::new();
    let eb = &clients.eventbridge;
    match eb.list_rules().event_bus_name(bus).send().await {
        Ok(rules) => {
            for rule in rules.rules() {
                let Some(name) = rule.name() else { continue };
                if let Ok(targets) = eb
                    .list_targets_by_rule()
                    .rule(name)
                    .event_bus_name(bus)
                    .send()
                    .await
                {
                    let ids: Vec<String> = targets
                        .targets()
                        .iter()
                        .map(|t| t.id().to_string())
                        .collect();
                    if !ids.is_empty()
                        && let Err(e) = eb
                            .remove_targets()
                            .rule(name)
                            .event_bus_name(bus)
                            .set_ids(Some(ids))
                            .send()
                            .await
                    {
                        failures.push(format!("RemoveTargets {name}: {e}"));
                    }
                }
                if let Err(e) = eb.delete_rule().name(name).event_bus_name(bus).send().await {
                    failures.push(format!("DeleteRule {name}: {e}"));
                }
            }
        }
        Err(e) => failures.push(format!("ListRules {bus}: {e}")),
    }
    if let Err(e) = eb.delete_event_bus().name(bus).send().await {
        failures.push(format!("DeleteEventBus {bus}: {e}"));
    }

    let s3 = &clients.s3;
    let mut token: Option<String> = None;
    loop {
        match s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.take())
            .send()
            .await
        {
            Ok(page) => {
                for object in page.contents() {
                    if let Some(key) = object.key()
                        && let Err(e) = s3.delete_object().bucket(bucket).key(key).send().await
                    {
                        failures.push(format!("DeleteObject {key}: {e}"));
                    }
                }
                match page.next_continuation_token() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            Err(e) => {
                failures.push(format!("ListObjectsV2 {bucket}: {e}"));
                break;
            }
        }
    }
    if let Err(e) = s3.delete_bucket().bucket(bucket).send().await {
        failures.push(format!("DeleteBucket {bucket}: {e}"));
    }

    for (_, name) in tables.iter() {
        if let Err(e) = clients
            .dynamodb
            .delete_table()
            .table_name(name)
            .send()
            .await
        {
            failures.push(format!("DeleteTable {name}: {e}"));
        }
    }
    failures
}
