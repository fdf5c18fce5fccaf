//! Field selectors: `f=v`, `f==v`, `f!=v`, comma-separated (apimachinery's
//! `fields.ParseSelector`), over the fields a type lets one select: metadata.name,
//! metadata.namespace, and the type's own (a pod's status.phase, spec.nodeName, ...).
//! An unknown field is a 400, worded as the type's field label conversion words it.

use serde_json::Value;

use crate::registry::ResourceType;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Parse and check every field against `ty`.
    pub fn parse(s: &str, ty: &ResourceType) -> Result<Self, String> {
        let mut terms = vec![];
        for part in split_unescaped(s, ',') {
            if part.is_empty() {
                continue;
            }
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let field = field.trim().to_string();
            check_field(&field, ty)?;
            terms.push((field, eq, unescape(value)));
        }
        Ok(FieldSelector { terms })
    }

    pub fn matches(&self, obj: &Value, ty: &ResourceType) -> bool {
        self.terms
            .iter()
            .all(|(f, eq, v)| (field_value(obj, f, ty) == *v) == *eq)
    }
}

fn check_field(field: &str, ty: &ResourceType) -> Result<(), String> {
    if field == "metadata.name"
        || field == "metadata.namespace"
        || ty.selectable_fields.iter().any(|f| f == field)
    {
        return Ok(());
    }
    if ty.custom || !ty.selectable_fields.is_empty() {
        Err(format!("field label not supported: {field}"))
    } else {
        Err(format!("{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""))
    }
}

/// The string a field selector compares: absent fields read as "".
fn field_value(obj: &Value, field: &str, ty: &ResourceType) -> String {
    if field == "metadata.namespace" && !ty.namespaced {
        return String::new();
    }
    let pointer = format!("/{}", field.replace('.', "/"));
    match obj.pointer(&pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.get("ip").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push('\\');
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}
