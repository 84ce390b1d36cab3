//! Decoding: every format symphonia reads (WAV, RF64/BW64, AIFF, FLAC, MP3, Ogg Vorbis, ALAC and
//! AAC in MP4, CAF, MKV/WebM) into a planar `f32` [`AudioBuffer`], never clipped by lathe.
//!
//! - Integer PCM maps `2^(bits-1)` LSB to full scale 1.0 (`i16 / 32768`), so 16- and 24-bit
//!   samples are exact in `f32`; float PCM is passed through, overs included; AAC overs (a
//!   decoded peak of 1.1) are kept. Known limitation: symphonia 0.5.5's MP3 and Vorbis decoders
//!   clamp their own output to +-1.0 (removed upstream in Symphonia PR #434, unreleased).
//! - Gapless: symphonia's `enable_gapless` trims the MP3 encoder delay and padding given by the
//!   LAME/Xing info frame, and Ogg Vorbis pre-roll and end by granule positions. symphonia 0.5
//!   does not apply MP4 edit lists, so this module reads the audio track's `elst`/`mdhd` itself
//!   and trims the AAC priming (ISO/IEC 14496-12 section 8.6.6) and the padding of the last
//!   packet. Where the container states an exact frame count (WAV, AIFF's COMM, FLAC's
//!   STREAMINFO, Ogg granule positions, MP4 `mdhd`), frames beyond it are dropped: symphonia
//!   returns extra frames for AIFF, single-page Ogg Vorbis and FLAC with a padded last block.
//! - RF64/BW64 (EBU Tech 3306, ITU-R BS.2088), which symphonia 0.5 does not read, is handed to
//!   symphonia's WAV reader as an equivalent RIFF header built from the `ds64` chunk.
//! - Damage is an error, not silence: a file shorter than its container's frame count, or a
//!   lossless frame that fails to decode (FLAC frames carry CRCs; the MD5 of the whole stream is
//!   checked when present) is [`Error::Corrupt`]. A lossy packet that fails to decode is
//!   replaced by silence of its length, but more than `MAX_BAD_LOSSY_PACKETS_BASE + 2%` of the
//!   packets is [`Error::Corrupt`]. Chunk and box sizes of WAV, AIFF and MP4 headers are checked
//!   against the file before symphonia sees them, because symphonia allocates what a header
//!   claims (a damaged MP4 sample-table count asked for 53 GB and aborted the process).
//! - A NaN or infinite sample (possible only in float WAV/AIFF) is [`Error::NonFiniteSample`].
//!
//! Every error names the file, except [`Error::UnsupportedSampleRate`] and
//! [`Error::UnsupportedChannelCount`] which come from [`AudioBuffer::new`] (the CLI adds the
//! file name as context).

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::audio::{AudioBufferRef, Signal};
use symphonia::core::codecs::{self, CodecType, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::conv::FromSample;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::audio::{AudioBuffer, MAX_CHANNELS, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ};
use crate::error::{Error, Result};

/// Lossy packets that may fail to decode before the file counts as corrupt, plus 2% of the
/// packets that decoded: a few glitches in a long stream pass, a damaged region does not.
const MAX_BAD_LOSSY_PACKETS_BASE: u64 = 4;
/// Longest silence (frames) put in for one undecodable lossy packet (a packet is <= 8192
/// frames in every lossy codec symphonia reads; this only guards against a lying timestamp).
const MAX_SUBSTITUTE_FRAMES: u64 = 1 << 16;
/// Largest MP4 `moov` box this module reads to find the edit list.
const MAX_MOOV_BYTES: u64 = 64 << 20;
/// Largest RF64 chunk (other than `data`) copied into the equivalent RIFF header.
const MAX_RF64_CHUNK_BYTES: u64 = 1 << 20;

/// Decodes the first audio track of `path` into planar `f32` (see the module docs).
///
/// Never panics on any input: a panic inside symphonia (one is known: a damaged ALAC frame
/// makes its decoder index out of range, `tests/data/bad_alac_panic.m4a`) becomes
/// [`Error::Corrupt`]. Rust's panic hook will still have printed the panic message to stderr,
/// and with `panic = "abort"` this net does not hold.
pub fn decode_file(path: &Path) -> Result<AudioBuffer> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(path))).unwrap_or_else(
        |panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: format!("the decoder failed on this file (a decoder bug: {what})"),
            })
        },
    )
}

