//! The defaults the API server writes into a pod template (Kubernetes'
//! `SetDefaults_PodSpec` and `SetDefaults_Container`, applied to the templates of
//! ReplicaSets), so that a Rollout's template, which the API server stores as written (it is
//! a custom resource), can be compared with the template of a ReplicaSet the server stored
//! with defaults: Argo does the same before it compares (`PodTemplateEqualIgnoreHash` on a
//! defaulted template).

use serde_json::{json, Map, Value};

/// `template` with the API server's pod defaults filled in where a field is absent.
pub fn defaulted(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(md) = t.get_mut("metadata").and_then(Value::as_object_mut) {
        md.entry("creationTimestamp").or_insert(Value::Null);
    }
    if let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
        pod_spec(spec);
    }
    t
}

fn pod_spec(spec: &mut Map<String, Value>) {
    spec.entry("restartPolicy").or_insert(json!("Always"));
    spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    spec.entry("terminationGracePeriodSeconds")
        .or_insert(json!(30));
    spec.entry("securityContext").or_insert(json!({}));
    spec.entry("schedulerName")
        .or_insert(json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            container(c);
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    // An image without a tag, or tagged latest, is pulled every time.
    let last = image.rsplit('/').next().unwrap_or_default();
    let latest = !image.contains('@') && (!last.contains(':') || last.ends_with(":latest"));
    c.entry("imagePullPolicy")
        .or_insert(json!(if latest { "Always" } else { "IfNotPresent" }));
    c.entry("terminationMessagePath")
        .or_insert(json!("/dev/termination-log"));
    c.entry("terminationMessagePolicy").or_insert(json!("File"));
    c.entry("resources").or_insert(json!({}));
    for p in c
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        p.entry("protocol").or_insert(json!("TCP"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_fields_get_the_servers_defaults_and_written_ones_stay() {
        let t = json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 5,
                "containers": [
                    {"name": "a", "image": "web:2", "ports": [{"containerPort": 80}]},
                    {"name": "b", "image": "registry:5000/tools", "imagePullPolicy": "Never"},
                    {"name": "c", "image": "web:latest"},
                ]
            }
        });
        let d = defaulted(&t);
        assert_eq!(d["metadata"]["creationTimestamp"], Value::Null);
        assert!(d["metadata"]
            .as_object()
            .unwrap()
            .contains_key("creationTimestamp"));
        assert_eq!(d["spec"]["terminationGracePeriodSeconds"], 5);
        assert_eq!(d["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(d["spec"]["schedulerName"], "default-scheduler");
        let c = &d["spec"]["containers"];
        assert_eq!(c[0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c[0]["ports"][0]["protocol"], "TCP");
        assert_eq!(c[0]["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c[1]["imagePullPolicy"], "Never");
        assert_eq!(c[2]["imagePullPolicy"], "Always");
        assert_eq!(defaulted(&d), d, "defaulting twice changes nothing");
    }
}
