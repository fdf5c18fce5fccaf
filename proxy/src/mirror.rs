//! Mirroring (Argo setMirrorRoute): a percentage of matching requests is copied to
//! another backend, fire and forget. The copy runs in its own task under a process-wide
//! concurrency cap, so it never delays or fails the primary request; its answer is
//! read and dropped.

use crate::body::full;
use crate::headers::Forwarded;
use crate::state::Proxy;
use crate::stats::MirrorOutcome;
use crate::table::Route;
use bytes::Bytes;
use http::request::Parts;
use http_body_util::BodyExt;

/// Sends copies for every mirror rule of `route` that matches and wins its percentage
/// draw. `body` is `None` when the request body is streamed (too large to copy): such
/// requests are not mirrored and count as dropped. A copy carries the same
/// `x-forwarded-*` headers as the request itself.
pub fn maybe_mirror(
    proxy: &Proxy,
    route: &Route,
    parts: &Parts,
    body: Option<Bytes>,
    forwarded: Forwarded<'_>,
) {
    for rule in &route.mirrors {
        let matched = rule.matches.is_empty() || rule.matches.iter().any(|m| m.matches(parts));
        if !matched || fastrand::f64() * 100.0 >= rule.percentage {
            continue;
        }
        let stats = rule.target.stats.clone();
        if rule.target.invalid.is_some() {
            stats.record_mirror(MirrorOutcome::Failed);
            continue;
        }
        let Some(body) = body.clone() else {
            stats.record_mirror(MirrorOutcome::Dropped);
            continue;
        };
        let Ok(permit) = proxy.mirror_slots.clone().try_acquire_owned() else {
            stats.record_mirror(MirrorOutcome::Dropped);
            continue;
        };
        let Some(endpoint) = rule.target.pool.pick(&[]) else {
            stats.record_mirror(MirrorOutcome::Failed);
            continue;
        };
        let protocol = rule.target.pool.protocol;
        let req = endpoint.outgoing(protocol, parts, full(body), Some(forwarded));
        let (connect_timeout, timeout) = (route.connect_timeout, route.request_timeout);
        tokio::spawn(async move {
            let _permit = permit;
            let call = endpoint.send(connect_timeout, req);
            let outcome = match tokio::time::timeout(timeout, call).await {
                Ok(Ok(resp)) => {
                    // Read the answer so the connection can be reused; it is not
                    // recorded in the request statistics, which describe real traffic.
                    let _ = resp.into_body().collect().await;
                    MirrorOutcome::Sent
                }
                Ok(Err(_)) | Err(_) => MirrorOutcome::Failed,
            };
            stats.record_mirror(outcome);
        });
    }
}
