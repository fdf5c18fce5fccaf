//! The certificates the served Ingresses name (`spec.tls[].secretName`, a
//! `kubernetes.io/tls` Secret of the Ingress' namespace), for the proxy's TLS listeners to
//! choose by SNI. A Secret that is missing or is not a valid certificate and key is the
//! Ingress' problem; the Ingress still serves, with the listener's default certificate.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;

/// A certificate ready to serve, as the proxy takes it.
pub type Key = Arc<weir_proxy::tls::CertifiedKey>;

/// The served Ingresses' certificates, each Secret once, with the Secrets' resourceVersions
/// (to see a change), and the problems by Ingress (`namespace/name`).
#[derive(Default)]
pub struct Certificates {
    pub keys: Vec<Key>,
    /// `namespace/secret` -> resourceVersion, of the Secrets in `keys`.
    pub versions: BTreeMap<String, String>,
    pub problems: BTreeMap<String, String>,
}

pub fn certificates(
    ingresses: &[Ingress],
    served: &std::collections::BTreeSet<String>,
    secrets: &[Secret],
) -> Certificates {
    let mut out = Certificates::default();
    for i in ingresses {
        let ns = i.metadata.namespace.as_deref().unwrap_or("default");
        let key = crate::ingress::key(i);
        if !served.contains(&key) {
            continue;
        }
        for tls in i.spec.iter().flat_map(|s| s.tls.iter().flatten()) {
            let Some(name) = tls.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                continue;
            };
            let id = format!("{ns}/{name}");
            if out.versions.contains_key(&id) {
                continue;
            }
            let result = load(secrets, ns, name);
            match result {
                Ok((k, version)) => {
                    out.keys.push(k);
                    out.versions.insert(id, version);
                }
                Err(e) => {
                    out.problems.entry(key.clone()).or_insert(e);
                }
            }
        }
    }
    out
}

/// The certificate and key of `kubernetes.io/tls` Secret `ns/name`, and its
/// resourceVersion; an error says what is wrong with it.
pub fn load(secrets: &[Secret], ns: &str, name: &str) -> Result<(Key, String), String> {
    let id = format!("{ns}/{name}");
    let secret = secrets.iter().find(|s| {
        s.metadata.namespace.as_deref() == Some(ns) && s.metadata.name.as_deref() == Some(name)
    });
    let Some(s) = secret else {
        return Err(format!(
            "TLS Secret {id} does not exist (or is not of type kubernetes.io/tls)"
        ));
    };
    let data = s.data.clone().unwrap_or_default();
    match (data.get("tls.crt"), data.get("tls.key")) {
        (Some(crt), Some(k)) => weir_proxy::tls::certified_key_from_pem(&crt.0, &k.0)
            .map(|key| (key, s.metadata.resource_version.clone().unwrap_or_default()))
            .map_err(|e| format!("TLS Secret {id}: {e}")),
        _ => Err(format!("TLS Secret {id} has no tls.crt and tls.key")),
    }
}