fn decode(path: &Path) -> Result<AudioBuffer> {
    let read_err = |source: io::Error| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(io::Error::other("it is a folder, not a file")));
    }
    if meta.len() == 0 {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let file_len = meta.len();

    let mut head = [0u8; 12];
    let head_len = read_up_to(&mut file, &mut head).map_err(read_err)?;
    let head = &head[..head_len];
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;

    let container = Container::sniff(head);
    let corrupt_header = |reason: String| Error::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let mut riff_streaming = false;
    match container {
        Container::Wav => {
            // A writer that streamed to a pipe leaves 0xFFFFFFFF as the data size and symphonia
            // then reads to the end of the file: no frame count was promised.
            let data_size =
                walk_chunks(&mut file, file_len, false, b"data").map_err(corrupt_header)?;
            riff_streaming = data_size == Some(u32::MAX);
        }
        Container::Aiff => {
            walk_chunks(&mut file, file_len, true, b"SSND").map_err(corrupt_header)?;
        }
        Container::Mp4 => check_mp4(path, file_len).map_err(corrupt_header)?,
        _ => {}
    }
    // Beyond the 12-byte signatures: MP3 (an ID3 tag or a run of MPEG frames), ADTS AAC, CAF,
    // MKV/WebM, or nothing audio at all. symphonia's probe scans a whole file for a frame sync
    // and then reports random bytes as a damaged header; lathe says what they are.
    let mut mp3_promise = None;
    if container == Container::Other {
        file.seek(SeekFrom::Start(0)).map_err(read_err)?;
        match sniff_other(&mut file).map_err(read_err)? {
            Other::NotAudio => {
                return Err(Error::UnrecognisedFormat {
                    path: path.to_path_buf(),
                    reason: "no audio container signature matches: not WAV, AIFF, FLAC, MP3, \
                             Ogg, MP4/M4A, CAF or MKV/WebM"
                        .into(),
                })
            }
            Other::Mp3(promise) => mp3_promise = promise,
            Other::Known => {}
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let source: Box<dyn MediaSource> = if container == Container::Rf64 {
        rf64_as_riff(path, file)?
    } else {
        Box::new(file)
    };
    let aiff_frames = if container == Container::Aiff {
        aiff_sample_frames(path)
    } else {
        None
    };

    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let format_options = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_options, &MetadataOptions::default())
        .map_err(|e| probe_error(path, e))?;
    let mut reader = probed.format;

    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| Error::NoAudio {
            path: path.to_path_buf(),
        })?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let codec = params.codec;
    if let Some(rate) = params.sample_rate {
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&rate) {
            return Err(Error::UnsupportedSampleRate {
                sample_rate_hz: rate,
            });
        }
    }
    if let Some(channels) = params.channels {
        let n = channels.count();
        if n == 0 || n > MAX_CHANNELS {
            return Err(Error::UnsupportedChannelCount { channels: n });
        }
    }
    let strict = is_lossless(codec);
    // A header that promises more audio than memory holds: refused before decoding (a
    // lying header larger than the file could be is left to the growing buffers).
    if let (Some(n), Some(rate), Some(channels)) =
        (params.n_frames, params.sample_rate, params.channels)
    {
        let channels = channels.count();
        if n.saturating_mul(channels as u64) <= file_len.saturating_mul(64) {
            crate::audio::check_memory(n, channels, rate, 4, "decoding")?;
        }
    }

    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions { verify: true })
        .map_err(|e| match e {
            SymError::Unsupported(what) if what.contains("unsupported codec") => {
                Error::UnsupportedCodec {
                    path: path.to_path_buf(),
                    codec: codec_name(codec),
                }
            }
            other => Error::UnsupportedCodec {
                path: path.to_path_buf(),
                codec: format!("{} ({other})", codec_name(codec)),
            },
        })?;

    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_path_buf(),
        reason,
    };

    let mut planes: Vec<Vec<f32>> = Vec::new();
    let mut rate_hz = 0u32;
    let mut ok_packets = 0u64;
    let mut bad_packets = 0u64;
    // Silence owed for lossy packets lost before the channel count was known.
    let mut lost_before_start = 0usize;
    loop {
        let packet = match reader.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            // A chained Ogg stream starts a new logical stream: lathe keeps the first.
            Err(SymError::ResetRequired) => break,
            Err(SymError::IoError(e)) => return Err(read_err(e)),
            Err(e) => return Err(corrupt(format!("cannot read the next packet: {e}"))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                let spec = *decoded.spec();
                let channels = spec.channels.count();
                if planes.is_empty() {
                    if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&spec.rate) {
                        return Err(Error::UnsupportedSampleRate {
                            sample_rate_hz: spec.rate,
                        });
                    }
                    if channels == 0 || channels > MAX_CHANNELS {
                        return Err(Error::UnsupportedChannelCount { channels });
                    }
                    rate_hz = spec.rate;
                    let reserve = reserve_frames(params.n_frames, channels, file_len);
                    planes = (0..channels)
                        .map(|_| {
                            let mut p = Vec::with_capacity(reserve.max(lost_before_start));
                            p.resize(lost_before_start, 0.0);
                            p
                        })
                        .collect();
                } else if channels != planes.len() || spec.rate != rate_hz {
                    return Err(corrupt(format!(
                        "the stream changes from {} channels at {rate_hz} Hz to {channels} \
                         channels at {} Hz",
                        planes.len(),
                        spec.rate
                    )));
                }
                append_planar(&decoded, &mut planes);
                ok_packets += 1;
            }
            Err(SymError::DecodeError(msg)) => {
                let at_s = packet_time_s(&params, packet.ts());
                if strict {
                    return Err(corrupt(format!(
                        "the frame at {at_s:.3} s cannot be decoded: {msg}"
                    )));
                }
                bad_packets += 1;
                if bad_packets > MAX_BAD_LOSSY_PACKETS_BASE + ok_packets / 50 {
                    return Err(corrupt(format!(
                        "{bad_packets} packets cannot be decoded (the last at {at_s:.3} s: {msg})"
                    )));
                }
                // Keep the timing of what follows: silence where the packet was.
                let gap = packet.dur().min(MAX_SUBSTITUTE_FRAMES) as usize;
                if planes.is_empty() {
                    lost_before_start += gap;
                }
                for p in &mut planes {
                    p.resize(p.len() + gap, 0.0);
                }
            }
            Err(SymError::IoError(e)) => {
                // Decoders report a packet that ends too early as an I/O error.
                return Err(corrupt(format!(
                    "a packet at {:.3} s is cut short: {e}",
                    packet_time_s(&params, packet.ts())
                )));
            }
            Err(SymError::Unsupported(feature)) => {
                return Err(Error::UnsupportedCodec {
                    path: path.to_path_buf(),
                    codec: format!("{} ({feature})", codec_name(codec)),
                })
            }
            Err(e) => return Err(corrupt(e.to_string())),
        }
    }

    if planes.is_empty() || planes[0].is_empty() {
        if bad_packets > 0 {
            return Err(corrupt(format!(
                "none of the {bad_packets} packets can be decoded"
            )));
        }
        return Err(Error::NoAudio {
            path: path.to_path_buf(),
        });
    }

    // The container's frame count, where it is exact: fewer frames means a truncated or damaged
    // file; more are dropped. symphonia 0.5 returns more than the count in three cases: an AIFF
    // (it reads the 8-byte offset/blockSize header of SSND as two frames at 16-bit stereo; COMM
    // has the true count), an Ogg Vorbis stream with a single audio page (it does not apply the
    // end trim the page's granule position asks for), and FLAC whose last block was padded
    // (STREAMINFO's total is exact). MP3 is not checked: without a Xing header symphonia only
    // estimates the count from the bitrate (with one, its gapless trimming is already exact).
    let promised = match container {
        Container::Aiff => aiff_frames,
        Container::Wav if riff_streaming => None,
        Container::Wav | Container::Rf64 | Container::Flac | Container::Ogg | Container::Mp4 => {
            promised_frames(&params, rate_hz)
        }
        Container::Other => None,
    };
    if let Some(promised) = promised.filter(|&n| n > 0) {
        let decoded_frames = planes[0].len() as u64;
        // Lossy decoders may end up to one packet short of a container's rounded total.
        let slack = if strict {
            0
        } else {
            u64::from(
                params
                    .max_frames_per_packet
                    .map_or(4096, |m| m.min(8192) as u32),
            )
        };
        if decoded_frames + slack < promised {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                what: "its header",
                promised_s: promised as f64 / f64::from(rate_hz),
                decodable_s: decoded_frames as f64 / f64::from(rate_hz),
            });
        }
        for p in &mut planes {
            p.truncate(promised as usize);
        }
    }
    // MP3: the Xing/Info or VBRI frame's count (read here, not by symphonia), less the LAME
    // delay and padding that gapless decoding trims; one frame of slack each side for decoders
    // that keep or drop a frame at the edges.
    if let Some(p) = mp3_promise.filter(|p| p.rate_hz == rate_hz) {
        let decoded_frames = planes[0].len() as u64;
        if decoded_frames + 2 * p.frame_samples < p.samples {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                what: p.what,
                promised_s: p.samples as f64 / f64::from(rate_hz),
                decodable_s: decoded_frames as f64 / f64::from(rate_hz),
            });
        }
    }
    // Ogg: a stream's last page carries the end-of-stream flag (RFC 3533 section 6); a file
    // cut anywhere else ends on a page without it, and its granule positions then promise
    // only what is left, so the flag is the only sign.
    if container == Container::Ogg {
        let mut file = File::open(path).map_err(read_err)?;
        if last_ogg_page_lacks_eos(&mut file, file_len).map_err(read_err)? {
            return Err(Error::OggWithoutEnd {
                path: path.to_path_buf(),
                decodable_s: planes[0].len() as f64 / f64::from(rate_hz),
            });
        }
    }
    if strict {
        let verified = decoder.finalize().verify_ok;
        if verified == Some(false) {
            return Err(corrupt(
                "the decoded audio does not match the MD5 checksum in its header".into(),
            ));
        }
    }

    if container == Container::Mp4 {
        if let Some(edit) = read_mp4_edit(path, rate_hz) {
            let len = planes[0].len() as u64;
            let start = edit.skip_frames.min(len);
            let end = edit
                .keep_frames
                .map_or(len, |k| start.saturating_add(k).min(len));
            for p in &mut planes {
                p.truncate(end as usize);
                p.drain(..start as usize);
            }
            if planes[0].is_empty() {
                return Err(Error::NoAudio {
                    path: path.to_path_buf(),
                });
            }
        }
    }

    let audio = AudioBuffer::new(rate_hz, planes)?;
    if let Some((frame, channel, value)) = audio.first_unmeasurable() {
        return Err(if value.is_finite() {
            Error::UnmeasurableSample {
                path: path.to_path_buf(),
                frame,
                channel,
                value,
            }
        } else {
            Error::NonFiniteSample {
                path: path.to_path_buf(),
                frame,
                channel,
            }
        });
    }
    Ok(audio)
}

