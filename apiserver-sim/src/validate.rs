//! Validation before a write: the object metadata rules every type shares
//! (`ValidateObjectMeta`), a few checks of the built-in types a controller is likely to
//! trip (`pkg/apis/apps/validation`, `core/validation`), and for custom resources the
//! CRD's structural schema (pruning, defaulting, validation: `crate::schema`).

use serde_json::Value;

use crate::error::{ApiError, ApiResult, FieldError};
use crate::meta::{self, NameRule};
use crate::registry::ResourceType;
use crate::schema;

mod builtin;

/// Every problem with `obj` (which may be pruned and defaulted in place). With
/// `strict` (`fieldValidation=Strict`), unknown fields of a custom resource are a
/// `strict decoding error` (400) instead of being dropped; otherwise their paths go to
/// `unknown_fields`, for the Warning headers of `fieldValidation=Warn` (the default).
pub fn validate(
    ty: &ResourceType,
    version: &str,
    obj: &mut Value,
    old: Option<&Value>,
    strict: bool,
    unknown_fields: &mut Vec<String>,
) -> ApiResult<Vec<FieldError>> {
    let mut errs = vec![];
    if ty.custom {
        if let Some(s) = ty.schemas.get(version) {
            let (e, unknown) = schema::prune_default_validate(s, obj);
            if strict && !unknown.is_empty() {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|p| format!("unknown field {p:?}"))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    list.join(", ")
                )));
            }
            errs.extend(e);
            *unknown_fields = unknown;
        }
    }
    errs.extend(object_meta(ty, obj));
    if ty.group == "apiextensions.k8s.io" && ty.resource == "customresourcedefinitions" {
        errs.extend(crate::crd::validate(obj, old));
    }
    if !ty.custom {
        errs.extend(builtin::check(ty, obj, old));
    }
    Ok(errs)
}

fn name_rule(ty: &ResourceType) -> NameRule {
    match (ty.group.as_str(), ty.resource.as_str()) {
        ("", "namespaces") => NameRule::Label,
        ("", "services") => NameRule::Dns1035,
        ("", "events") | ("events.k8s.io", _) | ("rbac.authorization.k8s.io", _) => {
            NameRule::PathSegment
        }
        _ => NameRule::Subdomain,
    }
}

/// `TotalAnnotationSizeLimitB`: what makes a client-side `kubectl apply` of a large CRD
/// fail (its last-applied-configuration annotation holds the whole object).
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

fn object_meta(ty: &ResourceType, obj: &Value) -> Vec<FieldError> {
    let mut errs = meta::validate_name(meta::name(obj), name_rule(ty), "metadata.name");
    let Some(md) = meta::metadata(obj) else {
        return errs;
    };
    if let Some(labels) = md.get("labels") {
        match labels.as_object() {
            Some(l) => errs.extend(meta::validate_labels(l, "metadata.labels")),
            None if !labels.is_null() => errs.push(FieldError::invalid(
                "metadata.labels",
                labels,
                "must be an object",
            )),
            None => {}
        }
    }
    if let Some(ann) = md.get("annotations").and_then(Value::as_object) {
        let total: usize = ann
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if total > ANNOTATIONS_LIMIT {
            errs.push(
                FieldError::invalid("metadata.annotations", &Value::String(String::new()), "")
                    .with_cause(
                        "FieldValueTooLong",
                        format!("Too long: must have at most {ANNOTATIONS_LIMIT} bytes"),
                    ),
            );
        }
        for (k, v) in ann {
            for e in meta::qualified_name_errors(&k.to_lowercase()) {
                errs.push(FieldError::invalid(
                    "metadata.annotations",
                    &Value::String(k.clone()),
                    &e,
                ));
            }
            if !v.is_string() {
                errs.push(FieldError::invalid(
                    "metadata.annotations",
                    v,
                    "annotation values must be strings",
                ));
            }
        }
    }
    let refs = md
        .get("ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut controllers = 0;
    for (i, r) in refs.iter().enumerate() {
        let path = format!("metadata.ownerReferences[{i}]");
        for f in ["apiVersion", "kind", "name", "uid"] {
            if r.get(f).and_then(Value::as_str).unwrap_or("").is_empty() {
                let detail = match f {
                    "apiVersion" => "version must not be empty",
                    "kind" => "kind must not be empty",
                    "name" => "name must not be empty",
                    _ => "uid must not be empty",
                };
                errs.push(FieldError::invalid(
                    &format!("{path}.{f}"),
                    &Value::String(String::new()),
                    detail,
                ));
            }
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers += 1;
        }
    }
    if controllers > 1 {
        errs.push(FieldError::invalid_raw(
            "metadata.ownerReferences",
            &Value::Array(refs).to_string(),
            "Only one reference can have Controller set to true",
        ));
    }
    errs
}
