//! The host page: static files embedded in the hub, served under `/host/`.
//! Plain HTML/CSS/JavaScript like the consoles: no build step, nothing
//! fetched from elsewhere. Sign-in is the admin console's (its cookie);
//! the kiosks and alerts come over `/ws/host` (docs/protocol.md, "The host
//! on site").

use axum::response::{Redirect, Response};

const INDEX: &str = include_str!("../host-page/index.html");
// The words first: the page's logic uses them.
const SCRIPT: &str = concat!(include_str!("../host-page/i18n.js"), include_str!("../host-page/host.js"));
const STYLE: &str = include_str!("../host-page/host.css");

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
    Redirect::permanent("/host/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_speaks_the_hubs_protocol_version() {
        let line = format!("const PROTOCOL = {};", visio_protocol::PROTOCOL_VERSION);
        assert!(super::SCRIPT.contains(&line), "host.js must say {line}");
    }
}
