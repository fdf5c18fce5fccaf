//! Request paths: the discovery and version documents, and the resource paths
//! `/api/v1/...` and `/apis/{group}/{version}/...`, namespaced
//! (`namespaces/{ns}/{resource}[/{name}[/{subresource}]]`) or not, as the real server's
//! `RequestInfoFactory` splits them (including the legacy `/watch/` prefix).

/// A resource request's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    /// The namespace in the path ("" for none).
    pub namespace: String,
    pub resource: String,
    pub name: String,
    pub subresource: String,
    /// `/api/v1/watch/...`: a watch whatever the query says.
    pub legacy_watch: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    ResourceList(String, String),
    Version,
    OpenApiV2,
    OpenApiV3,
    OpenApiV3Group(String),
    Health,
    Resource(ResourcePath),
    NotFound,
}

pub fn parse(path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group(g.to_string()),
        ["api", v] => Route::ResourceList(String::new(), v.to_string()),
        ["apis", g, v] => Route::ResourceList(g.to_string(), v.to_string()),
        ["version"] => Route::Version,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3,
        ["openapi", "v3", rest @ ..] => Route::OpenApiV3Group(rest.join("/")),
        ["healthz"] | ["readyz"] | ["livez"] => Route::Health,
        ["api", v, rest @ ..] => resource("", v, rest),
        ["apis", g, v, rest @ ..] => resource(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let (legacy_watch, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    let mut p = ResourcePath {
        group: group.into(),
        version: version.into(),
        namespace: String::new(),
        resource: String::new(),
        name: String::new(),
        subresource: String::new(),
        legacy_watch,
    };
    let namespaced = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && is_namespace_sub(rest[2]));
    let tail = if namespaced {
        p.namespace = rest[1].into();
        &rest[2..]
    } else {
        rest
    };
    match tail {
        [r] => p.resource = r.to_string(),
        [r, n] => {
            p.resource = r.to_string();
            p.name = n.to_string();
        }
        [r, n, s] => {
            p.resource = r.to_string();
            p.name = n.to_string();
            p.subresource = s.to_string();
        }
        _ => return Route::NotFound,
    }
    Route::Resource(p)
}

fn is_namespace_sub(s: &str) -> bool {
    s == "status" || s == "finalize"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Route::Resource(p) => p,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn splits_like_request_info() {
        let p = res("/apis/argoproj.io/v1alpha1/namespaces/ns/rollouts/web/status");
        assert_eq!(
            (p.group.as_str(), p.namespace.as_str(), p.resource.as_str()),
            ("argoproj.io", "ns", "rollouts")
        );
        assert_eq!((p.name.as_str(), p.subresource.as_str()), ("web", "status"));
        let p = res("/api/v1/namespaces/ns");
        assert_eq!(
            (p.resource.as_str(), p.name.as_str(), p.namespace.as_str()),
            ("namespaces", "ns", "")
        );
        let p = res("/api/v1/namespaces/ns/status");
        assert_eq!(
            (p.resource.as_str(), p.name.as_str(), p.subresource.as_str()),
            ("namespaces", "ns", "status")
        );
        let p = res("/api/v1/namespaces/ns/pods");
        assert_eq!(
            (p.resource.as_str(), p.namespace.as_str(), p.name.as_str()),
            ("pods", "ns", "")
        );
        let p = res("/api/v1/watch/namespaces/ns/pods");
        assert!(p.legacy_watch);
        assert_eq!(parse("/apis/apps"), Route::Group("apps".into()));
        assert_eq!(parse("/api/v1/a/b/c/d"), Route::NotFound);
    }
}
