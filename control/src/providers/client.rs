//! [`HttpClient`]: the one HTTP client the `prometheus` and `web` providers share.
//!
//! hyper-util's pooled legacy client over hyper-rustls. TLS is rustls with the *ring*
//! provider, chosen explicitly rather than through rustls' process-wide default so the
//! choice cannot clash with another crate's (the proxy links ring too). Server certificates
//! are checked against the system trust store (rustls-native-certs), because that is what
//! Argo's Go client uses: a user who added a private CA to the controller's image for Argo
//! keeps trusting it with weir. A fixed bundle (webpki-roots) would silently drop that CA.
//! `insecure: true` in a metric skips verification entirely, as Go's `InsecureSkipVerify`.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Answers larger than this are refused rather than buffered: a runaway range query must
/// not take the controller's memory with it.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

type Pool = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A cheap-to-clone handle on two connection pools: one that verifies servers, one for
/// metrics that say `insecure: true`. They are kept apart so an insecure metric can never
/// reuse (or leave behind) a connection another metric would trust.
#[derive(Clone)]
pub struct HttpClient {
    verified: Pool,
    insecure: Pool,
}

/// An HTTP answer, read in full.
pub struct HttpAnswer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl HttpClient {
    /// Trusts the system's certificate store. Certificates that fail to load are skipped;
    /// with none at all, every `https` server fails verification with "unknown issuer"
    /// (plain `http`, the usual in-cluster Prometheus, is unaffected).
    pub fn new() -> Self {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        Self::with_roots(roots)
    }

    /// Trusts exactly `roots` (tests, and callers with their own CA bundle).
    pub fn with_roots(roots: RootCertStore) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let insecure = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
            .with_no_client_auth();
        HttpClient {
            verified: pool(verified),
            insecure: pool(insecure),
        }
    }

    /// Sends `request` and reads the whole answer, all within `timeout`. Errors are
    /// sentences for a measurement's message, with the causes hyper reports.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
        insecure: bool,
        timeout: Duration,
    ) -> Result<HttpAnswer, String> {
        let pool = if insecure {
            &self.insecure
        } else {
            &self.verified
        };
        let exchange = async {
            let response = pool.request(request).await.map_err(|e| chain(&e))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {}", chain(e.as_ref())))?
                .to_bytes();
            Ok(HttpAnswer { status, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {}s", timeout.as_secs_f64())),
        }
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

fn pool(tls: ClientConfig) -> Pool {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// An error and its causes, `outer: inner: innermost`; hyper's own text alone
/// ("client error (Connect)") does not say what went wrong.
/// Sets a metric's `headers` on a request, replacing any of the same name, as Argo's
/// header round-tripper does: a metric's header wins.
pub(crate) fn set_headers(
    headers: &mut http::HeaderMap,
    list: &[weir_config::argo::Header],
) -> Result<(), String> {
    for h in list {
        let name = http::HeaderName::from_bytes(h.key.as_bytes())
            .map_err(|e| format!("header {:?}: {e}", h.key))?;
        let value = http::HeaderValue::from_str(&h.value)
            .map_err(|e| format!("header {:?} value: {e}", h.key))?;
        headers.insert(name, value);
    }
    Ok(())
}

pub(crate) fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `insecure: true`: any certificate, any name. Handshake signatures are still checked, so
/// the peer must at least hold the key of the certificate it shows.
#[derive(Debug)]
struct AcceptAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
