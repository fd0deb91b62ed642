//! Content and name checks, done by the receiver as the bytes stream in.
//!
//! The type is judged by the content (magic bytes plus a light structure
//! check of head and tail), never by the name. Nothing here holds a whole file:
//! the checker keeps the first bytes and the last 1 KiB. Pages, page sizes,
//! passwords and pixel counts are judged once the file is whole, by real
//! decoders in [`crate::inspect`]: scanning bytes for `/Type /Page` misses
//! page trees inside compressed object streams.

use std::fmt;

/// A file type we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// PDF document.
    Pdf,
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
}

impl ContentKind {
    /// MIME type, for the UI and the printer.
    pub fn mime(self) -> &'static str {
        match self {
            ContentKind::Pdf => "application/pdf",
            ContentKind::Png => "image/png",
            ContentKind::Jpeg => "image/jpeg",
        }
    }

    /// Recognises the kind from the first bytes; `None` if not (yet) one of ours.
    pub fn sniff(head: &[u8]) -> Option<ContentKind> {
        if head.starts_with(b"%PDF-") {
            Some(ContentKind::Pdf)
        } else if head.starts_with(PNG_SIGNATURE) {
            Some(ContentKind::Png)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ContentKind::Jpeg)
        } else {
            None
        }
    }
}

impl fmt::Display for ContentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContentKind::Pdf => "PDF",
            ContentKind::Png => "PNG",
            ContentKind::Jpeg => "JPEG",
        })
    }
}

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const PNG_IEND: &[u8] = &[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
/// Bytes needed to recognise any of the kinds.
pub const SNIFF_LEN: usize = 16;
const TAIL_LEN: usize = 1024;

/// Why content was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// Not PDF, PNG or JPEG.
    #[error("content is not a PDF, PNG or JPEG file (first bytes {0})")]
    Unsupported(String),
    /// Right magic, broken structure.
    #[error("{kind} file is damaged or truncated: {what}")]
    Damaged {
        /// The kind it claimed to be.
        kind: ContentKind,
        /// What is wrong.
        what: &'static str,
    },
}

/// Result of a successful check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentInfo {
    /// The kind.
    pub kind: ContentKind,
    /// Pages: 1 for an image; `None` for a PDF, whose pages only a PDF
    /// reader can count ([`crate::inspect`]).
    pub pages: Option<u32>,
}

/// Streaming content checker: feed every byte in order, then [`finish`](Self::finish).
#[derive(Debug, Default)]
pub struct ContentChecker {
    head: Vec<u8>,
    kind: Option<ContentKind>,
    tail: Vec<u8>,
}

impl ContentChecker {
    /// A fresh checker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes. Fails as soon as the head shows an unsupported type.
    pub fn update(&mut self, data: &[u8]) -> Result<(), ContentError> {
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            if self.kind.is_none() {
                self.kind = ContentKind::sniff(&self.head);
                if self.kind.is_none() && !could_still_match(&self.head) {
                    return Err(ContentError::Unsupported(hex_prefix(&self.head)));
                }
            }
        }
        self.tail.extend_from_slice(data);
        if self.tail.len() > TAIL_LEN {
            let cut = self.tail.len() - TAIL_LEN;
            self.tail.drain(..cut);
        }
        Ok(())
    }

    /// The type, once the first bytes told it.
    pub fn kind(&self) -> Option<ContentKind> {
        self.kind
    }

    /// Checks the structure once every byte was fed.
    pub fn finish(self) -> Result<ContentInfo, ContentError> {
        let Some(kind) = self.kind else {
            return Err(ContentError::Unsupported(hex_prefix(&self.head)));
        };
        let tail = trim_trailing_ws(&self.tail);
        let pages = match kind {
            ContentKind::Pdf => {
                if !contains(&self.tail, b"%%EOF") {
                    return Err(ContentError::Damaged { kind, what: "no %%EOF marker at the end" });
                }
                None
            }
            ContentKind::Png => {
                if self.head.get(12..16) != Some(b"IHDR") {
                    return Err(ContentError::Damaged { kind, what: "no IHDR header chunk" });
                }
                if !tail.ends_with(PNG_IEND) {
                    return Err(ContentError::Damaged { kind, what: "no IEND chunk at the end" });
                }
                Some(1)
            }
            ContentKind::Jpeg => {
                if !tail.ends_with(&[0xFF, 0xD9]) {
                    return Err(ContentError::Damaged { kind, what: "no end-of-image marker" });
                }
                Some(1)
            }
        };
        Ok(ContentInfo { kind, pages })
    }
}

