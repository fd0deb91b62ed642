//! What the visit's transfer session reports, turned into session-core
//! inputs (and into the shown or signed document's tasks, the device
//! health, and the pace of the call's video while documents go up).

use visio_kiosk_core::{DocumentEvent, Input};
use visio_transfer::driver::Notice;
use visio_transfer::{Direction, Event, Purpose};

use super::shown::{self, ShownDocument};
use super::sign::SigningDocument;
use super::{Device, Documents, Runner, VisitEvent};

impl Runner {
    /// One notice from the visit's transfer session.
    pub(super) fn notice(&self, documents: &mut Documents, notice: Notice) {
        let event = match notice {
            Notice::Core { event, .. } => match event {
                Event::ScanRequested { .. } => Some(DocumentEvent::ScanRequested),
                Event::IncomingStarted { id, name, purpose, .. } => {
                    documents.incoming.insert(id, name.clone());
                    (purpose == Purpose::Print).then_some(DocumentEvent::PrintStarted { name })
                }
                Event::Progress { id, direction: Direction::Outgoing, done, total } if documents.scans.contains_key(&id) => {
                    let percent = done.saturating_mul(100).checked_div(total).map_or(100, |p| p.min(100) as u8);
                    Some(DocumentEvent::ScanProgress { percent })
                }
                Event::Delivered { id } => match documents.signed.remove(&id) {
                    Some(copy) => {
                        copy.delete();
                        Some(DocumentEvent::Signed { name: copy.name, size: copy.size, sha256: copy.sha256 })
                    }
                    None => documents.scans.remove(&id).map(|(name, size, sha256)| DocumentEvent::ScanSent { name, size, sha256 }),
                },
                Event::SignBoxWanted { id, area } => {
                    if let Some(signing) = documents.signing.as_mut().filter(|s| s.id == id) {
                        signing.place(area);
                    }
                    None
                }
                Event::ViewWanted { id, view } if documents.shown.as_ref().is_some_and(|s| s.id == id) => {
                    Some(DocumentEvent::View(shown::from_wire(view)))
                }
                Event::Rejected { id, reason, .. } => {
                    documents.scans.remove(&id);
                    if let Some(copy) = documents.signed.remove(&id) {
                        copy.delete();
                    }
                    documents.incoming.remove(&id);
                    Some(DocumentEvent::Failed { reason })
                }
                _ => None,
            },
            Notice::Scanned { id, path, sha256, .. } => {
                let _ = self.events.send(VisitEvent::DeviceFault { device: Device::Scanner, fault: None });
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                documents.scans.insert(id, (name, size, sha256));
                None
            }
            Notice::ScanFailed { reason, .. } => {
                let _ = self.events.send(VisitEvent::DeviceFault { device: Device::Scanner, fault: Some(reason.clone().into()) });
                Some(DocumentEvent::Failed { reason })
            }
            Notice::Printed { id, .. } => {
                let _ = self.events.send(VisitEvent::DeviceFault { device: Device::Printer, fault: None });
                Some(DocumentEvent::Printed { name: documents.incoming.remove(&id).unwrap_or_default() })
            }
            Notice::Shown { id, pages, first, source, kind } => {
                let name = documents.incoming.remove(&id).unwrap_or_default();
                // Page 1 is drawn; the session's first view tells the agent.
                let display = self.devices.services.display.clone();
                let document = shown::Document { id, pages, source, kind };
                documents.shown = Some(ShownDocument::start(document, documents.handle.clone(), display, self.events.clone()));
                let _ = self.events.send(VisitEvent::Page { page: 1, path: first });
                Some(DocumentEvent::Showing { name, pages })
            }
            Notice::SignAsked { id, pages, last: _, source } => {
                let name = documents.incoming.remove(&id).unwrap_or_default();
                if let Some(old) = documents.signing.take() {
                    let handle = documents.handle.clone();
                    tokio::spawn(async move { old.replaced(&handle).await });
                }
                let display = self.devices.services.display.clone();
                // The box's page is drawn, then the session and the agent told.
                documents.signing = Some(SigningDocument::start(id, name, pages, source, documents.handle.clone(), display, self.events.clone()));
                None
            }
            Notice::ActionFailed { id, reason, purpose, device_fault } => {
                documents.incoming.remove(&id);
                // A refused document says nothing about the printer.
                if purpose == Purpose::Print && device_fault {
                    let _ = self.events.send(VisitEvent::DeviceFault { device: Device::Printer, fault: Some(reason.clone().into()) });
                }
                Some(DocumentEvent::Failed { reason })
            }
            Notice::Interview(step) => self.interview_notice(step),
            Notice::LinkUp | Notice::LinkDown | Notice::Ended => None,
        };
        // While a scan goes up, video leaves it a share of the estimate.
        let sending = !documents.scans.is_empty() || !documents.signed.is_empty();
        if sending != documents.sending
            && let Some(active) = &self.call
        {
            documents.sending = sending;
            let call = active.call.clone();
            tokio::spawn(async move {
                let _ = call.set_sending_documents(sending).await;
            });
        }
        if let Some(event) = event {
            self.input(Input::Document(event));
        }
    }
}
