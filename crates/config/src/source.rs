//! From a file's bytes to a JSON value, refusing what serde_json would
//! accept silently or explain badly: bytes that are not UTF-8 (a Latin-1
//! "é" from a Windows editor), a byte order mark, an empty file, and keys
//! written twice (serde_json keeps the last one without a word). Every
//! configuration reader goes through here: `visio-admin validate` and
//! `sign`, the hub's `--config`, the kiosk's `--config` and `--catalogue`.

use std::io;
use std::path::Path;

use serde_json::Value;

use crate::{Diagnostic, Position, Problem, SpanMap};

/// The byte order mark some Windows editors put at the start of UTF-8 files.
const BOM: char = '\u{feff}';

/// Reads a file as UTF-8 text; any failure is a diagnostic about `file`
/// (its name as shown to the admin), so the caller goes on with the others.
pub fn read(file: &str, path: &Path) -> Result<String, Diagnostic> {
    match std::fs::read(path) {
        Ok(bytes) => decode(file, bytes),
        Err(e) => Err(unreadable(file, &e)),
    }
}

/// A file that could not be read, with the reason in words.
pub fn unreadable(file: &str, e: &io::Error) -> Diagnostic {
    // ELOOP (40 on Linux): std has no stable ErrorKind for it.
    let message = if e.raw_os_error() == Some(40) {
        format!("cannot read: a loop of symbolic links ({e}); point the link at a real file")
    } else {
        format!("cannot read: {e}")
    };
    Diagnostic { file: file.to_owned(), position: None, problem: Problem::new("", message) }
}

/// The text of `bytes`, or where the first byte that is not UTF-8 is.
pub fn decode(file: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            // The valid prefix gives the line and column as an editor counts.
            let before = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
            Err(Diagnostic {
                file: file.to_owned(),
                position: Some(Position { line, column }),
                problem: Problem::new(
                    "",
                    format!(
                        "not UTF-8: byte 0x{:02X} at offset {offset} (an accent saved as Latin-1 or Windows-1252?); save the file as UTF-8",
                        bytes[offset]
                    ),
                ),
            })
        }
    }
}

/// Parses a file's text. Returns the value when there is one (a BOM is
/// reported but skipped, so the rest is still checked) and every problem
/// of the text itself.
pub fn parse(file: &str, text: &str) -> (Option<(Value, SpanMap)>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let at = |line, column, message: String| Diagnostic {
        file: file.to_owned(),
        position: Some(Position { line, column }),
        problem: Problem::new("", message),
    };
    let text = match text.strip_prefix(BOM) {
        Some(rest) => {
            out.push(at(
                1,
                1,
                "the file starts with a byte order mark (BOM); save it as UTF-8 without BOM".into(),
            ));
            rest
        }
        None => text,
    };
    if text.trim().is_empty() {
        out.push(Diagnostic {
            file: file.to_owned(),
            position: None,
            problem: Problem::new("", "the file is empty; it must hold a JSON object"),
        });
        return (None, out);
    }
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(e) => {
            out.push(at(e.line(), e.column(), crate::syntax_message(&e)));
            return (None, out);
        }
    };
    let spans = SpanMap::new(text);
    for d in spans.duplicates() {
        out.push(Diagnostic {
            file: file.to_owned(),
            position: Some(d.again),
            problem: Problem::new(
                d.path.clone(),
                format!(
                    "duplicate key {:?}, first at {file}:{}:{}; write each key once (only the last one would count)",
                    d.path.rsplit('.').next().unwrap_or(&d.path),
                    d.first.line,
                    d.first.column
                ),
            ),
        });
    }
    (Some((value, spans)), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(diagnostics: &[Diagnostic]) -> Vec<String> {
        diagnostics.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_positions() {
        let text = "{\n  \"a\": 1,\n  \"d\": {\"printer\": \"HP\",\n    \"printer\": \"none\"},\n  \"a\": 2\n}";
        let (value, problems) = parse("k.json", text);
        assert!(value.is_some());
        assert_eq!(
            shown(&problems),
            [
                "k.json:4:5 d.printer: duplicate key \"printer\", first at k.json:3:9; write each key once (only the last one would count)",
                "k.json:5:3 a: duplicate key \"a\", first at k.json:2:3; write each key once (only the last one would count)",
            ]
        );
        // The same key in two objects is no duplicate.
        let (_, problems) = parse("k.json", r#"{"a": {"x": 1}, "b": {"x": 1}, "c": [{"x": 1}, {"x": 2}]}"#);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn latin1_bytes_are_located_by_line_column_and_offset() {
        let bytes = b"{\n  \"site\": \"Mairie de Besse\",\n  \"commune\": \"Cr\xe9teil\"\n}".to_vec();
        let d = decode("kiosks/besse.json", bytes).unwrap_err();
        assert_eq!(
            d.to_string(),
            "kiosks/besse.json:3:17: not UTF-8: byte 0xE9 at offset 47 (an accent saved as Latin-1 or Windows-1252?); save the file as UTF-8"
        );
    }

    #[test]
    fn a_bom_is_named_and_the_rest_still_checked() {
        let (value, problems) = parse("hub.json", "\u{feff}{\"a\": 1, \"a\": 2}");
        assert!(value.is_some());
        assert_eq!(
            shown(&problems),
            [
                "hub.json:1:1: the file starts with a byte order mark (BOM); save it as UTF-8 without BOM",
                "hub.json:1:10 a: duplicate key \"a\", first at hub.json:1:2; write each key once (only the last one would count)",
            ]
        );
        let (value, problems) = parse("services.json", "\u{feff}\n");
        assert!(value.is_none());
        assert_eq!(
            shown(&problems),
            [
                "services.json:1:1: the file starts with a byte order mark (BOM); save it as UTF-8 without BOM",
                "services.json: the file is empty; it must hold a JSON object",
            ]
        );
    }
}
