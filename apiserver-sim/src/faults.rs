//! Fault injection for tests: what the server does wrong on purpose, as a real cluster
//! sometimes does (stale writes, internal errors, slow answers, lost watches, compacted
//! history). The settings live in the cluster state; [`crate::FaultHandle`] changes them.

use std::time::Duration;

/// How an injected write failure answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFailure {
    /// 409 Conflict, worded as a stale resourceVersion is.
    Conflict,
    /// 500 InternalError.
    InternalError,
}

/// The next `remaining` writes (create, update, patch, delete) to `resource` fail.
#[derive(Clone, Debug)]
pub struct WriteFault {
    /// A plural resource name (`rollouts`: the resource and its subresources) or
    /// `resource/subresource` (`rollouts/status`: that subresource only).
    pub resource: String,
    pub remaining: usize,
    pub failure: WriteFailure,
}

#[derive(Default, Debug)]
pub struct Faults {
    pub write_faults: Vec<WriteFault>,
    /// Added before every API request is answered.
    pub latency: Duration,
    /// Watches opened from now on end after this many events (bookmarks excluded).
    pub watch_event_limit: Option<usize>,
}

impl Faults {
    /// The failure for a write to `resource` (with `subresource`, possibly empty), if
    /// one is pending; counts it down.
    pub fn take_write_failure(
        &mut self,
        resource: &str,
        subresource: &str,
    ) -> Option<WriteFailure> {
        let full = if subresource.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{subresource}")
        };
        let fault = self
            .write_faults
            .iter_mut()
            .find(|f| f.remaining > 0 && (f.resource == resource || f.resource == full))?;
        fault.remaining -= 1;
        let failure = fault.failure;
        self.write_faults.retain(|f| f.remaining > 0);
        Some(failure)
    }
}
