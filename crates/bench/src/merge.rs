//! Medians across repeated runs: every number of the results is replaced by
//! its median over the runs (objects merged key by key, arrays index by index),
//! so one noisy round on a shared machine does not make the report. Counts are
//! identical across runs and pass through unchanged.

use serde_json::{Map, Value};

pub fn median_merge(runs: &[Value]) -> Value {
    let Some(first) = runs.first() else {
        return Value::Null;
    };
    match first {
        Value::Number(_) => {
            let mut nums: Vec<f64> = runs.iter().filter_map(Value::as_f64).collect();
            if nums.len() != runs.len() {
                return first.clone();
            }
            nums.sort_by(|a, b| a.total_cmp(b));
            let mid = nums.len() / 2;
            let m = if nums.len() % 2 == 1 {
                nums[mid]
            } else {
                (nums[mid - 1] + nums[mid]) / 2.0
            };
            if first.is_u64() && m.fract() == 0.0 {
                Value::from(m as u64)
            } else {
                Value::from(m)
            }
        }
        Value::Object(o) => {
            let mut out = Map::new();
            for key in o.keys() {
                let values: Vec<Value> = runs
                    .iter()
                    .map(|r| r.get(key).cloned().unwrap_or(Value::Null))
                    .collect();
                out.insert(key.clone(), median_merge(&values));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(
            (0..a.len())
                .map(|i| {
                    let values: Vec<Value> = runs
                        .iter()
                        .map(|r| r.get(i).cloned().unwrap_or(Value::Null))
                        .collect();
                    median_merge(&values)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_become_medians_and_the_rest_is_kept() {
        let runs = [
            json!({"n": 3, "x": 1.0, "name": "a", "list": [{"v": 10}, {"v": 1.5}]}),
            json!({"n": 3, "x": 9.0, "name": "b", "list": [{"v": 30}, {"v": 2.5}]}),
            json!({"n": 3, "x": 2.0, "name": "c", "list": [{"v": 20}, {"v": 0.5}]}),
        ];
        assert_eq!(
            median_merge(&runs),
            json!({"n": 3, "x": 2.0, "name": "a", "list": [{"v": 20}, {"v": 1.5}]})
        );
        assert_eq!(median_merge(&[json!(1), json!(2)]), json!(1.5));
    }
}
