//! Standalone mode (`weir run`): the engine and the proxy in one process. The run file's
//! Rollouts and Experiments are reconciled by [`controller::Controller`]; status lives in a state
//! directory ([`store`]); the control API ([`api`]) and Argo-named metrics ([`metrics`])
//! are served on the admin listener.

pub mod actions;
pub mod api;
pub mod controller;
pub mod dashboard;
pub mod documents;
mod experiment_checks;
mod experiments;
mod measure;
pub mod metrics;
pub mod runs;
pub mod store;
pub mod traffic;

pub use controller::{prepare, Controller};
pub use documents::{parse_run_file, RunFile};
pub use store::Store;
