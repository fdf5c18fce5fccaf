//! Whether a live ReplicaSet's pod template is the one a Rollout asks for, ignoring the
//! `rollouts-pod-template-hash` label Argo adds: how Argo recognises a ReplicaSet it created
//! when the hash alone does not find it (Argo's `PodTemplateEqualIgnoreHash`, the fallback
//! of `FindNewReplicaSet` and the hash-collision check of `createDesiredReplicaSet`).
//!
//! Argo compares typed Go structs after running the API server's pod defaulting on the
//! desired template in process. weir compares JSON, so:
//!
//! - The desired template must already be defaulted the way the API server defaults a pod
//!   template (for instance by a server-side dry-run create of a `PodTemplate`); the live
//!   one, read back from the server, already is.
//! - The deprecated `spec.serviceAccount` is ignored on both sides: the server fills it in on
//!   the live template but defaulting does not put it in the desired one.
//! - As in Kubernetes' semantic equality, an empty list or map equals an absent one, and so
//!   does `null`. weir also takes `{}` as absent: Kubernetes agrees for maps and struct
//!   values, not for struct pointers (an empty `securityContext: {}` versus none), but
//!   without the schema JSON cannot tell them apart. Everything else (numbers, strings, list
//!   order) must match exactly. Resource quantities are compared as written, where
//!   Kubernetes would call `1000m` and `1` equal; both sides come from the API server, which
//!   writes them in canonical form.
//!
//! Argo also strips the canary/stable ephemeral metadata it injected and its anti-affinity
//! rule from the live template before comparing; that is the caller's.

use serde_json::{Map, Value};

use super::POD_TEMPLATE_HASH_LABEL;

/// The two pod templates (`spec.template` of a ReplicaSet and of a Rollout, as JSON) are the
/// same apart from the `rollouts-pod-template-hash` label and `spec.serviceAccount`.
pub fn pod_template_equal_ignore_hash(live: &Value, desired: &Value) -> bool {
    normalized(live) == normalized(desired)
}

fn normalized(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    if let Some(spec) = t.pointer_mut("/spec").and_then(Value::as_object_mut) {
        spec.remove("serviceAccount");
    }
    drop_empty(t).unwrap_or(Value::Null)
}

/// `None` for a value that equals absence (null, empty list, empty map); otherwise the value
/// with such members removed from its maps (list elements are kept in place).
fn drop_empty(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .map(|i| drop_empty(i).unwrap_or(Value::Null))
                .collect(),
        )),
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .into_iter()
                .filter_map(|(k, v)| drop_empty(v).map(|v| (k, v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Mirrors Argo's `TestPodTemplateEqualIgnoreHashWithServiceAccount`
    /// (utils/replicaset/replicaset_test.go): a live template written by an old Argo, with a
    /// hash label that newer hashing no longer produces and the deprecated `serviceAccount`
    /// filled in, equals the Rollout's template. Argo defaults the desired template in
    /// process; here it is given as the API server defaults it.
    #[test]
    fn service_account_and_hash_label_do_not_count() {
        let desired = json!({
            "metadata": {"labels": {"app": "serviceaccount-ro"}},
            "spec": {
                "containers": [{
                    "image": "nginx:1.19-alpine",
                    "name": "app",
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "dnsPolicy": "ClusterFirst",
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "serviceAccountName": "default",
                "terminationGracePeriodSeconds": 30
            }
        });
        let live = json!({
            "metadata": {
                "creationTimestamp": null,
                "labels": {"app": "serviceaccount-ro", "rollouts-pod-template-hash": "8684587d99"}
            },
            "spec": {
                "containers": [{
                    "image": "nginx:1.19-alpine",
                    "imagePullPolicy": "IfNotPresent",
                    "name": "app",
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "dnsPolicy": "ClusterFirst",
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "serviceAccount": "default",
                "serviceAccountName": "default",
                "terminationGracePeriodSeconds": 30
            }
        });
        assert!(pod_template_equal_ignore_hash(&live, &desired));
        assert!(pod_template_equal_ignore_hash(&desired, &live));
    }

    /// One row per rule: (what, live, desired, equal).
    #[test]
    fn equality_rows() {
        let base = || {
            json!({
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "web:1"}]}
            })
        };
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = base();
            f(&mut v);
            v
        };
        #[rustfmt::skip]
        let rows: Vec<(&str, Value, Value, bool)> = vec![
            ("identical", base(), base(), true),
            (
                "hash label only on live",
                with(&|v| v["metadata"]["labels"]["rollouts-pod-template-hash"] = json!("abc")),
                base(),
                true,
            ),
            (
                "different hash labels",
                with(&|v| v["metadata"]["labels"]["rollouts-pod-template-hash"] = json!("abc")),
                with(&|v| v["metadata"]["labels"]["rollouts-pod-template-hash"] = json!("def")),
                true,
            ),
            (
                "labels left empty once the hash is gone",
                json!({"metadata": {"labels": {"rollouts-pod-template-hash": "abc"}}, "spec": {"containers": [{"name": "app", "image": "web:1"}]}}),
                json!({"spec": {"containers": [{"name": "app", "image": "web:1"}]}}),
                true,
            ),
            ("another label differs", with(&|v| v["metadata"]["labels"]["tier"] = json!("a")), base(), false),
            ("image differs", with(&|v| v["spec"]["containers"][0]["image"] = json!("web:2")), base(), false),
            (
                "serviceAccount ignored, serviceAccountName not",
                with(&|v| v["spec"]["serviceAccountName"] = json!("x")),
                base(),
                false,
            ),
            ("serviceAccount ignored", with(&|v| v["spec"]["serviceAccount"] = json!("x")), base(), true),
            (
                "creationTimestamp null equals absent",
                with(&|v| v["metadata"]["creationTimestamp"] = json!(null)),
                base(),
                true,
            ),
            ("empty list equals absent", with(&|v| v["spec"]["volumes"] = json!([])), base(), true),
            ("empty map equals absent", with(&|v| v["spec"]["nodeSelector"] = json!({})), base(), true),
            (
                "annotations differ",
                with(&|v| v["metadata"]["annotations"] = json!({"a": "1"})),
                base(),
                false,
            ),
            (
                "container order matters",
                with(&|v| v["spec"]["containers"] = json!([{"name": "b", "image": "b"}, {"name": "app", "image": "web:1"}])),
                with(&|v| v["spec"]["containers"] = json!([{"name": "app", "image": "web:1"}, {"name": "b", "image": "b"}])),
                false,
            ),
            ("a number is not a string", with(&|v| v["spec"]["priority"] = json!(1)), with(&|v| v["spec"]["priority"] = json!("1")), false),
        ];
        for (what, live, desired, equal) in rows {
            assert_eq!(
                pod_template_equal_ignore_hash(&live, &desired),
                equal,
                "{what}"
            );
        }
    }
}
