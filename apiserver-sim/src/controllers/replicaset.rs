//! The ReplicaSet controller (`pkg/controller/replicaset/replica_set.go`): adopt
//! matching orphan pods, release owned pods that stopped matching, create pods from the
//! template (generateName `<rs>-`, the template's labels and annotations, a controller
//! ownerReference) or delete the least useful ones until the active count is
//! spec.replicas, and write status (replicas, fullyLabeledReplicas, readyReplicas,
//! availableReplicas, observedGeneration; zero counts left out as the Go type omits
//! them).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::util::{self, controller_uid, pod_ready};
use crate::meta;
use crate::options::Options;
use crate::select::LabelSelector;
use crate::store::{Cluster, DeleteOptions, WriteOpts};

/// Returns when it wants to run again (a pod becoming available after minReadySeconds).
pub fn sync(st: &mut Cluster, _o: &Options) -> Option<tokio::time::Instant> {
    let mut wake = None;
    let (Some(rs_ty), Some(pod_ty)) = (
        util::ty(st, "apps", "replicasets"),
        util::ty(st, "", "pods"),
    ) else {
        return None;
    };
    // The pods each ReplicaSet can care about: those it controls and the orphans of its
    // namespace (a pod another controller owns is never adopted). Indexed once per pass,
    // as the real controller reads an informer's indexes, so a pass is linear in the pods
    // rather than pods times ReplicaSets; kept current as this pass writes.
    let mut index = PodIndex::of(st);
    for rs in util::all(st, "apps", "replicasets") {
        if meta::is_deleting(&rs) {
            continue;
        }
        let ns = meta::namespace(&rs).to_string();
        let uid = meta::uid(&rs).to_string();
        let Some(sel) = rs
            .pointer("/spec/selector")
            .and_then(|s| LabelSelector::from_json(s).ok())
        else {
            continue;
        };
        if sel.is_empty() {
            continue;
        }
        // Adopt and release.
        let mut wrote = false;
        for pod in index.candidates(&ns, &uid) {
            let matches = sel.matches(&meta::labels(&pod));
            match controller_uid(&pod) {
                None if matches && !meta::is_deleting(&pod) => {
                    let mut next = (*pod).clone();
                    let mut refs = meta::owner_references(&pod);
                    refs.push(util::controller_ref(&rs, "apps/v1", "ReplicaSet"));
                    meta::metadata_mut(&mut next).insert("ownerReferences".into(), json!(refs));
                    st.write_internal(&pod_ty, next);
                    wrote = true;
                }
                Some(c) if c == uid && !matches => {
                    let mut next = (*pod).clone();
                    let refs: Vec<Value> = meta::owner_references(&pod)
                        .into_iter()
                        .filter(|r| r["uid"] != json!(uid))
                        .collect();
                    let md = meta::metadata_mut(&mut next);
                    if refs.is_empty() {
                        md.remove("ownerReferences");
                    } else {
                        md.insert("ownerReferences".into(), json!(refs));
                    }
                    st.write_internal(&pod_ty, next);
                    wrote = true;
                }
                _ => {}
            }
        }
        if wrote {
            index.refresh(st);
        }
        let owned = |index: &PodIndex| -> Vec<Value> {
            index
                .owned(&ns, &uid)
                .into_iter()
                .map(|p| (*p).clone())
                .collect()
        };
        let active: Vec<Value> = owned(&index)
            .into_iter()
            .filter(|p| !meta::is_deleting(p) && !finished(p))
            .collect();
        let want = rs
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0) as usize;
        if active.len() < want {
            for _ in active.len()..want {
                let _ = st.create(
                    &pod_ty,
                    "v1",
                    &ns,
                    pod_from_template(&rs),
                    WriteOpts::default(),
                );
            }
        } else if active.len() > want {
            let mut victims = active.clone();
            // Unscheduled before scheduled, not ready before ready, newer before older.
            victims.sort_by_key(|p| {
                let scheduled = p.pointer("/spec/nodeName").is_some();
                let ts = meta::meta_str(p, "creationTimestamp").to_string();
                (scheduled, pod_ready(p), std::cmp::Reverse(ts))
            });
            for p in victims.iter().take(active.len() - want) {
                util::delete(st, &pod_ty, p, DeleteOptions::default());
            }
        }
        if active.len() != want {
            index.refresh(st);
        }
        let pods: Vec<Value> = owned(&index)
            .into_iter()
            .filter(|p| !meta::is_deleting(p) && !finished(p))
            .collect();
        let template_labels = rs
            .pointer("/spec/template/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let fully = pods
            .iter()
            .filter(|p| labels_cover(&meta::labels(p), &template_labels))
            .count();
        let ready = pods.iter().filter(|p| pod_ready(p)).count();
        let min_ready = rs
            .pointer("/spec/minReadySeconds")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut available = 0;
        for p in pods.iter().filter(|p| pod_ready(p)) {
            match ready_for(p) {
                Some(secs) if secs >= min_ready => available += 1,
                Some(secs) => {
                    let at = tokio::time::Instant::now() + Duration::from_secs(min_ready - secs);
                    wake = Some(wake.map_or(at, |w: tokio::time::Instant| w.min(at)));
                }
                None => {}
            }
        }
        let mut status = json!({"replicas": pods.len()});
        for (k, n) in [
            ("fullyLabeledReplicas", fully),
            ("readyReplicas", ready),
            ("availableReplicas", available),
        ] {
            if n > 0 {
                status[k] = json!(n);
            }
        }
        if let Some(g) = meta::metadata(&rs).and_then(|m| m.get("generation")) {
            status["observedGeneration"] = g.clone();
        }
        if let Some(latest) = st.get(&rs_ty.group_resource(), &crate::store::ObjKey::of(&rs)) {
            util::set_status(st, &rs_ty, &latest, status);
        }
    }
    wake
}

