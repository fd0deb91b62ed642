//! Telling a keyframe's first packet from the others, by codec, from the
//! RTP payload alone.

/// How the pacer tells a keyframe's first packet from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    Vp8,
    H264,
    /// Keyframes not recognised: frames are still dropped for age, but the
    /// stream never waits for a keyframe.
    Other,
}

impl Codec {
    pub(super) fn of(mime_type: &str) -> Self {
        match mime_type.to_ascii_lowercase().as_str() {
            "video/vp8" => Codec::Vp8,
            "video/h264" => Codec::H264,
            _ => Codec::Other,
        }
    }

    /// Whether this RTP payload begins (VP8) or carries the start of
    /// (H.264: SPS or IDR) a keyframe.
    pub(super) fn starts_keyframe(self, payload: &[u8]) -> bool {
        match self {
            Codec::Vp8 => vp8_starts_keyframe(payload),
            Codec::H264 => h264_carries_keyframe(payload),
            Codec::Other => false,
        }
    }
}

/// RFC 7741: the payload descriptor, then on the first packet of a frame
/// (S = 1, partition 0) the VP8 header, whose P bit is 0 for a keyframe.
fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    if first & 0x10 == 0 || first & 0x07 != 0 {
        return false;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        let Some(&ext) = payload.get(1) else { return false };
        at = 2;
        if ext & 0x80 != 0 {
            // PictureID: 15 bits when M is set.
            let Some(&id) = payload.get(at) else { return false };
            at += if id & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if ext & 0x30 != 0 {
            at += 1; // TID/Y/KEYIDX
        }
    }
    payload.get(at).is_some_and(|header| header & 0x01 == 0)
}

/// RFC 6184: a NAL unit (single, in a STAP-A, or the first fragment of a
/// FU-A) of type 5 (IDR slice) or 7 (SPS, which precedes every IDR ours send).
fn h264_carries_keyframe(payload: &[u8]) -> bool {
    let key = |nal: u8| matches!(nal & 0x1f, 5 | 7);
    let Some(&first) = payload.first() else { return false };
    match first & 0x1f {
        24 => {
            let mut at = 1;
            while let (Some(&hi), Some(&lo)) = (payload.get(at), payload.get(at + 1)) {
                let size = usize::from(u16::from_be_bytes([hi, lo]));
                if payload.get(at + 2).is_some_and(|&nal| key(nal)) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        28 => payload.get(1).is_some_and(|&fu| fu & 0x80 != 0 && key(fu)),
        _ => key(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_keyframes_of_vp8_and_h264() {
        assert!(vp8_starts_keyframe(&[0x10, 0x00]));
        assert!(!vp8_starts_keyframe(&[0x10, 0x01]), "inter frame");
        assert!(!vp8_starts_keyframe(&[0x00, 0x00]), "not a frame's first packet");
        assert!(!vp8_starts_keyframe(&[0x11, 0x00]), "not partition 0");
        // X, I with a 15-bit PictureID, L, T: four more bytes.
        assert!(vp8_starts_keyframe(&[0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x00]));
        assert!(!vp8_starts_keyframe(&[0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x01]));
        assert!(!vp8_starts_keyframe(&[0x90]), "truncated");
        assert!(h264_carries_keyframe(&[0x65, 0x88]), "IDR slice");
        assert!(h264_carries_keyframe(&[0x67, 0x42]), "SPS");
        assert!(!h264_carries_keyframe(&[0x41, 0x9a]), "non-IDR slice");
        // STAP-A with SPS and PPS.
        assert!(h264_carries_keyframe(&[0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce]));
        assert!(!h264_carries_keyframe(&[0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x41, 0x9a]));
        // FU-A: first fragment of an IDR, a later one.
        assert!(h264_carries_keyframe(&[0x7c, 0x85, 0x88]));
        assert!(!h264_carries_keyframe(&[0x7c, 0x05, 0x88]));
    }
}
