//! An in-memory Kubernetes API server for weir's tests, served over real HTTP on
//! 127.0.0.1, that the real `kubectl` and kube-rs talk to as to a cluster. It aims to
//! answer exactly as a 1.32 kube-apiserver (plus the controllers a controller under
//! test relies on) would, and never more leniently: where it cannot do what the real
//! server does, it refuses (415, 404) rather than guess. The README lists what is
//! implemented, what was checked against which Kubernetes source file, and every known
//! difference.
//!
//! # Using it
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use weir_apiserver_sim::{ApiServer, Options, WriteFailure};
//!
//! let server = ApiServer::start(Options::default()).await?;
//! server.write_kubeconfig("/tmp/sim.kubeconfig")?; // for kubectl, or kube::Config
//! let url = server.url(); // http://127.0.0.1:PORT
//!
//! // Arrange objects in-process (not counted as API requests).
//! server.apply_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n")?;
//! // Inject faults.
//! server.faults().fail_writes("rollouts/status", 1, WriteFailure::Conflict);
//! // ... run the controller under test against `url` ...
//! assert_eq!(server.request_count("patch", "rollouts/status"), 1);
//! # let _ = url; Ok(()) }
//! ```
//!
//! # How the pieces fit
//!
//! - `server` binds the listener and owns `server::Shared`: the cluster state behind
//!   one lock, the options, request counters. `http` turns each request into a call on
//!   the state: `route.rs` splits the path as the real RequestInfo does, `mod.rs`
//!   counts, injects faults and negotiates, and `read.rs` (get, list), `write.rs`
//!   (create, update, delete), `patch.rs`, `watch.rs`, `scale.rs`, `discovery.rs`,
//!   `table.rs` answer.
//! - `store` is the state: objects by group/resource, the global resourceVersion
//!   (etcd's revision), the event history that watches resume from and old lists are
//!   rebuilt from, the open watches. Its write paths follow the generic registry store
//!   (`create.rs`, `update.rs`, `delete.rs`), calling the per-type strategy
//!   (`strategy`, `defaults`) and validation (`validate`, and `schema` for
//!   custom resources).
//! - `registry` knows the served types: `builtins` and those a
//!   CustomResourceDefinition registers (`crd`).
//! - `patch` applies JSON, merge and strategic merge patches; `select` parses and
//!   matches label and field selectors.
//! - `controllers` simulates kube-controller-manager, the scheduler and a kubelet:
//!   Deployments, ReplicaSets, EndpointSlices, Endpoints, Jobs, garbage collection,
//!   namespace deletion, pods becoming ready. Each can be switched off in [`Options`].
//! - The test-facing API is on [`ApiServer`]: `start`, `url`, `write_kubeconfig`,
//!   `shutdown`, the in-process object helpers (`direct.rs`: `create`, `get`, `list`,
//!   `update`, `update_status`, `delete`, `apply_yaml`, `wait_until`), request counts,
//!   and [`ApiServer::faults`] ([`Faults`]).

#![forbid(unsafe_code)]

mod builtins;
mod controllers;
mod crd;
mod defaults;
mod direct;
pub mod error;
mod fault_handle;
mod faults;
mod gateway;
mod http;
mod meta;
mod options;
mod patch;
mod registry;
mod schema;
mod select;
mod server;
mod store;
mod strategy;
mod typed;
mod validate;

pub use direct::group_version;
pub use error::{ApiError, GroupResource};
pub use fault_handle::Faults;
pub use faults::WriteFailure;
pub use options::Options;
pub use server::ApiServer;
