//! Defaulting of the built-in types the simulated controllers and weir touch, as the
//! real `SetDefaults_*` functions (`pkg/apis/<group>/v1/defaults.go`) and the admission
//! plugins that fill pods (ServiceAccount, DefaultTolerationSeconds) and the service
//! REST storage's allocations (clusterIP) do. Objects read back carry these fields just
//! as from a real cluster.

use serde_json::{json, Map, Value};

use crate::meta;
use crate::registry::ResourceType;

pub fn apply(ty: &ResourceType, obj: &mut Value) {
    match (ty.group.as_str(), ty.resource.as_str()) {
        ("", "namespaces") => namespace(obj),
        ("", "services") => service(obj),
        ("", "secrets") => set_if_absent(obj, "type", json!("Opaque")),
        ("", "pods") => pod(obj),
        ("apps", "replicasets") => {
            set_path_if_absent(obj, &["spec", "replicas"], json!(1));
            template(obj);
        }
        ("apps", "deployments") => deployment(obj),
        ("batch", "jobs") => job(obj),
        ("apiextensions.k8s.io", "customresourcedefinitions") => crate::crd::defaults(obj),
        _ => {}
    }
}

fn namespace(obj: &mut Value) {
    let name = meta::name(obj).to_string();
    let md = meta::metadata_mut(obj);
    let labels = md.entry("labels").or_insert_with(|| json!({}));
    if let Some(l) = labels.as_object_mut() {
        l.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
    set_path_if_absent(obj, &["spec", "finalizers"], json!(["kubernetes"]));
}

fn service(obj: &mut Value) {
    let spec = object_at(obj, &["spec"]);
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    spec.entry("type").or_insert(json!("ClusterIP"));
    spec.entry("sessionAffinity").or_insert(json!("None"));
    if ty != "ExternalName" {
        if spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            let ip = format!("10.96.{}.{}", fastrand::u8(0..=255), fastrand::u8(1..=254));
            spec.insert("clusterIP".into(), json!(ip));
        }
        let ip = spec["clusterIP"].clone();
        spec.entry("clusterIPs").or_insert(json!([ip]));
        spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
        spec.entry("internalTrafficPolicy")
            .or_insert(json!("Cluster"));
    }
    if ty == "NodePort" || ty == "LoadBalancer" {
        spec.entry("externalTrafficPolicy")
            .or_insert(json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("protocol").or_insert(json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                p.entry("targetPort").or_insert(port);
            }
            if (ty == "NodePort" || ty == "LoadBalancer") && !p.contains_key("nodePort") {
                p.insert("nodePort".into(), json!(30000 + fastrand::u16(0..2768)));
            }
        }
    }
}

fn deployment(obj: &mut Value) {
    set_path_if_absent(obj, &["spec", "replicas"], json!(1));
    set_path_if_absent(obj, &["spec", "revisionHistoryLimit"], json!(10));
    set_path_if_absent(obj, &["spec", "progressDeadlineSeconds"], json!(600));
    set_path_if_absent(obj, &["spec", "strategy", "type"], json!("RollingUpdate"));
    if obj.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("RollingUpdate") {
        set_path_if_absent(
            obj,
            &["spec", "strategy", "rollingUpdate", "maxUnavailable"],
            json!("25%"),
        );
        set_path_if_absent(
            obj,
            &["spec", "strategy", "rollingUpdate", "maxSurge"],
            json!("25%"),
        );
    }
    template(obj);
}

