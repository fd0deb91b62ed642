//! A document to sign, in the visit task: its page drawn where the agent
//! puts the box (the last page at first), what the resident sees told back
//! to the agent with a small picture of the page; once the resident has
//! signed, the strokes stamped into the PDF with the date, the kiosk's site
//! and the document's hash (`visio_transfer::sign`), and the signed PDF
//! sent to the agent like a scan. A refusal is the outcome `refused`.
//! The document, its pages and the signed PDF are deleted as soon as they
//! are done with; the visit's spool is wiped at its end anyway.

use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};
use visio_kiosk_core::{DocumentEvent, Input, SignArea};
use visio_transfer::display::{Display as _, PopplerDisplay, thumbnail_data_url};
use visio_transfer::driver::SessionHandle;
use visio_transfer::inspect::DocumentLimits;
use visio_transfer::sign::{SignatureBox, Stroke, sign_document};
use visio_transfer::spool::hash_file;
use visio_transfer::wire::MAX_TEXT_MESSAGE;
use visio_transfer::{OutcomeKind, Purpose};

use super::VisitEvent;

/// Width of the page picture the agent gets, pixels.
const THUMBNAIL_WIDTH: u32 = 200;
/// Room left in a `sign_shown` message for everything but the picture.
const MESSAGE_ROOM: usize = 512;

/// Where the box is before the agent moves it: across the lower right of
/// the last page, where forms put "Signature".
pub fn default_box(pages: u32) -> SignatureBox {
    SignatureBox { page: pages.max(1), x: 520, y: 780, width: 400, height: 130 }
}

/// The document on screen to be signed.
#[derive(Debug)]
pub struct SigningDocument {
    /// The agent's transfer.
    pub id: u32,
    pub name: String,
    pub pages: u32,
    pub source: PathBuf,
    area: SignatureBox,
    areas: watch::Sender<Option<SignatureBox>>,
    task: JoinHandle<()>,
}

/// A signed PDF on its way to the agent, deleted once delivered or given up.
#[derive(Debug)]
pub struct SignedCopy {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub path: PathBuf,
}

impl SignedCopy {
    /// The agent has it (or the transfer ended): the kiosk keeps nothing.
    pub fn delete(&self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!(error = %e, "signed copy not deleted; the spool wipe will");
        }
    }
}

/// What became of a signature, for the visit task.
#[derive(Debug)]
pub enum SignDone {
    /// The signed PDF is on its way as transfer `transfer`.
    Sent { transfer: u32, name: String, size: u64, sha256: String, path: PathBuf },
    Failed { reason: String },
}

impl SigningDocument {
    /// Shows the document with the box at `default_box`, its last page
    /// (already drawn) first.
    pub fn start(id: u32, name: String, pages: u32, source: PathBuf, handle: SessionHandle, display: PopplerDisplay, events: mpsc::UnboundedSender<VisitEvent>) -> SigningDocument {
        let area = default_box(pages);
        let (areas, wanted) = watch::channel(Some(area));
        let shell = Shell { handle, display, events };
        let task = tokio::spawn(draw(id, name.clone(), pages, source.clone(), wanted, shell));
        SigningDocument { id, name, pages, source, area, areas, task }
    }

    /// The agent moved the box (a page past the last is the last).
    pub fn place(&mut self, mut area: SignatureBox) {
        area.page = area.page.clamp(1, self.pages);
        self.area = area;
        self.areas.send_replace(Some(area));
    }

