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
    spec.entry("enableServiceLinks").or_insert(json!(true));
    volumes(spec);
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
    container_nested(c);
}

/// `SetDefaults_Probe`, `SetDefaults_HTTPGetAction` (in probes and lifecycle handlers) and
/// `SetDefaults_ObjectFieldSelector` (in env), for one container.
fn container_nested(c: &mut Map<String, Value>) {
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            p.entry("timeoutSeconds").or_insert(json!(1));
            p.entry("periodSeconds").or_insert(json!(10));
            p.entry("successThreshold").or_insert(json!(1));
            p.entry("failureThreshold").or_insert(json!(3));
            http_get(p);
        }
    }
    if let Some(lifecycle) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lifecycle.get_mut(hook).and_then(Value::as_object_mut) {
                http_get(h);
            }
        }
    }
    for e in c
        .get_mut("env")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(f) = e
            .pointer_mut("/valueFrom/fieldRef")
            .and_then(Value::as_object_mut)
        {
            f.entry("apiVersion").or_insert(json!("v1"));
        }
    }
}

fn http_get(handler: &mut Map<String, Value>) {
    if let Some(h) = handler.get_mut("httpGet").and_then(Value::as_object_mut) {
        let empty = h
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty();
        if empty {
            h.insert("path".into(), json!("/"));
        }
        h.entry("scheme").or_insert(json!("HTTP"));
    }
}

/// The volume sources' defaults: `defaultMode` 0644 for configMap, secret, downwardAPI and
/// projected volumes, a projected service account token's `expirationSeconds`, a hostPath's
/// empty `type`, and fieldRef `apiVersion` in downward API items.
fn volumes(spec: &mut Map<String, Value>) {
    for v in spec
        .get_mut("volumes")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        for source in ["configMap", "secret", "downwardAPI", "projected"] {
            if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut) {
                s.entry("defaultMode").or_insert(json!(420));
            }
        }
        if let Some(h) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
            h.entry("type").or_insert(json!(""));
        }
        let items = v
            .get_mut("downwardAPI")
            .and_then(|d| d.get_mut("items"))
            .and_then(Value::as_array_mut);
        for item in items.into_iter().flatten() {
            if let Some(f) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
                f.entry("apiVersion").or_insert(json!("v1"));
            }
        }
        let sources = v
            .get_mut("projected")
            .and_then(|p| p.get_mut("sources"))
            .and_then(Value::as_array_mut);
        for s in sources.into_iter().flatten() {
            if let Some(t) = s
                .get_mut("serviceAccountToken")
                .and_then(Value::as_object_mut)
            {
                t.entry("expirationSeconds").or_insert(json!(3600));
            }
        }
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
        assert_eq!(d["spec"]["enableServiceLinks"], true);
        assert_eq!(defaulted(&d), d, "defaulting twice changes nothing");
    }

    #[test]
    fn probes_handlers_env_and_volumes_get_the_servers_defaults() {
        let t = json!({"spec": {
            "containers": [{
                "name": "a", "image": "web:2",
                "readinessProbe": {"httpGet": {"port": 8080}},
                "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
                "lifecycle": {"preStop": {"httpGet": {"path": "/drain", "port": 8080}}},
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            }],
            "volumes": [
                {"name": "c", "configMap": {"name": "c"}},
                {"name": "s", "secret": {"secretName": "s", "defaultMode": 256}},
                {"name": "h", "hostPath": {"path": "/tmp"}},
                {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
            ],
        }});
        let d = defaulted(&t);
        let c = &d["spec"]["containers"][0];
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["livenessProbe"]["periodSeconds"], 5);
        assert_eq!(c["lifecycle"]["preStop"]["httpGet"]["path"], "/drain");
        assert_eq!(c["lifecycle"]["preStop"]["httpGet"]["scheme"], "HTTP");
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        let v = &d["spec"]["volumes"];
        assert_eq!(v[0]["configMap"]["defaultMode"], 420);
        assert_eq!(v[1]["secret"]["defaultMode"], 256);
        assert_eq!(v[2]["hostPath"]["type"], "");
        assert_eq!(v[3]["projected"]["defaultMode"], 420);
        assert_eq!(
            v[3]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3600
        );
        assert_eq!(defaulted(&d), d);
    }
}
