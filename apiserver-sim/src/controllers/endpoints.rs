//! The Endpoints controller (`pkg/controller/endpoint/endpoints_controller.go`): for
//! every Service with a selector, an Endpoints object of the same name whose subsets
//! hold the matching pods with an IP, ready ones under `addresses` and unready ones
//! under `notReadyAddresses`, terminating pods left out, ports resolved as for
//! EndpointSlices, subsets grouped by port mapping (`endpoints.RepackSubsets`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::util;
use crate::meta;
use crate::store::{Cluster, ObjKey, WriteOpts};

pub fn sync(st: &mut Cluster) {
    let Some(ep_ty) = util::ty(st, "", "endpoints") else {
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
        let mut subsets: BTreeMap<String, (Value, Vec<Value>, Vec<Value>)> = BTreeMap::new();
        let mut pods = util::in_namespace(st, "", "pods", &ns);
        pods.sort_by(|a, b| meta::name(a).cmp(meta::name(b)));
        for pod in pods {
            if !sel.matches(&meta::labels(&pod)) || meta::is_deleting(&pod) {
                continue;
            }
            let Some(ip) = pod.pointer("/status/podIP").and_then(Value::as_str) else {
                continue;
            };
            let ports: Vec<Value> = svc_ports
                .iter()
                .filter_map(|p| super::endpointslice::resolve(p, &pod))
                .map(|mut p| {
                    if p["name"] == "" {
                        p.as_object_mut().map(|m| m.remove("name"));
                    }
                    p
                })
                .collect();
            let mut addr = json!({"ip": ip, "targetRef": {"kind": "Pod", "namespace": ns, "name": meta::name(&pod), "uid": meta::uid(&pod)}});
            if let Some(node) = pod.pointer("/spec/nodeName") {
                addr["nodeName"] = node.clone();
            }
            let entry = subsets
                .entry(Value::Array(ports.clone()).to_string())
                .or_insert_with(|| (Value::Array(ports), vec![], vec![]));
            if util::pod_ready(&pod) {
                entry.1.push(addr);
            } else {
                entry.2.push(addr);
            }
        }
        let subsets: Vec<Value> = subsets
            .into_values()
            .map(|(ports, ready, unready)| {
                let mut s = json!({"ports": ports});
                if !ready.is_empty() {
                    s["addresses"] = json!(ready);
                }
                if !unready.is_empty() {
                    s["notReadyAddresses"] = json!(unready);
                }
                s
            })
            .collect();
        let labels = meta::labels(&svc);
        match st.get(&ep_ty.group_resource(), &ObjKey::new(&ns, &name)) {
            Some(cur) => {
                let mut next = (*cur).clone();
                if subsets.is_empty() {
                    next.as_object_mut().map(|m| m.remove("subsets"));
                } else {
                    next["subsets"] = json!(subsets);
                }
                meta::metadata_mut(&mut next).insert("labels".into(), json!(labels));
                if next != *cur {
                    st.write_internal(&ep_ty, next);
                }
            }
            None => {
                let mut body = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": labels}});
                if !subsets.is_empty() {
                    body["subsets"] = json!(subsets);
                }
                let _ = st.create(&ep_ty, "v1", &ns, body, WriteOpts::default());
            }
        }
    }
}
