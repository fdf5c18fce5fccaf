//! weir-config
pub mod argo;
pub mod lint;
