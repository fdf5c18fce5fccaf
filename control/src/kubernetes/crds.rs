//! weir's CustomResourceDefinitions: Argo Rollouts' own five (Rollout, Experiment,
//! AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun; vendored unmodified in
//! `control/crds/argo/`) with one addition, the `weir` analysis provider in the metric
//! provider schema of the three analysis kinds.
//!
//! Argo's schema is kept as it is, so installing weir's CRDs over Argo's changes nothing for
//! Argo's controller, `kubectl argo rollouts` or Argo CD. With Argo's CRDs installed the API
//! server prunes `provider.weir` (that node does not preserve unknown fields); weir works
//! with both, which is why nothing else differs.

use serde_json::{json, Value};

/// Argo's CRDs, in the order `weir crds` prints them (an AnalysisTemplate before the Rollout
/// that names it, as `kubectl apply` of one file does not care but a reader might).
const ARGO: [(&str, &str); 5] = [
    (
        "analysistemplates.argoproj.io",
        include_str!("../../crds/argo/analysis-template-crd.yaml"),
    ),
    (
        "clusteranalysistemplates.argoproj.io",
        include_str!("../../crds/argo/cluster-analysis-template-crd.yaml"),
    ),
    (
        "analysisruns.argoproj.io",
        include_str!("../../crds/argo/analysis-run-crd.yaml"),
    ),
    (
        "experiments.argoproj.io",
        include_str!("../../crds/argo/experiment-crd.yaml"),
    ),
    (
        "rollouts.argoproj.io",
        include_str!("../../crds/argo/rollout-crd.yaml"),
    ),
];

/// The kinds whose `spec.metrics[].provider` gains `weir`.
const WITH_PROVIDER: [&str; 3] = [
    "analysistemplates.argoproj.io",
    "clusteranalysistemplates.argoproj.io",
    "analysisruns.argoproj.io",
];

/// The schema of `provider.weir`, the fields of `weir_config::argo::WeirMetric`. Strings
/// where Argo's `{{args.x}}` may stand; `minRequests` and `quantile` are numbers, as weir
/// reads them.
pub fn weir_provider_schema() -> Value {
    json!({
        "description": "weir's built-in provider: a backend's success rate, error rate, request rate or latency quantile over a recent window, from the weir proxies' own histograms (every replica's, merged exactly).",
        "type": "object",
        "required": ["route", "backend", "metric"],
        "properties": {
            "route": {"description": "The weir route (standalone) or the route's Ingress/HTTPRoute the canary is measured on.", "type": "string"},
            "backend": {"description": "A role of the Rollout (canary, stable) or a service name.", "type": "string"},
            "metric": {"description": "What is measured.", "type": "string", "enum": ["success-rate", "error-rate", "request-rate", "latency"]},
            "quantile": {"description": "Latency only: which quantile, in (0, 1]; default 0.99. The result is in seconds.", "type": "number"},
            "window": {"description": "How far back the measurement reaches (e.g. 1m, up to 10m), never before the route's split last changed; default 1m.", "type": "string"},
            "minRequests": {"description": "Fewer requests than this a whole window after the split changed gives an Inconclusive measurement; default 20.", "type": "integer", "format": "int64", "minimum": 0},
            "baseline": {"description": "A second backend measured over the same window; the result becomes {value, baseline}.", "type": "string"}
        }
    })
}

/// One CRD's name and the object `weir crds` prints for it.
pub struct Crd {
    pub name: &'static str,
    pub object: Value,
}

/// weir's five CRDs. Fails only if a vendored file does not have the shape Argo's CRDs have
/// (a test runs this, so a bad vendored update is caught before release).
pub fn crds() -> Result<Vec<Crd>, String> {
    ARGO.iter()
        .map(|(name, text)| {
            let mut object: Value =
                serde_saphyr::from_str(text).map_err(|e| format!("vendored CRD {name}: {e}"))?;
            if WITH_PROVIDER.contains(name) {
                add_weir_provider(name, &mut object)?;
            }
            Ok(Crd { name, object })
        })
        .collect()
}

/// Adds `weir` to `spec.metrics[].provider.properties` in every version of the CRD.
fn add_weir_provider(name: &str, crd: &mut Value) -> Result<(), String> {
    let versions = crd
        .pointer_mut("/spec/versions")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("{name}: no spec.versions"))?;
    for version in versions {
        let provider = version
            .pointer_mut("/schema/openAPIV3Schema/properties/spec/properties/metrics/items/properties/provider/properties")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{name}: no metric provider schema"))?;
        provider.insert("weir".to_owned(), weir_provider_schema());
    }
    Ok(())
}

/// The CRDs as one YAML stream (`---` between documents), what `weir crds` prints and
/// `deploy/crds/weir-crds.yaml` holds.
pub fn crds_yaml() -> Result<String, String> {
    let mut out = String::from(
        "# weir's CustomResourceDefinitions: Argo Rollouts' (commit 9f8d111d8f, Apache License 2.0)\n# with the `weir` analysis provider added. Generated by `weir crds`; do not edit.\n",
    );
    for crd in crds()? {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(&crd.object).map_err(|e| format!("{}: {e}", crd.name))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of weir's provider (as serde writes a full one) is in the schema, and
    /// nothing else is.
    #[test]
    fn the_schema_has_exactly_the_providers_fields() {
        let full = weir_config::argo::WeirMetric {
            route: "web".into(),
            backend: "canary".into(),
            metric: weir_config::argo::WeirMetricKind::Latency,
            quantile: Some(0.99),
            window: Some("1m".into()),
            min_requests: Some(20),
            baseline: Some("stable".into()),
        };
        let written = serde_json::to_value(&full).unwrap();
        let mut fields: Vec<&String> = written.as_object().unwrap().keys().collect();
        fields.sort();
        let schema = weir_provider_schema();
        let mut properties: Vec<&String> =
            schema["properties"].as_object().unwrap().keys().collect();
        properties.sort();
        assert_eq!(fields, properties);
        for kind in ["success-rate", "error-rate", "request-rate", "latency"] {
            let k: weir_config::argo::WeirMetricKind = serde_json::from_value(json!(kind)).unwrap();
            assert_eq!(serde_json::to_value(k).unwrap(), json!(kind));
        }
    }

    #[test]
    fn only_the_provider_schema_differs_from_argos() {
        let ours = crds().unwrap();
        assert_eq!(ours.len(), 5);
        for (crd, (name, text)) in ours.iter().zip(ARGO) {
            assert_eq!(crd.name, name);
            assert_eq!(crd.object["metadata"]["name"], name);
            let argo: Value = serde_saphyr::from_str(text).unwrap();
            let mut without = crd.object.clone();
            if WITH_PROVIDER.contains(&name) {
                for v in without["spec"]["versions"].as_array_mut().unwrap() {
                    let p = v
                        .pointer_mut("/schema/openAPIV3Schema/properties/spec/properties/metrics/items/properties/provider/properties")
                        .unwrap()
                        .as_object_mut()
                        .unwrap();
                    assert!(p.remove("weir").is_some(), "{name}");
                }
            }
            assert_eq!(without, argo, "{name}");
        }
    }
}
