//! lathe's FLAC frame encoder (RFC 9639): fixed predictors of order 0-4, stereo decorrelation
//! (left/side, side/right, mid/side) and partitioned Rice coding with 4- or 5-bit parameters,
//! each choice by its exact size in bits, verbatim when nothing is smaller.
//!
//! Why not flacenc (0.4, 0.5): it has no 5-bit Rice parameters (its maximum is 14), so loud
//! 24-bit blocks, whose residuals need a parameter near 18, cost more than verbatim and are
//! stored so: 24-bit masters came out at the WAV's size where `flac` writes 0.86 of it. Its
//! fixed-predictor choice also overflowed (14-142x the WAV). The fixed predictors of RFC 9639
//! section 9.2.5 need no LPC analysis and reach within a few percent of `flac -5` on music.
//!
//! Every block is encoded on its own (rayon) and the bytes joined in order: the output does
//! not depend on the thread count.

use rayon::prelude::*;

/// Largest partition order tried (RFC 9639 allows 15; `flac -5` stops at 6).
const MAX_PARTITION_ORDER: u32 = 8;
/// Largest Rice parameter of the 5-bit coding; 31 is the escape code.
const MAX_RICE_PARAMETER: u32 = 30;

/// Writes bits most significant first.
struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            acc: 0,
            n: 0,
        }
    }

    /// The low `bits` bits of `value` (`bits <= 32`).
    fn put(&mut self, bits: u32, value: u64) {
        debug_assert!(bits <= 32);
        if bits == 0 {
            return;
        }
        self.acc = (self.acc << bits) | (value & ((1u64 << bits) - 1));
        self.n += bits;
        while self.n >= 8 {
            self.n -= 8;
            self.bytes.push((self.acc >> self.n) as u8);
        }
        self.acc &= (1u64 << self.n) - 1;
    }

    fn put_signed(&mut self, bits: u32, value: i64) {
        self.put(bits, value as u64);
    }

    /// `q` zeros then a one.
    fn put_unary(&mut self, mut q: u64) {
        while q >= 32 {
            self.put(32, 0);
            q -= 32;
        }
        self.put(q as u32 + 1, 1);
    }

    /// Zero bits up to the next byte.
    fn align(&mut self) {
        if self.n > 0 {
            self.put(8 - self.n, 0);
        }
    }

    fn into_bytes(mut self) -> Vec<u8> {
        self.align();
        self.bytes
    }
}

