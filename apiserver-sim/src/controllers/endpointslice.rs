//! The EndpointSlice controller (`pkg/controller/endpointslice`, `staging/.../
//! endpointslice/reconciler.go`): for every Service with a selector, slices labelled
//! `kubernetes.io/service-name` and managed-by `endpointslice-controller.k8s.io`, owned
//! by the Service, holding one endpoint per matching pod with an IP (conditions
//! ready/serving/terminating, nodeName, targetRef), ports resolved from the service's
//! targetPort (a named one from each pod's container ports). Pods whose ports resolve
//! differently go to different slices, as the real reconciler groups endpoints by port
//! mapping.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::util;
use crate::meta;
use crate::store::{Cluster, DeleteOptions, WriteOpts};

const SERVICE_NAME: &str = "kubernetes.io/service-name";
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
const CONTROLLER: &str = "endpointslice-controller.k8s.io";

pub fn sync(st: &mut Cluster) {
    let Some(slice_ty) = util::ty(st, "discovery.k8s.io", "endpointslices") else {
        return;
    };
    for util::SelectingService {
        service: svc,
        namespace: ns,
        name,
        selector: sel,
        ports: svc_ports,
    } in util::selecting_services(st)
    {
        // Port mapping -> endpoints.
        let mut groups: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
        for pod in util::in_namespace(st, "", "pods", &ns) {
            if !sel.matches(&meta::labels(&pod)) {
                continue;
            }
            let Some(ip) = pod.pointer("/status/podIP").and_then(Value::as_str) else {
                continue;
            };
            if matches!(
                pod.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            ) {
                continue;
            }
            let ports: Vec<Value> = svc_ports.iter().filter_map(|p| resolve(p, &pod)).collect();
            let terminating = meta::is_deleting(&pod);
            let serving = util::pod_ready(&pod);
            let ready = serving && !terminating;
            let mut ep = json!({
                "addresses": [ip],
                "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
                "targetRef": {"kind": "Pod", "namespace": ns, "name": meta::name(&pod), "uid": meta::uid(&pod)},
            });
            if let Some(node) = pod.pointer("/spec/nodeName") {
                ep["nodeName"] = node.clone();
            }
            let key = Value::Array(ports.clone()).to_string();
            groups
                .entry(key)
                .or_insert_with(|| (Value::Array(ports), vec![]))
                .1
                .push(ep);
        }
        if groups.is_empty() {
            // A service with no endpoints still has one (empty) slice.
            let ports: Vec<Value> = svc_ports
                .iter()
                .filter_map(|p| {
                    p.get("targetPort")
                        .and_then(Value::as_i64)
                        .map(|_| port_entry(p, p["targetPort"].clone()))
                })
                .collect();
            groups.insert(String::new(), (Value::Array(ports), vec![]));
        }
        let mut existing: Vec<Value> =
            util::in_namespace(st, "discovery.k8s.io", "endpointslices", &ns)
                .into_iter()
                .filter(|s| {
                    let l = meta::labels(s);
                    l.get(SERVICE_NAME).and_then(Value::as_str) == Some(name.as_str())
                        && l.get(MANAGED_BY).and_then(Value::as_str) == Some(CONTROLLER)
                })
                .map(|s| (*s).clone())
                .collect();
        for (_, (ports, mut endpoints)) in groups {
            endpoints.sort_by(|a, b| {
                a["targetRef"]["name"]
                    .as_str()
                    .cmp(&b["targetRef"]["name"].as_str())
            });
            let endpoints = Value::Array(endpoints);
            let reuse = existing
                .iter()
                .position(|s| s.get("ports") == Some(&ports))
                .or_else(|| (!existing.is_empty()).then_some(0));
            match reuse {
                Some(i) => {
                    let mut slice = existing.remove(i);
                    if slice.get("endpoints") != Some(&endpoints)
                        || slice.get("ports") != Some(&ports)
                    {
                        slice["endpoints"] = endpoints;
                        slice["ports"] = ports;
                        st.write_internal(&slice_ty, slice);
                    }
                }
                None => {
                    let mut labels = meta::labels(&svc);
                    labels.insert(SERVICE_NAME.into(), json!(name));
                    labels.insert(MANAGED_BY.into(), json!(CONTROLLER));
                    let body = json!({
                        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"generateName": format!("{name}-"), "namespace": ns, "labels": labels,
                            "ownerReferences": [util::controller_ref(&svc, "v1", "Service")]},
                        "addressType": "IPv4", "endpoints": endpoints, "ports": ports,
                    });
                    let _ = st.create(&slice_ty, "v1", &ns, body, WriteOpts::default());
                }
            }
        }
        for stale in existing {
            util::delete(st, &slice_ty, &stale, DeleteOptions::default());
        }
    }
}

fn port_entry(svc_port: &Value, port: Value) -> Value {
    let mut e = json!({"port": port, "protocol": svc_port.get("protocol").cloned().unwrap_or(json!("TCP"))});
    if let Some(n) = svc_port
        .get("name")
        .filter(|n| n.as_str().is_some_and(|s| !s.is_empty()))
    {
        e["name"] = n.clone();
    } else {
        e["name"] = json!("");
    }
    if let Some(a) = svc_port.get("appProtocol") {
        e["appProtocol"] = a.clone();
    }
    e
}

/// A service port for one pod: a numeric targetPort as is, a named one looked up in
/// the pod's container ports (a pod without it has no such port).
pub fn resolve(svc_port: &Value, pod: &Value) -> Option<Value> {
    let target = svc_port
        .get("targetPort")
        .cloned()
        .unwrap_or_else(|| svc_port["port"].clone());
    if let Some(n) = target.as_i64() {
        return Some(port_entry(svc_port, json!(n)));
    }
    let name = target.as_str()?;
    if let Ok(n) = name.parse::<i64>() {
        return Some(port_entry(svc_port, json!(n)));
    }
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array)?;
    let port = containers
        .iter()
        .flat_map(|c| {
            c.get("ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?;
    Some(port_entry(svc_port, port["containerPort"].clone()))
}
