//! The per-type strategy hooks the registry runs before a write: what a create may not
//! set (status, for types with a status subresource), what an update of the main
//! resource or of its status may change, and how `metadata.generation` moves
//! (`PrepareForCreate`/`PrepareForUpdate` of each `strategy.go`; for custom resources
//! apiextensions' `customresource/strategy.go` and `status_strategy.go`).

use serde_json::{json, Map, Value};

use crate::defaults;
use crate::meta;
use crate::registry::{Generation, ResourceType};
use crate::store::Subresource;

/// A Secret's `stringData` merged into `data` (base64), and never stored: the v1 to
/// internal conversion does this on every write (`Convert_v1_Secret_To_core_Secret` in
/// `pkg/apis/core/v1/conversion.go`); a key in both takes `stringData`'s value.
fn merge_string_data(ty: &ResourceType, obj: &mut Value) {
    use base64::Engine;
    if !(ty.group.is_empty() && ty.resource == "secrets") {
        return;
    }
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = map.remove("stringData") else {
        return;
    };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    for (k, v) in strings {
        let text = v.as_str().unwrap_or_default();
        data[k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

/// A namespace carries its own name as the `kubernetes.io/metadata.name` label, set on
/// every write (the namespace strategy's PrepareForCreate and PrepareForUpdate), so that
/// selectors can pick namespaces by name.
fn ensure_name_label(ty: &ResourceType, obj: &mut Value) {
    if !(ty.group.is_empty() && ty.resource == "namespaces") {
        return;
    }
    let Some(name) = meta::metadata(obj)
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    let m = meta::metadata_mut(obj);
    let labels = m.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    labels["kubernetes.io/metadata.name"] = json!(name);
}

pub fn prepare_for_create(ty: &ResourceType, obj: &mut Value) {
    merge_string_data(ty, obj);
    ensure_name_label(ty, obj);
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    if ty.status_subresource {
        if ty.custom {
            map.remove("status");
        } else {
            map.insert("status".into(), initial_status(ty));
        }
    }
    if ty.generation != Generation::None {
        meta::metadata_mut(obj).insert("generation".into(), json!(1));
    }
    if !ty.custom {
        defaults::apply(ty, obj);
    }
}

/// The status a built-in type starts with (its PrepareForCreate resets it).
fn initial_status(ty: &ResourceType) -> Value {
    match (ty.group.as_str(), ty.resource.as_str()) {
        ("", "pods") => json!({"phase": "Pending", "qosClass": "BestEffort"}),
        ("", "services") => json!({"loadBalancer": {}}),
        ("", "namespaces") => json!({"phase": "Active"}),
        ("networking.k8s.io", "ingresses") => json!({"loadBalancer": {}}),
        ("apps", "replicasets") => json!({"replicas": 0}),
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            json!({"acceptedNames": {"plural": "", "kind": ""}})
        }
        _ => json!({}),
    }
}

pub fn prepare_for_update(ty: &ResourceType, sub: Subresource, obj: &mut Value, old: &Value) {
    merge_string_data(ty, obj);
    ensure_name_label(ty, obj);
    match sub {
        Subresource::Main => {
            if ty.status_subresource {
                keep_old(obj, old, "status");
            }
        }
        Subresource::Status => {
            // Only status changes: everything else comes from the stored object.
            let status = obj.get("status").cloned();
            let mut next = old.clone();
            if let Some(map) = next.as_object_mut() {
                match status {
                    Some(s) => map.insert("status".into(), s),
                    None => map.remove("status"),
                };
            }
            *obj = next;
        }
    }
    if ty.resource == "namespaces" && ty.group.is_empty() && sub == Subresource::Main {
        // A namespace's spec.finalizers change only through /finalize.
        keep_old(obj, old, "spec");
    }
    if ty.group.is_empty() && ty.resource == "services" {
        keep_allocated(obj, old);
    }
    if !ty.custom {
        defaults::apply(ty, obj);
    }
    let old_gen = meta::metadata(old)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let bump = sub == Subresource::Main
        && match ty.generation {
            Generation::None => false,
            Generation::Spec => obj.get("spec") != old.get("spec"),
            Generation::SpecAndAnnotations => {
                obj.get("spec") != old.get("spec")
                    || meta::metadata(obj).and_then(|m| m.get("annotations"))
                        != meta::metadata(old).and_then(|m| m.get("annotations"))
            }
            Generation::AllButMetadata => non_metadata(obj) != non_metadata(old),
        };
    if bump {
        meta::metadata_mut(obj).insert("generation".into(), json!(old_gen + 1));
    }
}

fn keep_old(obj: &mut Value, old: &Value, field: &str) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    match old.get(field) {
        Some(v) => map.insert(field.into(), v.clone()),
        None => map.remove(field),
    };
}

fn non_metadata(obj: &Value) -> Map<String, Value> {
    let mut m = obj.as_object().cloned().unwrap_or_default();
    m.remove("metadata");
    m
}

/// The service REST's `patchAllocatedValues`: an update that leaves the cluster IPs or
/// node ports out keeps the allocated ones.
fn keep_allocated(obj: &mut Value, old: &Value) {
    let old_ip = old.pointer("/spec/clusterIP").cloned();
    let old_ips = old.pointer("/spec/clusterIPs").cloned();
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let new_ip = spec
            .get("clusterIP")
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            .cloned();
        match (new_ip, spec.contains_key("clusterIPs")) {
            // Left out: the allocated ones stay.
            (None, false) => {
                old_ip.map(|v| spec.insert("clusterIP".into(), v));
                old_ips.map(|v| spec.insert("clusterIPs".into(), v));
            }
            (None, true) => {
                old_ip.map(|v| spec.insert("clusterIP".into(), v));
            }
            // A clusterIP without clusterIPs stands for both (`normalizeClusterIPs`).
            (Some(ip), false) => {
                let same = Some(&ip) == old_ip.as_ref();
                spec.insert(
                    "clusterIPs".into(),
                    if same {
                        old_ips.unwrap_or(json!([ip]))
                    } else {
                        json!([ip])
                    },
                );
            }
            (Some(_), true) => {}
        }
    }
    let old_ports = old
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            let port = p.get("port").cloned();
            let prev = old_ports.iter().find(|o| o.get("port") == port.as_ref());
            if let Some(np) = prev.and_then(|o| o.get("nodePort")) {
                p.entry("nodePort").or_insert(np.clone());
            }
        }
    }
}
