//! A Deployment's status, as `pkg/controller/deployment/sync.go` `calculateStatus` and
//! `util/deployment_util.go` write it: counts summed over its ReplicaSets (zero ones
//! omitted), updatedReplicas from the new one, the Available condition
//! (MinimumReplicasAvailable / MinimumReplicasUnavailable) and Progressing
//! (ReplicaSetUpdated / NewReplicaSetAvailable), and the revision annotation.

use serde_json::{json, Value};

use super::deployment::{revision, set_annotation, spec_replicas, status, REVISION};
use crate::meta;
use crate::registry::ResourceType;
use crate::store::{Cluster, ObjKey};

pub fn write(
    st: &mut Cluster,
    d_ty: &ResourceType,
    d: &Value,
    rss: Vec<Value>,
    new_name: &str,
    desired: i64,
    unavailable: i64,
) {
    let Some(cur) = st.get(&d_ty.group_resource(), &ObjKey::of(d)) else {
        return;
    };
    let new_rs = rss.iter().find(|r| meta::name(r) == new_name);
    let sum = |f: &str| rss.iter().map(|r| status(r, f)).sum::<i64>();
    let (replicas, ready, available) = (
        sum("replicas"),
        sum("readyReplicas"),
        sum("availableReplicas"),
    );
    let updated = new_rs.map_or(0, |r| status(r, "replicas"));
    let total: i64 = rss.iter().map(spec_replicas).sum();
    let mut status = json!({});
    if let Some(g) = meta::metadata(&cur).and_then(|m| m.get("generation")) {
        status["observedGeneration"] = g.clone();
    }
    for (k, n) in [
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", (total - available).max(0)),
    ] {
        if n > 0 {
            status[k] = json!(n);
        }
    }
    let old_conds = cur
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let now = meta::now();
    let cond = |t: &str, s: &str, reason: &str, message: String| {
        let prev = old_conds.iter().find(|c| c["type"] == t);
        let same = prev.is_some_and(|p| {
            p["status"] == s && p["reason"] == reason && p["message"] == json!(message)
        });
        if let (true, Some(p)) = (same, prev) {
            return p.clone();
        }
        let since = prev
            .filter(|p| p["status"] == s)
            .map_or(json!(now), |p| p["lastTransitionTime"].clone());
        json!({"type": t, "status": s, "lastUpdateTime": now, "lastTransitionTime": since, "reason": reason, "message": message})
    };
    let available_cond = if available >= desired - unavailable {
        cond(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
        )
    } else {
        cond(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
        )
    };
    let complete = updated == desired && replicas == desired && available == desired;
    let progressing = if complete {
        cond(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet {new_name:?} has successfully progressed."),
        )
    } else {
        cond(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet {new_name:?} is progressing."),
        )
    };
    status["conditions"] = json!([available_cond, progressing]);
    let mut next = (*cur).clone();
    if let Some(r) = new_rs {
        let rev = revision(r).to_string();
        if meta::metadata(&cur)
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(REVISION))
            != Some(&json!(rev))
        {
            set_annotation(&mut next, REVISION, &rev);
        }
    }
    next["status"] = status;
    if next != *cur {
        st.write_internal(d_ty, next);
    }
}