/// CRC-8 of the frame header: polynomial x^8 + x^2 + x + 1, initial 0 (RFC 9639 9.1.8).
fn crc8(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |mut crc, &b| {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// CRC-16 of the frame: polynomial x^16 + x^15 + x^2 + 1, initial 0 (RFC 9639 9.3).
fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |mut crc, &b| {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// Residual of the fixed predictor of `order` (RFC 9639 9.2.5), for samples `order..`.
fn fixed_residual(x: &[i64], order: usize, out: &mut Vec<i64>) {
    out.clear();
    out.extend((order..x.len()).map(|i| match order {
        0 => x[i],
        1 => x[i] - x[i - 1],
        2 => x[i] - 2 * x[i - 1] + x[i - 2],
        3 => x[i] - 3 * x[i - 1] + 3 * x[i - 2] - x[i - 3],
        _ => x[i] - 4 * x[i - 1] + 6 * x[i - 2] - 4 * x[i - 3] + x[i - 4],
    }));
}

fn zigzag(r: i64) -> u64 {
    ((r << 1) ^ (r >> 63)) as u64
}

/// The best partitioned-Rice coding of `residual` (the first `order` samples of the block
/// are warm-up): (bits, partition order, parameters). Bits include the 2-bit method and the
/// 4-bit order.
fn best_rice(residual: &[i64], block: usize, order: usize) -> (u64, u32, Vec<u32>) {
    let u: Vec<u64> = residual.iter().map(|&r| zigzag(r)).collect();
    let mut best: Option<(u64, u32, Vec<u32>)> = None;
    for p in 0..=MAX_PARTITION_ORDER {
        let parts = 1usize << p;
        if block % parts != 0 || block / parts <= order {
            break;
        }
        let per = block / parts;
        let mut params = Vec::with_capacity(parts);
        let mut bits = 0u64;
        let mut start = 0;
        for k in 0..parts {
            let len = if k == 0 { per - order } else { per };
            let part = &u[start..start + len];
            start += len;
            let (b, param) = best_parameter(part);
            bits += b;
            params.push(param);
        }
        let wide = params.iter().any(|&k| k > 14);
        bits += 6 + parts as u64 * if wide { 5 } else { 4 };
        if best.as_ref().is_none_or(|b| bits < b.0) {
            best = Some((bits, p, params));
        }
    }
    best.expect("partition order 0 always fits")
}

/// The Rice parameter with the fewest bits for `part`: `len (k + 1) + sum(u >> k)`.
fn best_parameter(part: &[u64]) -> (u64, u32) {
    let len = part.len() as u64;
    let mean = part.iter().sum::<u64>() / len.max(1);
    // The optimum is within a step of log2(mean); scan around it.
    let guess = 64 - mean.leading_zeros();
    let lo = guess.saturating_sub(2);
    let hi = (guess + 1).min(MAX_RICE_PARAMETER);
    (lo..=hi)
        .map(|k| {
            let bits = len * (u64::from(k) + 1) + part.iter().map(|&v| v >> k).sum::<u64>();
            (bits, k)
        })
        .min()
        .unwrap_or((0, 0))
}

/// One channel's subframe plan: its size in bits and how to write it.
enum Subframe {
    Constant(i64),
    Verbatim,
    Fixed {
        order: usize,
        residual: Vec<i64>,
        partition_order: u32,
        params: Vec<u32>,
    },
}

/// The smallest subframe of `x` at `bps` bits a sample: (bits, plan).
fn plan_subframe(x: &[i64], bps: u32) -> (u64, Subframe) {
    let header = 8u64;
    if x.iter().all(|&v| v == x[0]) {
        return (header + u64::from(bps), Subframe::Constant(x[0]));
    }
    let mut best = (header + u64::from(bps) * x.len() as u64, Subframe::Verbatim);
    let mut residual = Vec::with_capacity(x.len());
    for order in 0..=4usize.min(x.len() - 1) {
        fixed_residual(x, order, &mut residual);
        // A residual outside 32 bits is not allowed (RFC 9639 9.2.7).
        if residual
            .iter()
            .any(|&r| r < i64::from(i32::MIN) || r > i64::from(i32::MAX))
        {
            continue;
        }
        let (bits, partition_order, params) = best_rice(&residual, x.len(), order);
        let total = header + order as u64 * u64::from(bps) + bits;
        if total < best.0 {
            best = (
                total,
                Subframe::Fixed {
                    order,
                    residual: residual.clone(),
                    partition_order,
                    params,
                },
            );
        }
    }
    best
}

fn write_subframe(w: &mut BitWriter, x: &[i64], bps: u32, plan: &Subframe) {
    match plan {
        Subframe::Constant(v) => {
            w.put(8, 0b0000_0000);
            w.put_signed(bps, *v);
        }
        Subframe::Verbatim => {
            w.put(8, 0b0000_0010);
            for &v in x {
                w.put_signed(bps, v);
            }
        }
        Subframe::Fixed {
            order,
            residual,
            partition_order,
            params,
        } => {
            w.put(8, (0b00_1000 | *order as u64) << 1);
            for &v in &x[..*order] {
                w.put_signed(bps, v);
            }
            let wide = params.iter().any(|&k| k > 14);
            w.put(2, u64::from(wide));
            w.put(4, u64::from(*partition_order));
            let per = x.len() >> partition_order;
            let mut start = 0;
            for (k, &param) in params.iter().enumerate() {
                let len = if k == 0 { per - order } else { per };
                w.put(if wide { 5 } else { 4 }, u64::from(param));
                for &r in &residual[start..start + len] {
                    let u = zigzag(r);
                    w.put_unary(u >> param);
                    w.put(param, u);
                }
                start += len;
            }
        }
    }
}

/// The frame number, coded like UTF-8 (RFC 9639 9.1.5).
fn put_coded_number(w: &mut BitWriter, n: u64) {
    if n < 0x80 {
        w.put(8, n);
        return;
    }
    let mut extra = 1;
    while n >= 1u64 << (6 + 5 * extra) {
        extra += 1;
    }
    let lead_bits = 6 - extra as u32;
    let lead_mark = (0xffu64 << (7 - extra)) & 0xff;
    w.put(8, lead_mark | ((n >> (6 * extra)) & ((1 << lead_bits) - 1)));
    for k in (0..extra).rev() {
        w.put(8, 0x80 | ((n >> (6 * k)) & 0x3f));
    }
}

/// A subframe's size in bits and how to write it.
type Plan = (u64, Subframe);
/// A channel as coded: its samples and bits a sample.
type Signal = (Vec<i64>, u32);

/// One frame of `channels` (equal lengths), frame number `index`, at `bps` bits.
fn encode_frame(channels: &[&[i32]], index: u64, bps: u32) -> Vec<u8> {
    let block = channels[0].len();
    let wide: Vec<Vec<i64>> = channels
        .iter()
        .map(|c| c.iter().map(|&v| i64::from(v)).collect())
        .collect();
    // Independent channels, or for stereo the cheapest of four assignments.
    let (assignment, plans, signals): (u64, Vec<Plan>, Vec<Signal>) = if wide.len() == 2 {
        let (l, r) = (&wide[0], &wide[1]);
        let side: Vec<i64> = l.iter().zip(r).map(|(a, b)| a - b).collect();
        let mid: Vec<i64> = l.iter().zip(r).map(|(a, b)| (a + b) >> 1).collect();
        let pl = plan_subframe(l, bps);
        let pr = plan_subframe(r, bps);
        let ps = plan_subframe(&side, bps + 1);
        let pm = plan_subframe(&mid, bps);
        let costs = [pl.0 + pr.0, pl.0 + ps.0, ps.0 + pr.0, pm.0 + ps.0];
        let pick = (0..4).min_by_key(|&k| costs[k]).unwrap_or(0);
        match pick {
            0 => (1, vec![pl, pr], vec![(l.clone(), bps), (r.clone(), bps)]),
            1 => (8, vec![pl, ps], vec![(l.clone(), bps), (side, bps + 1)]),
            2 => (9, vec![ps, pr], vec![(side, bps + 1), (r.clone(), bps)]),
            _ => (10, vec![pm, ps], vec![(mid, bps), (side, bps + 1)]),
        }
    } else {
        let plans = wide.iter().map(|c| plan_subframe(c, bps)).collect();
        (
            wide.len() as u64 - 1,
            plans,
            wide.into_iter().map(|c| (c, bps)).collect(),
        )
    };

    let bytes_guess = block * channels.len() * (bps as usize / 8 + 1) + 32;
    let mut w = BitWriter::with_capacity(bytes_guess);
    // Sync code, reserved 0, fixed block size (RFC 9639 9.1).
    w.put(16, 0xfff8);
    let block_code = if block == 4096 { 0b1100 } else { 0b0111 };
    w.put(4, block_code);
    w.put(4, 0); // sample rate: from STREAMINFO
    w.put(4, assignment);
    w.put(3, if bps == 16 { 0b100 } else { 0b110 });
    w.put(1, 0);
    put_coded_number(&mut w, index);
    if block_code == 0b0111 {
        w.put(16, block as u64 - 1);
    }
    let header_crc = crc8(&w.bytes);
    w.put(8, u64::from(header_crc));
    for ((x, bits), (_, plan)) in signals.iter().zip(&plans) {
        write_subframe(&mut w, x, *bits, plan);
    }
    let mut bytes = w.into_bytes();
    let crc = crc16(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    bytes
}

/// The frames of planar integer `channels` (equal lengths, `bps` of 16 or 24) in blocks of
/// `block` frames (the last may be shorter), numbered from `first_index` (the stream's frame
/// number of the first block: a stream is encoded in stretches of whole blocks), and the
/// smallest and largest frame in bytes.
pub(crate) fn encode_frames(
    channels: &[Vec<i32>],
    bps: u32,
    block: usize,
    first_index: u64,
) -> (Vec<u8>, u32, u32) {
    let frames = channels.first().map_or(0, Vec::len);
    let starts: Vec<usize> = (0..frames).step_by(block.max(1)).collect();
    let encoded: Vec<Vec<u8>> = starts
        .par_iter()
        .enumerate()
        .map(|(index, &start)| {
            let end = (start + block).min(frames);
            let views: Vec<&[i32]> = channels.iter().map(|c| &c[start..end]).collect();
            encode_frame(&views, first_index + index as u64, bps)
        })
        .collect();
    let min = encoded.iter().map(|f| f.len() as u32).min().unwrap_or(0);
    let max = encoded.iter().map(|f| f.len() as u32).max().unwrap_or(0);
    (encoded.concat(), min, max)
}

/// The STREAMINFO block's 34 bytes (RFC 9639 8.2).
pub(crate) fn stream_info(
    block: usize,
    frame_bytes: (u32, u32),
    sample_rate_hz: u32,
    channels: usize,
    bps: u32,
    total_frames: u64,
    md5: &[u8; 16],
) -> Vec<u8> {
    let mut w = BitWriter::with_capacity(34);
    w.put(16, block as u64);
    w.put(16, block as u64);
    w.put(24, u64::from(frame_bytes.0));
    w.put(24, u64::from(frame_bytes.1));
    w.put(20, u64::from(sample_rate_hz));
    w.put(3, channels as u64 - 1);
    w.put(5, u64::from(bps) - 1);
    w.put(4, total_frames >> 32);
    w.put(32, total_frames & 0xffff_ffff);
    let mut bytes = w.into_bytes();
    bytes.extend_from_slice(md5);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crcs_match_their_check_values() {
        // The CRC catalogue's check values for "123456789": CRC-8/SMBUS 0xF4 and
        // CRC-16/UMTS (FLAC's) 0xFEE8.
        assert_eq!(crc8(b"123456789"), 0xf4);
        assert_eq!(crc16(b"123456789"), 0xfee8);
    }

    #[test]
    fn coded_numbers_are_utf8() {
        for n in [
            0u64, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x1_0000, 0x1f_ffff, 0x20_0000,
        ] {
            let mut w = BitWriter::with_capacity(8);
            put_coded_number(&mut w, n);
            let bytes = w.into_bytes();
            if n <= 0x1f_ffff {
                let c = char::from_u32(n as u32);
                if let Some(c) = c {
                    let mut buf = [0u8; 4];
                    assert_eq!(bytes, c.encode_utf8(&mut buf).as_bytes(), "{n:#x}");
                }
            } else {
                assert_eq!(bytes.len(), 5, "{n:#x}");
            }
        }
    }

    #[test]
    fn rice_parameters_follow_the_residual_size() {
        // Residuals near 2^18 (loud 24-bit noise) need a parameter near 17: 5-bit coding.
        let x: Vec<i64> = (0..4096i64)
            .map(|i| ((i * 7919) % 524_288) - 262_144)
            .collect();
        let (bits, _, params) = best_rice(&x, 4096, 0);
        assert!(params.iter().all(|&k| (15..=19).contains(&k)), "{params:?}");
        assert!(bits < 4096 * 24, "{bits} bits");
    }
}
