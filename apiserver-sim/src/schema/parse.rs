//! An `openAPIV3Schema` JSON value into a [`Structural`] tree.

use serde_json::Value;

use super::{Additional, Structural};

pub fn parse(v: &Value) -> Result<Structural, String> {
    let Some(m) = v.as_object() else {
        return Err("schema must be an object".into());
    };
    let mut s = Structural {
        type_: m.get("type").and_then(Value::as_str).map(String::from),
        preserve_unknown: flag(v, "x-kubernetes-preserve-unknown-fields"),
        int_or_string: flag(v, "x-kubernetes-int-or-string"),
        embedded_resource: flag(v, "x-kubernetes-embedded-resource"),
        nullable: flag(v, "nullable"),
        required: strings(v.get("required")),
        enum_: m.get("enum").and_then(Value::as_array).cloned(),
        default: m.get("default").cloned(),
        format: m.get("format").and_then(Value::as_str).map(String::from),
        max_length: m.get("maxLength").and_then(Value::as_u64),
        min_length: m.get("minLength").and_then(Value::as_u64),
        maximum: m.get("maximum").and_then(Value::as_f64),
        minimum: m.get("minimum").and_then(Value::as_f64),
        exclusive_maximum: flag(v, "exclusiveMaximum"),
        exclusive_minimum: flag(v, "exclusiveMinimum"),
        multiple_of: m.get("multipleOf").and_then(Value::as_f64),
        max_items: m.get("maxItems").and_then(Value::as_u64),
        min_items: m.get("minItems").and_then(Value::as_u64),
        max_properties: m.get("maxProperties").and_then(Value::as_u64),
        min_properties: m.get("minProperties").and_then(Value::as_u64),
        list_type: m
            .get("x-kubernetes-list-type")
            .and_then(Value::as_str)
            .map(String::from),
        list_map_keys: strings(v.get("x-kubernetes-list-map-keys")),
        ..Structural::default()
    };
    if let Some(p) = m.get("pattern").and_then(Value::as_str) {
        let re = regex::Regex::new(p).map_err(|e| format!("invalid pattern {p:?}: {e}"))?;
        s.pattern = Some(re);
        s.pattern_src = Some(p.to_string());
    }
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        for (k, pv) in props {
            s.properties.insert(k.clone(), parse(pv)?);
        }
    }
    s.additional = match m.get("additionalProperties") {
        Some(Value::Bool(true)) => Additional::Any,
        Some(a @ Value::Object(_)) => Additional::Schema(Box::new(parse(a)?)),
        _ => Additional::None,
    };
    if let Some(items) = m.get("items") {
        s.items = Some(Box::new(parse(items)?));
    }
    for (key, dst) in [
        ("anyOf", &mut s.any_of),
        ("allOf", &mut s.all_of),
        ("oneOf", &mut s.one_of),
    ] {
        if let Some(list) = m.get(key).and_then(Value::as_array) {
            for x in list {
                dst.push(parse(x)?);
            }
        }
    }
    if let Some(n) = m.get("not") {
        s.not = Some(Box::new(parse(n)?));
    }
    Ok(s)
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
