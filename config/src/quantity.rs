//! Kubernetes resource quantities (`resource.Quantity`) in a pod spec: which ones would not
//! decode. Argo's CRDs keep a Rollout's pod template free-form, so the API server accepts
//! `memory: invalid`; Argo's controller then decodes the object tolerantly and goes on
//! without the field, and `kubectl argo rollouts lint` reports it. weir does both with
//! these rules.

use serde_json::Value;

/// apimachinery's message for a quantity that does not parse.
pub const QUANTITY_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Whether `text` parses as a quantity (apimachinery's `ParseQuantity`): a signed decimal,
/// then a binary suffix (Ki..Ei), a decimal SI suffix (n..E) or a decimal exponent.
pub fn is_quantity(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(end);
    if !number.bytes().any(|b| b.is_ascii_digit()) || number.matches('.').count() > 1 {
        return false;
    }
    const SUFFIXES: [&str; 16] = [
        "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    SUFFIXES.contains(&suffix)
        || suffix
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
}

/// A JSON value that decodes as a quantity: a number, or a string that parses.
fn decodes(v: &Value) -> bool {
    v.is_number() || v.as_str().is_some_and(is_quantity)
}

/// The malformed quantities of `pod_spec` (a pod template's `spec`), as (field path under
/// `base`, value): container, init container and ephemeral container resources, and the
/// pod's overhead.
pub fn malformed_quantities(pod_spec: &Value, base: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for (i, c) in pod_spec[list].as_array().into_iter().flatten().enumerate() {
            for kind in ["requests", "limits"] {
                for (k, v) in c["resources"][kind].as_object().into_iter().flatten() {
                    if !decodes(v) {
                        let path = format!("{base}.{list}[{i}].resources.{kind}.{k}");
                        out.push((path, v.clone()));
                    }
                }
            }
        }
    }
    for (k, v) in pod_spec["overhead"].as_object().into_iter().flatten() {
        if !decodes(v) {
            out.push((format!("{base}.overhead.{k}"), v.clone()));
        }
    }
    out
}

/// Drops what would not decode from `pod_spec`, as Argo's tolerant decoding ends up
/// without it: a container's malformed request or limit, a malformed overhead entry, and
/// the whole `ephemeralContainers` list when one of them has one (Kubernetes' decoding
/// loses that list entirely). Returns the fields dropped, under `base`.
pub fn drop_malformed(pod_spec: &mut Value, base: &str) -> Vec<String> {
    let found = malformed_quantities(pod_spec, base);
    if found.is_empty() {
        return Vec::new();
    }
    let ephemeral = format!("{base}.ephemeralContainers[");
    if found.iter().any(|(p, _)| p.starts_with(&ephemeral)) {
        if let Some(map) = pod_spec.as_object_mut() {
            map.remove("ephemeralContainers");
        }
    }
    // `get_mut` throughout: indexing a JSON object mutably would add the keys it names.
    for list in ["containers", "initContainers"] {
        let containers = pod_spec.get_mut(list).and_then(Value::as_array_mut);
        for c in containers.into_iter().flatten() {
            for kind in ["requests", "limits"] {
                let map = c
                    .get_mut("resources")
                    .and_then(|r| r.get_mut(kind))
                    .and_then(Value::as_object_mut);
                if let Some(map) = map {
                    map.retain(|_, v| decodes(v));
                }
            }
        }
    }
    if let Some(map) = pod_spec.get_mut("overhead").and_then(Value::as_object_mut) {
        map.retain(|_, v| decodes(v));
    }
    found
        .into_iter()
        .map(|(p, _)| {
            if p.starts_with(&ephemeral) {
                format!("{base}.ephemeralContainers")
            } else {
                p
            }
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
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
    fn malformed_fields_are_named_and_dropped_as_argo_drops_them() {
        let mut spec = json!({
            "containers": [{"name": "a", "resources": {"requests": {"memory": "invalid", "cpu": 0.001}, "limits": {"cpu": "1"}}}],
            "ephemeralContainers": [{"name": "e", "resources": {"requests": {"memory": "invalid"}}}],
            "overhead": {"cpu": "10m"},
        });
        assert_eq!(
            malformed_quantities(&spec, "spec.template.spec"),
            vec![
                (
                    "spec.template.spec.containers[0].resources.requests.memory".into(),
                    json!("invalid")
                ),
                (
                    "spec.template.spec.ephemeralContainers[0].resources.requests.memory".into(),
                    json!("invalid")
                ),
            ]
        );
        let dropped = drop_malformed(&mut spec, "spec.template.spec");
        assert_eq!(
            dropped,
            [
                "spec.template.spec.containers[0].resources.requests.memory",
                "spec.template.spec.ephemeralContainers",
            ]
        );
        assert_eq!(
            spec,
            json!({
                "containers": [{"name": "a", "resources": {"requests": {"cpu": 0.001}, "limits": {"cpu": "1"}}}],
                "overhead": {"cpu": "10m"},
            })
        );
        assert!(drop_malformed(&mut spec, "x").is_empty());
    }
}