/// The container, from the first 12 bytes, where this module needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Wav,
    Rf64,
    Aiff,
    Flac,
    Ogg,
    Mp4,
    Other,
}

impl Container {
    fn sniff(head: &[u8]) -> Container {
        let at = |range: std::ops::Range<usize>| head.get(range).unwrap_or(&[]);
        match (at(0..4), at(4..8), at(8..12)) {
            (b"RIFF", _, b"WAVE") => Container::Wav,
            (b"RF64" | b"BW64", _, b"WAVE") => Container::Rf64,
            (b"FORM", _, b"AIFF" | b"AIFC") => Container::Aiff,
            (b"fLaC", _, _) => Container::Flac,
            (b"OggS", _, _) => Container::Ogg,
            (_, b"ftyp", _) => Container::Mp4,
            _ => Container::Other,
        }
    }
}

/// What a file without one of [`Container`]'s signatures holds.
enum Other {
    /// An MP3 (ID3v2 tag or a run of MPEG audio frames), with its Xing/VBRI promise if any.
    Mp3(Option<Mp3Promise>),
    /// Another format symphonia reads: ADTS AAC, CAF, MKV/WebM, or an ID3 tag before
    /// something else.
    Known,
    NotAudio,
}

/// The length an MP3's Xing/Info (or VBRI) frame promises.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Mp3Promise {
    /// Frames per channel after gapless trimming (LAME delay and padding).
    samples: u64,
    /// Samples per MPEG frame (1152 or 576).
    frame_samples: u64,
    rate_hz: u32,
    what: &'static str,
}

/// Bytes read to look for MPEG frames and the Xing header.
const SNIFF_BYTES: usize = 64 << 10;
/// Consecutive MPEG (or ADTS) frame headers, each where the previous frame's length says,
/// that make a stream: random bytes hold a valid header about once in 8 kB, three in a row
/// about once in 2^40 positions.
const SYNC_RUN: usize = 3;

fn sniff_other(file: &mut File) -> io::Result<Other> {
    let mut buf = vec![0u8; SNIFF_BYTES];
    let n = read_up_to(file, &mut buf)?;
    buf.truncate(n);
    if buf.starts_with(b"caff") || buf.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        return Ok(Other::Known);
    }
    if buf.starts_with(b"ID3") && buf.len() >= 10 {
        // ID3v2: a syncsafe size (7 bits a byte), 10 more bytes with a footer.
        let size = buf[6..10]
            .iter()
            .fold(0u64, |a, &b| (a << 7) | u64::from(b & 0x7f));
        let end = 10 + size + if buf[5] & 0x10 != 0 { 10 } else { 0 };
        file.seek(SeekFrom::Start(end))?;
        let mut after = vec![0u8; SNIFF_BYTES];
        let n = read_up_to(file, &mut after)?;
        after.truncate(n);
        return Ok(match mpeg_stream_start(&after) {
            Some(at) => Other::Mp3(mp3_promise(&after[at..])),
            None => Other::Known,
        });
    }
    if let Some(at) = mpeg_stream_start(&buf) {
        return Ok(Other::Mp3(mp3_promise(&buf[at..])));
    }
    if adts_stream_start(&buf) {
        return Ok(Other::Known);
    }
    Ok(Other::NotAudio)
}