    /// Stamps `strokes` and sends the signed PDF; the answer comes on `done`.
    /// `timezone`: the catalogue's (the region's wall clock, not the
    /// kiosk's system setting), for the caption's time.
    pub fn sign(self, strokes: Vec<Stroke>, site: String, timezone: jiff::tz::TimeZone, handle: SessionHandle, done: mpsc::UnboundedSender<SignDone>) {
        self.task.abort();
        let (id, name, source, area) = (self.id, self.name.clone(), self.source.clone(), self.area);
        tokio::spawn(async move {
            let when = jiff::Timestamp::now().to_zoned(timezone);
            let result = sign_and_send(id, &name, &source, area, &strokes, &site, &when, &handle).await;
            forget(&handle, id, &source);
            let done_with = match result {
                Ok(sent) => sent,
                Err(why) => {
                    warn!(reason = %why, "document not signed");
                    // French, then English, as the agent reads it.
                    let reason = format!("la signature n'a pas pu être ajoutée au document / the signature could not be added: {why}");
                    let _ = handle.report_outcome(id, OutcomeKind::Failed, Some(reason.clone())).await;
                    SignDone::Failed { reason }
                }
            };
            let _ = done.send(done_with);
        });
    }

    /// Another document to sign took this one's place before the resident
    /// answered: the agent is told, the document deleted.
    pub async fn replaced(self, handle: &SessionHandle) {
        self.task.abort();
        let reason = "remplacé par un autre document à signer avant la signature / replaced by another document to sign before it was signed".to_string();
        let _ = handle.report_outcome(self.id, OutcomeKind::Failed, Some(reason)).await;
        forget(handle, self.id, &self.source);
    }

    /// "Je ne signe pas": the agent is told and the document deleted.
    pub async fn refuse(self, handle: &SessionHandle) {
        self.task.abort();
        info!("the resident did not sign");
        let _ = handle.report_outcome(self.id, OutcomeKind::Refused, None).await;
        forget(handle, self.id, &self.source);
    }
}

