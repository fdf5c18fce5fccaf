//! weir-control: the rollout engine and analysis (pure), and its adapters.

pub mod analysis;
pub mod engine;
pub mod kubernetes;
pub mod providers;
pub mod replicas;
pub mod run_objects;
pub mod standalone;
