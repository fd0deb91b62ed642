use super::*;

#[test]
fn scan_request_json_is_flat() {
    let m = Message::ScanRequest {
        req: 7,
        settings: ScanSettings {
            color: ColorMode::Gray,
            dpi: 150,
            format: ScanFormat::Pdf,
        },
    };
    let j = m.to_json();
    assert_eq!(
        j,
        r#"{"type":"scan_request","req":7,"color":"gray","dpi":150,"format":"pdf"}"#
    );
    assert_eq!(Message::from_json(&j).unwrap(), m);
    // format may be left out by the page
    let m2 = Message::from_json(r#"{"type":"scan_request","req":7,"color":"gray","dpi":150}"#).unwrap();
    assert_eq!(m2, m);
}

#[test]
fn scan_interview_messages_are_flat() {
    let page = Message::ScanPage { req: 3, page: 2, settings: ScanSettings { color: ColorMode::Color, dpi: 200, format: ScanFormat::Pdf } };
    assert_eq!(page.to_json(), r#"{"type":"scan_page","req":3,"page":2,"color":"color","dpi":200,"format":"pdf"}"#);
    assert_eq!(Message::from_json(r#"{"type":"scan_page","req":3,"page":2,"color":"color","dpi":200}"#).unwrap(), page);
    let feed = Message::ScanFeed { req: 3, page: 4, settings: ScanSettings { color: ColorMode::Gray, dpi: 150, format: ScanFormat::Pdf } };
    assert_eq!(Message::from_json(r#"{"type":"scan_feed","req":3,"page":4,"color":"gray","dpi":150}"#).unwrap(), feed);
    let done = Message::ScanFeedDone { req: 3, pages: 0, limit: false };
    assert_eq!(done.to_json(), r#"{"type":"scan_feed_done","req":3,"pages":0,"limit":false}"#);
    let ready = Message::ScanReady { req: 3, feeder: false, rate: None };
    assert_eq!(ready.to_json(), r#"{"type":"scan_ready","req":3,"feeder":false}"#);
    let preview = Message::from_json(r#"{"type":"offer","id":2147483649,"name":"p.jpg","size":9,"sha256":"00","purpose":"scan_preview","req":3}"#).unwrap();
    assert!(matches!(preview, Message::Offer { purpose: Purpose::ScanPreview, req: Some(3), .. }));
}

#[test]
fn view_messages_are_flat_and_round_trip() {
    let view = PageView { page: 2, zoom: 150, center: PagePoint { x: 500, y: 300 }, pointer: Some(PagePoint { x: 120, y: 640 }) };
    let m = Message::View { id: 3, view };
    let j = m.to_json();
    assert_eq!(j, r#"{"type":"view","id":3,"page":2,"zoom":150,"center":{"x":500,"y":300},"pointer":{"x":120,"y":640}}"#);
    assert_eq!(Message::from_json(&j).unwrap(), m);
    // No pointer: the field is left out both ways.
    let plain = r#"{"type":"view_shown","id":3,"pages":4,"page":1,"zoom":100,"center":{"x":500,"y":0}}"#;
    let m = Message::from_json(plain).unwrap();
    assert!(matches!(m, Message::ViewShown { pages: 4, view: PageView { pointer: None, .. }, thumbnail: None, .. }));
    assert_eq!(m.to_json(), plain);
    assert!(Message::from_json(r#"{"type":"view","id":3,"page":1,"zoom":100,"center":{"x":1,"y":2,"z":3}}"#).is_err());
}

#[test]
fn chunk_roundtrip() {
    let c = Chunk { id: 0x8000_0001, offset: 16372, data: b"hello" };
    let b = c.encode();
    assert_eq!(&b[..4], &[1, 0, 0, 0]);
    assert_eq!(Chunk::decode(&b).unwrap(), c);
}

#[test]
fn malformed_frames_are_errors() {
    assert!(matches!(Chunk::decode(&[1, 0, 0]), Err(WireError::TruncatedHeader { len: 3 })));
    assert!(matches!(Chunk::decode(&[9; 20]), Err(WireError::BadVersion(9))));
    assert!(matches!(Chunk::decode(&[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Err(WireError::EmptyChunk)));
    assert!(matches!(Chunk::decode(&[1, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 42]), Err(WireError::BadReserved([0, 7]))));
    assert!(matches!(Chunk::decode(&vec![1; MAX_BINARY_MESSAGE + 1]), Err(WireError::BinaryTooLarge { .. })));
    assert!(matches!(Message::from_json("{garbage"), Err(WireError::BadJson(_))));
    assert!(matches!(Message::from_json(r#"{"type":"format_disk"}"#), Err(WireError::BadJson(_))));
    assert!(matches!(Message::from_json(r#"{"type":"ack","id":-1,"offset":0}"#), Err(WireError::BadJson(_))));
    assert!(matches!(Message::from_json(&"x".repeat(MAX_TEXT_MESSAGE + 1)), Err(WireError::TextTooLarge { .. })));
}

#[test]
fn a_link_report_is_flat_and_leaves_out_what_was_not_measured() {
    let m = Message::LinkQuality(LinkReport { level: LinkLevel::Fair, rtt_ms: None, loss_permille: 25, fps: 14 });
    assert_eq!(m.to_json(), r#"{"type":"link_quality","level":"fair","loss_permille":25,"fps":14}"#);
    let back: Message = serde_json::from_str(r#"{"type":"link_quality","level":"good","rtt_ms":40,"loss_permille":0,"fps":30}"#).unwrap();
    assert_eq!(back, Message::LinkQuality(LinkReport { level: LinkLevel::Good, rtt_ms: Some(40), loss_permille: 0, fps: 30 }));
}