/// An MPEG audio frame header (ISO/IEC 11172-3 2.4.2.3, 13818-3): (frame bytes, samples per
/// frame, sample rate, layer, MPEG-1?, mono?).
fn mpeg_header(h: &[u8]) -> Option<(usize, u64, u32, u8, bool, bool)> {
    if h.len() < 4 || h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
        return None;
    }
    let version = (h[1] >> 3) & 3; // 0: 2.5, 2: 2, 3: 1
    let layer = 4 - ((h[1] >> 1) & 3); // 1, 2, 3 (4: reserved)
    let bitrate_index = usize::from(h[2] >> 4);
    let rate_index = usize::from((h[2] >> 2) & 3);
    if version == 1 || layer == 4 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    let mpeg1 = version == 3;
    const KBPS: [[u32; 15]; 5] = [
        [
            0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
        ],
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
        ],
        [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ],
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
        ],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    let table = match (mpeg1, layer) {
        (true, l) => usize::from(l - 1),
        (false, 1) => 3,
        (false, _) => 4,
    };
    let bitrate = KBPS[table][bitrate_index] * 1000;
    let base = [44_100u32, 48_000, 32_000][rate_index];
    let rate = match version {
        3 => base,
        2 => base / 2,
        _ => base / 4,
    };
    let padding = usize::from((h[2] >> 1) & 1);
    let (bytes, samples) = match layer {
        1 => ((12 * bitrate / rate) as usize * 4 + padding * 4, 384),
        2 => ((144 * bitrate / rate) as usize + padding, 1152),
        _ if mpeg1 => ((144 * bitrate / rate) as usize + padding, 1152),
        _ => ((72 * bitrate / rate) as usize + padding, 576),
    };
    let mono = h[3] >> 6 == 3;
    (bytes >= 4).then_some((bytes, samples, rate, layer, mpeg1, mono))
}

/// The offset of the first of [`SYNC_RUN`] consecutive MPEG frames in `buf`, if any.
fn mpeg_stream_start(buf: &[u8]) -> Option<usize> {
    (0..buf.len().saturating_sub(4)).find(|&start| {
        let mut at = start;
        for k in 0..SYNC_RUN {
            match buf.get(at..).and_then(mpeg_header) {
                Some((bytes, ..)) => at += bytes,
                // The buffer ends inside the run: a short file of whole frames counts.
                None => return k > 0 && at >= buf.len(),
            }
        }
        true
    })
}

/// Does `buf` hold [`SYNC_RUN`] consecutive ADTS frames (ISO/IEC 13818-7 6.2)?
fn adts_stream_start(buf: &[u8]) -> bool {
    (0..buf.len().saturating_sub(7)).any(|start| {
        let mut at = start;
        for _ in 0..SYNC_RUN {
            let Some(h) = buf.get(at..at + 7) else {
                return false;
            };
            if h[0] != 0xff || h[1] & 0xf6 != 0xf0 {
                return false;
            }
            let len =
                (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
            if len < 7 {
                return false;
            }
            at += len;
        }
        true
    })
}

/// The length promised by the Xing/Info or VBRI frame at the start of `frames` (an MPEG frame
/// header at offset 0), if it has one with a frame count.
fn mp3_promise(frames: &[u8]) -> Option<Mp3Promise> {
    let (_, frame_samples, rate_hz, layer, mpeg1, mono) = mpeg_header(frames)?;
    let be32 = |b: &[u8]| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(b.get(..4)?.try_into().ok()?)))
    };
    if layer == 3 {
        // Side information length (ISO/IEC 11172-3 2.4.1.7): 32/17 bytes (MPEG-1 stereo/mono),
        // 17/9 (MPEG-2/2.5).
        let side = match (mpeg1, mono) {
            (true, false) => 32,
            (true, true) | (false, false) => 17,
            (false, true) => 9,
        };
        let x = 4 + side;
        let tag = frames.get(x..x + 4)?;
        if tag == b"Xing" || tag == b"Info" {
            let flags = be32(&frames[x + 4..])?;
            if flags & 1 == 0 {
                return None;
            }
            let count = be32(frames.get(x + 8..)?)?;
            // The LAME tag after the Xing fields: an encoder name ("LAME3.100", or "Lavc59.37"
            // from ffmpeg's libmp3lame wrapper), then encoder delay and padding, 12 bits each,
            // 21 bytes into it. Without a tag the bytes there are the empty frame's zeros.
            let mut lame = x + 8 + 4;
            if flags & 2 != 0 {
                lame += 4;
            }
            if flags & 4 != 0 {
                lame += 100;
            }
            if flags & 8 != 0 {
                lame += 4;
            }
            let trim = frames
                .get(lame + 21..lame + 24)
                .filter(|_| {
                    frames
                        .get(lame..lame + 4)
                        .is_some_and(|n| n.iter().all(u8::is_ascii_alphanumeric))
                })
                .map_or(0, |d| {
                    let delay = (u64::from(d[0]) << 4) | u64::from(d[1] >> 4);
                    let padding = (u64::from(d[1] & 0x0f) << 8) | u64::from(d[2]);
                    delay + padding
                });
            return Some(Mp3Promise {
                samples: (count * frame_samples).saturating_sub(trim),
                frame_samples,
                rate_hz,
                what: "its Xing header",
            });
        }
    }
    // VBRI (Fraunhofer): 32 bytes after the header; the frame count 14 bytes into it.
    if frames.get(36..40) == Some(b"VBRI") {
        let count = be32(frames.get(36 + 14..)?)?;
        return Some(Mp3Promise {
            samples: count * frame_samples,
            frame_samples,
            rate_hz,
            what: "its VBRI header",
        });
    }
    None
}

