//! [`Faults`]: the test's handle on what the server does wrong on purpose.

use std::sync::Arc;
use std::time::Duration;

use crate::faults::{WriteFailure, WriteFault};
use crate::server::{ApiServer, Shared};

/// Fault injection, from [`ApiServer::faults`].
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl ApiServer {
    pub fn faults(&self) -> Faults {
        Faults {
            shared: self.shared.clone(),
        }
    }
}

impl Faults {
    /// End every open watch now (their streams close cleanly, as when an API server
    /// restarts). Returns how many there were.
    pub fn drop_watches(&self) -> usize {
        self.shared.state.lock().drop_watches()
    }

    /// How many watches are open.
    pub fn open_watches(&self) -> usize {
        self.shared.state.lock().open_watches()
    }

    /// Watches opened from now on end after `n` events (None: no limit).
    pub fn end_watches_after(&self, n: Option<usize>) {
        self.shared.state.lock().faults.watch_event_limit = n;
    }

    /// The next `count` writes (create, update, patch, delete) to `resource` (a plural
    /// resource name, or `resource/subresource` for that subresource only) fail.
    pub fn fail_writes(&self, resource: &str, count: usize, failure: WriteFailure) {
        self.shared
            .state
            .lock()
            .faults
            .write_faults
            .push(WriteFault {
                resource: resource.to_string(),
                remaining: count,
                failure,
            });
    }

    /// How many injected write failures are still to come (per resource, those not yet
    /// used up): a test can check its faults were met.
    pub fn pending_write_failures(&self) -> Vec<(String, usize)> {
        self.shared
            .state
            .lock()
            .faults
            .write_faults
            .iter()
            .filter(|f| f.remaining > 0)
            .map(|f| (f.resource.clone(), f.remaining))
            .collect()
    }

    /// Delay every API request by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.state.lock().faults.latency = latency;
    }

    /// Drop the event history: every resourceVersion before now is too old (410) for a
    /// watch, an exact list or a continue token.
    pub fn compact(&self) {
        self.shared.state.lock().compact();
    }

    /// Send a BOOKMARK now on every watch that allows them.
    pub fn send_bookmarks(&self) {
        let _ = self.shared.bookmark_now.send(());
    }
}
