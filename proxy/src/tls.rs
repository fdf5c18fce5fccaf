//! TLS termination: certificates from PEM files, chosen by SNI (the first is the
//! default), ALPN `h2` and `http/1.1`.

use rustls::server::{ClientHello, ResolvesServerCert};
pub use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use weir_config::proxy::Tls;

/// Certificates added at run time (on Kubernetes: the `kubernetes.io/tls` Secrets the
/// served Ingresses name), shared by every TLS listener and swapped whole.
pub type ExtraCertificates = Arc<arc_swap::ArcSwap<Vec<Arc<CertifiedKey>>>>;

/// Picks the first certificate valid for the client's SNI name (the run-time ones first,
/// then the file's), else the file's first one.
#[derive(Debug)]
struct SniResolver {
    keys: Vec<Arc<CertifiedKey>>,
    extra: ExtraCertificates,
}

fn valid_for(k: &CertifiedKey, name: &ServerName<'_>) -> bool {
    let Some(leaf) = k.cert.first() else {
        return false;
    };
    webpki::EndEntityCert::try_from(leaf)
        .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(name).is_ok())
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let extra = self.extra.load();
        let by_name = hello.server_name().and_then(|name| {
            let name = ServerName::try_from(name).ok()?;
            extra
                .iter()
                .chain(self.keys.iter())
                .find(|k| valid_for(k, &name))
                .cloned()
        });
        by_name.or_else(|| self.keys.first().cloned())
    }
}

/// A certificate chain and its key from PEM text (a `kubernetes.io/tls` Secret's
/// `tls.crt` and `tls.key`); errors say which part is wrong.
pub fn certified_key_from_pem(cert: &[u8], key: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    let provider = rustls::crypto::ring::default_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.crt: invalid PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("tls.crt: no certificate in it".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("tls.key: no private key in it: {e}"))?;
    CertifiedKey::from_der(certs, key, &provider)
        .map(Arc::new)
        .map_err(|e| format!("tls.key: does not match tls.crt or is unsupported: {e}"))
}

/// Builds the server config for a TLS listener. Paths are relative to `base` (the
/// directory of the config file). Errors name the file and what is wrong with it.
pub fn server_config(
    tls: &Tls,
    base: &Path,
    extra: ExtraCertificates,
) -> Result<Arc<rustls::ServerConfig>, String> {
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
        .with_cert_resolver(Arc::new(SniResolver { keys, extra }));
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
