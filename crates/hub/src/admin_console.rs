//! The admin console: static files embedded in the hub, served under
//! `/admin/`. Plain HTML/CSS/JavaScript like the agent console: no build
//! step, nothing fetched from elsewhere. Its data comes from the admin API
//! (`server::admin`, `server::console`), with the console's cookie.

use axum::response::{Redirect, Response};

const INDEX: &str = include_str!("../admin-console/index.html");
// One script made of the console's parts, in this order: later parts use
// what earlier ones define.
const SCRIPT: &str = concat!(
    include_str!("../admin-console/i18n.js"),
    include_str!("../admin-console/admin.js"),
    include_str!("../admin-console/fleet.js"),
    include_str!("../admin-console/config.js"),
    include_str!("../admin-console/usage.js"),
    include_str!("../admin-console/start.js"),
);
const STYLE: &str = include_str!("../admin-console/admin.css");

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
    Redirect::permanent("/admin/")
}
