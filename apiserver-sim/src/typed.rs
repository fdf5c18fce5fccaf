//! The JSON types of the built-in fields this server acts on. The real server decodes a
//! built-in object into its Go struct, so a wrong type is a decode error, not a
//! validation error: `ReplicaSet in version "v1" cannot be handled as a ReplicaSet:
//! json: cannot unmarshal string into Go struct field ReplicaSetSpec.spec.replicas of
//! type int32` (`handlers/create.go` `transformDecodeError`, Go's `encoding/json`
//! wording). Only the fields listed here are checked; see the README.

use serde_json::Value;

/// (group/resource or "*", JSON path with `[]` for list items, Go struct, Go type).
const FIELDS: &[(&str, &str, &str, &str)] = &[
    ("*", "metadata.labels.*", "ObjectMeta", "string"),
    ("*", "metadata.annotations.*", "ObjectMeta", "string"),
    ("*", "metadata.finalizers", "ObjectMeta", "[]string"),
    (
        "*",
        "metadata.ownerReferences",
        "ObjectMeta",
        "[]v1.OwnerReference",
    ),
    (
        "apps/replicasets",
        "spec.replicas",
        "ReplicaSetSpec",
        "int32",
    ),
    (
        "apps/replicasets",
        "spec.minReadySeconds",
        "ReplicaSetSpec",
        "int32",
    ),
    (
        "apps/deployments",
        "spec.replicas",
        "DeploymentSpec",
        "int32",
    ),
    (
        "apps/deployments",
        "spec.minReadySeconds",
        "DeploymentSpec",
        "int32",
    ),
    (
        "apps/deployments",
        "spec.revisionHistoryLimit",
        "DeploymentSpec",
        "int32",
    ),
    (
        "apps/deployments",
        "spec.progressDeadlineSeconds",
        "DeploymentSpec",
        "int32",
    ),
    ("apps/deployments", "spec.paused", "DeploymentSpec", "bool"),
    ("batch/jobs", "spec.parallelism", "JobSpec", "int32"),
    ("batch/jobs", "spec.completions", "JobSpec", "int32"),
    ("batch/jobs", "spec.backoffLimit", "JobSpec", "int32"),
    ("services", "spec.ports[].port", "ServicePort", "int32"),
    ("services", "spec.selector.*", "ServiceSpec", "string"),
    ("configmaps", "data.*", "ConfigMap", "string"),
    (
        "pods",
        "spec.containers[].ports[].containerPort",
        "ContainerPort",
        "int32",
    ),
];

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

fn fits(v: &Value, go: &str) -> bool {
    match go {
        _ if v.is_null() => true,
        "string" => v.is_string(),
        "bool" => v.is_boolean(),
        "int32" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        t if t.starts_with("[]") => v.is_array(),
        _ => true,
    }
}

/// Every value at `path` (`*`: each map value, `[]`: each list item).
fn values<'a>(v: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    let Some((head, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    if *head == "*" {
        for x in v.as_object().into_iter().flat_map(|m| m.values()) {
            values(x, rest, out);
        }
    } else if let Some(field) = head.strip_suffix("[]") {
        for x in v.get(field).and_then(Value::as_array).into_iter().flatten() {
            values(x, rest, out);
        }
    } else if let Some(x) = v.get(*head) {
        values(x, rest, out);
    }
}

/// The decode error of a built-in object, if a checked field has the wrong JSON type.
pub fn decode_error(type_name: &str, obj: &Value) -> Option<String> {
    for (_, path, strukt, go) in FIELDS.iter().filter(|f| f.0 == "*" || f.0 == type_name) {
        let segs: Vec<&str> = path.split('.').collect();
        let mut found = vec![];
        values(obj, &segs, &mut found);
        if let Some(bad) = found.into_iter().find(|v| !fits(v, go)) {
            let field = path.replace("[]", "").replace(".*", "");
            let what = if go == &"int32" && bad.is_number() {
                "number ".to_string() + &bad.to_string()
            } else {
                json_type(bad).to_string()
            };
            return Some(format!(
                "json: cannot unmarshal {what} into Go struct field {strukt}.{field} of type {go}"
            ));
        }
    }
    None
}
