//! Validation of a custom resource against its structural schema, worded as the
//! apiextensions server reports kube-openapi's errors (`apiserver/validation/
//! validation.go`): `spec.replicas: Invalid value: "string": spec.replicas in body must
//! be of type integer: "string"`, `spec.x: Required value`, `spec.x: Unsupported value:
//! "c": supported values: "a", "b"`, plus list-type map/set uniqueness
//! (`schema/listtype`).

use serde_json::{Map, Value};

use super::listtype::{format_ok, list_type};
use super::{Additional, Structural};
use crate::error::FieldError;

pub fn validate_root(s: &Structural, obj: &Value) -> Vec<FieldError> {
    let mut errs = vec![];
    let Some(map) = obj.as_object() else {
        return errs;
    };
    for (k, v) in map {
        if k == "apiVersion" || k == "kind" || k == "metadata" {
            continue;
        }
        if let Some(ps) = s.properties.get(k) {
            validate(ps, v, k, &mut errs);
        }
    }
    required(s, map, "", &mut errs);
    errs
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The type name go-openapi reports for a value.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(path: &str, v: &Value, want: &str, errs: &mut Vec<FieldError>) {
    let actual = type_name(v);
    let detail = format!("{path} in body must be of type {want}: {actual:?}");
    errs.push(FieldError::type_invalid(
        path,
        &Value::String(actual.into()),
        &detail,
    ));
}

fn type_ok(want: &str, v: &Value) -> bool {
    match want {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        _ => true,
    }
}

fn required(s: &Structural, map: &Map<String, Value>, path: &str, errs: &mut Vec<FieldError>) {
    for r in &s.required {
        if !map.contains_key(r) {
            errs.push(FieldError::required(&join(path, r), ""));
        }
    }
}

pub fn validate(s: &Structural, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if v.is_null() {
        if !s.nullable && (s.type_.is_some() || s.int_or_string) {
            type_error(
                path,
                v,
                s.type_.as_deref().unwrap_or("integer,string"),
                errs,
            );
        }
        return;
    }
    if s.int_or_string {
        if !(v.is_string() || type_ok("integer", v)) {
            type_error(path, v, "integer,string", errs);
            return;
        }
    } else if let Some(t) = &s.type_ {
        if !type_ok(t, v) {
            type_error(path, v, t, errs);
            return;
        }
    }
    values(s, v, path, errs);
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if let Some(ps) = s.properties.get(k) {
                    validate(ps, child, &join(path, k), errs);
                } else if let Additional::Schema(a) = &s.additional {
                    validate(a, child, &format!("{path}[{k}]"), errs);
                }
            }
            required(s, map, path, errs);
            if s.embedded_resource {
                for f in ["apiVersion", "kind"] {
                    if map.get(f).and_then(Value::as_str).unwrap_or("").is_empty() {
                        errs.push(FieldError::required(&join(path, f), "must not be empty"));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for (i, item) in items.iter().enumerate() {
                    validate(is, item, &format!("{path}[{i}]"), errs);
                }
            }
            list_type(s, items, path, errs);
        }
        _ => {}
    }
}

/// The value validations of one node and of its anyOf/allOf/oneOf/not branches.
fn values(s: &Structural, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(allowed) = &s.enum_ {
        if !allowed.contains(v) {
            errs.push(FieldError::not_supported(path, v, allowed));
        }
    }
    if let Some(str_v) = v.as_str() {
        let len = str_v.chars().count() as u64;
        if let Some(max) = s.max_length {
            if len > max {
                errs.push(FieldError::invalid(path, v, "").with_cause(
                    "FieldValueTooLong",
                    format!("Too long: may not be longer than {max}"),
                ));
            }
        }
        if let Some(min) = s.min_length {
            if len < min {
                errs.push(FieldError::invalid(
                    path,
                    v,
                    &format!("{path} in body should be at least {min} chars long"),
                ));
            }
        }
        if let (Some(re), Some(src)) = (&s.pattern, &s.pattern_src) {
            if !re.is_match(str_v) {
                errs.push(FieldError::invalid(
                    path,
                    v,
                    &format!("{path} in body should match '{src}'"),
                ));
            }
        }
        if let Some(f) = &s.format {
            if !format_ok(f, str_v) {
                errs.push(FieldError::invalid(
                    path,
                    v,
                    &format!("{path} in body must be of type {f}: {str_v:?}"),
                ));
            }
        }
    }
    if let Some(n) = v.as_f64() {
        if let Some(max) = s.maximum {
            if n > max || (s.exclusive_maximum && n >= max) {
                let op = if s.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                errs.push(FieldError::invalid(
                    path,
                    v,
                    &format!("{path} in body should be {op} {}", num(max)),
                ));
            }
        }
        if let Some(min) = s.minimum {
            if n < min || (s.exclusive_minimum && n <= min) {
                let op = if s.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                errs.push(FieldError::invalid(
                    path,
                    v,
                    &format!("{path} in body should be {op} {}", num(min)),
                ));
            }
        }
        if let Some(m) = s.multiple_of {
            if m != 0.0 && (n / m).fract() != 0.0 {
                errs.push(FieldError::invalid(
                    path,
                    v,
                    &format!("{path} in body should be a multiple of {}", num(m)),
                ));
            }
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if let Some(max) = s.max_items {
            if n > max {
                errs.push(FieldError::invalid(path, v, "").with_cause(
                    "FieldValueTooMany",
                    format!("Too many: {n}: must have at most {max} items"),
                ));
            }
        }
        if let Some(min) = s.min_items {
            if n < min {
                errs.push(FieldError::invalid(
                    path,
                    v,
                    &format!("{path} in body should have at least {min} items"),
                ));
            }
        }
    }
    if let Some(map) = v.as_object() {
        let n = map.len() as u64;
        if let Some(max) = s.max_properties {
            if n > max {
                errs.push(FieldError::invalid(path, v, "").with_cause(
                    "FieldValueTooMany",
                    format!("Too many: {n}: must have at most {max} items"),
                ));
            }
        }
        if let Some(min) = s.min_properties {
            if n < min {
                errs.push(FieldError::invalid(
                    path,
                    v,
                    &format!("{path} in body should have at least {min} properties"),
                ));
            }
        }
    }
    let passes = |b: &Structural| {
        let mut e = vec![];
        branch(b, v, path, &mut e);
        e.is_empty()
    };
    if !s.any_of.is_empty() && !s.any_of.iter().any(passes) {
        errs.push(FieldError::invalid(
            path,
            v,
            &format!("{path} in body must validate at least one schema (anyOf)"),
        ));
    }
    if !s.one_of.is_empty() && s.one_of.iter().filter(|b| passes(b)).count() != 1 {
        errs.push(FieldError::invalid(
            path,
            v,
            &format!("{path} in body must validate one and only one schema (oneOf)"),
        ));
    }
    for b in &s.all_of {
        branch(b, v, path, errs);
    }
    if let Some(n) = &s.not {
        if passes(n) {
            errs.push(FieldError::invalid(
                path,
                v,
                &format!("{path} in body must not validate the schema (not)"),
            ));
        }
    }
}

/// A value-validation branch: its type (when it names one) and value rules.
fn branch(b: &Structural, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(t) = &b.type_ {
        if !type_ok(t, v) {
            type_error(path, v, t, errs);
            return;
        }
    }
    values(b, v, path, errs);
}

fn num(f: f64) -> String {
    if f.fract() == 0.0 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}