impl Drop for SigningDocument {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Deletes the document and its drawn pages from the visit's spool.
fn forget(handle: &SessionHandle, id: u32, source: &Path) {
    let _ = std::fs::remove_file(source);
    let prefix = format!("page-{id:08x}-p");
    if let Ok(entries) = std::fs::read_dir(handle.spool_dir()) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The signed document's name: the original's with "-signé" before ".pdf".
pub fn signed_name(name: &str) -> String {
    let stem = name.strip_suffix(".pdf").or_else(|| name.strip_suffix(".PDF")).unwrap_or(name);
    // A name stays within 255 bytes (docs/protocol.md), on a character boundary.
    let mut cut = stem.len().min(240);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-signé.pdf", &stem[..cut])
}

/// The caption under the signature: when, where, and which document.
pub fn caption(site: &str, when: &jiff::Zoned, sha256: &str) -> Vec<String> {
    let at = when.strftime("%d/%m/%Y à %H:%M");
    let first = if site.is_empty() { format!("Signé le {at}") } else { format!("Signé le {at}, {site}") };
    vec![first, format!("SHA-256 du document original : {sha256}")]
}

#[allow(clippy::too_many_arguments)]
async fn sign_and_send(
    id: u32,
    name: &str,
    source: &Path,
    area: SignatureBox,
    strokes: &[Stroke],
    site: &str,
    when: &jiff::Zoned,
    handle: &SessionHandle,
) -> Result<SignDone, String> {
    let src = source.to_path_buf();
    let (_, original) = tokio::task::spawn_blocking(move || hash_file(&src)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    let caption = caption(site, when, &original);
    let out = handle.spool_dir().join(format!("signed-{id:08x}.pdf"));
    sign_document(source, &area, strokes, &caption, &out, &DocumentLimits::default()).await.map_err(|e| e.to_string())?;
    let name = signed_name(name);
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let (transfer, sha256) = handle.push_file(&out, &name, Purpose::Signed, Some(id)).await.map_err(|e| e.to_string())?;
    info!(size, "signed document on its way");
    Ok(SignDone::Sent { transfer, name, size, sha256, path: out })
}

/// What the drawing task works with: the transfer session, the page
/// renderer, and the way to the session core and the screen.
struct Shell {
    handle: SessionHandle,
    display: PopplerDisplay,
    events: mpsc::UnboundedSender<VisitEvent>,
}

/// Draws the page of each box the agent places, tells the session and
/// the agent (one task: replies keep their order).
async fn draw(id: u32, name: String, pages: u32, source: PathBuf, mut wanted: watch::Receiver<Option<SignatureBox>>, shell: Shell) {
    let Shell { handle, display, events } = shell;
    let stem = format!("page-{id:08x}");
    let mut pictured = None;
    let mut first = true;
    loop {
        let Some(area) = *wanted.borrow_and_update() else { return };
        let file = handle.spool_dir().join(format!("{stem}-p{}.png", area.page));
        let drawn = if file.exists() { Ok(file) } else { display.render_page(&source, visio_transfer::check::ContentKind::Pdf, area.page, handle.spool_dir(), &stem).await };
        match drawn {
            Ok(file) => {
                let thumbnail = if pictured != Some(area.page) {
                    let f = file.clone();
                    tokio::task::spawn_blocking(move || thumbnail_data_url(&f, THUMBNAIL_WIDTH, MAX_TEXT_MESSAGE - MESSAGE_ROOM)).await.ok().and_then(|t| t.ok())
                } else {
                    None
                };
                if thumbnail.is_some() {
                    pictured = Some(area.page);
                }
                // The screen learns the box's page first, so that it takes
                // the picture of that page (it drops pictures of others).
                let core = to_core(area);
                let event = if first { DocumentEvent::SignAsked { name: name.clone(), pages, area: core } } else { DocumentEvent::SignMoved(core) };
                first = false;
                let _ = events.send(VisitEvent::Input(Input::Document(event)));
                let _ = events.send(VisitEvent::Page { page: area.page, path: file });
                if handle.sign_shown(id, pages, area, thumbnail).await.is_err() {
                    return;
                }
            }
            Err(e) => warn!(page = area.page, error = %e, "page to sign not drawn"),
        }
        if wanted.changed().await.is_err() {
            return;
        }
    }
}

/// The wire's box for the session core.
pub fn to_core(area: SignatureBox) -> SignArea {
    SignArea { page: area.page, x: area.x, y: area.y, width: area.width, height: area.height }
}

impl super::Runner {
    /// The resident signed or refused the document on screen.
    pub(super) async fn sign_command(&mut self, command: visio_kiosk_core::DocumentCommand) {
        let Some(documents) = &mut self.documents else { return };
        let Some(signing) = documents.signing.take() else { return };
        match command {
            visio_kiosk_core::DocumentCommand::Sign { strokes, site } => {
                let timezone = self.devices.receipt.timezone.clone();
                signing.sign(strokes, site, timezone, documents.handle.clone(), documents.sign_done.0.clone());
            }
            _ => signing.refuse(&documents.handle).await,
        }
    }

    /// A signature stamped and on its way (told when delivered), or not.
    pub(super) fn sign_done(&mut self, done: SignDone) {
        let Some(documents) = &mut self.documents else { return };
        match done {
            SignDone::Sent { transfer, name, size, sha256, path } => {
                documents.signed.insert(transfer, SignedCopy { name, size, sha256, path });
            }
            SignDone::Failed { reason } => self.input(Input::Document(DocumentEvent::Failed { reason })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_name_says_so_and_stays_a_valid_name() {
        assert_eq!(signed_name("attestation.pdf"), "attestation-signé.pdf");
        assert_eq!(signed_name("Mandat SEPA.PDF"), "Mandat SEPA-signé.pdf");
        let long = format!("{}.pdf", "é".repeat(127));
        let signed = signed_name(&long);
        assert!(signed.len() <= 255 && signed.ends_with("-signé.pdf"), "{}", signed.len());
        assert!(visio_transfer::check::check_name(&signed).is_ok());
    }

    #[test]
    fn the_caption_has_the_date_the_site_and_the_hash() {
        let when: jiff::Zoned = "2026-12-06T09:10:00+01:00[Europe/Paris]".parse().unwrap();
        let lines = caption("Mairie de Besse", &when, &"ab".repeat(32));
        assert_eq!(lines[0], "Signé le 06/12/2026 à 09:10, Mairie de Besse");
        assert_eq!(lines[1], format!("SHA-256 du document original : {}", "ab".repeat(32)));
    }
}
