//! weir-proxy: the data plane.
//!
//! A request enters through a listener ([`server`]), is matched against the live
//! [`table::RouteTable`] (one lock-free `ArcSwap` load), is sent to a backend chosen by
//! header route, sticky cohort or weighted pick ([`forward`]), and its outcome is recorded
//! in the per-(route, backend) histograms ([`stats`]). The admin listener ([`admin`])
//! serves `/metrics`, health, the route table, weight changes and windowed statistics.
//! [`Proxy`] is the shared state; [`run::start`] wires everything together.

// One audited exception: registering the idle-connection epoll set with tokio (`park.rs`).
#![deny(unsafe_code)]

pub mod admin;
pub mod body;
mod build;
mod deadline;
pub mod error;
pub mod filters;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub mod h1;
mod h1_server;
pub mod hdr;
pub mod headers;
pub mod matching;
pub mod metrics;
mod mirror;
mod park;
pub mod pick;
pub mod pool;
pub mod reload;
pub mod run;
pub mod server;
mod state;
pub mod stats;
pub mod table;
pub mod tls;
pub mod upstream;

pub use park::set_release_memory;

pub use build::ExtraBackend;
pub use state::{Proxy, WeightsError};