/// The pods by controller uid, and the orphans by namespace.
struct PodIndex {
    controlled: std::collections::HashMap<String, Vec<Arc<Value>>>,
    orphans: std::collections::HashMap<String, Vec<Arc<Value>>>,
}

impl PodIndex {
    fn of(st: &Cluster) -> PodIndex {
        let mut index = PodIndex {
            controlled: Default::default(),
            orphans: Default::default(),
        };
        for pod in util::all(st, "", "pods") {
            match controller_uid(&pod) {
                Some(uid) => index.controlled.entry(uid).or_default().push(pod),
                None => index
                    .orphans
                    .entry(meta::namespace(&pod).to_string())
                    .or_default()
                    .push(pod),
            }
        }
        index
    }

    /// Reads the pods again, after this pass wrote some.
    fn refresh(&mut self, st: &Cluster) {
        *self = PodIndex::of(st);
    }

    /// The orphans of `ns` and the pods `uid` controls there.
    fn candidates(&self, ns: &str, uid: &str) -> Vec<Arc<Value>> {
        let orphans = self.orphans.get(ns).into_iter().flatten();
        orphans.chain(self.owned_in(ns, uid)).cloned().collect()
    }

    fn owned_in<'a>(&'a self, ns: &'a str, uid: &str) -> impl Iterator<Item = &'a Arc<Value>> {
        self.controlled
            .get(uid)
            .into_iter()
            .flatten()
            .filter(move |p| meta::namespace(p) == ns)
    }

    /// The pods `uid` controls in `ns` (an owner reference never crosses namespaces).
    fn owned(&self, ns: &str, uid: &str) -> Vec<Arc<Value>> {
        self.owned_in(ns, uid).cloned().collect()
    }
}

/// Seconds since the pod's Ready condition turned True (`podutil.IsPodAvailable`).
fn ready_for(pod: &Value) -> Option<u64> {
    let conds = pod.pointer("/status/conditions")?.as_array()?;
    let ready = conds
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")?;
    let since = humantime::parse_rfc3339_weak(ready["lastTransitionTime"].as_str()?).ok()?;
    Some(
        std::time::SystemTime::now()
            .duration_since(since)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

fn finished(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

fn labels_cover(have: &Map<String, Value>, want: &Map<String, Value>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

/// A pod as the controller's `GetPodFromTemplate` builds it.
fn pod_from_template(rs: &Value) -> Value {
    let t = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let mut md = json!({
        "generateName": format!("{}-", meta::name(rs)),
        "ownerReferences": [util::controller_ref(rs, "apps/v1", "ReplicaSet")],
    });
    for k in ["labels", "annotations"] {
        if let Some(v) = t.pointer(&format!("/metadata/{k}")) {
            md[k] = v.clone();
        }
    }
    if let Some(f) = t.pointer("/metadata/finalizers") {
        md["finalizers"] = f.clone();
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": t.get("spec").cloned().unwrap_or(json!({}))})
}
