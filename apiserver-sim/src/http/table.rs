//! Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), what
//! `kubectl get` asks for: a custom resource gets its CRD's additionalPrinterColumns
//! (Age when it declares none), as apiextensions' `tableconvertor` builds them; the
//! built-in types kubectl shows most get their printer's columns (`printers.rs`), the
//! others Name and Age.

use serde_json::{json, Value};

use super::printers;
use crate::registry::ResourceType;

/// How one column's cell is computed from an object.
type Cell = Box<dyn Fn(&Value) -> Value>;

pub fn table(
    ty: &ResourceType,
    version: &str,
    items: &[Value],
    list_meta: Option<Value>,
    include: &str,
) -> Value {
    let mut columns = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
    })];
    let printer = ty.printer_columns.get(version).cloned().unwrap_or_default();
    let builtin = if ty.custom {
        None
    } else {
        printers::columns(&ty.group, &ty.resource)
    };
    let cell_of: Vec<Cell> = if let Some(cols) = builtin {
        for (name, t, priority, _) in &cols {
            columns.push(json!({"name": name, "type": t, "format": "", "description": "", "priority": priority}));
        }
        cols.into_iter()
            .map(|(_, _, _, f)| Box::new(f) as Cell)
            .collect()
    } else {
        let custom_cols: Vec<(String, String)> = if ty.custom && !printer.is_empty() {
            for c in &printer {
                columns.push(json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}));
            }
            printer
                .iter()
                .map(|c| (c.type_.clone(), c.json_path.clone()))
                .collect()
        } else {
            columns.push(json!({"name": "Age", "type": "string", "format": "", "priority": 0,
                "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}));
            vec![("date".into(), ".metadata.creationTimestamp".into())]
        };
        custom_cols
            .into_iter()
            .map(|(t, path)| {
                Box::new(move |o: &Value| match (t.as_str(), json_path(o, &path)) {
                    (_, None) => Value::Null,
                    ("date", Some(Value::String(s))) => json!(age(&s)),
                    (_, Some(v)) => v,
                }) as Cell
            })
            .collect()
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut cells = vec![json!(crate::meta::name(o))];
            cells.extend(cell_of.iter().map(|f| f(o)));
            let object = match include {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"].clone()}),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta.unwrap_or(json!({})),
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// The JSONPath of printer columns: `.a.b`, `.a[0].b`, `.a[*].b`, and
/// `.a[?(@.k=="v")].b`; several results are joined with commas, as kubectl's
/// JSONPath printer does for a list.
fn json_path(obj: &Value, path: &str) -> Option<Value> {
    let mut current: Vec<&Value> = vec![obj];
    let mut rest = path.trim_start_matches('.');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inner = &r[..close];
            rest = r[close + 1..].trim_start_matches('.');
            let mut next = vec![];
            for v in current {
                let items = v
                    .as_array()
                    .map(|a| a.iter().collect::<Vec<_>>())
                    .unwrap_or_default();
                if inner == "*" {
                    next.extend(items);
                } else if let Ok(i) = inner.parse::<usize>() {
                    next.extend(items.get(i).copied());
                } else if let Some(cond) =
                    inner.strip_prefix("?(@.").and_then(|c| c.strip_suffix(')'))
                {
                    let (k, want) = cond.split_once("==")?;
                    let want = want.trim_matches(|c| c == '"' || c == '\'');
                    next.extend(
                        items
                            .into_iter()
                            .filter(|it| it.get(k).and_then(Value::as_str) == Some(want)),
                    );
                }
            }
            current = next;
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let name = &rest[..end];
        rest = rest[end..].trim_start_matches('.');
        current = current.into_iter().filter_map(|v| v.get(name)).collect();
    }
    match current.len() {
        0 => None,
        1 => Some(current[0].clone()),
        _ => Some(Value::String(
            current
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
        )),
    }
}

/// `duration.HumanDuration` of the time since an RFC 3339 timestamp.
pub fn age(ts: &str) -> String {
    let Ok(t) = humantime::parse_rfc3339_weak(ts) else {
        return "<invalid>".into();
    };
    let secs = std::time::SystemTime::now()
        .duration_since(t)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    match secs {
        s if s < 120 => format!("{s}s"),
        _ if m < 10 => {
            if secs.is_multiple_of(60) {
                format!("{m}m")
            } else {
                format!("{m}m{}s", secs % 60)
            }
        }
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => format!("{d}d{}h", h % 24),
        _ => format!("{d}d"),
    }
}
