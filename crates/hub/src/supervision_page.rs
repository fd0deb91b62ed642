//! The supervisor's board: static files embedded in the hub, served under
//! `/supervision/`. Plain HTML/CSS/JavaScript like the host page: no build
//! step, nothing fetched from elsewhere. Sign-in is the admin console's
//! (its cookie); the lines, agents and today's figures come over
//! `/ws/supervisor` (docs/protocol.md, "The supervisor's board").

use axum::response::{Redirect, Response};

const INDEX: &str = include_str!("../supervision-page/index.html");
// The words first: the page's logic uses them.
const SCRIPT: &str = concat!(include_str!("../supervision-page/i18n.js"), include_str!("../supervision-page/supervision.js"));
const STYLE: &str = include_str!("../supervision-page/supervision.css");

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
    Redirect::permanent("/supervision/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_speaks_the_hubs_protocol_version() {
        let line = format!("const PROTOCOL = {};", visio_protocol::PROTOCOL_VERSION);
        assert!(super::SCRIPT.contains(&line), "supervision.js must say {line}");
    }
}
