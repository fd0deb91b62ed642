//! A small iCalendar (RFC 5545) writer for an agent's day: one VCALENDAR
//! of VEVENTs with times in UTC. Written here rather than taken from a
//! crate (docs/decisions.md #360): the events are a handful of fixed
//! properties, and what matters is RFC 5545's rules, each tested below:
//! CRLF after every line (3.1), lines folded at 75 octets without cutting
//! a UTF-8 character, continued with one space (3.1), TEXT escaped (3.3.11),
//! UTC times as `YYYYMMDDTHHMMSSZ` (3.3.5), and the properties a VEVENT
//! must have (UID, DTSTAMP; 3.6.1) and a VCALENDAR too (VERSION, PRODID;
//! 3.7).

use std::fmt::Write as _;

use jiff::Timestamp;

/// The longest line, in octets, before the CRLF (RFC 5545 3.1).
const MAX_LINE: usize = 75;

/// One event of the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Globally unique and stable: the same appointment keeps its UID.
    pub uid: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
    pub location: String,
    pub description: String,
    /// A cancelled appointment stays, marked so, for calendars that had it.
    pub cancelled: bool,
}

/// The calendar of `events`, stamped `now`.
pub fn write(product: &str, events: &[Event], now: Timestamp) -> String {
    let mut out = String::new();
    let mut line = |text: String| fold(&mut out, &text);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line(format!("PRODID:{}", text(product)));
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    for e in events {
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", text(&e.uid)));
        line(format!("DTSTAMP:{}", utc(now)));
        line(format!("DTSTART:{}", utc(e.start)));
        line(format!("DTEND:{}", utc(e.end)));
        line(format!("SUMMARY:{}", text(&e.summary)));
        line(format!("LOCATION:{}", text(&e.location)));
        line(format!("DESCRIPTION:{}", text(&e.description)));
        line(format!("STATUS:{}", if e.cancelled { "CANCELLED" } else { "CONFIRMED" }));
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

/// A UTC DATE-TIME (RFC 5545 3.3.5, form #2).
fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT with `\`, `;`, `,` and newlines escaped (RFC 5545 3.3.11); other
/// control characters, which TEXT may not hold, dropped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded (RFC 5545 3.1): at most 75 octets per physical
/// line, a fold never inside a UTF-8 character, each continuation
/// starting with one space (which counts in its 75), each line ended by CRLF.
fn fold(out: &mut String, line: &str) {
    let mut room = MAX_LINE;
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > room {
            out.push_str("\r\n ");
            // The leading space takes one octet of the next line.
            room = MAX_LINE - 1;
            used = 0;
        }
        out.push(c);
        used += c.len_utf8();
    }
    let _ = write!(out, "\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(summary: &str) -> Event {
        Event {
            uid: "RDV-000042@hub.example".into(),
            start: "2026-11-23T09:30:00Z".parse().unwrap(),
            end: "2026-11-23T10:00:00Z".parse().unwrap(),
            summary: summary.into(),
            location: "Mairie de Besse; salle 2".into(),
            description: "Référence RDV-000042, borne besse".into(),
            cancelled: false,
        }
    }

    /// Undoes the folding, as a reader does (RFC 5545 3.1).
    fn unfold(s: &str) -> String {
        s.replace("\r\n ", "")
    }

    #[test]
    fn every_line_ends_with_crlf_and_none_is_longer_than_75_octets() {
        let long = "Rendez-vous CAF — dossier d’aide au logement, à la borne de l’agence postale communale ".repeat(3);
        let cal = write("-//Visio-Public//Hub//FR", &[event(&long)], "2026-11-23T08:00:00Z".parse().unwrap());
        assert!(cal.ends_with("\r\n"));
        assert!(!cal.replace("\r\n", "").contains(['\r', '\n']), "no bare CR or LF");
        for line in cal.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        // Folding cut no character: every physical line is valid UTF-8 on
        // its own (a `&str` slice would have panicked otherwise), and
        // unfolding gives the text back.
        let unfolded = unfold(&cal);
        assert!(unfolded.contains(&format!("SUMMARY:{}\r\n", text(&long))), "{unfolded}");
        assert!(cal.contains("\r\n "), "the summary was folded");
    }

    #[test]
    fn a_fold_before_a_multi_octet_character_keeps_it_whole() {
        let mut out = String::new();
        // 74 ASCII octets then "é" (2 octets): 76 > 75, so "é" starts line 2.
        fold(&mut out, &format!("{}é", "a".repeat(74)));
        assert_eq!(out, format!("{}\r\n é\r\n", "a".repeat(74)));
        // Exactly 75 octets: no fold.
        let mut out = String::new();
        fold(&mut out, &"b".repeat(75));
        assert_eq!(out, format!("{}\r\n", "b".repeat(75)));
        // Continuations hold 74 octets after their space.
        let mut out = String::new();
        fold(&mut out, &"c".repeat(75 + 74 + 1));
        assert_eq!(out, format!("{}\r\n {}\r\n c\r\n", "c".repeat(75), "c".repeat(74)));
    }

    #[test]
    fn text_is_escaped_and_times_are_utc() {
        let mut e = event("a\\b;c,d\ne\u{7}f");
        e.cancelled = true;
        let cal = unfold(&write("-//Visio-Public//Hub//FR", &[e], "2026-11-23T08:00:00Z".parse().unwrap()));
        assert!(cal.contains("SUMMARY:a\\\\b\\;c\\,d\\nef\r\n"), "{cal}");
        assert!(cal.contains("LOCATION:Mairie de Besse\\; salle 2\r\n"));
        assert!(cal.contains("DTSTART:20261123T093000Z\r\nDTEND:20261123T100000Z\r\n"));
        assert!(cal.contains("DTSTAMP:20261123T080000Z\r\n"));
        assert!(cal.contains("STATUS:CANCELLED\r\n"));
    }

    #[test]
    fn the_calendar_and_each_event_have_their_required_properties() {
        let cal = write("-//Visio-Public//Hub//FR", &[event("A"), event("B")], Timestamp::UNIX_EPOCH);
        let lines: Vec<&str> = cal.split("\r\n").collect();
        assert_eq!(&lines[..3], ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Visio-Public//Hub//FR"]);
        assert_eq!(lines[lines.len() - 2..], ["END:VCALENDAR", ""]);
        assert_eq!(lines.iter().filter(|l| **l == "BEGIN:VEVENT").count(), 2);
        assert_eq!(lines.iter().filter(|l| **l == "END:VEVENT").count(), 2);
        assert_eq!(lines.iter().filter(|l| l.starts_with("UID:")).count(), 2);
        assert_eq!(lines.iter().filter(|l| l.starts_with("DTSTAMP:")).count(), 2);
        // An empty day is still a valid calendar.
        let empty = write("-//Visio-Public//Hub//FR", &[], Timestamp::UNIX_EPOCH);
        assert_eq!(empty.matches("BEGIN:").count(), 1);
    }
}
