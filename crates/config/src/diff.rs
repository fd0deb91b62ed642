//! What changed between two configurations: the places where two payloads
//! ([`crate::ConfigSet::to_payload`]) differ, for an admin to check before
//! and after publishing. Objects are compared key by key; anything else
//! (arrays included: a kiosk's services, a day's hours) as a whole.

use serde::Serialize;
use serde_json::Value;

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where, as dotted keys: `kiosks.besse.services`.
    pub path: String,
    pub kind: ChangeKind,
    /// The value before, as compact JSON cut to [`MAX_VALUE_CHARS`]; none when added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// Longest value shown in a change; a whole kiosk added is named, not printed.
pub const MAX_VALUE_CHARS: usize = 200;

/// Every difference from `before` to `after`, in key order.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    walk(String::new(), before, after, &mut changes);
    changes
}

fn walk(path: String, before: &Value, after: &Value, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(here, x, y, out),
                    (Some(x), None) => out.push(Change { path: here, kind: ChangeKind::Removed, before: Some(shown(x)), after: None }),
                    (None, Some(y)) => out.push(Change { path: here, kind: ChangeKind::Added, before: None, after: Some(shown(y)) }),
                    (None, None) => unreachable!("the key came from one of the two objects"),
                }
            }
        }
        (x, y) if x != y => out.push(Change { path, kind: ChangeKind::Changed, before: Some(shown(x)), after: Some(shown(y)) }),
        _ => {}
    }
}

fn shown(value: &Value) -> String {
    let mut text = value.to_string();
    if let Some((i, _)) = text.char_indices().nth(MAX_VALUE_CHARS) {
        text.truncate(i);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changed_added_and_removed_places_are_named_with_their_values() {
        let before = json!({
            "hub": { "heartbeat_seconds": 30 },
            "kiosks": { "besse": { "services": ["caf", "msa"], "site": "Mairie de Besse" }, "ardes": { "site": "Ardes" } },
        });
        let after = json!({
            "hub": { "heartbeat_seconds": 30 },
            "kiosks": { "besse": { "services": ["caf"], "site": "Mairie de Besse" }, "tauves": { "site": "Tauves" } },
        });
        let changes = diff(&before, &after);
        let seen: Vec<(&str, ChangeKind, Option<&str>, Option<&str>)> =
            changes.iter().map(|c| (c.path.as_str(), c.kind, c.before.as_deref(), c.after.as_deref())).collect();
        assert_eq!(seen, [
            ("kiosks.ardes", ChangeKind::Removed, Some(r#"{"site":"Ardes"}"#), None),
            ("kiosks.besse.services", ChangeKind::Changed, Some(r#"["caf","msa"]"#), Some(r#"["caf"]"#)),
            ("kiosks.tauves", ChangeKind::Added, None, Some(r#"{"site":"Tauves"}"#)),
        ]);
        assert!(diff(&after, &after).is_empty());
        let long = json!({ "x": "é".repeat(500) });
        assert_eq!(diff(&json!({}), &long)[0].after.as_ref().unwrap().chars().count(), MAX_VALUE_CHARS + 1);
    }
}
