//! The checks of `schema/validation.rs` that are not kube-openapi's type and value
//! rules: the string formats the apiextensions validator knows, and
//! `x-kubernetes-list-type` uniqueness (`apiserver/schema/listtype/validation.go`),
//! whose duplicates read as Go prints them.

use serde_json::{Map, Value};

use super::Structural;
use crate::error::FieldError;

/// The formats the apiextensions validator checks (a subset of go-openapi's registry).
pub fn format_ok(format: &str, s: &str) -> bool {
    match format {
        "date-time" | "datetime" => {
            humantime::parse_rfc3339_weak(s).is_ok() || humantime::parse_rfc3339(s).is_ok()
        }
        "date" => {
            let p: Vec<&str> = s.split('-').collect();
            p.len() == 3
                && p.iter()
                    .all(|x| x.chars().all(|c| c.is_ascii_digit()) && !x.is_empty())
        }
        "uuid" => {
            let p: Vec<&str> = s.split('-').collect();
            p.len() == 5
                && p.iter().map(|x| x.len()).eq([8, 4, 4, 4, 12])
                && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        }
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
        }
        _ => true,
    }
}

/// `x-kubernetes-list-type: map` (keys unique) and `set` (items unique).
pub fn list_type(s: &Structural, items: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    match s.list_type.as_deref() {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errs.push(
                        FieldError::invalid(&format!("{path}[{i}]"), item, "").with_cause(
                            "FieldValueDuplicate",
                            format!("Duplicate value: {}", crate::error::go_value(item)),
                        ),
                    );
                }
            }
        }
        Some("map") if !s.list_map_keys.is_empty() => {
            let key_of = |item: &Value| -> Vec<Value> {
                s.list_map_keys
                    .iter()
                    .map(|k| item.get(k).cloned().unwrap_or(Value::Null))
                    .collect()
            };
            for (i, item) in items.iter().enumerate() {
                let k = key_of(item);
                if items[..i].iter().any(|o| key_of(o) == k) {
                    let shown: Map<String, Value> =
                        s.list_map_keys.iter().cloned().zip(k).collect();
                    errs.push(
                        FieldError::invalid(&format!("{path}[{i}]"), item, "").with_cause(
                            "FieldValueDuplicate",
                            format!("Duplicate value: {}", go_interface_map(&shown)),
                        ),
                    );
                }
            }
        }
        _ => {}
    }
}

/// Go's `%#v` of a `map[string]interface {}` of scalars (keys sorted, as fmt prints maps).
fn go_interface_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .iter()
        .map(|k| format!("{k:?}:{}", go_scalar(&m[k.as_str()])))
        .collect();
    format!("map[string]interface {{}}{{{}}}", parts.join(", "))
}

fn go_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "interface {}(nil)".to_string(),
        other => other.to_string(),
    }
}
