//! Argo's in-tree nginx traffic routing (`trafficRouting.nginx`), as pure functions: the
//! canary Ingress Argo's controller writes beside each stable Ingress, and the merge patch
//! that brings an existing one to the desired weight. Any ingress-nginx-compatible
//! controller (ingress-nginx itself, or weir's proxy in Kubernetes mode) then splits the
//! traffic by ingress-nginx's canary annotations.
//!
//! The rules are those of Argo's `rollout/trafficrouting/nginx` (commit 9f8d111d8f):
//! - name: `<rollout>-<stable ingress>-canary`, the prefix cut to fit 253 characters;
//! - from the stable Ingress: its TLS, `ingressClassName` and `kubernetes.io/ingress.class`
//!   annotation (no other annotation), and only the rules with a path whose backend is the
//!   stable Service, those backends pointed at the canary Service; none: an error;
//! - annotations: `additionalIngressAnnotations` (prefixed with the annotation prefix
//!   unless already), then `canaryIngressAnnotations` as written, then always `canary:
//!   "true"` and `canary-weight`, and `canary-weight-total` from `maxTrafficWeight`;
//! - owned by the Rollout (a controller reference), so it goes when the Rollout does;
//! - an existing canary Ingress not controlled by this Rollout is left alone (an error);
//! - its annotations set by others are kept (the desired ones win); its labels are not.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The ingress-nginx annotation prefix when `annotationPrefix` is not set.
pub const DEFAULT_ANNOTATION_PREFIX: &str = "nginx.ingress.kubernetes.io";

/// What of `spec.strategy.canary` the canary Ingress depends on.
#[derive(Clone, Debug, Default)]
pub struct NginxRouting {
    pub rollout: String,
    pub stable_service: String,
    pub canary_service: String,
    /// `trafficRouting.nginx.annotationPrefix`; empty for the default.
    pub annotation_prefix: String,
    pub additional_ingress_annotations: BTreeMap<String, String>,
    pub canary_ingress_annotations: BTreeMap<String, String>,
    /// `trafficRouting.maxTrafficWeight`.
    pub max_traffic_weight: Option<i32>,
}

impl NginxRouting {
    /// The routing of a canary with `trafficRouting.nginx`, and its stable Ingresses
    /// (`stableIngress`, or `stableIngresses`).
    pub fn of(
        rollout: &str,
        canary: &weir_config::argo::CanaryStrategy,
    ) -> Result<(NginxRouting, Vec<String>), String> {
        let routing = canary.traffic_routing.as_ref();
        let nginx = routing
            .and_then(|t| t.nginx.as_ref())
            .ok_or("no trafficRouting.nginx")?;
        let strings = |key: &str| -> BTreeMap<String, String> {
            nginx[key]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        };
        let mut ingresses: Vec<String> = nginx["stableIngresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if let Some(one) = nginx["stableIngress"].as_str().filter(|s| !s.is_empty()) {
            ingresses.insert(0, one.to_owned());
        }
        if ingresses.is_empty() {
            return Err("trafficRouting.nginx: stableIngress or stableIngresses is needed".into());
        }
        Ok((
            NginxRouting {
                rollout: rollout.to_owned(),
                stable_service: canary.stable_service.clone(),
                canary_service: canary.canary_service.clone(),
                annotation_prefix: nginx["annotationPrefix"].as_str().unwrap_or("").to_owned(),
                additional_ingress_annotations: strings("additionalIngressAnnotations"),
                canary_ingress_annotations: strings("canaryIngressAnnotations"),
                max_traffic_weight: routing.and_then(|t| t.max_traffic_weight),
            },
            ingresses,
        ))
    }

    /// The weight a canary Ingress this routing wrote carries (`canary-weight`), if any.
    pub fn weight_of(&self, canary_ingress: &Value) -> Option<i32> {
        canary_ingress["metadata"]["annotations"][format!("{}/canary-weight", self.prefix())]
            .as_str()?
            .parse()
            .ok()
    }

    fn prefix(&self) -> &str {
        if self.annotation_prefix.is_empty() {
            DEFAULT_ANNOTATION_PREFIX
        } else {
            &self.annotation_prefix
        }
    }
}

