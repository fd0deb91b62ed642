//! What a client said, made safe for a log line: control characters
//! escaped (a newline cannot forge a line, an escape sequence cannot
//! repaint a terminal) and the length capped (a 60 KB id makes no 60 KB
//! line). Every log field that carries a client's id or login goes
//! through [`shown`].

use std::fmt;

/// Characters of a client's text kept in a log line.
pub const SHOWN_CHARS: usize = 64;

/// `text` as a log field: `kiosk = %shown(&id)`.
pub fn shown(text: &str) -> Shown<'_> {
    Shown(text)
}

#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(SHOWN_CHARS) {
            if c.is_control() || is_invisible(c) {
                // \n, \u{1b}, \u{2028}…: readable, and on the same line.
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        let rest = chars.as_str().len();
        if rest > 0 {
            write!(f, "…(+{rest} bytes)")?;
        }
        Ok(())
    }
}

/// Line and paragraph separators and bidirectional overrides are not
/// control characters to Rust, but they break or reorder a line as shown.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_on_one_line() {
        let forged = "kiosk-1\n2026-12-06T01:00:00Z  INFO visio_hub: agent signed in login=admin\r\u{1b}[2J\u{2028}";
        let out = shown(forged).to_string();
        assert!(!out.contains('\n') && !out.contains('\r') && !out.contains('\u{1b}') && !out.contains('\u{2028}'), "{out}");
        assert!(out.starts_with("kiosk-1\\n2026"), "{out}");
    }

    #[test]
    fn long_text_is_cut_with_what_was_left_out() {
        let long = "é".repeat(30_000);
        let out = shown(&long).to_string();
        assert_eq!(out, format!("{}…(+{} bytes)", "é".repeat(SHOWN_CHARS), 2 * (30_000 - SHOWN_CHARS)));
        assert_eq!(shown("mairie-a").to_string(), "mairie-a");
    }
}
