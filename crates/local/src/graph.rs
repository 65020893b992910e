//! Renders the state machine as a Mermaid or Graphviz DOT diagram (`ccx graph`),
//! straight from the ASL, so the picture in the README cannot drift from it.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Edge {
    from: String,
    to: String,
    label: Option<String>,
    /// Catch routes are drawn dashed.
    caught: bool,
}

const END: &str = "End";

/// (state name, state type) pairs.
type Nodes = Vec<(String, String)>;

fn edges(definition: &Value) -> Result<(Nodes, Vec<Edge>), String> {
    let states = definition
        .get("States")
        .and_then(Value::as_object)
        .ok_or("definition has no \"States\" object")?;
    let start = definition
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or("definition has no \"StartAt\"")?;
    let mut nodes = vec![];
    let mut out = vec![Edge {
        from: "Start".into(),
        to: start.into(),
        label: None,
        caught: false,
    }];
    for (name, state) in states {
        let ty = state.get("Type").and_then(Value::as_str).unwrap_or("?");
        nodes.push((name.clone(), ty.to_string()));
        let mut push = |to: &str, label: Option<String>, caught: bool| {
            out.push(Edge {
                from: name.clone(),
                to: to.to_string(),
                label,
                caught,
            })
        };
        if let Some(next) = state.get("Next").and_then(Value::as_str) {
            push(next, None, false);
        }
        if state.get("End").and_then(Value::as_bool) == Some(true)
            || matches!(ty, "Succeed" | "Fail")
        {
            push(END, None, false);
        }
        if let Some(choices) = state.get("Choices").and_then(Value::as_array) {
            for (i, c) in choices.iter().enumerate() {
                if let Some(next) = c.get("Next").and_then(Value::as_str) {
                    push(next, Some(format!("choice {}", i + 1)), false);
                }
            }
        }
        if let Some(d) = state.get("Default").and_then(Value::as_str) {
            push(d, Some("default".into()), false);
        }
        if let Some(catches) = state.get("Catch").and_then(Value::as_array) {
            for c in catches {
                let errors = c
                    .get("ErrorEquals")
                    .and_then(Value::as_array)
                    .map(|e| {
                        e.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                if let Some(next) = c.get("Next").and_then(Value::as_str) {
                    push(next, Some(errors), true);
                }
            }
        }
    }
    Ok((nodes, out))
}

pub fn render(definition: &Value, format: GraphFormat) -> Result<String, String> {
    let (nodes, edges) = edges(definition)?;
    let mut s = String::new();
    match format {
        GraphFormat::Mermaid => {
            s.push_str("flowchart TD\n");
            s.push_str("    Start((start))\n    End((end))\n");
            for (name, ty) in &nodes {
                let shape = match ty.as_str() {
                    "Choice" => format!("{name}{{{name}}}"),
                    "Succeed" => format!("{name}([{name}])"),
                    "Fail" => format!("{name}[/{name}/]"),
                    "Pass" => format!("{name}[{name}]"),
                    _ => format!("{name}[[{name}]]"),
                };
                s.push_str(&format!("    {shape}\n"));
            }
            for e in &edges {
                let arrow = if e.caught { "-.->" } else { "-->" };
                match &e.label {
                    Some(l) => s.push_str(&format!("    {} {arrow}|{}| {}\n", e.from, l, e.to)),
                    None => s.push_str(&format!("    {} {arrow} {}\n", e.from, e.to)),
                }
            }
        }
        GraphFormat::Dot => {
            s.push_str("digraph execution {\n    rankdir=TB;\n    Start [shape=circle];\n    End [shape=doublecircle];\n");
            for (name, ty) in &nodes {
                let shape = match ty.as_str() {
                    "Choice" => "diamond",
                    "Succeed" => "oval",
                    "Fail" => "octagon",
                    "Pass" => "note",
                    _ => "box",
                };
                s.push_str(&format!("    \"{name}\" [shape={shape}];\n"));
            }
            for e in &edges {
                let mut attrs = vec![];
                if let Some(l) = &e.label {
                    attrs.push(format!("label=\"{}\"", l.replace('"', "'")));
                }
                if e.caught {
                    attrs.push("style=dashed".into());
                }
                let attrs = if attrs.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", attrs.join(", "))
                };
                s.push_str(&format!("    \"{}\" -> \"{}\"{attrs};\n", e.from, e.to));
            }
            s.push_str("}\n");
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tiny() -> Value {
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "r", "Next": "C",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": true, "Next": "S"}], "Default": "F"},
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "E"}
        }})
    }

    #[test]
    fn mermaid_has_every_edge_and_dashed_catches() {
        let m = render(&tiny(), GraphFormat::Mermaid).unwrap();
        assert!(m.starts_with("flowchart TD"));
        assert!(m.contains("Start --> A"));
        assert!(m.contains("A --> C"));
        assert!(m.contains("A -.->|States.ALL| F"));
        assert!(m.contains("C -->|choice 1| S"));
        assert!(m.contains("C -->|default| F"));
        assert!(m.contains("S --> End"));
        assert!(m.contains("C{C}"));
    }

    #[test]
    fn dot_is_a_digraph_with_the_same_edges() {
        let d = render(&tiny(), GraphFormat::Dot).unwrap();
        assert!(d.starts_with("digraph execution {"));
        assert!(d.contains("\"A\" -> \"F\" [label=\"States.ALL\", style=dashed];"));
        assert!(d.trim_end().ends_with('}'));
    }

    #[test]
    fn the_real_definition_renders() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../statemachine/execution.asl.json"
        ))
        .unwrap();
        let def: Value = serde_json::from_str(&text).unwrap();
        let m = render(&def, GraphFormat::Mermaid).unwrap();
        for state in [
            "StartExecution",
            "InvokeTool",
            "CheckCompensation",
            "RecordOutcome",
            "RecordFailure",
        ] {
            assert!(m.contains(state), "{state} missing from graph");
        }
    }

    #[test]
    fn missing_states_is_a_clear_error() {
        assert!(
            render(&json!({"StartAt": "A"}), GraphFormat::Dot)
                .unwrap_err()
                .contains("States")
        );
    }
}