/// Is the last Ogg page of the file (the last "OggS" capture pattern with a version-0 header
/// that fits in the file) without the end-of-stream flag?
fn last_ogg_page_lacks_eos(file: &mut File, file_len: u64) -> io::Result<bool> {
    // A page is at most 65307 bytes: the last one starts within the last 64 KiB + header.
    let tail_len = file_len.min(65_536 + 282);
    file.seek(SeekFrom::Start(file_len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    let n = read_up_to(file, &mut tail)?;
    tail.truncate(n);
    let last = (0..tail.len().saturating_sub(27))
        .rev()
        .find(|&i| tail[i..i + 4] == *b"OggS" && tail[i + 4] == 0);
    Ok(match last {
        Some(i) => tail[i + 5] & 0x04 == 0,
        None => false,
    })
}

/// Reads into `buf` until it is full or the file ends; returns the bytes read.
fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Appends every channel of a decoded buffer, converted to `f32` (symphonia's conversions:
/// integers divided by `2^(bits-1)`, floats unchanged, so nothing is clipped).
fn append_planar(decoded: &AudioBufferRef<'_>, planes: &mut [Vec<f32>]) {
    macro_rules! append {
        ($buf:expr) => {
            for (c, plane) in planes.iter_mut().enumerate() {
                plane.extend($buf.chan(c).iter().map(|&s| f32::from_sample(s)));
            }
        };
    }
    match decoded {
        AudioBufferRef::U8(b) => append!(b),
        AudioBufferRef::U16(b) => append!(b),
        AudioBufferRef::U24(b) => append!(b),
        AudioBufferRef::U32(b) => append!(b),
        AudioBufferRef::S8(b) => append!(b),
        AudioBufferRef::S16(b) => append!(b),
        AudioBufferRef::S24(b) => append!(b),
        AudioBufferRef::S32(b) => append!(b),
        AudioBufferRef::F32(b) => append!(b),
        AudioBufferRef::F64(b) => append!(b),
    }
}

/// Frames to reserve per channel: the header's count when it is plausible for the file size
/// (no codec stores a sample in less than 1/64 byte on average, not even FLAC on silence),
/// otherwise a modest start, so a lying header cannot make us reserve gigabytes.
fn reserve_frames(n_frames: Option<u64>, channels: usize, file_len: u64) -> usize {
    const MODEST: u64 = 1 << 20;
    match n_frames {
        Some(n) if n.saturating_mul(channels as u64) <= file_len.saturating_mul(64) => {
            n.min(1 << 31) as usize
        }
        Some(n) => n.min(MODEST) as usize,
        None => MODEST as usize,
    }
}

/// The number of frames the container announces, in frames at `rate_hz`.
fn promised_frames(params: &codecs::CodecParameters, rate_hz: u32) -> Option<u64> {
    let n = params.n_frames?;
    match params.time_base {
        Some(tb)
            if tb.denom != 0 && u64::from(tb.denom) != u64::from(rate_hz) * u64::from(tb.numer) =>
        {
            Some(
                (u128::from(n) * u128::from(tb.numer) * u128::from(rate_hz) / u128::from(tb.denom))
                    as u64,
            )
        }
        _ => Some(n),
    }
}

/// A packet timestamp in seconds, for error messages.
fn packet_time_s(params: &codecs::CodecParameters, ts: u64) -> f64 {
    match (params.time_base, params.sample_rate) {
        (Some(tb), _) if tb.denom != 0 => ts as f64 * f64::from(tb.numer) / f64::from(tb.denom),
        (_, Some(rate)) if rate != 0 => ts as f64 / f64::from(rate),
        _ => 0.0,
    }
}

/// Turns a probe failure into lathe's error: unknown bytes, a damaged header, or a known
/// container holding something symphonia cannot read.
fn probe_error(path: &Path, e: SymError) -> Error {
    let path = path.to_path_buf();
    match e {
        SymError::Unsupported(msg) => {
            const NOT_AUDIO: [&str; 8] = [
                "no suitable format reader",
                "riff form is not",
                "missing riff stream marker",
                "not a matroska",
                "missing ftyp",
                "missing 'caff'",
                "missing flac stream marker",
                "page is not marked as first",
            ];
            if NOT_AUDIO.iter().any(|m| msg.contains(m)) {
                Error::UnrecognisedFormat {
                    path,
                    reason: "no audio format lathe knows (WAV, AIFF, FLAC, MP3, Ogg, MP4/M4A, \
                             CAF, MKV/WebM) matches its contents"
                        .into(),
                }
            } else if msg.contains("missing") {
                Error::Corrupt {
                    path,
                    reason: msg.to_string(),
                }
            } else {
                Error::UnsupportedCodec {
                    path,
                    codec: msg.to_string(),
                }
            }
        }
        SymError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => Error::Corrupt {
            path,
            reason: "the file ends inside its header".into(),
        },
        SymError::IoError(source) => Error::Read { path, source },
        other => Error::Corrupt {
            path,
            reason: format!("unreadable header: {other}"),
        },
    }
}

/// Lossless codecs: every frame must decode, and the file must hold every frame it announces.
fn is_lossless(codec: CodecType) -> bool {
    use symphonia::core::codecs::*;
    !matches!(
        codec,
        CODEC_TYPE_VORBIS
            | CODEC_TYPE_MP1
            | CODEC_TYPE_MP2
            | CODEC_TYPE_MP3
            | CODEC_TYPE_AAC
            | CODEC_TYPE_OPUS
            | CODEC_TYPE_SPEEX
            | CODEC_TYPE_MUSEPACK
            | CODEC_TYPE_ATRAC1
            | CODEC_TYPE_ATRAC3
            | CODEC_TYPE_ATRAC3PLUS
            | CODEC_TYPE_ATRAC9
            | CODEC_TYPE_EAC3
            | CODEC_TYPE_AC4
            | CODEC_TYPE_DCA
            | CODEC_TYPE_WMA
    )
}

/// A readable codec name, also for codecs symphonia can name but not decode.
fn codec_name(codec: CodecType) -> String {
    use symphonia::core::codecs::*;
    let known = match codec {
        CODEC_TYPE_OPUS => "opus",
        CODEC_TYPE_SPEEX => "speex",
        CODEC_TYPE_MP1 => "mp1 (MPEG-1 layer I)",
        CODEC_TYPE_MP2 => "mp2 (MPEG-1 layer II)",
        CODEC_TYPE_MP3 => "mp3",
        CODEC_TYPE_AAC => "aac",
        CODEC_TYPE_VORBIS => "vorbis",
        CODEC_TYPE_FLAC => "flac",
        CODEC_TYPE_ALAC => "alac",
        CODEC_TYPE_WAVPACK => "wavpack",
        CODEC_TYPE_MONKEYS_AUDIO => "monkey's audio",
        CODEC_TYPE_TTA => "tta",
        CODEC_TYPE_MUSEPACK => "musepack",
        CODEC_TYPE_ATRAC1 | CODEC_TYPE_ATRAC3 | CODEC_TYPE_ATRAC3PLUS | CODEC_TYPE_ATRAC9 => {
            "atrac"
        }
        CODEC_TYPE_EAC3 => "e-ac-3",
        CODEC_TYPE_AC4 => "ac-4",
        CODEC_TYPE_DCA => "dts",
        CODEC_TYPE_WMA => "wma",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    match symphonia::default::get_codecs().get_codec(codec) {
        Some(d) => d.short_name.to_string(),
        None => format!("codec id {codec}"),
    }
}

/// `numSampleFrames` from the COMM chunk of an AIFF/AIFC file (big-endian chunk sizes).
fn aiff_sample_frames(path: &Path) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(12)).ok()?;
    for _ in 0..1024 {
        let mut hdr = [0u8; 8];
        file.read_exact(&mut hdr).ok()?;
        let size = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        if &hdr[0..4] == b"COMM" {
            let mut body = [0u8; 6];
            file.read_exact(&mut body).ok()?;
            return Some(u64::from(u32::from_be_bytes([
                body[2], body[3], body[4], body[5],
            ])));
        }
        let skip = i64::from(size) + i64::from(size & 1);
        file.seek(SeekFrom::Current(skip)).ok()?;
    }
    None
}

/// Walks the chunks of a RIFF (little-endian sizes) or IFF/AIFF (big-endian) file up to the
/// chunk `stop` and returns that chunk's size field. Every chunk before it must fit in the file:
/// symphonia allocates a chunk's claimed size before reading it, so a damaged size of 4 GB would
/// be a 4 GB allocation. (The audio chunk itself may be cut short: that is the frame-count check.)
fn walk_chunks(
    file: &mut File,
    file_len: u64,
    big_endian: bool,
    stop: &[u8; 4],
) -> std::result::Result<Option<u32>, String> {
    let mut offset = 12u64;
    for _ in 0..4096 {
        if offset + 8 > file_len {
            return Ok(None);
        }
        let mut hdr = [0u8; 8];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut hdr))
            .map_err(|e| format!("cannot read a chunk header: {e}"))?;
        let size_bytes = [hdr[4], hdr[5], hdr[6], hdr[7]];
        let size = if big_endian {
            u32::from_be_bytes(size_bytes)
        } else {
            u32::from_le_bytes(size_bytes)
        };
        if &hdr[0..4] == stop {
            return Ok(Some(size));
        }
        let end = offset + 8 + u64::from(size) + u64::from(size & 1);
        if end > file_len + 1 {
            return Err(format!(
                "chunk '{}' at byte {offset} claims {size} bytes, past the end of the file",
                String::from_utf8_lossy(&hdr[0..4])
            ));
        }
        offset = end;
    }
    Ok(None)
}

