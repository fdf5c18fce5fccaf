//! Structural schemas of CustomResourceDefinitions (`openAPIV3Schema`), and what the
//! apiextensions server does with them on every write of a custom resource: prune the
//! fields the schema does not declare (`apiserver/schema/pruning`), apply defaults
//! (`apiserver/schema/defaulting`), then validate (`apiserver/validation`, over
//! kube-openapi's validator). The rules of each step are in its file.

mod defaulting;
mod listtype;
mod parse;
mod prune;
mod validation;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::FieldError;

pub use parse::parse;

/// `additionalProperties`: absent/false, true, or a schema for every value.
#[derive(Clone, Debug, Default)]
pub enum Additional {
    #[default]
    None,
    Any,
    Schema(Box<Structural>),
}

/// One node of a structural schema. Only what pruning, defaulting and validation use.
#[derive(Clone, Debug, Default)]
pub struct Structural {
    pub type_: Option<String>,
    pub properties: BTreeMap<String, Structural>,
    pub additional: Additional,
    pub items: Option<Box<Structural>>,
    pub preserve_unknown: bool,
    pub int_or_string: bool,
    pub embedded_resource: bool,
    pub nullable: bool,
    pub required: Vec<String>,
    pub enum_: Option<Vec<Value>>,
    pub default: Option<Value>,
    pub format: Option<String>,
    pub pattern: Option<regex::Regex>,
    pub pattern_src: Option<String>,
    pub max_length: Option<u64>,
    pub min_length: Option<u64>,
    pub maximum: Option<f64>,
    pub minimum: Option<f64>,
    pub exclusive_maximum: bool,
    pub exclusive_minimum: bool,
    pub multiple_of: Option<f64>,
    pub max_items: Option<u64>,
    pub min_items: Option<u64>,
    pub max_properties: Option<u64>,
    pub min_properties: Option<u64>,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    /// Value validations only (no structure): `anyOf`, `allOf`, `oneOf`, `not`.
    pub any_of: Vec<Structural>,
    pub all_of: Vec<Structural>,
    pub one_of: Vec<Structural>,
    pub not: Option<Box<Structural>>,
}

/// Prune, default and validate a custom resource (the whole object, root schema):
/// the validation errors, and the paths of the unknown fields that were dropped.
pub fn prune_default_validate(
    schema: &Structural,
    obj: &mut Value,
) -> (Vec<FieldError>, Vec<String>) {
    let unknown = prune::prune_root(schema, obj);
    defaulting::default(schema, obj);
    prune::prune_root(schema, obj);
    (validation::validate_root(schema, obj), unknown)
}
