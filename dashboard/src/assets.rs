//! The page's files, compiled into the binary.

/// `(body, content type)` of an asset by its path under `assets/`.
pub fn get(path: &str) -> Option<(&'static [u8], &'static str)> {
    Some(match path {
        "index.html" => (
            include_bytes!("../assets/index.html"),
            "text/html; charset=utf-8",
        ),
        "app.js" => (
            include_bytes!("../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (
            include_bytes!("../assets/app.css"),
            "text/css; charset=utf-8",
        ),
        "vendor/uplot/uPlot.iife.min.js" => (
            include_bytes!("../assets/vendor/uplot/uPlot.iife.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "vendor/uplot/uPlot.min.css" => (
            include_bytes!("../assets/vendor/uplot/uPlot.min.css"),
            "text/css; charset=utf-8",
        ),
        "vendor/uplot/LICENSE" => (
            include_bytes!("../assets/vendor/uplot/LICENSE"),
            "text/plain; charset=utf-8",
        ),
        _ => return None,
    })
}
