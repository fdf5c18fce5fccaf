//! The scale subresource: an `autoscaling/v1` Scale view of an object's replica count
//! (a CRD's specReplicasPath/statusReplicasPath/labelSelectorPath; the built-in
//! workloads' spec.replicas, status.replicas and formatted spec.selector), and writes
//! through it to the object's spec.

use hyper::Response;
use serde_json::{json, Value};

use super::respond::{self, Body};
use super::{decode_body, Req};
use crate::error::{ApiError, ApiResult};
use crate::meta;
use crate::registry::ResourceType;
use crate::server::Shared;
use crate::store::{ObjKey, Subresource};

fn pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |acc, s| format!("{acc}/{s}"))
}

/// `metav1.FormatLabelSelector`.
pub fn format_selector(sel: &Value) -> String {
    let mut parts = vec![];
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        let mut keys: Vec<&String> = ml.keys().collect();
        keys.sort();
        for k in keys {
            parts.push(format!("{k}={}", ml[k.as_str()].as_str().unwrap_or("")));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let vals: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => parts.push(format!("{key} in ({})", vals.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", vals.join(","))),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

pub fn to_scale(ty: &ResourceType, obj: &Value) -> Value {
    let Some(spec) = &ty.scale else {
        return Value::Null;
    };
    let replicas = obj
        .pointer(&pointer(&spec.spec_replicas_path))
        .cloned()
        .unwrap_or(json!(0));
    let status_replicas = obj
        .pointer(&pointer(&spec.status_replicas_path))
        .cloned()
        .unwrap_or(json!(0));
    let selector = if ty.custom {
        spec.label_selector_path
            .as_ref()
            .and_then(|p| obj.pointer(&pointer(p)))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    } else {
        obj.pointer("/spec/selector")
            .map(format_selector)
            .unwrap_or_default()
    };
    let md = meta::metadata(obj).cloned().unwrap_or_default();
    let mut scale_md = serde_json::Map::new();
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = md.get(k) {
            scale_md.insert(k.into(), v.clone());
        }
    }
    let mut status = json!({"replicas": status_replicas});
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_md, "spec": {"replicas": replicas}, "status": status})
}

pub fn get(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    let gr = r.ty.group_resource();
    let obj = shared
        .state
        .lock()
        .get(&gr, &ObjKey::new(&r.path.namespace, &r.path.name));
    let obj = obj.ok_or_else(|| ApiError::not_found(&gr, &r.path.name))?;
    Ok(respond::json(200, &to_scale(&r.ty, &obj)))
}

/// Write a (PUT or patched) Scale back to the object.
pub fn apply(shared: &Shared, r: &Req, scale: Value) -> ApiResult<Response<Body>> {
    let gr = r.ty.group_resource();
    let Some(spec) = r.ty.scale.clone() else {
        return Err(ApiError::no_route());
    };
    let mut st = shared.state.lock();
    let obj = st.get(&gr, &ObjKey::new(&r.path.namespace, &r.path.name));
    let obj = obj.ok_or_else(|| ApiError::not_found(&gr, &r.path.name))?;
    let rv = meta::meta_str(&scale, "resourceVersion");
    if !rv.is_empty() && rv != meta::meta_str(&obj, "resourceVersion") {
        return Err(ApiError::stale(&gr, &r.path.name));
    }
    let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
    if replicas.as_i64().is_none_or(|n| n < 0) {
        let errs = vec![crate::error::FieldError::invalid(
            "spec.replicas",
            &replicas,
            "must be greater than or equal to 0",
        )];
        return Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            &r.path.name,
            errs,
        ));
    }
    let mut next = (*obj).clone();
    let ptr = pointer(&spec.spec_replicas_path);
    let (parent, leaf) = ptr.rsplit_once('/').unwrap_or(("", "replicas"));
    let parents: Vec<&str> = parent.split('/').filter(|s| !s.is_empty()).collect();
    crate::defaults::object_at(&mut next, &parents).insert(leaf.to_string(), replicas);
    let version = r.ty.storage_version().to_string();
    let updated = st.update(
        &r.ty,
        &version,
        &r.path.namespace,
        &r.path.name,
        next,
        Subresource::Main,
        r.query.write_opts(),
    )?;
    Ok(respond::json(200, &to_scale(&r.ty, &updated.object)))
}

pub fn update(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    let scale = decode_body(r)?;
    apply(shared, r, scale)
}