/// Checks the box structure of an MP4 file before symphonia reads it: boxes must fit in their
/// parents, `moov` in the file, and every sample-table count in its box. symphonia 0.5 reserves
/// memory for a table's claimed entry count before reading it (`Vec::with_capacity`), so one
/// damaged count can ask for tens of gigabytes and abort the process (found by
/// `damaged_fixtures_never_panic` with more iterations).
fn check_mp4(path: &Path, file_len: u64) -> std::result::Result<(), String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let mut offset = 0u64;
    while offset + 8 <= file_len {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| e.to_string())?;
        let mut hdr = [0u8; 16];
        read_up_to(&mut file, &mut hdr).map_err(|e| e.to_string())?;
        let (size, header_len) = match u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) {
            0 => (file_len - offset, 8),
            1 => (
                u64::from_be_bytes(hdr[8..16].try_into().unwrap_or_default()),
                16,
            ),
            n => (u64::from(n), 8),
        };
        let kind = String::from_utf8_lossy(&hdr[4..8]).into_owned();
        if size < header_len {
            return Err(format!(
                "box '{kind}' at byte {offset} has an impossible size {size}"
            ));
        }
        let end = offset.saturating_add(size);
        if &hdr[4..8] == b"moov" || &hdr[4..8] == b"moof" {
            if end > file_len {
                return Err(format!("box '{kind}' runs past the end of the file"));
            }
            if size - header_len > MAX_MOOV_BYTES {
                return Err(format!("box '{kind}' is implausibly large ({size} bytes)"));
            }
            file.seek(SeekFrom::Start(offset + header_len))
                .map_err(|e| e.to_string())?;
            let mut body = vec![0u8; (size - header_len) as usize];
            file.read_exact(&mut body).map_err(|e| e.to_string())?;
            check_mp4_children(&body, 0)?;
        }
        if end <= offset {
            break;
        }
        offset = end;
    }
    Ok(())
}

/// Recursive part of [`check_mp4`] over a container box's body.
fn check_mp4_children(mut data: &[u8], depth: usize) -> std::result::Result<(), String> {
    const CONTAINERS: [&[u8; 4]; 9] = [
        b"trak", b"mdia", b"minf", b"stbl", b"edts", b"mvex", b"traf", b"dinf", b"udta",
    ];
    if depth > 16 {
        return Err("boxes nested implausibly deep".into());
    }
    while data.len() >= 8 {
        let size32 = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let kind: [u8; 4] = [data[4], data[5], data[6], data[7]];
        let name = String::from_utf8_lossy(&kind).into_owned();
        let (size, header_len) = match size32 {
            0 => (data.len() as u64, 8usize),
            1 if data.len() >= 16 => (
                u64::from_be_bytes(data[8..16].try_into().unwrap_or_default()),
                16,
            ),
            1 => return Err(format!("box '{name}' is cut short")),
            n => (u64::from(n), 8),
        };
        if size < header_len as u64 || size > data.len() as u64 {
            return Err(format!("box '{name}' does not fit in its parent"));
        }
        let body = &data[header_len..size as usize];
        let be32 = |at: usize| -> u64 {
            body.get(at..at + 4).map_or(0, |b| {
                u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            })
        };
        // (offset of the count, offset of the entries, bytes per entry) per table box.
        let table = match &kind {
            b"stsc" => Some((4, 8, 12)),
            b"stco" | b"stss" => Some((4, 8, 4)),
            b"co64" | b"stts" | b"ctts" => Some((4, 8, 8)),
            b"stsz" if be32(4) == 0 => Some((8, 12, 4)),
            b"elst" => Some((4, 8, if body.first() == Some(&1) { 20 } else { 12 })),
            _ => None,
        };
        if let Some((count_at, entries_at, entry_len)) = table {
            let count = be32(count_at);
            if body.len() < entries_at
                || count.saturating_mul(entry_len) > (body.len() - entries_at) as u64
            {
                return Err(format!(
                    "box '{name}' claims {count} entries but holds room for fewer"
                ));
            }
        }
        if CONTAINERS.contains(&&kind) {
            check_mp4_children(body, depth + 1)?;
        }
        data = &data[size as usize..];
    }
    Ok(())
}

