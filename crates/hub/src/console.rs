//! The agent console: static files embedded in the hub, served under
//! `/agent/`. Plain HTML/CSS/JavaScript, so there is no build step and the
//! page works in any recent browser agents already have.

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

const INDEX: &str = include_str!("../console/index.html");
// One script made of the console's parts (each under the size we keep files
// to), in this order: later parts use what earlier ones define.
const SCRIPT: &str = concat!(
    include_str!("../console/i18n.js"),
    include_str!("../console/console.js"),
    include_str!("../console/call.js"),
    include_str!("../console/documents.js"),
    include_str!("../console/scans.js"),
    include_str!("../console/docview.js"),
    include_str!("../console/sign.js"),
    include_str!("../console/notes.js"),
    include_str!("../console/transfer.js"),
    include_str!("../console/start.js"),
);
const STYLE: &str = include_str!("../console/console.css");

pub async fn index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], INDEX).into_response()
}

pub async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], SCRIPT)
        .into_response()
}

pub async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], STYLE).into_response()
}

pub async fn to_index() -> Redirect {
    Redirect::permanent("/agent/")
}
