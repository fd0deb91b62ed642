//! What the hub's three browser pages (`/agent/`, `/admin/`, `/host/`)
//! share: files embedded in the binary, served with their type and
//! `no-cache` (a page and its script always come from the same hub build).

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub fn html(body: &'static str) -> Response {
    embedded("text/html; charset=utf-8", body)
}

pub fn javascript(body: &'static str) -> Response {
    embedded("text/javascript; charset=utf-8", body)
}

pub fn css(body: &'static str) -> Response {
    embedded("text/css; charset=utf-8", body)
}

fn embedded(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}
