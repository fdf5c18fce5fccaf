//! A Rollout's ReplicaSets as Argo names, labels and owns them, and their view for the
//! sizing rules of [`crate::replicas`].
//!
//! - name `<rollout>-<pod-template hash>`; the hash as the `rollouts-pod-template-hash`
//!   label on the ReplicaSet, its selector and its pod template;
//! - annotations `rollout.argoproj.io/revision` and `rollout.argoproj.io/desired-replicas`;
//! - a controller owner reference to the Rollout, so the garbage collector removes them
//!   with it and a watch on ReplicaSets finds their Rollout;
//! - created with no pods; the sizing rules scale it.
//!
//! A ReplicaSet of the Rollout whose template is the Rollout's (ignoring the hash label) is
//! the new one whatever its name: a Rollout Argo's controller was managing keeps its
//! ReplicaSets and pods when weir's controller takes over.

use k8s_openapi::api::apps::v1::ReplicaSet as K8sReplicaSet;
use kube::ResourceExt;
use serde_json::{json, Value};

use super::hash::POD_TEMPLATE_HASH_LABEL;
use crate::analysis::Timestamp;
use crate::replicas::{self, template::pod_template_equal_ignore_hash};

pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";
pub const DESIRED_REPLICAS_ANNOTATION: &str = "rollout.argoproj.io/desired-replicas";

/// The sizing rules' view of a ReplicaSet.
pub fn view(rs: &K8sReplicaSet) -> replicas::ReplicaSet {
    let annotations = rs.annotations();
    replicas::ReplicaSet {
        name: rs.name_any(),
        pod_template_hash: rs.labels().get(POD_TEMPLATE_HASH_LABEL).cloned(),
        spec_replicas: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        status_replicas: rs.status.as_ref().map_or(0, |s| s.replicas),
        available_replicas: rs
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0),
        revision: annotations.get(REVISION_ANNOTATION).cloned(),
        created_at: rs
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(Timestamp::default(), |t| {
                Timestamp::from_millis(u64::try_from(t.0.as_millisecond()).unwrap_or(0))
            }),
        scale_down_deadline: annotations
            .get(replicas::SCALE_DOWN_DEADLINE_ANNOTATION)
            .cloned(),
    }
}

/// Whether `rs` is controlled by the Rollout with `uid`.
pub fn owned_by(rs: &K8sReplicaSet, uid: &str) -> bool {
    rs.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The Rollout's ReplicaSet whose pod template is `template` (the Rollout's), if any.
pub fn with_template<'a>(
    owned: &'a [K8sReplicaSet],
    template: &Value,
) -> Option<&'a K8sReplicaSet> {
    owned.iter().find(|rs| {
        let live = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| serde_json::to_value(t).ok())
            .unwrap_or(Value::Null);
        pod_template_equal_ignore_hash(&live, template)
    })
}