/// An RF64/BW64 file as a stream symphonia's WAV reader accepts: a RIFF header with the `fmt `
/// (and `fact`) chunk and a `data` chunk whose 32-bit size comes from `ds64`, followed by the
/// file's audio bytes. The `ds64` data size is the promise that a truncated file breaks.
fn rf64_as_riff(path: &Path, mut file: File) -> Result<Box<dyn MediaSource>> {
    let corrupt = |reason: &str| Error::Corrupt {
        path: path.to_path_buf(),
        reason: format!("RF64: {reason}"),
    };
    let eof = |_: io::Error| corrupt("the file ends inside its header");
    file.seek(SeekFrom::Start(12)).map_err(eof)?;
    let mut ds64_data_size: Option<u64> = None;
    let mut kept_chunks: Vec<u8> = Vec::new();
    let mut saw_fmt = false;
    for _ in 0..1024 {
        let mut hdr = [0u8; 8];
        file.read_exact(&mut hdr).map_err(eof)?;
        let tag = [hdr[0], hdr[1], hdr[2], hdr[3]];
        let size32 = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        match &tag {
            b"ds64" => {
                if !(24..=MAX_RF64_CHUNK_BYTES as u32).contains(&size32) {
                    return Err(corrupt("ds64 chunk of impossible size"));
                }
                let mut body = vec![0u8; size32 as usize];
                file.read_exact(&mut body).map_err(eof)?;
                let mut data_size = [0u8; 8];
                data_size.copy_from_slice(&body[8..16]);
                ds64_data_size = Some(u64::from_le_bytes(data_size));
                if size32 & 1 == 1 {
                    file.seek(SeekFrom::Current(1)).map_err(eof)?;
                }
            }
            b"data" => {
                if !saw_fmt {
                    return Err(corrupt("no fmt chunk before the data chunk"));
                }
                let data_size = match (size32, ds64_data_size) {
                    (u32::MAX, Some(n)) => n,
                    (u32::MAX, None) => return Err(corrupt("no ds64 chunk for the data size")),
                    (n, _) => u64::from(n),
                };
                let header_len = 12 + kept_chunks.len() as u64 + 8;
                if data_size + header_len > u64::from(u32::MAX) {
                    return Err(Error::UnsupportedCodec {
                        path: path.to_path_buf(),
                        codec: "RF64 with more than 4 GiB of audio data".into(),
                    });
                }
                let mut header = Vec::with_capacity(header_len as usize);
                header.extend_from_slice(b"RIFF");
                let riff_size = (header_len - 8 + data_size) as u32;
                header.extend_from_slice(&riff_size.to_le_bytes());
                header.extend_from_slice(b"WAVE");
                header.extend_from_slice(&kept_chunks);
                header.extend_from_slice(b"data");
                header.extend_from_slice(&(data_size as u32).to_le_bytes());
                let stream = Cursor::new(header).chain(file.take(data_size));
                return Ok(Box::new(ReadOnlySource::new(stream)));
            }
            _ => {
                let padded = u64::from(size32) + u64::from(size32 & 1);
                let keep = (&tag == b"fmt " || &tag == b"fact") && padded <= MAX_RF64_CHUNK_BYTES;
                if keep {
                    saw_fmt |= &tag == b"fmt ";
                    kept_chunks.extend_from_slice(&hdr);
                    let start = kept_chunks.len();
                    kept_chunks.resize(start + padded as usize, 0);
                    file.read_exact(&mut kept_chunks[start..]).map_err(eof)?;
                } else {
                    file.seek(SeekFrom::Current(padded as i64)).map_err(eof)?;
                }
            }
        }
    }
    Err(corrupt("no data chunk"))
}

/// What an MP4 edit list asks to play of the decoded audio track, in frames.
#[derive(Debug, PartialEq)]
struct Mp4Edit {
    /// Leading frames to drop (the encoder's priming, e.g. 1024 or 2112 for AAC).
    skip_frames: u64,
    /// Frames to keep after those, if known.
    keep_frames: Option<u64>,
}

/// Reads the `moov` box of an MP4 file and returns the edit of its first sound track. Any
/// malformation yields `None` (symphonia has already accepted the file; the edit is a bonus).
fn read_mp4_edit(path: &Path, rate_hz: u32) -> Option<Mp4Edit> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let mut offset = 0u64;
    while offset + 8 <= file_len {
        file.seek(SeekFrom::Start(offset)).ok()?;
        let mut hdr = [0u8; 16];
        read_up_to(&mut file, &mut hdr).ok()?;
        let (size, header_len) = match u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) {
            0 => (file_len - offset, 8),
            1 => (u64::from_be_bytes(hdr[8..16].try_into().ok()?), 16),
            n => (u64::from(n), 8),
        };
        if size < header_len {
            return None;
        }
        if &hdr[4..8] == b"moov" {
            let body_len = size - header_len;
            if body_len > MAX_MOOV_BYTES {
                return None;
            }
            file.seek(SeekFrom::Start(offset + header_len)).ok()?;
            let mut moov = vec![0u8; body_len as usize];
            file.read_exact(&mut moov).ok()?;
            return mp4_edit_from_moov(&moov, rate_hz);
        }
        offset = offset.checked_add(size)?;
    }
    None
}

/// The child boxes of an MP4 box body: `(type, body)` pairs; stops at the first malformed one.
fn mp4_boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size32 = u32::from_be_bytes(data[0..4].try_into().ok()?);
        let kind: [u8; 4] = data[4..8].try_into().ok()?;
        let (size, header_len) = match size32 {
            0 => (data.len() as u64, 8usize),
            1 => (u64::from_be_bytes(data.get(8..16)?.try_into().ok()?), 16),
            n => (u64::from(n), 8),
        };
        if size < header_len as u64 || size > data.len() as u64 {
            return None;
        }
        let body = &data[header_len..size as usize];
        data = &data[size as usize..];
        Some((kind, body))
    })
}

fn mp4_child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    mp4_boxes(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

/// `(timescale, duration)` of an `mvhd` or `mdhd` body (same layout for these fields).
fn mp4_timescale_duration(body: &[u8]) -> Option<(u32, u64)> {
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?))
    };
    match *body.first()? {
        0 => Some((be32(12)?, u64::from(be32(16)?))),
        1 => Some((
            be32(20)?,
            u64::from_be_bytes(body.get(24..32)?.try_into().ok()?),
        )),
        _ => None,
    }
}

