//! Where each JSON value starts in its source text, by JSON path.
//!
//! serde_json reports line and column only for syntax errors; a validation
//! problem found later ("unknown service") knows only its path. This pass
//! walks text that serde_json has already accepted and records the position
//! of every value, so any path can be turned back into `line:column`.
//! It is ~100 lines with no dependency, which we preferred to a
//! span-preserving JSON crate (see docs/decisions.md #91).

use std::collections::HashMap;

/// A 1-based line and column (columns count characters, as editors do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Positions of every value in a JSON text, keyed by path in the form used
/// by problems: `""` for the root, `services[2].hours.mon[0]`.
#[derive(Debug, Clone, Default)]
pub struct SpanMap {
    positions: HashMap<String, Position>,
    duplicates: Vec<DuplicateKey>,
}

/// A key written twice in one object. serde_json keeps the last one
/// silently, so the loader refuses the file instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key's path, e.g. `devices.printer`.
    pub path: String,
    /// Where the key is first written (its opening quote).
    pub first: Position,
    /// Where it is written again.
    pub again: Position,
}

impl SpanMap {
    /// Maps a JSON text. Text that is not valid JSON yields a partial map,
    /// which is harmless: syntax errors carry their own position.
    pub fn new(text: &str) -> SpanMap {
        let mut walker =
            Walker { chars: text.chars().collect(), i: 0, line: 1, column: 1, map: HashMap::new(), duplicates: Vec::new() };
        walker.value(String::new());
        SpanMap { positions: walker.map, duplicates: walker.duplicates }
    }

    /// Keys written twice in one object, in text order.
    pub fn duplicates(&self) -> &[DuplicateKey] {
        &self.duplicates
    }

    /// The position of `path`, or of its nearest ancestor that exists (a
    /// missing field is reported where its object starts).
    pub fn locate(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some(p) = self.positions.get(path) {
                return Some(*p);
            }
            if path.is_empty() {
                return None;
            }
            path = parent(path);
        }
    }
}

/// `a.b[2]` → `a.b` → `a` → ``.
fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Joins a key onto a path: `services` + `id` → `services.id`.
pub fn key_path(base: &str, key: &str) -> String {
    if base.is_empty() { key.to_owned() } else { format!("{base}.{key}") }
}

/// Joins an index onto a path: `services` + 2 → `services[2]`.
pub fn index_path(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}

struct Walker {
    chars: Vec<char>,
    i: usize,
    line: usize,
    column: usize,
    map: HashMap<String, Position>,
    duplicates: Vec<DuplicateKey>,
}

impl Walker {
    fn here(&self) -> Position {
        Position { line: self.line, column: self.column }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn value(&mut self, path: String) {
        self.skip_ws();
        self.map.insert(path.clone(), Position { line: self.line, column: self.column });
        match self.peek() {
            Some('{') => {
                self.bump();
                let mut keys: HashMap<String, Position> = HashMap::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some('"') => {
                            let at = self.here();
                            let key = self.string();
                            let key_path = key_path(&path, &key);
                            match keys.get(&key) {
                                Some(&first) => self.duplicates.push(DuplicateKey { path: key_path.clone(), first, again: at }),
                                None => {
                                    keys.insert(key, at);
                                }
                            }
                            self.skip_ws();
                            if self.bump() != Some(':') {
                                return;
                            }
                            // The last value wins in serde_json, so its
                            // position is the one problems point at.
                            self.value(key_path);
                        }
                        Some(',') => {
                            self.bump();
                        }
                        Some('}') => {
                            self.bump();
                            return;
                        }
                        _ => return,
                    }
                }
            }
            Some('[') => {
                self.bump();
                let mut index = 0;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(',') => {
                            self.bump();
                        }
                        Some(']') => {
                            self.bump();
                            return;
                        }
                        None => return,
                        Some(_) => {
                            let before = self.i;
                            self.value(index_path(&path, index));
                            index += 1;
                            if self.i == before {
                                return;
                            }
                        }
                    }
                }
            }
            Some('"') => {
                self.string();
            }
            Some(_) => {
                // Number, true, false, null: up to the next delimiter.
                while let Some(c) = self.peek() {
                    if matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\n' | '\r') {
                        break;
                    }
                    self.bump();
                }
            }
            None => {}
        }
    }

    /// Reads a string literal (the cursor is on its opening quote) and
    /// returns its content; escapes are decoded well enough for keys.
    fn string(&mut self) -> String {
        self.bump();
        let mut out = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => match self.bump() {
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                        if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                            out.push(c);
                        }
                    }
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_nested_values() {
        let text = "{\n  \"a\": 1,\n  \"services\": [\"caf\",\n    \"msa\", {\"x\": [true]}]\n}";
        let map = SpanMap::new(text);
        assert_eq!(map.locate(""), Some(Position { line: 1, column: 1 }));
        assert_eq!(map.locate("a"), Some(Position { line: 2, column: 8 }));
        assert_eq!(map.locate("services"), Some(Position { line: 3, column: 15 }));
        assert_eq!(map.locate("services[1]"), Some(Position { line: 4, column: 5 }));
        assert_eq!(map.locate("services[2].x[0]"), Some(Position { line: 4, column: 19 }));
        // A missing field is located at its nearest existing ancestor.
        assert_eq!(map.locate("services[2].y"), Some(Position { line: 4, column: 12 }));
    }

    #[test]
    fn keys_with_escapes_and_accents() {
        let map = SpanMap::new(r#"{"é\"t": {"k": "v"}}"#);
        assert_eq!(map.locate("é\"t.k"), Some(Position { line: 1, column: 16 }));
    }
}
