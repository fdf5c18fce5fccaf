//! The Deployment controller (`pkg/controller/deployment`: `sync.go`, `rolling.go`,
//! `recreate.go`, `util/deployment_util.go`): a ReplicaSet per pod template, named
//! `<deployment>-<pod-template-hash>` and selecting that hash; a rolling update that
//! scales the new one up within maxSurge and the old ones down within maxUnavailable
//! (or Recreate); revision annotations; old ReplicaSets pruned to
//! revisionHistoryLimit; status with the Available and Progressing conditions. The hash
//! has the real shape (fnv-32a, then `rand.SafeEncodeString`) but not the real value,
//! which hashes Go's in-memory struct.

use serde_json::{json, Map, Value};

use super::util::{self, controller_uid};
use crate::meta;
use crate::store::{Cluster, DeleteOptions, ObjKey, WriteOpts};

pub(super) const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH: &str = "pod-template-hash";

pub fn sync(st: &mut Cluster) {
    let (Some(d_ty), Some(rs_ty)) = (
        util::ty(st, "apps", "deployments"),
        util::ty(st, "apps", "replicasets"),
    ) else {
        return;
    };
    for d in util::all(st, "apps", "deployments") {
        if meta::is_deleting(&d) || d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true)
        {
            continue;
        }
        let ns = meta::namespace(&d).to_string();
        let uid = meta::uid(&d).to_string();
        let owned = |st: &Cluster| -> Vec<Value> {
            let mut v: Vec<Value> = util::in_namespace(st, "apps", "replicasets", &ns)
                .into_iter()
                .filter(|r| {
                    controller_uid(r).as_deref() == Some(uid.as_str()) && !meta::is_deleting(r)
                })
                .map(|r| (*r).clone())
                .collect();
            v.sort_by_key(|r| meta::meta_str(r, "creationTimestamp").to_string());
            v
        };
        let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let desired = d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let rss = owned(st);
        let max_revision = rss.iter().map(revision).max().unwrap_or(0);
        let new_rs = rss.iter().find(|r| same_template(r, &template)).cloned();
        let recreate = d.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate");
        let (surge, unavailable) = limits(&d, desired);
        let new_rs = match new_rs {
            Some(mut r) => {
                if revision(&r) < max_revision || revision(&r) == 0 {
                    set_annotation(&mut r, REVISION, &(max_revision + 1).to_string());
                    st.write_internal(&rs_ty, r.clone());
                }
                r
            }
            None => {
                let current: i64 = rss.iter().map(spec_replicas).sum();
                let start = if recreate {
                    0
                } else {
                    (desired + surge - current).clamp(0, desired)
                };
                let body = new_replica_set(&d, &template, start, max_revision + 1, desired + surge);
                match st.create(&rs_ty, "v1", &ns, body, WriteOpts::default()) {
                    Ok(r) => (*r).clone(),
                    Err(_) => continue,
                }
            }
        };
        let new_name = meta::name(&new_rs).to_string();
        let old: Vec<Value> = owned(st)
            .into_iter()
            .filter(|r| meta::name(r) != new_name)
            .collect();
        let scale = |st: &mut Cluster, rs: &Value, n: i64| {
            if spec_replicas(rs) != n {
                if let Some(cur) = st.get(&rs_ty.group_resource(), &ObjKey::of(rs)) {
                    let mut next = (*cur).clone();
                    next["spec"]["replicas"] = json!(n);
                    set_annotation(
                        &mut next,
                        "deployment.kubernetes.io/desired-replicas",
                        &desired.to_string(),
                    );
                    set_annotation(
                        &mut next,
                        "deployment.kubernetes.io/max-replicas",
                        &(desired + surge).to_string(),
                    );
                    st.write_internal(&rs_ty, next);
                }
            }
        };
        if recreate {
            for r in &old {
                scale(st, r, 0);
            }
            if old.iter().all(|r| status(r, "replicas") == 0) {
                scale(st, &new_rs, desired);
            }
        } else {
            // Scale up the new one within maxSurge.
            let total: i64 = old.iter().map(spec_replicas).sum::<i64>() + spec_replicas(&new_rs);
            let new_count = if total < desired + surge {
                (spec_replicas(&new_rs) + (desired + surge - total)).min(desired)
            } else {
                spec_replicas(&new_rs).min(desired.max(0))
            };
            scale(st, &new_rs, new_count);
            // Scale down the old ones within maxUnavailable.
            let all: i64 = old.iter().map(spec_replicas).sum::<i64>() + new_count;
            let min_available = desired - unavailable;
            let new_unavailable = new_count - status(&new_rs, "availableReplicas");
            let mut budget = all - min_available - new_unavailable;
            for r in &old {
                // Unhealthy replicas first (cleanupUnhealthyReplicas).
                let unhealthy = spec_replicas(r) - status(r, "availableReplicas");
                if budget > 0 && unhealthy > 0 {
                    let n = unhealthy.min(budget);
                    budget -= n;
                    scale(st, r, spec_replicas(r) - n);
                }
            }
            let old: Vec<Value> = owned(st)
                .into_iter()
                .filter(|r| meta::name(r) != new_name)
                .collect();
            let available: i64 = old
                .iter()
                .map(|r| status(r, "availableReplicas"))
                .sum::<i64>()
                + status(&new_rs, "availableReplicas");
            let mut down = available - min_available;
            for r in &old {
                if down <= 0 {
                    break;
                }
                let n = spec_replicas(r).min(down);
                down -= n;
                scale(st, r, spec_replicas(r) - n);
            }
        }
        cleanup(st, &rs_ty, &d, owned(st), &new_name);
        super::deployment_status::write(st, &d_ty, &d, owned(st), &new_name, desired, unavailable);
    }
}

