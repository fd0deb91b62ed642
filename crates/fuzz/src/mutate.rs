//! A small deterministic generator and the mutations the loop applies.
//! Our own (~80 lines) rather than `rand`: the stream must never change
//! with a dependency's version, or a seed would stop reproducing a failure.

/// SplitMix64: fast, good enough to pick mutations, fully determined by
/// its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// FNV-1a: names regression files and separates the targets' streams.
pub fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// Bytes that matter to the parsers under test: JSON punctuation, the
/// start of multi-byte UTF-8, a BOM's first byte, digits, extremes.
const INTERESTING: &[u8] = b"{}[]\":,\\ \n0-9eE.tfn\x00\x7f\x80\xbf\xc3\xe9\xef\xff";

/// A mutated copy of one input of `pool` (sometimes spliced with another).
pub fn mutate(rng: &mut Rng, pool: &[Vec<u8>]) -> Vec<u8> {
    let mut input = pool[rng.below(pool.len())].clone();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(8) {
            // Flip a bit.
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            // Set a byte to an interesting value.
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            // Insert an interesting byte.
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            // Delete a range.
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                input.drain(start..end);
            }
            // Duplicate a range (repeats keys, nests values).
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let piece = input[start..end].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, piece);
            }
            // Truncate.
            5 if len > 0 => input.truncate(rng.below(len)),
            // Splice in the tail of another input.
            6 => {
                let other = &pool[rng.below(pool.len())];
                let from = rng.below(other.len() + 1);
                let at = rng.below(len + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            // Replace a digit run with an extreme number.
            _ => {
                let extremes: [&[u8]; 5] = [b"-1", b"4294967296", b"18446744073709551616", b"1e999", b"-0.0"];
                if let Some(i) = input.iter().position(|b| b.is_ascii_digit()) {
                    let end = input[i..].iter().position(|b| !b.is_ascii_digit()).map_or(input.len(), |n| i + n);
                    input.splice(i..end, extremes[rng.below(extremes.len())].iter().copied());
                }
            }
        }
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let pool = vec![b"{\"a\": [1, 2, 3]}".to_vec()];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50).map(|_| mutate(&mut rng, &pool)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
