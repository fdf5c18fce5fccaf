//! The scheduler and a kubelet, reduced to what a controller above them observes: a new
//! pod is bound to the one node, then (after `pod_ready_delay`) is Running with an IP
//! and Ready; a pod being deleted with a grace period stays Terminating for
//! `pod_termination_delay` (not ready any more, as its containers stop), then goes.
//! A pod annotated `apiserver-sim.weir.dev/ready: "false"` runs but never becomes
//! ready, for tests of unready endpoints.

use serde_json::{json, Value};
use tokio::time::Instant;

use super::util::{self};
use super::Memory;
use crate::meta;
use crate::options::Options;
use crate::store::{Cluster, DeleteOptions};

pub const READY_ANNOTATION: &str = "apiserver-sim.weir.dev/ready";

pub fn sync(st: &mut Cluster, o: &Options, mem: &mut Memory, now: Instant) -> Option<Instant> {
    let ty = util::ty(st, "", "pods")?;
    let mut wake: Option<Instant> = None;
    let mut at = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
    let pods = util::all(st, "", "pods");
    let live: std::collections::HashSet<String> =
        pods.iter().map(|p| meta::uid(p).to_string()).collect();
    mem.pod_seen.retain(|k, _| live.contains(k));
    mem.pod_terminating.retain(|k, _| live.contains(k));
    for pod in pods {
        let uid = meta::uid(&pod).to_string();
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if meta::is_deleting(&pod) {
            let since = *mem.pod_terminating.entry(uid).or_insert(now);
            if now >= since + o.pod_termination_delay {
                let opts = DeleteOptions {
                    grace_period_seconds: Some(0),
                    ..Default::default()
                };
                util::delete(st, &ty, &pod, opts);
            } else {
                at(since + o.pod_termination_delay);
                if util::pod_ready(&pod) {
                    let status = set_ready(
                        pod.get("status")
                            .filter(|s| s.is_object())
                            .cloned()
                            .unwrap_or(json!({})),
                        false,
                    );
                    util::set_status(st, &ty, &pod, status);
                }
            }
            continue;
        }
        if node.is_empty() {
            let mut next = (*pod).clone();
            next["spec"]["nodeName"] = json!(o.node_name);
            let mut status = next
                .get("status")
                .filter(|s| s.is_object())
                .cloned()
                .unwrap_or(json!({}));
            status["conditions"] = json!([{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now()}]);
            next["status"] = status;
            st.write_internal(&ty, next);
            continue;
        }
        if node != o.node_name {
            continue;
        }
        let since = *mem.pod_seen.entry(uid).or_insert(now);
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        if phase == "Pending" || phase.is_empty() {
            if now < since + o.pod_ready_delay {
                at(since + o.pod_ready_delay);
                continue;
            }
            mem.next_ip += 1;
            let ip = format!("10.244.{}.{}", mem.next_ip / 250, mem.next_ip % 250 + 2);
            let ready = meta::metadata(&pod)
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get(READY_ANNOTATION))
                .and_then(Value::as_str)
                != Some("false");
            util::set_status(st, &ty, &pod, running(&pod, &ip, ready));
        } else if phase == "Running" {
            let want_ready = meta::metadata(&pod)
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get(READY_ANNOTATION))
                .and_then(Value::as_str)
                != Some("false");
            if want_ready != util::pod_ready(&pod) {
                let status = set_ready(
                    pod.get("status")
                        .filter(|s| s.is_object())
                        .cloned()
                        .unwrap_or(json!({})),
                    want_ready,
                );
                util::set_status(st, &ty, &pod, status);
            }
        }
    }
    wake
}

fn running(pod: &Value, ip: &str, ready: bool) -> Value {
    let now = meta::now();
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            json!({"name": c["name"], "image": c["image"], "imageID": format!("docker.io/library/{}", c["image"].as_str().unwrap_or("")),
                "containerID": format!("containerd://{}", meta::new_uid().replace('-', "")),
                "ready": ready, "started": true, "restartCount": 0,
                "state": {"running": {"startedAt": now}}})
        })
        .collect();
    let status = json!({
        "phase": "Running",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastProbeTime": null, "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now},
        ],
        "hostIP": "172.18.0.2",
        "hostIPs": [{"ip": "172.18.0.2"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    });
    set_ready(status, ready)
}

/// Set the Ready and ContainersReady conditions (and containers' ready flags).
fn set_ready(mut status: Value, ready: bool) -> Value {
    let s = if ready { "True" } else { "False" };
    if let Some(cs) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in cs
            .iter_mut()
            .filter(|c| c["type"] == "Ready" || c["type"] == "ContainersReady")
        {
            if c["status"] != s {
                c["status"] = json!(s);
                c["lastTransitionTime"] = json!(meta::now());
                if ready {
                    c.as_object_mut().map(|m| m.remove("reason"));
                } else {
                    c["reason"] = json!("ContainersNotReady");
                }
            }
        }
    }
    if let Some(cs) = status
        .get_mut("containerStatuses")
        .and_then(Value::as_array_mut)
    {
        for c in cs.iter_mut().filter(|c| c.is_object()) {
            c["ready"] = json!(ready);
        }
    }
    status
}