pub(super) fn spec_replicas(rs: &Value) -> i64 {
    rs.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

pub(super) fn status(rs: &Value, field: &str) -> i64 {
    rs.pointer(&format!("/status/{field}"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

pub(super) fn revision(rs: &Value) -> i64 {
    meta::metadata(rs)
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub(super) fn set_annotation(obj: &mut Value, k: &str, v: &str) {
    let md = meta::metadata_mut(obj);
    let ann = md.entry("annotations").or_insert_with(|| json!({}));
    if let Some(a) = ann.as_object_mut() {
        a.insert(k.into(), json!(v));
    }
}

/// `EqualIgnoreHash`: the templates match once the hash label is left out.
fn same_template(rs: &Value, template: &Value) -> bool {
    let mut t = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove(HASH);
    }
    let mut want = template.clone();
    if let Some(l) = want
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove(HASH);
    }
    t == want
}

/// maxSurge (rounded up) and maxUnavailable (rounded down), both 0 made 1 unavailable.
fn limits(d: &Value, desired: i64) -> (i64, i64) {
    let resolve = |v: Option<&Value>, default: &str, up: bool| -> i64 {
        let v = v.cloned().unwrap_or(json!(default));
        match (&v.as_i64(), v.as_str()) {
            (Some(n), _) => *n,
            (_, Some(p)) if p.ends_with('%') => {
                let pct: i64 = p.trim_end_matches('%').parse().unwrap_or(0);
                let x = desired * pct;
                if up {
                    (x + 99) / 100
                } else {
                    x / 100
                }
            }
            _ => 0,
        }
    };
    let surge = resolve(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        "25%",
        true,
    );
    let mut unavailable = resolve(
        d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        "25%",
        false,
    );
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable.min(desired.max(0)))
}

/// `controller.ComputeHash`'s shape: fnv-32a, printed in decimal, mapped through
/// `rand.SafeEncodeString`'s alphabet.
fn pod_template_hash(template: &Value, collisions: i64) -> String {
    let mut h: u32 = 0x811c9dc5;
    for b in template
        .to_string()
        .bytes()
        .chain(collisions.to_string().bytes())
    {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x01000193);
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

fn new_replica_set(d: &Value, template: &Value, replicas: i64, revision: i64, max: i64) -> Value {
    let collisions = d
        .pointer("/status/collisionCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let hash = pod_template_hash(template, collisions);
    let mut t = template.clone();
    crate::defaults::object_at(&mut t, &["metadata", "labels"]).insert(HASH.into(), json!(hash));
    let labels = t.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
    crate::defaults::object_at(&mut selector, &["matchLabels"]).insert(HASH.into(), json!(hash));
    let mut annotations: Map<String, Value> = meta::metadata(d)
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    annotations.retain(|k, _| {
        k != "kubectl.kubernetes.io/last-applied-configuration"
            && !k.starts_with("deployment.kubernetes.io/")
    });
    annotations.insert(REVISION.into(), json!(revision.to_string()));
    annotations.insert(
        "deployment.kubernetes.io/desired-replicas".into(),
        json!(d["spec"]["replicas"].as_i64().unwrap_or(1).to_string()),
    );
    annotations.insert(
        "deployment.kubernetes.io/max-replicas".into(),
        json!(max.to_string()),
    );
    let mut spec = json!({"replicas": replicas, "selector": selector, "template": t});
    if let Some(m) = d.pointer("/spec/minReadySeconds") {
        spec["minReadySeconds"] = m.clone();
    }
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("{}-{hash}", meta::name(d)), "namespace": meta::namespace(d), "labels": labels,
            "annotations": annotations, "ownerReferences": [util::controller_ref(d, "apps/v1", "Deployment")]},
        "spec": spec})
}

/// Old ReplicaSets scaled to zero beyond revisionHistoryLimit go, oldest first.
fn cleanup(
    st: &mut Cluster,
    rs_ty: &crate::registry::ResourceType,
    d: &Value,
    rss: Vec<Value>,
    new_name: &str,
) {
    let limit = d
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(10);
    let mut idle: Vec<Value> = rss
        .into_iter()
        .filter(|r| {
            meta::name(r) != new_name && spec_replicas(r) == 0 && status(r, "replicas") == 0
        })
        .collect();
    idle.sort_by_key(revision);
    let extra = idle.len() as i64 - limit;
    for r in idle.iter().take(extra.max(0) as usize) {
        util::delete(st, rs_ty, r, DeleteOptions::default());
    }
}
