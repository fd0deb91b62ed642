//! Every shape problem of a file, not only the first serde meets.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Problem, span, syntax_message};

/// Deserializes `value` (found at `path`) as a `T`, recording every shape
/// problem rather than the first: serde stops at the first error, so each
/// error's spot is repaired in a scratch copy (an unknown field removed, a
/// wrong or missing value replaced by the one at the same place in
/// `template`, a valid example of `T`) and the copy is read again. `Some`
/// only when the value had no problem at all: a repaired copy is never used.
pub(crate) fn parse_all<T: DeserializeOwned>(
    value: &Value,
    path: &str,
    template: &Value,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    // Enough for every field of the largest file type to be wrong.
    const MAX_ROUNDS: usize = 64;
    let mut work = value.clone();
    let mut reported = std::collections::HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let error = match serde_path_to_error::deserialize::<_, T>(&work) {
            Ok(t) => return reported.is_empty().then_some(t),
            Err(e) => e,
        };
        let mut at = path.to_owned();
        let mut keys = Vec::new();
        for segment in error.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => {
                    at = span::index_path(&at, *index);
                    keys.push(Key::Index(*index));
                }
                Segment::Map { key } | Segment::Enum { variant: key } => {
                    at = span::key_path(&at, key);
                    keys.push(Key::Name(key.clone()));
                }
                Segment::Unknown => break,
            }
        }
        let message = syntax_message(error.inner());
        if !reported.insert((at.clone(), message.clone())) {
            // The repair did not move past it: stop rather than loop.
            return None;
        }
        problems.push(Problem::new(at, message.clone()));
        if !repair(&mut work, &keys, &message, template) {
            return None;
        }
    }
    None
}

/// One step of a JSON path.
#[derive(Debug, Clone)]
enum Key {
    Name(String),
    Index(usize),
}

/// The value at `keys`; in a template, any index means its first item.
fn get<'v>(mut value: &'v Value, keys: &[Key], template: bool) -> Option<&'v Value> {
    for key in keys {
        value = match key {
            Key::Name(name) => value.get(name)?,
            Key::Index(i) => value.get(if template { 0 } else { *i })?,
        };
    }
    Some(value)
}

fn get_mut<'v>(mut value: &'v mut Value, keys: &[Key]) -> Option<&'v mut Value> {
    for key in keys {
        value = match key {
            Key::Name(name) => value.get_mut(name)?,
            Key::Index(i) => value.get_mut(*i)?,
        };
    }
    Some(value)
}

/// Makes the spot of one shape error valid in `work`; false if it cannot.
fn repair(work: &mut Value, keys: &[Key], message: &str, template: &Value) -> bool {
    let quoted = || message.split('`').nth(1).map(str::to_owned);
    if message.starts_with("unknown field `") {
        // The path ends at the unknown key itself.
        let (Some(Key::Name(name)), parent) = (keys.last(), &keys[..keys.len().saturating_sub(1)]) else { return false };
        return get_mut(work, parent).and_then(Value::as_object_mut).and_then(|o| o.remove(name)).is_some();
    }
    if message.starts_with("missing field `") {
        let Some(name) = quoted() else { return false };
        let mut field = keys.to_vec();
        field.push(Key::Name(name.clone()));
        let Some(example) = get(template, &field, true).cloned() else { return false };
        return get_mut(work, keys).and_then(Value::as_object_mut).map(|o| o.insert(name, example)).is_some();
    }
    // A wrong value: replace it, or its nearest ancestor the template has.
    for depth in (1..=keys.len()).rev() {
        if let (Some(example), Some(slot)) = (get(template, &keys[..depth], true), get_mut(work, &keys[..depth])) {
            *slot = example.clone();
            return true;
        }
    }
    false
}
