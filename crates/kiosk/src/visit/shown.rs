//! The document the agent shows, in the visit task: its pages drawn when
//! first shown (never all up front), and what the resident sees told back
//! to the agent with a small picture of the page.

use std::path::PathBuf;

use tokio::sync::mpsc;
use tracing::warn;
use visio_kiosk_core::PageView;
use visio_transfer::check::ContentKind;
use visio_transfer::display::{Display as _, thumbnail_data_url};
use visio_transfer::driver::SessionHandle;
use visio_transfer::wire::MAX_TEXT_MESSAGE;
use visio_transfer::{PagePoint, PageView as WirePageView};

use super::VisitEvent;
use super::devices::KioskServices;

/// Width of the page picture the agent gets, pixels.
const THUMBNAIL_WIDTH: u32 = 200;
/// Room left in a `view_shown` message for everything but the picture.
const MESSAGE_ROOM: usize = 512;

/// The shown document.
#[derive(Debug, Clone)]
pub struct ShownDocument {
    /// The agent's transfer.
    pub id: u32,
    pub pages: u32,
    /// The document in the visit's spool.
    pub source: PathBuf,
    pub kind: ContentKind,
    /// Page the agent last got a picture of.
    pub pictured: Option<u32>,
}

impl ShownDocument {
    fn page_file(&self, handle: &SessionHandle, page: u32) -> PathBuf {
        handle.spool_dir().join(format!("{}-p{page}.png", self.stem()))
    }

    fn stem(&self) -> String {
        format!("page-{:08x}", self.id)
    }

    /// Draws the page of `view` if it is not yet, hands it to the screen,
    /// and tells the agent. Drawing runs on its own task: a slow page never
    /// holds up the call.
    pub fn show(&mut self, view: PageView, handle: &SessionHandle, services: &KioskServices, events: &mpsc::UnboundedSender<VisitEvent>) {
        let picture = self.pictured != Some(view.page);
        self.pictured = Some(view.page);
        let file = self.page_file(handle, view.page);
        let (me, handle, services, events) = (self.clone(), handle.clone(), services.clone(), events.clone());
        let wire = to_wire(view);
        tokio::spawn(async move {
            let drawn = if file.exists() {
                Ok(file)
            } else {
                services.display.render_page(&me.source, me.kind, view.page, handle.spool_dir(), &me.stem()).await
            };
            let file = match drawn {
                Ok(f) => f,
                Err(e) => {
                    warn!(page = view.page, error = %e, "page not drawn");
                    return;
                }
            };
            let thumbnail = if picture {
                let f = file.clone();
                tokio::task::spawn_blocking(move || thumbnail_data_url(&f, THUMBNAIL_WIDTH, MAX_TEXT_MESSAGE - MESSAGE_ROOM))
                    .await
                    .ok()
                    .and_then(|t| t.map_err(|e| warn!(error = %e, "no page picture for the agent")).ok())
            } else {
                None
            };
            let _ = events.send(VisitEvent::Page { page: view.page, path: file });
            let _ = handle.view_shown(me.id, me.pages, wire, thumbnail).await;
        });
    }
}

/// The core's view on the wire.
pub fn to_wire(view: PageView) -> WirePageView {
    let point = |(x, y): (u32, u32)| PagePoint { x, y };
    WirePageView { page: view.page, zoom: view.zoom, center: point(view.center), pointer: view.pointer.map(point) }
}

/// The agent's view for the core.
pub fn from_wire(view: WirePageView) -> PageView {
    let point = |p: PagePoint| (p.x, p.y);
    PageView { page: view.page, zoom: view.zoom, center: point(view.center), pointer: view.pointer.map(point) }
}
