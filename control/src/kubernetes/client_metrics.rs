//! `controller_clientset_k8s_request_total`: every request the controller's kube client
//! sends, by kind, namespace, name, verb and status code, under Argo's name and labels
//! (Argo wraps client-go's transport with `argoproj/pkg/kubeclientmetrics`). A tower layer
//! on the client's stack reads the request's path and method and the answer's status.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use http::{Method, Request, Response};
use prometheus::{IntCounterVec, Opts};

/// The counter, registered by [`super::metrics::Metrics`].
pub static K8S_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "controller_clientset_k8s_request_total",
            "Number of kubernetes requests executed during application reconciliation.",
        ),
        &["kind", "namespace", "name", "verb", "status_code"],
    )
    .expect("a valid metric")
});

/// (kind, namespace, name, verb) of a request, as Argo's `kubeclientmetrics` reads them:
/// the resource (plural) from the path, `Get`/`List`/`Watch`/`Create`/`Update`/`Patch`/
/// `Delete`; anything else `Unknown` in every label. A List, and any request on events or
/// replicasets (generated names), has the name `N/A`.
pub fn describe(method: &Method, path: &str, query: Option<&str>) -> [String; 4] {
    let unknown = || {
        [
            "Unknown".to_owned(),
            "Unknown".to_owned(),
            "Unknown".to_owned(),
            "Unknown".to_owned(),
        ]
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return unknown(),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (ns.to_string(), rest),
        _ => (String::new(), rest),
    };
    let (kind, name) = match rest {
        [kind] => (kind.to_string(), None),
        [kind, name, ..] => (kind.to_string(), Some(name.to_string())),
        _ => return unknown(),
    };
    let watch = query.is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match (method.as_str(), &name) {
        ("GET", _) if watch => "Watch",
        ("GET", Some(_)) => "Get",
        ("GET", None) => "List",
        ("POST", _) => "Create",
        ("PUT", _) => "Update",
        ("PATCH", _) => "Patch",
        ("DELETE", _) => "Delete",
        _ => return unknown(),
    };
    let name = if verb == "List" || verb == "Watch" || kind == "events" || kind == "replicasets" {
        "N/A".to_owned()
    } else {
        name.unwrap_or_default()
    };
    [kind, namespace, name, verb.to_owned()]
}

/// The layer for `kube::client::ClientBuilder::with_layer`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountRequests;

impl<S> tower::Layer<S> for CountRequests {
    type Service = Counted<S>;
    fn layer(&self, inner: S) -> Counted<S> {
        Counted { inner }
    }
}

/// The client's service, counting each request when its answer (or failure) comes.
pub struct Counted<S> {
    inner: S,
}

impl<S, B, R> tower::Service<Request<B>> for Counted<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let labels = describe(
            request.method(),
            request.uri().path(),
            request.uri().query(),
        );
        let answer = self.inner.call(request);
        Box::pin(async move {
            let result = answer.await;
            // A request that got no answer has no status code; Argo's transport reports
            // none either, so it is counted as 0.
            let code = result
                .as_ref()
                .map_or_else(|_| "0".to_owned(), |r| r.status().as_u16().to_string());
            let [kind, ns, name, verb] = &labels;
            K8S_REQUESTS
                .with_label_values(&[kind.as_str(), ns, name, verb, &code])
                .inc();
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::describe;
    use http::Method;

    #[test]
    fn requests_are_described_as_argos_kubeclientmetrics_does() {
        let d = |m: Method, p: &str, q: Option<&str>| describe(&m, p, q).to_vec();
        assert_eq!(
            d(
                Method::GET,
                "/apis/apps/v1/namespaces/default/replicasets",
                Some("labelSelector=a%3Db")
            ),
            ["replicasets", "default", "N/A", "List"]
        );
        assert_eq!(
            d(
                Method::GET,
                "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/web",
                None
            ),
            ["rollouts", "default", "web", "Get"]
        );
        assert_eq!(
            d(
                Method::PUT,
                "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/web/status",
                None
            ),
            ["rollouts", "default", "web", "Update"]
        );
        assert_eq!(
            d(
                Method::PATCH,
                "/apis/apps/v1/namespaces/ns/replicasets/web-abc",
                None
            ),
            ["replicasets", "ns", "N/A", "Patch"]
        );
        assert_eq!(
            d(Method::POST, "/api/v1/namespaces/default/events", None),
            ["events", "default", "N/A", "Create"]
        );
        assert_eq!(
            d(
                Method::GET,
                "/apis/argoproj.io/v1alpha1/analysisruns",
                Some("watch=true&resourceVersion=5")
            ),
            ["analysisruns", "", "N/A", "Watch"]
        );
        assert_eq!(
            d(Method::GET, "/api/v1/namespaces/default", None),
            ["namespaces", "", "default", "Get"]
        );
        assert_eq!(d(Method::GET, "/version", None), ["Unknown"; 4]);
    }
}
