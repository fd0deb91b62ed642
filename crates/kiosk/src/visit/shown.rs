//! The document the agent shows, in the visit task: its pages drawn when
//! first shown (never all up front), and what the resident sees told back
//! to the agent with a small picture of the page.
//!
//! One task per shown document takes the agent's views in order and keeps
//! only the newest while a page is drawn: replies never overtake each other
//! (a zoom's reply after the page turn's) and a page is never drawn twice
//! at once into the same file.

use std::path::PathBuf;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::warn;
use visio_kiosk_core::PageView;
use visio_transfer::check::ContentKind;
use visio_transfer::display::{Display as _, PopplerDisplay, thumbnail_data_url};
use visio_transfer::driver::SessionHandle;
use visio_transfer::wire::MAX_TEXT_MESSAGE;
use visio_transfer::{PagePoint, PageView as WirePageView};

use super::VisitEvent;

/// Width of the page picture the agent gets, pixels.
const THUMBNAIL_WIDTH: u32 = 200;
/// Room left in a `view_shown` message for everything but the picture.
const MESSAGE_ROOM: usize = 512;

/// What is shown: the agent's transfer and the file in the visit's spool.
#[derive(Debug, Clone)]
pub struct Document {
    /// The agent's transfer.
    pub id: u32,
    pub pages: u32,
    /// The document in the visit's spool.
    pub source: PathBuf,
    pub kind: ContentKind,
}

impl Document {
    fn stem(&self) -> String {
        format!("page-{:08x}", self.id)
    }
}

/// The shown document and the task that draws its pages.
#[derive(Debug)]
pub struct ShownDocument {
    pub id: u32,
    views: watch::Sender<Option<PageView>>,
    task: JoinHandle<()>,
}

impl ShownDocument {
    pub fn start(document: Document, handle: SessionHandle, display: PopplerDisplay, events: mpsc::UnboundedSender<VisitEvent>) -> ShownDocument {
        let (views, wanted) = watch::channel(None);
        let id = document.id;
        let task = tokio::spawn(draw_views(document, wanted, handle, display, events));
        ShownDocument { id, views, task }
    }

    /// Shows `view`: its page drawn if it is not yet, then the agent told.
    pub fn show(&self, view: PageView) {
        self.views.send_replace(Some(view));
    }

    /// Stops drawing (a `pdftoppm` under way is killed): nothing is written
    /// into the spool once this returns.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for ShownDocument {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn draw_views(
    document: Document,
    mut wanted: watch::Receiver<Option<PageView>>,
    handle: SessionHandle,
    display: PopplerDisplay,
    events: mpsc::UnboundedSender<VisitEvent>,
) {
    // Page the agent last got a picture of.
    let mut pictured = None;
    while wanted.changed().await.is_ok() {
        let Some(view) = *wanted.borrow_and_update() else { continue };
        let file = handle.spool_dir().join(format!("{}-p{}.png", document.stem(), view.page));
        let drawn = if file.exists() {
            Ok(file)
        } else {
            display.render_page(&document.source, document.kind, view.page, handle.spool_dir(), &document.stem()).await
        };
        let file = match drawn {
            Ok(f) => f,
            Err(e) => {
                warn!(page = view.page, error = %e, "page not drawn");
                continue;
            }
        };
        let thumbnail = if pictured != Some(view.page) {
            let f = file.clone();
            tokio::task::spawn_blocking(move || thumbnail_data_url(&f, THUMBNAIL_WIDTH, MAX_TEXT_MESSAGE - MESSAGE_ROOM))
                .await
                .ok()
                .and_then(|t| t.map_err(|e| warn!(error = %e, "no page picture for the agent")).ok())
        } else {
            None
        };
        if thumbnail.is_some() {
            pictured = Some(view.page);
        }
        let _ = events.send(VisitEvent::Page { page: view.page, path: file });
        if handle.view_shown(document.id, document.pages, to_wire(view), thumbnail).await.is_err() {
            break;
        }
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
