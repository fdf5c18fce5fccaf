//! TLS termination: certificates from PEM files, chosen by SNI (the first is the
//! default), ALPN `h2` and `http/1.1`.

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use weir_config::proxy::Tls;

/// Picks the first certificate valid for the client's SNI name, else the first one.
#[derive(Debug)]
struct SniResolver {
    keys: Vec<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let by_name = hello.server_name().and_then(|name| {
            let name = ServerName::try_from(name).ok()?;
            self.keys.iter().find(|k| {
                let Some(leaf) = k.cert.first() else {
                    return false;
                };
                webpki::EndEntityCert::try_from(leaf)
                    .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(&name).is_ok())
            })
        });
        by_name.or_else(|| self.keys.first()).cloned()
    }
}

/// Builds the server config for a TLS listener. Paths are relative to `base` (the
/// directory of the config file). Errors name the file and what is wrong with it.
pub fn server_config(tls: &Tls, base: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut keys = Vec::new();
    for c in &tls.certificates {
        let cert_path = base.join(&c.cert.value);
        let key_path = base.join(&c.key.value);
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
            .map_err(|e| format!("{}: cannot read certificates: {e}", cert_path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: invalid PEM certificate: {e}", cert_path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "{}: no certificate in the file",
                cert_path.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_file(&key_path)
            .map_err(|e| format!("{}: cannot read a private key: {e}", key_path.display()))?;
        let ck = CertifiedKey::from_der(certs, key, &provider).map_err(|e| {
            format!(
                "{}: key does not match or is unsupported: {e}",
                key_path.display()
            )
        })?;
        keys.push(Arc::new(ck));
    }
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { keys }));
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
