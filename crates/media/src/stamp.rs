//! Capture-time stamps drawn into the picture, for glass-to-glass latency.
//!
//! The sender writes a 32-bit millisecond clock as a row of black and white
//! blocks in the top-left of each frame before encoding; a receiver in the same
//! process reads it back from the decoded RGBA frame. Blocks survive lossy
//! coding where a single pixel would not. Pure functions over pixel buffers.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Milliseconds on a process-wide clock, wrapping at 2³² (49 days).
pub fn clock_ms() -> u32 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    epoch.elapsed().as_millis() as u32
}

/// Side of one block for a picture this wide: 33 blocks (a white marker and
/// 32 bits) must fit across.
fn block(width: usize) -> usize {
    (width / 40).clamp(4, 16)
}

/// Writes `value` into the luma plane of an I420/NV12 picture.
pub fn write_luma(plane: &mut [u8], stride: usize, width: usize, height: usize, value: u32) {
    let b = block(width);
    if height < b || width < 33 * b {
        return;
    }
    for i in 0..33 {
        let white = i == 0 || (value >> (31 - (i - 1))) & 1 == 1;
        let luma = if white { 235 } else { 16 };
        for y in 0..b {
            let row = &mut plane[y * stride..];
            row[i * b..(i + 1) * b].fill(luma);
        }
    }
}

/// Reads a stamp back from an RGBA picture; `None` if there is none.
pub fn read_rgba(data: &[u8], width: usize, height: usize) -> Option<u32> {
    let b = block(width);
    if height < b || width < 33 * b || data.len() < width * height * 4 {
        return None;
    }
    let luma_at = |i: usize| {
        let (x, y) = (i * b + b / 2, b / 2);
        let p = &data[(y * width + x) * 4..][..3];
        (u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3
    };
    if luma_at(0) < 200 {
        return None;
    }
    let mut value = 0u32;
    for i in 1..33 {
        value = (value << 1) | u32::from(luma_at(i) > 128);
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_written_as_luma_reads_back_from_rgba() {
        let (w, h) = (640, 360);
        let mut luma = vec![128u8; w * h];
        write_luma(&mut luma, w, w, h, 0xDEAD_BEEF);
        let rgba: Vec<u8> = luma.iter().flat_map(|&y| [y, y, y, 255]).collect();
        assert_eq!(read_rgba(&rgba, w, h), Some(0xDEAD_BEEF));
    }

    #[test]
    fn no_marker_no_stamp() {
        let rgba = vec![0u8; 640 * 360 * 4];
        assert_eq!(read_rgba(&rgba, 640, 360), None);
    }
}
