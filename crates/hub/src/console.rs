//! The agent console: static files embedded in the hub, served under
//! `/agent/`. Plain HTML/CSS/JavaScript, so there is no build step and the
//! page works in any recent browser agents already have.

use axum::response::{Redirect, Response};

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
    crate::pages::html(INDEX)
}

pub async fn script() -> Response {
    crate::pages::javascript(SCRIPT)
}

pub async fn style() -> Response {
    crate::pages::css(STYLE)
}

pub async fn to_index() -> Redirect {
    Redirect::permanent("/agent/")
}