/// `<rollout>-<stable ingress>-canary`, with the part before `-canary` cut so the whole fits
/// Kubernetes' 253-character limit for names.
pub fn canary_ingress_name(rollout: &str, stable_ingress: &str) -> String {
    const SUFFIX: &str = "-canary";
    let mut prefix = format!("{rollout}-{stable_ingress}");
    if prefix.len() > 253 - SUFFIX.len() {
        let mut cut = 253 - SUFFIX.len();
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    format!("{prefix}{SUFFIX}")
}

/// The canary Ingress for `stable` (a networking.k8s.io/v1 Ingress as JSON) at `weight`,
/// owned by `owner` (an ownerReference as JSON, `controller: true`).
pub fn desired_canary_ingress(
    routing: &NginxRouting,
    stable: &Value,
    weight: i32,
    owner: Value,
) -> Result<Value, String> {
    let stable_name = stable["metadata"]["name"].as_str().unwrap_or_default();
    let prefix = routing.prefix();
    let mut annotations = Map::new();
    if let Some(class) = stable
        .pointer("/metadata/annotations/kubernetes.io~1ingress.class")
        .cloned()
    {
        annotations.insert("kubernetes.io/ingress.class".to_owned(), class);
    }
    let mut rules = Vec::new();
    for rule in stable["spec"]["rules"].as_array().into_iter().flatten() {
        let mut rule = rule.clone();
        let mut uses_stable = false;
        for path in rule
            .pointer_mut("/http/paths")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(service) = path.pointer_mut("/backend/service/name") else {
                continue;
            };
            if service.as_str() == Some(routing.stable_service.as_str()) {
                uses_stable = true;
                *service = Value::String(routing.canary_service.clone());
            }
        }
        if uses_stable {
            rules.push(rule);
        }
    }
    if rules.is_empty() {
        return Err(format!(
            "ingress `{stable_name}` has no rules using service {} backend",
            routing.stable_service
        ));
    }
    for (k, v) in &routing.additional_ingress_annotations {
        let key = if k.starts_with(prefix) {
            k.clone()
        } else {
            format!("{prefix}/{k}")
        };
        annotations.insert(key, Value::String(v.clone()));
    }
    for (k, v) in &routing.canary_ingress_annotations {
        annotations.insert(k.clone(), Value::String(v.clone()));
    }
    annotations.insert(format!("{prefix}/canary"), json!("true"));
    annotations.insert(format!("{prefix}/canary-weight"), json!(weight.to_string()));
    if let Some(total) = routing.max_traffic_weight {
        annotations.insert(
            format!("{prefix}/canary-weight-total"),
            json!(total.to_string()),
        );
    }
    let mut spec = Map::new();
    if let Some(tls) = stable["spec"].get("tls").filter(|t| !t.is_null()) {
        spec.insert("tls".to_owned(), tls.clone());
    }
    if let Some(class) = stable["spec"]
        .get("ingressClassName")
        .filter(|c| !c.is_null())
    {
        spec.insert("ingressClassName".to_owned(), class.clone());
    }
    spec.insert("rules".to_owned(), Value::Array(rules));
    Ok(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": canary_ingress_name(&routing.rollout, stable_name),
            "namespace": stable["metadata"]["namespace"].clone(),
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": spec,
    }))
}

/// Whether `ingress` is controlled by the owner with `uid` (a controller reference).
pub fn controlled_by(ingress: &Value, uid: &str) -> bool {
    ingress["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["controller"] == json!(true) && r["uid"].as_str() == Some(uid))
}

/// The merge patch that brings `current` (the canary Ingress in the cluster) to `desired`,
/// over annotations, labels and spec as Argo compares them; `None` when nothing differs.
/// Annotations others set on `current` are kept unless `desired` sets them.
pub fn canary_ingress_patch(current: &Value, desired: &Value) -> Option<Value> {
    let mut annotations = desired["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (k, v) in current["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        annotations.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let view = |annotations: Value, labels: Value, spec: Value| json!({"metadata": {"annotations": annotations, "labels": labels}, "spec": spec});
    let from = view(
        current["metadata"]["annotations"].clone(),
        current["metadata"]["labels"].clone(),
        current["spec"].clone(),
    );
    let to = view(
        Value::Object(annotations),
        desired["metadata"]["labels"].clone(),
        desired["spec"].clone(),
    );
    let patch = merge_diff(&from, &to);
    (patch != json!({})).then_some(patch)
}

/// The RFC 7386 merge patch that turns `from` into `to`: changed or added members as they
/// are in `to`, removed ones as null, arrays replaced whole.
fn merge_diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut patch = Map::new();
            for (k, v) in b {
                if v.is_null() {
                    if a.get(k).is_some_and(|old| !old.is_null()) {
                        patch.insert(k.clone(), Value::Null);
                    }
                    continue;
                }
                match a.get(k) {
                    Some(old) if old == v => {}
                    Some(old @ Value::Object(_)) if v.is_object() => {
                        patch.insert(k.clone(), merge_diff(old, v));
                    }
                    _ => {
                        patch.insert(k.clone(), v.clone());
                    }
                }
            }
            for (k, old) in a {
                if !b.contains_key(k) && !old.is_null() {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => to.clone(),
    }
}

#[cfg(test)]
#[path = "nginx_tests.rs"]
mod tests;