/// The ReplicaSet Argo would create for `rollout` (its JSON) at `hash`, with no pods.
pub fn new_replica_set(rollout: &Value, hash: &str, revision: u64) -> Value {
    let name = format!(
        "{}-{hash}",
        rollout["metadata"]["name"].as_str().unwrap_or_default()
    );
    let mut template = rollout["spec"]["template"].clone();
    if !template["metadata"]["labels"].is_object() {
        template["metadata"]["labels"] = json!({});
    }
    template["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
    let mut selector = rollout["spec"]["selector"].clone();
    if !selector["matchLabels"].is_object() {
        selector["matchLabels"] = json!({});
    }
    selector["matchLabels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
    let mut spec = json!({"replicas": 0, "selector": selector, "template": template});
    if let Some(min_ready) = rollout["spec"]
        .get("minReadySeconds")
        .filter(|v| !v.is_null())
    {
        spec["minReadySeconds"] = min_ready.clone();
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": rollout["metadata"]["namespace"],
            "labels": template["metadata"]["labels"],
            "annotations": {
                REVISION_ANNOTATION: revision.to_string(),
                DESIRED_REPLICAS_ANNOTATION: rollout["spec"]["replicas"].as_i64().unwrap_or(1).to_string(),
            },
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": rollout["metadata"]["name"],
                "uid": rollout["metadata"]["uid"],
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    })
}

/// `a=b,c=d` from a label selector's matchLabels (what `status.selector` holds).
pub(super) fn selector_string(selector: &Value) -> String {
    selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// A label selector (matchLabels and matchExpressions) as a list query's `labelSelector`;
/// empty (everything) when there is none.
pub(super) fn list_selector(selector: &Value) -> String {
    let mut terms: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for e in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        terms.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            // Not a selector the API server would have accepted: list everything and let
            // ownership decide.
            _ => return String::new(),
        });
    }
    terms.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout() -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "team", "uid": "u-1"},
            "spec": {
                "replicas": 5,
                "minReadySeconds": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "web:2"}]}},
            }
        })
    }

    #[test]
    fn a_new_replica_set_is_named_labelled_and_owned_as_argo_makes_it() {
        let rs = new_replica_set(&rollout(), "abc123", 4);
        assert_eq!(rs["metadata"]["name"], "web-abc123");
        assert_eq!(rs["metadata"]["namespace"], "team");
        assert_eq!(
            rs["metadata"]["labels"],
            json!({"app": "web", "rollouts-pod-template-hash": "abc123"})
        );
        assert_eq!(
            rs["spec"]["selector"]["matchLabels"],
            json!({"app": "web", "rollouts-pod-template-hash": "abc123"})
        );
        assert_eq!(
            rs["spec"]["template"]["metadata"]["labels"]["rollouts-pod-template-hash"],
            "abc123"
        );
        assert_eq!(rs["spec"]["replicas"], 0);
        assert_eq!(rs["spec"]["minReadySeconds"], 3);
        assert_eq!(rs["metadata"]["annotations"][REVISION_ANNOTATION], "4");
        assert_eq!(
            rs["metadata"]["annotations"][DESIRED_REPLICAS_ANNOTATION],
            "5"
        );
        let owner = &rs["metadata"]["ownerReferences"][0];
        assert_eq!(
            (owner["uid"].as_str(), owner["controller"].as_bool()),
            (Some("u-1"), Some(true))
        );
        let typed: K8sReplicaSet = serde_json::from_value(rs).unwrap();
        assert!(owned_by(&typed, "u-1"));
        assert!(!owned_by(&typed, "u-2"));
        assert_eq!(view(&typed).pod_template_hash.as_deref(), Some("abc123"));
    }

    #[test]
    fn the_replica_set_with_the_rollouts_template_is_found_whatever_its_hash() {
        let argo_made: K8sReplicaSet =
            serde_json::from_value(new_replica_set(&rollout(), "argohash", 1)).unwrap();
        let mut other = rollout();
        other["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:1");
        let older: K8sReplicaSet =
            serde_json::from_value(new_replica_set(&other, "old", 1)).unwrap();
        let owned = [older, argo_made];
        let found = with_template(&owned, &rollout()["spec"]["template"]).unwrap();
        assert_eq!(found.name_any(), "web-argohash");
        assert!(with_template(&owned[..1], &rollout()["spec"]["template"]).is_none());
    }

    #[test]
    fn a_selector_becomes_the_list_query_the_api_server_reads() {
        assert_eq!(
            list_selector(&json!({"matchLabels": {"app": "web"}})),
            "app=web"
        );
        assert_eq!(
            list_selector(&json!({
                "matchLabels": {"app": "web", "tier": "fe"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["a", "b"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "team", "operator": "Exists"},
                    {"key": "zone", "operator": "NotIn", "values": ["x"]},
                ],
            })),
            "app=web,tier=fe,env in (a,b),!canary,team,zone notin (x)"
        );
        assert_eq!(list_selector(&json!(null)), "");
        assert_eq!(
            list_selector(&json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]})),
            ""
        );
    }
}
