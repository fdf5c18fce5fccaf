//! The simulated cluster components: what kube-controller-manager, the scheduler and a
//! kubelet would do, each switchable in [`crate::Options`]. They run in one task,
//! woken after every commit (and at the next timer any of them asked for), and act
//! directly on the cluster state, as writes that watchers see like any other. Each
//! pass converges: when everything is as it should be, nothing is written.

mod deployment;
mod deployment_status;
mod endpoints;
mod endpointslice;
mod gc;
mod job;
mod kubelet;
mod namespace;
mod replicaset;
mod util;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::server::Shared;

/// What the components remember between passes (the timers of pods and jobs).
#[derive(Default)]
pub struct Memory {
    /// Pods (by uid) first seen bound to the node: they become ready after the delay.
    pub pod_seen: HashMap<String, Instant>,
    /// Pods (by uid) first seen terminating.
    pub pod_terminating: HashMap<String, Instant>,
    /// Jobs (by uid) first seen running.
    pub job_started: HashMap<String, Instant>,
    /// The last pod IP handed out.
    pub next_ip: u32,
}

/// The least time between two passes of the simulated controllers.
const PASS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let o = shared.options.clone();
    let mut mem = Memory::default();
    loop {
        let wake = {
            let mut st = shared.state.lock();
            let now = Instant::now();
            let mut wake: Option<Instant> = None;
            let mut at = |w: Option<Instant>| {
                if let Some(w) = w {
                    wake = Some(wake.map_or(w, |x: Instant| x.min(w)));
                }
            };
            if o.garbage_collector {
                gc::sync(&mut st);
                namespace::sync(&mut st);
            }
            if o.deployment_controller {
                deployment::sync(&mut st);
            }
            if o.replicaset_controller {
                at(replicaset::sync(&mut st, &o));
            }
            if o.kubelet {
                at(kubelet::sync(&mut st, &o, &mut mem, now));
            }
            if o.job_controller {
                at(job::sync(&mut st, &o, &mut mem, now));
            }
            if o.endpointslice_controller {
                endpointslice::sync(&mut st);
            }
            if o.endpoints_controller {
                endpoints::sync(&mut st);
            }
            wake
        };
        // Changes made during a pass or just after it wait for the next one, at most
        // `PASS_INTERVAL` later, as informer-fed controllers batch what their queues hold:
        // every pass reads the whole cluster, so a burst of writes (a thousand Rollouts
        // created) costs a few passes, not one per write.
        tokio::select! {
            _ = tokio::time::sleep(PASS_INTERVAL) => {}
            _ = stop.changed() => return,
        }
        let sleep = tokio::time::sleep_until(
            wake.unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(3600)),
        );
        tokio::select! {
            _ = shared.changed.notified() => {}
            _ = sleep => {}
            _ = stop.changed() => return,
        }
    }
}
