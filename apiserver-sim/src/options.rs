//! What a test can choose when it starts the server.

use std::time::Duration;

/// Server options. `Options::default()` is a small cluster as `kind` would start it:
/// every simulated controller on, pods ready at once.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many events the history keeps (the watch cache's window): a watch or exact
    /// list older than that is `410 Expired`.
    pub history_limit: usize,
    /// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK.
    pub bookmark_interval: Duration,
    /// The ReplicaSet controller (creates and deletes pods).
    pub replicaset_controller: bool,
    /// The Deployment controller (a ReplicaSet per template, rolling updates).
    pub deployment_controller: bool,
    /// The EndpointSlice controller (slices for services with selectors).
    pub endpointslice_controller: bool,
    /// The Endpoints controller (core v1 Endpoints for services with selectors).
    pub endpoints_controller: bool,
    /// The Job controller (jobs complete).
    pub job_controller: bool,
    /// The garbage collector (owner references) and namespace deletion.
    pub garbage_collector: bool,
    /// The kubelet: pods become Running and Ready, and pods being deleted go once
    /// their containers stopped.
    pub kubelet: bool,
    /// How long a new pod takes to become Running and Ready.
    pub pod_ready_delay: Duration,
    /// How long a deleted pod stays Terminating before the kubelet removes it
    /// (the real grace period would be up to `terminationGracePeriodSeconds`).
    pub pod_termination_delay: Duration,
    /// The node name pods are bound to (`spec.nodeName`).
    pub node_name: String,
    /// How long a Job takes to complete.
    pub job_duration: Duration,
    /// Start with the Gateway API CRDs installed (GatewayClass, Gateway, HTTPRoute).
    pub gateway_api: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(60),
            replicaset_controller: true,
            deployment_controller: true,
            endpointslice_controller: true,
            endpoints_controller: true,
            job_controller: true,
            garbage_collector: true,
            kubelet: true,
            pod_ready_delay: Duration::ZERO,
            pod_termination_delay: Duration::ZERO,
            node_name: "sim-node".into(),
            job_duration: Duration::ZERO,
            gateway_api: true,
        }
    }
}

impl Options {
    /// No simulated controllers at all: only the API.
    pub fn api_only() -> Self {
        Options {
            replicaset_controller: false,
            deployment_controller: false,
            endpointslice_controller: false,
            endpoints_controller: false,
            job_controller: false,
            garbage_collector: false,
            kubelet: false,
            ..Options::default()
        }
    }
}
