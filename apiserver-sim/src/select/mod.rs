//! Label and field selectors, as `labelSelector=` / `fieldSelector=` in a list or watch
//! and as a `LabelSelector` object in a workload's or service's spec.

mod fields;
mod labels;

pub use fields::FieldSelector;
pub use labels::LabelSelector;
