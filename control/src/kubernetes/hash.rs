//! The pod-template hash that names a Rollout's ReplicaSets (`<rollout>-<hash>`) and labels
//! their pods (`rollouts-pod-template-hash`), in the form Kubernetes and Argo give it: the
//! decimal of a 32-bit FNV-1a sum, each digit mapped to the alphabet Kubernetes uses for
//! generated names (no vowels, so no words), an optional collision count mixed in.
//!
//! What is hashed differs by necessity: Kubernetes and Argo hash a debug print of the Go
//! struct (`spew` of the PodTemplateSpec), which no other language reproduces. weir hashes
//! the template's canonical JSON (keys sorted, the hash label itself left out), so the same
//! template always gives the same name in weir. A ReplicaSet Argo created keeps its name:
//! weir recognises it by template equality, not by recomputing Argo's hash.

use serde_json::Value;

pub use crate::replicas::POD_TEMPLATE_HASH_LABEL;

/// Kubernetes' alphabet for generated names (`rand.SafeEncodeString`).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The hash of `template` (a PodTemplateSpec as JSON), with `collision_count` mixed in when
/// the Rollout's status has one (it grows when a name is taken by a different template).
pub fn pod_template_hash(template: &Value, collision_count: Option<i32>) -> String {
    let mut template = template.clone();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let mut canonical = String::new();
    write_canonical(&template, &mut canonical);
    let mut sum = fnv1a(0x811c_9dc5, canonical.as_bytes());
    if let Some(count) = collision_count {
        // As Kubernetes does: the count's 32 bits, little-endian, in an 8-byte buffer.
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(count as u32).to_le_bytes());
        sum = fnv1a(sum, &bytes);
    }
    sum.to_string()
        .bytes()
        .map(|d| char::from(ALPHABET[usize::from(d) % ALPHABET.len()]))
        .collect()
}

fn fnv1a(mut hash: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// JSON with object keys sorted at every level, whatever order the value holds them in.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str) -> Value {
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]}
        })
    }

    #[test]
    fn the_same_template_gives_the_same_hash_in_any_key_order() {
        let a = template("web:2");
        let b: Value = serde_json::from_str(
            r#"{"spec": {"containers": [{"image": "web:2", "name": "web"}]}, "metadata": {"labels": {"app": "web"}}}"#,
        )
        .unwrap();
        assert_eq!(pod_template_hash(&a, None), pod_template_hash(&b, None));
    }

    #[test]
    fn the_hash_label_is_not_part_of_the_template() {
        let mut labelled = template("web:2");
        labelled["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = json!("abc");
        assert_eq!(
            pod_template_hash(&labelled, None),
            pod_template_hash(&template("web:2"), None)
        );
    }

    #[test]
    fn a_changed_image_or_a_collision_count_gives_another_name_in_the_safe_alphabet() {
        let one = pod_template_hash(&template("web:1"), None);
        let two = pod_template_hash(&template("web:2"), None);
        let bumped = pod_template_hash(&template("web:2"), Some(1));
        assert_ne!(one, two);
        assert_ne!(two, bumped);
        for h in [&one, &two, &bumped] {
            assert!(!h.is_empty() && h.len() <= 10, "{h}");
            assert!(h.bytes().all(|b| ALPHABET.contains(&b)), "{h}");
        }
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(0x811c_9dc5, b""), 0x811c_9dc5);
        assert_eq!(fnv1a(0x811c_9dc5, b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(0x811c_9dc5, b"foobar"), 0xbf9c_f968);
    }
}
