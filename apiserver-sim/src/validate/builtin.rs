//! The checks of built-in types a controller is likely to trip
//! (`pkg/apis/apps/validation/validation.go`, `pkg/apis/core/validation/validation.go`):
//! workload selectors and templates, containers, service ports and cluster IPs. Values
//! in the messages are formatted as 1.32's `field.Error` does (Go's `%#v`, or a
//! pointer's `String()`).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::meta::{self, NameRule};
use crate::registry::ResourceType;

pub fn check(ty: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    match (ty.group.as_str(), ty.resource.as_str()) {
        ("apps", "replicasets") | ("apps", "deployments") | ("apps", "daemonsets") => {
            workload(ty, obj, old)
        }
        ("", "pods") => pod_spec(obj.get("spec"), "spec"),
        ("", "services") => service(obj, old),
        _ => vec![],
    }
}

/// Go's `%#v` of a `map[string]string`.
pub fn go_string_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .iter()
        .map(|k| format!("{:?}:{:?}", k, m[k.as_str()].as_str().unwrap_or("")))
        .collect();
    format!("map[string]string{{{}}}", parts.join(", "))
}

fn workload(ty: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = vec![];
    let spec = obj.get("spec");
    if let Some(r) = spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64) {
        if r < 0 {
            errs.push(FieldError::invalid(
                "spec.replicas",
                &Value::from(r),
                "must be greater than or equal to 0",
            ));
        }
    }
    let selector = spec.and_then(|s| s.get("selector"));
    match selector {
        None | Some(Value::Null) => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            let empty = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty())
                && sel
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .is_none_or(|m| m.is_empty());
            if empty {
                let what = match ty.resource.as_str() {
                    "deployments" => "deployment",
                    "daemonsets" => "daemonset",
                    _ => "replicaset",
                };
                errs.push(FieldError::invalid_raw(
                    "spec.selector",
                    &gogo_label_selector(sel),
                    &format!("empty selector is invalid for {what}"),
                ));
            } else {
                let labels = obj
                    .pointer("/spec/template/metadata/labels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                match crate::select::LabelSelector::from_json(sel) {
                    Ok(s) if !s.matches(&labels) => errs.push(FieldError::invalid_raw(
                        "spec.template.metadata.labels",
                        &go_string_map(&labels),
                        "`selector` does not match template `labels`",
                    )),
                    Ok(_) => {}
                    Err(e) => errs.push(FieldError::invalid_raw(
                        "spec.selector",
                        &gogo_label_selector(sel),
                        &e,
                    )),
                }
            }
            if let Some(old_sel) = old.and_then(|o| o.pointer("/spec/selector")) {
                if old_sel != sel {
                    errs.push(FieldError::invalid_raw(
                        "spec.selector",
                        &gogo_label_selector(sel),
                        "field is immutable",
                    ));
                }
            }
        }
    }
    errs.extend(pod_spec(
        obj.pointer("/spec/template/spec"),
        "spec.template.spec",
    ));
    if let Some(rp) = obj
        .pointer("/spec/template/spec/restartPolicy")
        .and_then(Value::as_str)
    {
        if rp != "Always" {
            errs.push(FieldError::not_supported(
                "spec.template.spec.restartPolicy",
                &Value::String(rp.into()),
                &[Value::String("Always".into())],
            ));
        }
    }
    errs
}

fn pod_spec(spec: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = vec![];
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => errs.push(FieldError::required(&format!("{path}.containers"), "")),
        Some(cs) if cs.is_empty() => {
            errs.push(FieldError::required(&format!("{path}.containers"), ""))
        }
        Some(cs) => {
            for (i, c) in cs.iter().enumerate() {
                let p = format!("{path}.containers[{i}]");
                let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                if name.is_empty() {
                    errs.push(FieldError::required(&format!("{p}.name"), ""));
                } else {
                    errs.extend(meta::validate_name(
                        name,
                        NameRule::Label,
                        &format!("{p}.name"),
                    ));
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    errs.push(FieldError::required(&format!("{p}.image"), ""));
                }
            }
        }
    }
    errs
}

fn service(obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = vec![];
    // ValidateServiceUpdate: the primary cluster IP is immutable.
    if let (Some(old_ips), Some(new_ips)) = (
        old.and_then(|o| o.pointer("/spec/clusterIPs")),
        obj.pointer("/spec/clusterIPs"),
    ) {
        if old_ips.get(0).is_some() && old_ips.get(0) != new_ips.get(0) {
            let shown: Vec<String> = new_ips
                .as_array()
                .into_iter()
                .flatten()
                .map(crate::error::go_value)
                .collect();
            let shown = format!("[]string{{{}}}", shown.join(", "));
            errs.push(FieldError::invalid_raw(
                "spec.clusterIPs[0]",
                &shown,
                "may not change once set",
            ));
        }
    }
    let ty = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let headless = obj.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
    let ports = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() && ty != "ExternalName" && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    for (i, p) in ports.iter().enumerate() {
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&port) {
            errs.push(FieldError::invalid(
                &format!("spec.ports[{i}].port"),
                &Value::from(port),
                "must be between 1 and 65535, inclusive",
            ));
        }
        if ports.len() > 1
            && p.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            errs.push(FieldError::required(&format!("spec.ports[{i}].name"), ""));
        }
    }
    errs
}

/// How a `*metav1.LabelSelector` reads in a field error: its generated protobuf
/// `String()` (`field.Error.ErrorBody` prefers a pointer's Stringer).
fn gogo_label_selector(sel: &Value) -> String {
    let mut labels = String::from("map[string]string{");
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        let mut keys: Vec<&String> = ml.keys().collect();
        keys.sort();
        for k in keys {
            labels.push_str(&format!("{k}: {},", ml[k.as_str()].as_str().unwrap_or("")));
        }
    }
    labels.push('}');
    let mut exprs = String::from("[]LabelSelectorRequirement{");
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        exprs.push_str(&format!(
            "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
            e.get("key").and_then(Value::as_str).unwrap_or(""),
            e.get("operator").and_then(Value::as_str).unwrap_or(""),
            values.join(" ")
        ));
    }
    exprs.push('}');
    format!("&LabelSelector{{MatchLabels:{labels},MatchExpressions:{exprs},}}")
}
