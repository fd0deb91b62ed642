//! The hub's browser pages: plain HTML/CSS/JavaScript embedded in the
//! binary (no build step, nothing fetched from elsewhere), each served as
//! one page, one script and one stylesheet with `no-cache` (a page and its
//! script always come from the same hub build).
//!
//! - the agent console, `/agent/` (`console/`);
//! - the admin console, `/admin/` (`admin-console/`), its data from the
//!   admin API (`server::admin`, `server::console`);
//! - the host page, `/host/` (`host-page/`), the site's kiosks and alerts
//!   over `/ws/host` (docs/protocol.md, "The host on site");
//! - the supervisor's board, `/supervision/` (`supervision-page/`), the
//!   lines, agents and today's figures over `/ws/supervisor`
//!   (docs/protocol.md, "The supervisor's board");
//! - the guest's page, `/guest/` (`guest-page/`), a third party invited
//!   into a call by a one-time link, over `/ws/guest` (docs/protocol.md,
//!   "A third party").
//!
//! All five share `common/`: the page around their view (`page.html`:
//! head, header, sign-in), `/common/page.js` (`$`, `el`, words, sign-in,
//! header, language switch, the socket) and `/common/page.css`. The agent
//! console signs in with an agent account (`/api/agent/*`) and keeps its
//! own hub connection; the others with an admin console account (the
//! guest with its link, no sign-in).

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// One page: `{base}` serves `index`, `{base}{name}.js` the script and
/// `{base}{name}.css` the style; the base without its slash redirects.
#[derive(Debug)]
pub struct StaticPage {
    /// Where the page lives, with its final slash (`/host/`).
    base: &'static str,
    /// The script's and stylesheet's file name, without extension.
    name: &'static str,
    index: String,
    script: &'static str,
    style: &'static str,
}

/// What a page on the common frame (`common/page.html`) puts in it. The
/// French words are what shows before the script applies the catalogue.
struct Frame {
    /// The page's name in the tab's title and the header.
    title: &'static str,
    /// The sign-in card's heading.
    login: &'static str,
    /// Markup in the header before who is signed in (the admin console's
    /// sections); empty for none.
    nav: &'static str,
    /// Markup in the header between the signed-in name and the sign-out
    /// button, shown with them (the agent console's « Disponible »);
    /// empty for none.
    who: &'static str,
    /// The page's own sections, after the sign-in card.
    view: &'static str,
}

const FRAME: &str = include_str!("../common/page.html");
pub const COMMON_SCRIPT: &str = include_str!("../common/page.js");
pub const COMMON_STYLE: &str = include_str!("../common/page.css");

impl StaticPage {
    fn framed(base: &'static str, name: &'static str, frame: Frame, script: &'static str, style: &'static str) -> StaticPage {
        let index = FRAME
            .replace("{title}", frame.title)
            .replace("{login}", frame.login)
            .replace("{script}", &format!("{base}{name}.js"))
            .replace("{style}", &format!("{base}{name}.css"))
            .replace("{nav}", frame.nav)
            .replace("{who}", frame.who)
            // Last: the view is the page's own markup, not the frame's.
            .replace("{view}", frame.view);
        StaticPage { base, name, index, script, style }
    }

    /// Adds the page's four routes to `router`.
    pub fn routes<S: Clone + Send + Sync + 'static>(&'static self, router: Router<S>) -> Router<S> {
        router
            .route(self.base.trim_end_matches('/'), get(move || async move { Redirect::permanent(self.base) }))
            .route(self.base, get(move || async move { html(&self.index) }))
            .route(&format!("{}{}.js", self.base, self.name), get(move || async move { javascript(self.script) }))
            .route(&format!("{}{}.css", self.base, self.name), get(move || async move { css(self.style) }))
    }
}

/// The agent console.
pub static AGENT: LazyLock<StaticPage> = LazyLock::new(|| {
    let frame = Frame {
        title: "Console agent",
        login: "Connexion",
        nav: "",
        who: include_str!("../console/who.html"),
        view: include_str!("../console/view.html"),
    };
    // One script made of the console's parts (each under the size we keep
    // files to), in this order: later parts use what earlier ones define.
    let script = concat!(
        include_str!("../console/i18n.js"),
        include_str!("../console/console.js"),
        include_str!("../console/call.js"),
        include_str!("../console/documents.js"),
        include_str!("../console/scans.js"),
        include_str!("../console/docview.js"),
        include_str!("../console/sign.js"),
        include_str!("../console/notes.js"),
        include_str!("../console/transfer.js"),
        include_str!("../console/guest.js"),
        include_str!("../console/day.js"),
        include_str!("../console/start.js"),
    );
    StaticPage::framed("/agent/", "console", frame, script, include_str!("../console/console.css"))
});

