//! Table columns of the built-in types kubectl shows most, as the real server's
//! printers (`pkg/printers/internalversion/printers.go`) define them. Other built-in
//! types get Name and Age.

use serde_json::{json, Value};

use super::table::age;

/// A column: name, type, priority (1: only with `-o wide`), and how to fill it.
pub type Column = (&'static str, &'static str, i64, fn(&Value) -> Value);

fn s(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn n(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn created(v: &Value) -> Value {
    json!(age(&s(v, "/metadata/creationTimestamp")))
}

fn none_if_empty(x: String) -> Value {
    json!(if x.is_empty() {
        "<none>".to_string()
    } else {
        x
    })
}

fn pod_ready(v: &Value) -> Value {
    let total = v
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = v
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |cs| cs.iter().filter(|c| c["ready"] == true).count());
    json!(format!("{ready}/{total}"))
}

fn pod_status(v: &Value) -> Value {
    if v.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return json!("Terminating");
    }
    let waiting = v
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str))
        });
    match waiting {
        Some(r) => json!(r),
        None => json!(s(v, "/status/phase")),
    }
}

fn restarts(v: &Value) -> Value {
    let total: i64 = v
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |cs| {
            cs.iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum()
        });
    json!(total)
}

fn service_ports(v: &Value) -> Value {
    let ports = v
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let parts: Vec<String> = ports
        .iter()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p.get("nodePort") {
                Some(np) => format!("{}:{}/{proto}", p["port"], np),
                None => format!("{}/{proto}", p["port"]),
            }
        })
        .collect();
    none_if_empty(parts.join(","))
}

fn job_status(v: &Value) -> Value {
    let conds = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = |t: &str| {
        conds
            .iter()
            .any(|c| c["type"] == t && c["status"] == "True")
    };
    json!(if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else {
        "Running"
    })
}

/// The columns after Name for a built-in `group/resource`, or None for Name and Age.
pub fn columns(group: &str, resource: &str) -> Option<Vec<Column>> {
    let cols: Vec<Column> = match (group, resource) {
        ("", "pods") => vec![
            ("Ready", "string", 0, pod_ready),
            ("Status", "string", 0, pod_status),
            ("Restarts", "string", 0, restarts),
            ("Age", "string", 0, created),
            ("IP", "string", 1, |v| none_if_empty(s(v, "/status/podIP"))),
            ("Node", "string", 1, |v| {
                none_if_empty(s(v, "/spec/nodeName"))
            }),
        ],
        ("", "services") => vec![
            ("Type", "string", 0, |v| json!(s(v, "/spec/type"))),
            ("Cluster-IP", "string", 0, |v| {
                none_if_empty(s(v, "/spec/clusterIP"))
            }),
            ("External-IP", "string", 0, |_| json!("<none>")),
            ("Port(s)", "string", 0, service_ports),
            ("Age", "string", 0, created),
        ],
        ("", "namespaces") => vec![
            ("Status", "string", 0, |v| json!(s(v, "/status/phase"))),
            ("Age", "string", 0, created),
        ],
        ("", "configmaps") => vec![
            ("Data", "integer", 0, |v| {
                let count = |p: &str| {
                    v.pointer(p)
                        .and_then(Value::as_object)
                        .map_or(0, |m| m.len())
                };
                json!(count("/data") + count("/binaryData"))
            }),
            ("Age", "string", 0, created),
        ],
        ("apps", "replicasets") => vec![
            ("Desired", "integer", 0, |v| json!(n(v, "/spec/replicas"))),
            ("Current", "integer", 0, |v| json!(n(v, "/status/replicas"))),
            ("Ready", "integer", 0, |v| {
                json!(n(v, "/status/readyReplicas"))
            }),
            ("Age", "string", 0, created),
        ],
        ("apps", "deployments") => vec![
            ("Ready", "string", 0, |v| {
                json!(format!(
                    "{}/{}",
                    n(v, "/status/readyReplicas"),
                    n(v, "/spec/replicas")
                ))
            }),
            ("Up-to-date", "integer", 0, |v| {
                json!(n(v, "/status/updatedReplicas"))
            }),
            ("Available", "integer", 0, |v| {
                json!(n(v, "/status/availableReplicas"))
            }),
            ("Age", "string", 0, created),
        ],
        ("batch", "jobs") => vec![
            ("Status", "string", 0, job_status),
            ("Completions", "string", 0, |v| {
                json!(format!(
                    "{}/{}",
                    n(v, "/status/succeeded"),
                    n(v, "/spec/completions")
                ))
            }),
            ("Age", "string", 0, created),
        ],
        ("discovery.k8s.io", "endpointslices") => vec![
            ("AddressType", "string", 0, |v| json!(s(v, "/addressType"))),
            ("Ports", "string", 0, |v| {
                let ports = v
                    .pointer("/ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                none_if_empty(
                    ports
                        .iter()
                        .map(|p| p["port"].to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                )
            }),
            ("Endpoints", "string", 0, |v| {
                let eps = v
                    .pointer("/endpoints")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let addrs: Vec<String> = eps
                    .iter()
                    .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                    .filter_map(|a| a.as_str().map(String::from))
                    .collect();
                none_if_empty(addrs.join(","))
            }),
            ("Age", "string", 0, created),
        ],
        _ => return None,
    };
    Some(cols)
}
