//! Structural defaulting (apiextensions `apiserver/schema/defaulting/algorithm.go`): in
//! every object the schema reaches, a property with a `default` that is absent (or
//! null where the property is not nullable) gets the default; then the walk goes on
//! into the children, defaults included.

use serde_json::Value;

use super::{Additional, Structural};

pub fn default(s: &Structural, v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, ps) in &s.properties {
                if let Some(d) = &ps.default {
                    let missing = match map.get(k) {
                        None => true,
                        Some(Value::Null) => !ps.nullable,
                        Some(_) => false,
                    };
                    if missing {
                        map.insert(k.clone(), d.clone());
                    }
                }
            }
            for (k, child) in map.iter_mut() {
                if let Some(ps) = s.properties.get(k) {
                    default(ps, child);
                } else if let Additional::Schema(a) = &s.additional {
                    default(a, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for item in items.iter_mut() {
                    if item.is_null() && !is.nullable {
                        if let Some(d) = &is.default {
                            *item = d.clone();
                        }
                    }
                    default(is, item);
                }
            }
        }
        _ => {}
    }
}