/// The first non-empty edit `(segment_duration in movie units, media_time in media units)`.
fn mp4_first_edit(elst: &[u8]) -> Option<(u64, u64)> {
    let version = *elst.first()?;
    let count = u32::from_be_bytes(elst.get(4..8)?.try_into().ok()?) as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    for i in 0..count.min(1024) {
        let e = elst.get(8 + i * entry_len..8 + (i + 1) * entry_len)?;
        let (seg, media_time) = if version == 1 {
            (
                u64::from_be_bytes(e[0..8].try_into().ok()?),
                i64::from_be_bytes(e[8..16].try_into().ok()?),
            )
        } else {
            (
                u64::from(u32::from_be_bytes(e[0..4].try_into().ok()?)),
                i64::from(i32::from_be_bytes(e[4..8].try_into().ok()?)),
            )
        };
        // media_time -1 is an empty edit (a pause before the media starts): not trimming.
        if media_time >= 0 {
            return Some((seg, media_time as u64));
        }
    }
    None
}

fn mp4_edit_from_moov(moov: &[u8], rate_hz: u32) -> Option<Mp4Edit> {
    let (movie_timescale, _) = mp4_timescale_duration(mp4_child(moov, b"mvhd")?)?;
    let trak = mp4_boxes(moov)
        .filter(|(k, _)| k == b"trak")
        .map(|(_, b)| b)
        .find(|trak| {
            mp4_child(trak, b"mdia")
                .and_then(|mdia| mp4_child(mdia, b"hdlr"))
                .and_then(|hdlr| hdlr.get(8..12))
                == Some(b"soun".as_slice())
        })?;
    let mdia = mp4_child(trak, b"mdia")?;
    let (media_timescale, media_duration) = mp4_timescale_duration(mp4_child(mdia, b"mdhd")?)?;
    if media_timescale == 0 {
        return None;
    }
    let rate = u128::from(rate_hz);
    let to_frames = |units: u64, timescale: u32| -> u64 {
        ((u128::from(units) * rate + u128::from(timescale) / 2) / u128::from(timescale)) as u64
    };
    let edit = mp4_child(trak, b"edts")
        .and_then(|edts| mp4_child(edts, b"elst"))
        .and_then(mp4_first_edit);
    let skip_frames = edit.map_or(0, |(_, media_time)| to_frames(media_time, media_timescale));
    // The media duration (sum of the sample durations) minus the priming is exact; the edit's
    // segment duration is in the movie timescale, often milliseconds, so it is used only when
    // it asks for clearly less than that.
    let unknown_duration = media_duration == 0 || media_duration == u64::from(u32::MAX);
    let from_media = (!unknown_duration)
        .then(|| to_frames(media_duration, media_timescale).saturating_sub(skip_frames));
    let from_segment = match edit {
        Some((seg, _)) if seg > 0 && movie_timescale > 0 => Some(to_frames(seg, movie_timescale)),
        _ => None,
    };
    let one_movie_tick = u64::from(rate_hz).div_ceil(u64::from(movie_timescale.max(1))) + 1;
    let keep_frames = match (from_media, from_segment) {
        (Some(m), Some(s)) if s + one_movie_tick < m => Some(s),
        (Some(m), _) => Some(m),
        (None, s) => s,
    };
    Some(Mp4Edit {
        skip_frames,
        keep_frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn header_v0(timescale: u32, duration: u32) -> Vec<u8> {
        let mut b = vec![0u8; 12];
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b
    }

    fn moov(elst_entries: &[(u32, i32)], media_duration: u32) -> Vec<u8> {
        let mut elst = vec![0u8; 4];
        elst.extend_from_slice(&(elst_entries.len() as u32).to_be_bytes());
        for &(seg, t) in elst_entries {
            elst.extend_from_slice(&seg.to_be_bytes());
            elst.extend_from_slice(&t.to_be_bytes());
            elst.extend_from_slice(&[0, 1, 0, 0]);
        }
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"soun");
        let mdia = [
            mp4_box(b"mdhd", &header_v0(44_100, media_duration)),
            mp4_box(b"hdlr", &hdlr),
        ]
        .concat();
        let trak = [
            mp4_box(b"edts", &mp4_box(b"elst", &elst)),
            mp4_box(b"mdia", &mdia),
        ]
        .concat();
        [
            mp4_box(b"mvhd", &header_v0(1000, 1000)),
            mp4_box(b"trak", &trak),
        ]
        .concat()
    }

    #[test]
    fn mp4_edit_trims_aac_priming_and_padding() {
        // What ffmpeg writes for 1 s of AAC at 44.1 kHz: media 45124 = 1024 priming + 44100,
        // edit (1000 ms, media_time 1024).
        let m = moov(&[(1000, 1024)], 45_124);
        assert_eq!(
            mp4_edit_from_moov(&m, 44_100),
            Some(Mp4Edit {
                skip_frames: 1024,
                keep_frames: Some(44_100)
            })
        );
        // An empty edit first (-1) is skipped; a segment clearly shorter than the media wins.
        let m = moov(&[(500, -1), (500, 2112)], 46_212);
        assert_eq!(
            mp4_edit_from_moov(&m, 44_100),
            Some(Mp4Edit {
                skip_frames: 2112,
                keep_frames: Some(22_050)
            })
        );
        // No edit list: keep the media duration.
        let m = moov(&[], 44_100);
        assert_eq!(
            mp4_edit_from_moov(&m, 44_100),
            Some(Mp4Edit {
                skip_frames: 0,
                keep_frames: Some(44_100)
            })
        );
    }

    #[test]
    fn mp4_parser_survives_garbage() {
        let m = moov(&[(1000, 1024)], 45_124);
        for cut in 0..m.len() {
            let _ = mp4_edit_from_moov(&m[..cut], 44_100);
        }
        let mut bad = m.clone();
        bad[3] = 0xFF; // a box larger than its parent
        assert_eq!(mp4_edit_from_moov(&bad, 44_100), None);
    }

    #[test]
    fn codec_names() {
        use symphonia::core::codecs::{CODEC_TYPE_OPUS, CODEC_TYPE_PCM_S16LE};
        assert_eq!(codec_name(CODEC_TYPE_OPUS), "opus");
        assert_eq!(codec_name(CODEC_TYPE_PCM_S16LE), "pcm_s16le");
        assert!(is_lossless(CODEC_TYPE_PCM_S16LE));
        assert!(!is_lossless(CODEC_TYPE_OPUS));
    }

    #[test]
    fn reservation_is_bounded_by_file_size() {
        assert_eq!(reserve_frames(Some(1000), 2, 10_000), 1000);
        assert_eq!(reserve_frames(Some(u64::MAX), 2, 100), 1 << 20);
        assert_eq!(reserve_frames(None, 2, 100), 1 << 20);
    }
}
