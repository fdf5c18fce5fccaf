//! What the simulated components share: typed lookups over the cluster, owner
//! references, pod readiness.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::error::GroupResource;
use crate::meta;
use crate::registry::ResourceType;
use crate::store::{Cluster, DeleteOptions};

pub fn ty(st: &Cluster, group: &str, resource: &str) -> Option<Arc<ResourceType>> {
    st.registry.get(&GroupResource::new(group, resource))
}

pub fn all(st: &Cluster, group: &str, resource: &str) -> Vec<Arc<Value>> {
    st.objects(&GroupResource::new(group, resource))
        .into_values()
        .collect()
}

pub fn in_namespace(st: &Cluster, group: &str, resource: &str, ns: &str) -> Vec<Arc<Value>> {
    all(st, group, resource)
        .into_iter()
        .filter(|o| meta::namespace(o) == ns)
        .collect()
}

/// The uid of an object's controller (the ownerReference with controller: true).
pub fn controller_uid(obj: &Value) -> Option<String> {
    meta::owner_references(obj)
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| r.get("uid").and_then(Value::as_str))
        .map(String::from)
}

pub fn controller_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": meta::name(owner), "uid": meta::uid(owner),
        "controller": true, "blockOwnerDeletion": true})
}

pub fn condition_true(obj: &Value, ty: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == ty && c["status"] == "True"))
}

pub fn pod_ready(pod: &Value) -> bool {
    condition_true(pod, "Ready")
}

/// Replace `obj`'s status, writing only when it changed.
pub fn set_status(st: &mut Cluster, ty: &ResourceType, obj: &Value, status: Value) {
    if obj.get("status") == Some(&status) {
        return;
    }
    let mut next = obj.clone();
    next["status"] = status;
    st.write_internal(ty, next);
}

/// Delete as a controller does (default options).
pub fn delete(st: &mut Cluster, ty: &ResourceType, obj: &Value, opts: DeleteOptions) {
    let _ = st.delete(ty, meta::namespace(obj), meta::name(obj), &opts);
}

/// A Service with a selector, as the endpoint controllers see it.
pub struct SelectingService {
    pub service: Arc<Value>,
    pub namespace: String,
    pub name: String,
    pub selector: crate::select::LabelSelector,
    pub ports: Vec<Value>,
}

/// Every Service that selects pods (a non-empty selector) and is not being deleted: what
/// the Endpoints and EndpointSlice controllers keep endpoints for.
pub fn selecting_services(st: &Cluster) -> Vec<SelectingService> {
    all(st, "", "services")
        .into_iter()
        .filter_map(|svc| {
            let selector = svc
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .filter(|s| !s.is_empty())?;
            if crate::meta::is_deleting(&svc) {
                return None;
            }
            let selector = crate::select::LabelSelector::from_json(
                &serde_json::json!({"matchLabels": selector}),
            )
            .unwrap_or_default();
            Some(SelectingService {
                namespace: crate::meta::namespace(&svc).to_string(),
                name: crate::meta::name(&svc).to_string(),
                ports: svc
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                selector,
                service: svc,
            })
        })
        .collect()
}
