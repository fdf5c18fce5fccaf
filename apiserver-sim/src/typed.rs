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

/// apimachinery's `resource.ErrFormatWrong`, the decode error of a malformed quantity.
const QUANTITY_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Whether `text` parses as a `resource.Quantity` (`ParseQuantity`: a signed decimal, then
/// a binary suffix, a decimal SI suffix, or a decimal exponent).
fn is_quantity(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return false;
    }
    const SUFFIXES: [&str; 16] = [
        "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    if SUFFIXES.contains(&suffix) {
        return true;
    }
    // A decimal exponent: e or E, an optional sign, digits.
    suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
}

/// The decode error of a malformed quantity in a pod spec's container resources or
/// overhead (`spec` for a Pod, `spec.template.spec` for the workloads). A number is a
/// quantity too, as `Quantity.UnmarshalJSON` takes it.
fn quantity_error(type_name: &str, obj: &Value) -> Option<String> {
    let pod_spec = match type_name {
        "pods" => obj.get("spec"),
        "apps/replicasets" | "apps/deployments" | "apps/statefulsets" | "apps/daemonsets"
        | "batch/jobs" => obj.pointer("/spec/template/spec"),
        _ => None,
    }?;
    let mut found = vec![];
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for kind in ["requests", "limits"] {
            values(
                pod_spec,
                &[&format!("{list}[]"), "resources", kind, "*"],
                &mut found,
            );
        }
    }
    values(pod_spec, &["overhead", "*"], &mut found);
    found
        .into_iter()
        .any(|v| !(v.is_number() || v.as_str().is_some_and(is_quantity)))
        .then(|| QUANTITY_FORMAT.to_owned())
}

/// The decode error of a built-in object, if a checked field has the wrong JSON type.
pub fn decode_error(type_name: &str, obj: &Value) -> Option<String> {
    if let Some(e) = quantity_error(type_name, obj) {
        return Some(e);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_as_apimachinery_parses_them() {
        for ok in [
            "1", "0.5", "500m", "16Mi", "1Gi", "+1", "-2k", "1e3", "1E-2", ".5",
        ] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["invalid", "", "Mi", "1Kii", "1x", "1.2.3", "1e", "--1"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn a_workload_with_a_malformed_quantity_does_not_decode() {
        let rs = |memory: Value| {
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "x", "resources": {"requests": {"memory": memory, "cpu": 0.001}}}
            ]}}}})
        };
        assert_eq!(decode_error("apps/replicasets", &rs(json!("16Mi"))), None);
        assert_eq!(
            decode_error("apps/replicasets", &rs(json!("invalid"))).as_deref(),
            Some(QUANTITY_FORMAT)
        );
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}], "overhead": {"cpu": "x"}}});
        assert_eq!(decode_error("pods", &pod).as_deref(), Some(QUANTITY_FORMAT));
    }
}