/// The admin console.
pub static ADMIN: LazyLock<StaticPage> = LazyLock::new(|| {
    let frame = Frame {
        title: "Administration",
        login: "Connexion à l'administration",
        nav: include_str!("../admin-console/nav.html"),
        who: "",
        view: include_str!("../admin-console/view.html"),
    };
    // The console's parts, in this order: later parts use what earlier
    // ones define.
    let script = concat!(
        include_str!("../admin-console/i18n.js"),
        include_str!("../admin-console/admin.js"),
        include_str!("../admin-console/fleet.js"),
        include_str!("../admin-console/config.js"),
        include_str!("../admin-console/usage.js"),
        include_str!("../admin-console/start.js"),
    );
    StaticPage::framed("/admin/", "admin", frame, script, include_str!("../admin-console/admin.css"))
});

/// The host page.
pub static HOST: LazyLock<StaticPage> = LazyLock::new(|| {
    let frame = Frame { title: "Accueil", login: "Connexion de l'accueil", nav: "", who: "", view: include_str!("../host-page/view.html") };
    // The words first: the page's logic uses them.
    let script = concat!(include_str!("../host-page/i18n.js"), include_str!("../host-page/host.js"));
    StaticPage::framed("/host/", "host", frame, script, include_str!("../host-page/host.css"))
});

/// The supervisor's board.
pub static SUPERVISION: LazyLock<StaticPage> = LazyLock::new(|| {
    let frame = Frame {
        title: "Supervision",
        login: "Connexion de la supervision",
        nav: "",
        who: "",
        view: include_str!("../supervision-page/view.html"),
    };
    let script = concat!(include_str!("../supervision-page/i18n.js"), include_str!("../supervision-page/supervision.js"));
    StaticPage::framed("/supervision/", "supervision", frame, script, include_str!("../supervision-page/supervision.css"))
});

/// A third party's page (`/guest/#<token>`): no sign-in, the link is the
/// credential; the frame's sign-in card stays hidden.
pub static GUEST: LazyLock<StaticPage> = LazyLock::new(|| {
    let frame = Frame { title: "Invité", login: "Invité", nav: "", who: "", view: include_str!("../guest-page/view.html") };
    StaticPage::framed("/guest/", "guest", frame, include_str!("../guest-page/guest.js"), include_str!("../guest-page/guest.css"))
});

/// The five pages and `/common/`'s two files; `/` is the agent console.
pub fn routes<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let router = router
        .route("/", get(|| async { Redirect::permanent(AGENT.base) }))
        .route("/common/page.js", get(|| async { javascript(COMMON_SCRIPT) }))
        .route("/common/page.css", get(|| async { css(COMMON_STYLE) }));
    [&AGENT, &ADMIN, &HOST, &SUPERVISION, &GUEST].into_iter().fold(router, |router, page| LazyLock::force(page).routes(router))
}

fn html(body: &'static str) -> Response {
    embedded("text/html; charset=utf-8", body)
}

fn javascript(body: &'static str) -> Response {
    embedded("text/javascript; charset=utf-8", body)
}

fn css(body: &'static str) -> Response {
    embedded("text/css; charset=utf-8", body)
}

fn embedded(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_script_speaks_the_hubs_protocol_version() {
        let line = format!("const PROTOCOL = {};", visio_protocol::PROTOCOL_VERSION);
        assert!(COMMON_SCRIPT.contains(&line), "common/page.js must say {line}");
    }

    #[test]
    fn each_framed_page_fills_the_frame_and_loads_the_common_files_first() {
        for page in [&*AGENT, &*ADMIN, &*HOST, &*SUPERVISION] {
            let index = &page.index;
            assert!(!index.contains('{'), "{}: a placeholder is left", page.base);
            let position = |what: &str| index.find(what).unwrap_or_else(|| panic!("{}: no {what}", page.base));
            let own = |ext| format!("\"{}{}.{ext}\"", page.base, page.name);
            assert!(position("\"/common/page.css\"") < position(&own("css")), "{}", page.base);
            assert!(position("\"/common/page.js\"") < position(&own("js")), "{}", page.base);
            // What the common script works on, then the page's own view.
            for id in ["notice", "login-form", "login-error", "who-name", "logout"] {
                assert!(position(&format!("id=\"{id}\"")) < position("</main>"), "{}: {id}", page.base);
            }
            assert!(index.matches("<section ").count() > 1, "{}: the view is in", page.base);
        }
    }
}
