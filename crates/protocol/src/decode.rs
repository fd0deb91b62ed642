//! Size check, then parse, with errors a person can act on.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    AgentToHub, ErrorBody, ErrorCode, HostToHub, HubToAgent, HubToHost, HubToKiosk, HubToSupervisor, KioskToHub, MAX_MESSAGE_BYTES,
    SupervisorToHub, GuestToHub, HubToGuest,
};

/// A message enum of this crate, with the `type` tags it may carry.
pub trait WireMessage: DeserializeOwned + Serialize {
    /// Every value its `"type"` field may take.
    const TYPES: &'static [&'static str];
    /// Whether a field this build does not know is refused, at any depth
    /// (what the hub reads), or ignored (what kiosks and consoles read,
    /// so a hub can add fields before its fleet is upgraded).
    const STRICT: bool = false;
}

impl WireMessage for KioskToHub {
    const STRICT: bool = true;
    const TYPES: &'static [&'static str] =
        &["hello", "request_call", "cancel_call", "signal", "hang_up", "rate", "heartbeat", "config_applied", "config_refused", "help_request", "help_cancel",
          "ask_callback_slots", "book_callback"];
}

impl WireMessage for HubToKiosk {
    const TYPES: &'static [&'static str] = &[
        "welcome",
        "queued",
        "queue_update",
        "call_refused",
        "call_answered",
        "call_resumed",
        "peer_away",
        "peer_back",
        "signal",
        "call_transferred",
        "call_ended",
        "heartbeat_ack",
        "config_available",
        "host_coming",
        "callback_slots",
        "callback_booked",
        "callback_refused",
        "error",
    ];
}

impl WireMessage for HostToHub {
    const STRICT: bool = true;
    const TYPES: &'static [&'static str] = &["hello", "acknowledge"];
}

impl WireMessage for HubToHost {
    const TYPES: &'static [&'static str] = &["welcome", "board", "kiosk", "error"];
}

impl WireMessage for SupervisorToHub {
    const STRICT: bool = true;
    const TYPES: &'static [&'static str] = &["hello"];
}

impl WireMessage for HubToSupervisor {
    const TYPES: &'static [&'static str] = &["welcome", "board", "line", "agent", "agent_gone", "today", "error"];
}

impl WireMessage for AgentToHub {
    const STRICT: bool = true;
    const TYPES: &'static [&'static str] =
        &["hello", "set_availability", "take_next", "signal", "hang_up", "transfer", "invite", "guest_signal", "dismiss_guest"];
}

impl WireMessage for GuestToHub {
    const STRICT: bool = true;
    const TYPES: &'static [&'static str] = &["hello", "signal", "leave"];
}

impl WireMessage for HubToGuest {
    const TYPES: &'static [&'static str] = &["welcome", "signal", "ended", "error"];
}

impl WireMessage for HubToAgent {
    const TYPES: &'static [&'static str] = &[
        "welcome",
        "queues",
        "availability",
        "call_started",
        "call_resumed",
        "kiosk_devices",
        "peer_away",
        "peer_back",
        "queue_empty",
        "signal",
        "call_ended",
        "invited",
        "guest_joined",
        "guest_signal",
        "guest_left",
        "error",
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {size} bytes is over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("message is not a JSON object: {0}")]
    NotJson(String),
    #[error("message has no \"type\" field (a string naming the message)")]
    MissingType,
    #[error("unknown message type {found:?}; expected one of: {expected}")]
    UnknownType { found: String, expected: String },
    #[error("malformed {kind:?} message: {detail}")]
    Malformed { kind: String, detail: String },
}

impl DecodeError {
    /// The error reply to send back for this decoding failure.
    pub fn to_error_body(&self) -> ErrorBody {
        let code = match self {
            DecodeError::TooLarge { .. } => ErrorCode::MessageTooLarge,
            DecodeError::UnknownType { .. } => ErrorCode::UnknownMessageType,
            DecodeError::NotJson(_) | DecodeError::MissingType | DecodeError::Malformed { .. } => {
                ErrorCode::MalformedMessage
            }
        };
        ErrorBody::new(code, self.to_string())
    }
}