fn could_still_match(head: &[u8]) -> bool {
    let candidates: [&[u8]; 3] = [b"%PDF-", PNG_SIGNATURE, &[0xFF, 0xD8, 0xFF]];
    candidates.iter().any(|c| c.starts_with(head))
}

fn trim_trailing_ws(b: &[u8]) -> &[u8] {
    let n = b.iter().rev().take_while(|&&c| c.is_ascii_whitespace() || c == 0).count();
    &b[..b.len() - n]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn hex_prefix(b: &[u8]) -> String {
    let shown = &b[..b.len().min(8)];
    if shown.is_empty() {
        return "none".into();
    }
    shown.iter().map(|c| format!("{c:02x}")).collect::<Vec<_>>().join(" ")
}

/// Checks a whole in-memory buffer (tests, small files).
pub fn check_bytes(data: &[u8]) -> Result<ContentInfo, ContentError> {
    let mut c = ContentChecker::new();
    c.update(data)?;
    c.finish()
}

/// Why a file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty or only dots and spaces.
    #[error("file name is empty")]
    Empty,
    /// Longer than 255 bytes.
    #[error("file name is {0} bytes long, more than 255")]
    TooLong(usize),
    /// Has `/` or `\`: a path, not a name.
    #[error("file name {0:?} contains a path separator; send a plain name like \"form.pdf\"")]
    Path(String),
    /// Control characters (newlines, escapes, NUL).
    #[error("file name contains control characters")]
    Control,
    /// Starts with a dot (hidden file, `..`).
    #[error("file name {0:?} starts with a dot")]
    Dot(String),
}

/// Checks a file name from the peer. Names are refused rather than rewritten:
/// `../../etc/passwd` is a bug or an attack, and the sender should hear so
/// instead of seeing a silently different name. The kiosk never uses the
/// name as a path anyway (spool files are named by transfer id).
pub fn check_name(name: &str) -> Result<&str, NameError> {
    if name.len() > 255 {
        return Err(NameError::TooLong(name.len()));
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    if name.contains('/') || name.contains('\\') {
        return Err(NameError::Path(name.into()));
    }
    if name.trim_matches(|c| c == '.' || c == ' ').is_empty() {
        return Err(NameError::Empty);
    }
    if name.starts_with('.') {
        return Err(NameError::Dot(name.into()));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_pdf(pages: u32) -> Vec<u8> {
        let mut s = String::from("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
        s += &format!("2 0 obj << /Type /Pages /Count {pages} >> endobj\n");
        for i in 0..pages {
            s += &format!("{} 0 obj << /Type /Page /Parent 2 0 R >> endobj\n", 3 + i);
        }
        s += "trailer << /Root 1 0 R >>\n%%EOF\n";
        s.into_bytes()
    }

    #[test]
    fn pdf_recognised_across_chunk_boundaries() {
        let pdf = tiny_pdf(7);
        for chunk in [1, 3, 17, 64, 1000] {
            let mut c = ContentChecker::new();
            for part in pdf.chunks(chunk) {
                c.update(part).unwrap();
            }
            // pages are counted by the PDF reader (inspect), not here
            assert_eq!(c.finish().unwrap(), ContentInfo { kind: ContentKind::Pdf, pages: None }, "chunk {chunk}");
        }
    }

    #[test]
    fn refuses_by_content_not_name() {
        assert!(matches!(check_bytes(b"MZ\x90\x00 windows exe"), Err(ContentError::Unsupported(_))));
        assert!(matches!(check_bytes(b"%PDF-1.4 truncated"), Err(ContentError::Damaged { .. })));
        assert!(matches!(check_bytes(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2]), Err(ContentError::Damaged { .. })));
        assert_eq!(check_bytes(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 0xFF, 0xD9]).unwrap().kind, ContentKind::Jpeg);
        // an early refusal on the very first chunk
        let mut c = ContentChecker::new();
        assert!(c.update(b"<html>").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(check_name("attestation CAF.pdf"), Ok("attestation CAF.pdf"));
        assert!(matches!(check_name("../../etc/passwd"), Err(NameError::Path(_))));
        assert!(matches!(check_name("..\\boot.ini"), Err(NameError::Path(_))));
        assert_eq!(check_name("a\nb.pdf"), Err(NameError::Control));
        assert_eq!(check_name(".."), Err(NameError::Empty));
        assert!(matches!(check_name(".bashrc"), Err(NameError::Dot(_))));
        assert_eq!(check_name(&"a".repeat(300)), Err(NameError::TooLong(300)));
    }
}