fn job(obj: &mut Value) {
    let spec = object_at(obj, &["spec"]);
    if !spec.contains_key("completions") && !spec.contains_key("parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    spec.entry("parallelism").or_insert(json!(1));
    spec.entry("backoffLimit").or_insert(json!(6));
    spec.entry("completionMode").or_insert(json!("NonIndexed"));
    spec.entry("suspend").or_insert(json!(false));
    spec.entry("podReplacementPolicy")
        .or_insert(json!("TerminatingOrFailed"));
    let manual = spec
        .get("manualSelector")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let uid = meta::uid(obj).to_string();
    let name = meta::name(obj).to_string();
    if !manual && !uid.is_empty() && obj.pointer("/spec/selector").is_none() {
        // The job registry's generated selector (batch strategy `generateSelector`).
        obj["spec"]["selector"] =
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
        let labels = object_at(obj, &["spec", "template", "metadata", "labels"]);
        labels
            .entry("batch.kubernetes.io/controller-uid")
            .or_insert(json!(uid));
        labels
            .entry("batch.kubernetes.io/job-name")
            .or_insert(json!(name));
        labels.entry("controller-uid").or_insert(json!(uid));
        labels.entry("job-name").or_insert(json!(name));
    }
    template(obj);
}

/// A workload's pod template: the pod spec defaults (not the pod admission ones).
fn template(obj: &mut Value) {
    if let Some(spec) = obj
        .pointer_mut("/spec/template/spec")
        .and_then(Value::as_object_mut)
    {
        pod_spec(spec);
    }
    // The template's ObjectMeta is a Go struct: its zero creationTimestamp reads null.
    let md = object_at(obj, &["spec", "template", "metadata"]);
    md.insert("creationTimestamp".into(), Value::Null);
}

fn pod(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        pod_spec(spec);
        // ServiceAccount and Priority admission.
        spec.entry("serviceAccountName").or_insert(json!("default"));
        let sa = spec["serviceAccountName"].clone();
        spec.entry("serviceAccount").or_insert(sa);
        spec.entry("priority").or_insert(json!(0));
        spec.entry("preemptionPolicy")
            .or_insert(json!("PreemptLowerPriority"));
        // DefaultTolerationSeconds admission.
        if !spec.contains_key("tolerations") {
            spec.insert(
                "tolerations".into(),
                json!([
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]),
            );
        }
    }
}

/// `SetDefaults_PodSpec` and `SetDefaults_Container`.
fn pod_spec(spec: &mut Map<String, Value>) {
    spec.entry("restartPolicy").or_insert(json!("Always"));
    spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    spec.entry("terminationGracePeriodSeconds")
        .or_insert(json!(30));
    spec.entry("securityContext").or_insert(json!({}));
    spec.entry("schedulerName")
        .or_insert(json!("default-scheduler"));
    spec.entry("enableServiceLinks").or_insert(json!(true));
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            let tag = image.rsplit('/').next().unwrap_or("");
            let latest = !image.contains('@') && (!tag.contains(':') || tag.ends_with(":latest"));
            c.entry("imagePullPolicy").or_insert(json!(if latest {
                "Always"
            } else {
                "IfNotPresent"
            }));
            c.entry("terminationMessagePath")
                .or_insert(json!("/dev/termination-log"));
            c.entry("terminationMessagePolicy").or_insert(json!("File"));
            c.entry("resources").or_insert(json!({}));
            if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    p.entry("protocol").or_insert(json!("TCP"));
                }
            }
            container_nested(c);
        }
    }
    volumes(spec);
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

fn set_if_absent(obj: &mut Value, field: &str, value: Value) {
    if let Some(m) = obj.as_object_mut() {
        m.entry(field).or_insert(value);
    }
}

fn set_path_if_absent(obj: &mut Value, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("a non-empty path");
    object_at(obj, parents)
        .entry(last.to_string())
        .or_insert(value);
}

/// The object at `path`, made (replacing non-objects) where missing.
pub fn object_at<'a>(obj: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = obj;
    for seg in path {
        if !cur.is_object() {
            *cur = json!({});
        }
        let map = cur.as_object_mut().expect("made an object above");
        cur = map.entry(seg.to_string()).or_insert_with(|| json!({}));
    }
    if !cur.is_object() {
        *cur = json!({});
    }
    cur.as_object_mut().expect("made an object above")
}