/// Decodes one message, checking its size before parsing anything.
pub fn decode<T: WireMessage>(text: &str) -> Result<T, DecodeError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge { size: text.len(), limit: MAX_MESSAGE_BYTES });
    }
    // Parse once into a tree to tell "unknown type" from "bad fields": both
    // are serde errors otherwise, and only the first names what to fix.
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let serde_json::Value::Object(map) = &value else {
        return Err(DecodeError::NotJson("expected an object {...}".into()));
    };
    let kind = match map.get("type") {
        Some(serde_json::Value::String(kind)) => kind.clone(),
        _ => return Err(DecodeError::MissingType),
    };
    if !T::TYPES.contains(&kind.as_str()) {
        return Err(DecodeError::UnknownType { found: kind, expected: T::TYPES.join(", ") });
    }
    let message: T =
        serde_json::from_value(value.clone()).map_err(|e| DecodeError::Malformed { kind: kind.clone(), detail: e.to_string() })?;
    if T::STRICT {
        // serde's deny_unknown_fields does not reach fieldless variants of
        // a tagged enum (`cancel_call`, `end_of_candidates`) nor the
        // structs inside a message: what the message encodes back to
        // names every field it knows.
        let known = serde_json::to_value(&message).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        if let Some(path) = unknown_field(&value, &known, String::new()) {
            return Err(DecodeError::Malformed { kind, detail: format!("unknown field `{path}`") });
        }
    }
    Ok(message)
}

/// The first field of `given` that `known` does not have, as a path
/// (`devices.camera.colour`). A field given as `null` stands for an absent
/// optional one, which encodes to nothing.
fn unknown_field(given: &serde_json::Value, known: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    let path = |key: &str| if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") };
    match (given, known) {
        (Value::Object(given), Value::Object(known)) => given.iter().find_map(|(key, value)| match known.get(key) {
            Some(inner) => unknown_field(value, inner, path(key)),
            None if value.is_null() => None,
            None => Some(path(key)),
        }),
        (Value::Array(given), Value::Array(known)) => given
            .iter()
            .zip(known)
            .enumerate()
            .find_map(|(i, (g, k))| unknown_field(g, k, format!("{at}[{i}]"))),
        _ => None,
    }
}

/// Encodes one message. Our own types always serialize.
pub fn encode<T: WireMessage>(message: &T) -> String {
    // Invariant: every message type is plain data with string keys.
    serde_json::to_string(message).expect("protocol messages always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    #[test]
    fn oversized_message_is_refused_before_parsing() {
        let text = format!("{{\"type\":\"cancel_call\",\"pad\":\"{}\"}}", "x".repeat(MAX_MESSAGE_BYTES));
        let err = decode::<KioskToHub>(&text).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { .. }));
        assert_eq!(err.to_error_body().code, ErrorCode::MessageTooLarge);
    }

    #[test]
    fn unknown_type_names_the_expected_ones() {
        let err = decode::<KioskToHub>(r#"{"type":"take_next"}"#).unwrap_err();
        assert_eq!(err.to_error_body().code, ErrorCode::UnknownMessageType);
        let text = err.to_string();
        assert!(text.contains("\"take_next\"") && text.contains("request_call"), "{text}");
    }

    #[test]
    fn not_json_and_missing_type_and_bad_fields() {
        assert!(matches!(decode::<AgentToHub>("{oops"), Err(DecodeError::NotJson(_))));
        assert!(matches!(decode::<AgentToHub>("[1,2]"), Err(DecodeError::NotJson(_))));
        assert!(matches!(decode::<AgentToHub>(r#"{"service":"caf"}"#), Err(DecodeError::MissingType)));
        let err = decode::<AgentToHub>(r#"{"type":"set_availability","available":"yes"}"#).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed { .. }));
        assert!(err.to_string().contains("set_availability"), "{err}");
    }

    #[test]
    fn the_hub_refuses_unknown_fields_at_any_depth() {
        let refused = [
            r#"{"type":"cancel_call","why":"bored"}"#,
            r#"{"type":"signal","session":"s1","signal":{"kind":"end_of_candidates","extra":1}}"#,
            r#"{"type":"signal","session":"s1","signal":{"kind":"candidate","candidate":{"candidate":"c","sdpMid":"0","bogus":true}}}"#,
            r#"{"type":"config_refused","version":2,"reason":{"code":"invalid","message":"m","hint":"x"}}"#,
            r#"{"type":"heartbeat","seq":1,"app_version":"1","devices":{"camera":{"state":"ok","colour":"red"},"microphone":{"state":"ok"},"scanner":{"state":"ok"},"printer":{"state":"ok"}}}"#,
        ];
        for text in refused {
            let err = decode::<KioskToHub>(text).unwrap_err();
            assert!(matches!(err, DecodeError::Malformed { .. }), "{text}: {err}");
            assert!(err.to_string().contains("unknown field"), "{err}");
        }
        let err = decode::<KioskToHub>(refused[4]).unwrap_err();
        assert!(err.to_string().contains("devices.camera.colour"), "{err}");
        let err = decode::<AgentToHub>(r#"{"type":"take_next","service":null,"urgent":true}"#).unwrap_err();
        assert!(err.to_string().contains("`urgent`"), "{err}");
        // Absent optional fields may be given as null.
        assert!(decode::<AgentToHub>(r#"{"type":"hello","protocol":1,"resume":null}"#).is_ok());
    }

    #[test]
    fn kiosks_and_consoles_ignore_fields_they_do_not_know() {
        let text = r#"{"type":"heartbeat_ack","seq":3,"added_later":true}"#;
        assert_eq!(decode::<HubToKiosk>(text).unwrap(), HubToKiosk::HeartbeatAck { seq: 3 });
    }

    #[test]
    fn types_lists_match_the_enums() {
        // Each sample's tag must be listed, and each list entry must parse
        // back for some sample: catches a variant added without its tag.
        fn tag<T: WireMessage>(m: &T) -> String {
            serde_json::to_value(m).unwrap()["type"].as_str().unwrap().to_owned()
        }
        fn check<T: WireMessage>(samples: &[T]) {
            let tags: Vec<String> = samples.iter().map(tag).collect();
            for t in &tags {
                assert!(T::TYPES.contains(&t.as_str()), "{t} missing from TYPES");
            }
            for t in T::TYPES {
                assert!(tags.iter().any(|x| x == t), "{t} has no sample");
            }
        }
        check(&crate::examples::kiosk_to_hub());
        check(&crate::examples::hub_to_kiosk());
        check(&crate::examples::agent_to_hub());
        check(&crate::examples::hub_to_agent());
        check(&crate::examples::host_to_hub());
        check(&crate::examples::hub_to_host());
        check(&crate::examples::supervisor_to_hub());
        check(&crate::examples::hub_to_supervisor());
        check(&crate::examples::guest_to_hub());
        check(&crate::examples::hub_to_guest());
    }

    #[test]
    fn every_example_round_trips() {
        fn rt<T: WireMessage + PartialEq + std::fmt::Debug>(samples: Vec<T>) {
            for m in samples {
                let back: T = decode(&encode(&m)).unwrap();
                assert_eq!(back, m);
            }
        }
        rt(crate::examples::kiosk_to_hub());
        rt(crate::examples::hub_to_kiosk());
        rt(crate::examples::agent_to_hub());
        rt(crate::examples::hub_to_agent());
        rt(crate::examples::host_to_hub());
        rt(crate::examples::hub_to_host());
        rt(crate::examples::supervisor_to_hub());
        rt(crate::examples::hub_to_supervisor());
        rt(crate::examples::guest_to_hub());
        rt(crate::examples::hub_to_guest());
    }
}
