//! Encoding: [`AudioBuffer`] -> WAV (16/24-bit integer, 32-bit float, via hound) or FLAC
//! (16/24-bit, by lathe's own frame encoder, [`super::flac`]), written atomically.
//!
//! Integer output maps full scale 1.0 to `2^(bits-1)` LSB (symphonia's decoding convention, so
//! values on the grid round-trip exactly) and clamps to the integer range only at that
//! conversion; float output is written as is, overs included. 16 bit gets TPDF dither
//! ([`crate::render::dither`]); 24 bit is rounded without dither: its rounding error
//! (-149 dBFS RMS) is far below the noise of any converter or recording, so dither would only
//! add noise.
//!
//! Writing is atomic: the file is written to a temporary `.NAME.lathe-tmp-PID-N` in the same
//! folder, flushed to disk (`fsync`) and renamed over the target, so a crash or a full disk never
//! leaves a half-written output, and the temporary file is removed on error.
//! [`check_output`] refuses to overwrite an input, and an existing output without `force`.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::io::tags::{self, Tags};
use crate::render::dither::{quantize_round, quantize_tpdf, DitherRng};

/// How each sample is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SampleFormat {
    /// 16-bit signed integer, TPDF-dithered.
    Int16,
    /// 24-bit signed integer, rounded.
    Int24,
    /// 32-bit IEEE float, written as is (WAV only).
    Float32,
}

impl SampleFormat {
    /// Bits per stored sample.
    pub fn bits(self) -> u32 {
        match self {
            SampleFormat::Int16 => 16,
            SampleFormat::Int24 => 24,
            SampleFormat::Float32 => 32,
        }
    }
}

/// The file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Container {
    Wav,
    Flac,
}

/// What [`write_file`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutputFormat {
    pub container: Container,
    pub sample_format: SampleFormat,
}

impl OutputFormat {
    /// The format for `path`, chosen by its extension (`.wav`/`.wave`, `.flac`; any case), with
    /// `bits` or else 24-bit integer. FLAC stores integers only, so FLAC with
    /// [`SampleFormat::Float32`] is refused, as is any other extension.
    pub fn from_path(path: &Path, bits: Option<SampleFormat>) -> Result<OutputFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let container = match ext.as_deref() {
            Some("wav") | Some("wave") => Container::Wav,
            Some("flac") => Container::Flac,
            Some(other) => {
                return Err(Error::UnsupportedOutput {
                    path: path.to_path_buf(),
                    reason: format!(
                        "unknown extension '.{other}': lathe writes .wav or .flac files"
                    ),
                })
            }
            None => {
                return Err(Error::UnsupportedOutput {
                    path: path.to_path_buf(),
                    reason: "no file extension: lathe writes .wav or .flac files".into(),
                })
            }
        };
        let sample_format = bits.unwrap_or(SampleFormat::Int24);
        if container == Container::Flac && sample_format == SampleFormat::Float32 {
            return Err(Error::UnsupportedOutput {
                path: path.to_path_buf(),
                reason: "FLAC stores integers only: choose 16 or 24 bit, or write a .wav for \
                         32-bit float"
                    .into(),
            });
        }
        Ok(OutputFormat {
            container,
            sample_format,
        })
    }
}

/// Writes `audio` to `path` in `format`, atomically (see the module docs). `dither_seed` makes
/// the 16-bit TPDF dither reproducible: same audio, format and seed give the same bytes.
/// Refuses audio with a non-finite sample ([`Error::NonFiniteSample`], naming `path`). Every
/// rate an [`AudioBuffer`] holds (up to 384 kHz) fits FLAC's 20-bit STREAMINFO field.
pub fn write_file(
    path: &Path,
    audio: &AudioBuffer,
    format: OutputFormat,
    dither_seed: u64,
) -> Result<()> {
    write_file_tagged(path, audio, format, dither_seed, &Tags::default())
}

/// [`write_file`] with `tags`: a VORBIS_COMMENT block in FLAC, `LIST`/`INFO` and `id3 ` chunks
/// (before the samples) in WAV; see [`crate::io::tags`].
pub fn write_file_tagged(
    path: &Path,
    audio: &AudioBuffer,
    format: OutputFormat,
    dither_seed: u64,
    tags: &Tags,
) -> Result<()> {
    stage_file(path, audio, format, dither_seed, tags)?.commit()
}

/// [`write_file_tagged`] up to the rename: the complete file under its temporary name, to be
/// committed with the job's other outputs ([`commit_all`]).
pub fn stage_file(
    path: &Path,
    audio: &AudioBuffer,
    format: OutputFormat,
    dither_seed: u64,
    tags: &Tags,
) -> Result<Staged> {
    if format.container == Container::Flac && format.sample_format == SampleFormat::Float32 {
        return Err(Error::UnsupportedOutput {
            path: path.to_path_buf(),
            reason: "FLAC stores integers only: choose 16 or 24 bit".into(),
        });
    }
    if let Some((frame, channel)) = audio.first_non_finite() {
        return Err(Error::NonFiniteSample {
            path: path.to_path_buf(),
            frame,
            channel,
        });
    }
    stage_atomically(path, |file| match format.container {
        Container::Wav => write_wav(file, path, audio, format.sample_format, dither_seed, tags),
        Container::Flac => write_flac(file, path, audio, format.sample_format, dither_seed, tags),
    })
}

/// `text` (a report, JSON) staged like [`stage_file`].
pub fn stage_text(path: &Path, text: &str) -> Result<Staged> {
    stage_atomically(path, |mut file| {
        file.write_all(text.as_bytes())
            .map_err(|source| Error::Write {
                path: path.to_path_buf(),
                source,
            })
    })
}

/// Writes `text` to `path` atomically, like [`write_file`] (reports, JSON, EQ presets).
pub fn write_text_atomically(path: &Path, text: &str) -> Result<()> {
    stage_text(path, text)?.commit()
}

/// Refuses an `output` that is one of the `inputs` ([`Error::OutputIsInput`], even with
/// `force`), and an existing `output` without `force` ([`Error::OutputExists`]). "Same" means
/// the same canonical path (so `./a.wav`, `a.wav` and `dir/../a.wav` match, and symlinks are
/// followed) or, on unix, the same device and inode (hard links).
pub fn check_output(output: &Path, inputs: &[&Path], force: bool) -> Result<()> {
    if inputs.iter().any(|input| same_file(output, input)) {
        return Err(Error::OutputIsInput {
            path: output.to_path_buf(),
        });
    }
    // symlink_metadata: a dangling symlink at the output path is also an existing output.
    if !force && fs::symlink_metadata(output).is_ok() {
        return Err(Error::OutputExists {
            path: output.to_path_buf(),
        });
    }
    Ok(())
}

/// The canonical form of `path`, also when it does not exist yet (its folder must).
fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = fs::canonicalize(path) {
        return Some(c);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::canonicalize(parent).ok().map(|p| p.join(name))
}

fn same_file(a: &Path, b: &Path) -> bool {
    if let (Some(ca), Some(cb)) = (canonical(a), canonical(b)) {
        if ca == cb {
            return true;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    false
}

/// Distinguishes temporary files of concurrent writes from one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `.NAME.lathe-tmp-PID-N` next to `path`.
fn temp_path_for(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| Error::UnsupportedOutput {
        path: path.to_path_buf(),
        reason: "the output path has no file name".into(),
    })?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp_name = format!(
        ".{}.lathe-tmp-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(path.with_file_name(temp_name))
}

/// The temporary files being written now, and whether the process is shutting down (after
/// [`remove_temp_files`] no new one is started).
static IN_FLIGHT: Mutex<(Vec<PathBuf>, bool)> = Mutex::new((Vec::new(), false));

fn in_flight() -> std::sync::MutexGuard<'static, (Vec<PathBuf>, bool)> {
    // A panic while holding the lock leaves a list that is still right.
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every temporary file this process is writing and refuses new ones: for a signal
/// handler (SIGINT, SIGTERM) about to exit, so that an interrupted run leaves no partial file.
/// Returns the files removed.
pub fn remove_temp_files() -> Vec<PathBuf> {
    remove_registered(true, |_| true)
}

/// Removes the registered temporary files that `which` selects; `shut_down` also refuses
/// new temporary files from now on.
fn remove_registered(shut_down: bool, which: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut state = in_flight();
    state.1 |= shut_down;
    let (chosen, kept): (Vec<PathBuf>, Vec<PathBuf>) = std::mem::take(&mut state.0)
        .into_iter()
        .partition(|p| which(p));
    state.0 = kept;
    chosen
        .into_iter()
        .filter(|f| fs::remove_file(f).is_ok())
        .collect()
}

/// Removes lathe's stale temporary files for `path` (`.NAME.lathe-tmp-PID-N` next to it)
/// whose process no longer runs (checked in `/proc`; where there is no `/proc`, those older
/// than a day): what a killed run (SIGKILL, power loss) left behind. Best effort.
fn sweep_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.lathe-tmp-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let have_proc = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let stale = if have_proc {
            !Path::new(&format!("/proc/{pid}")).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 86_400)
        };
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// An output written and synced under a hidden temporary name next to its path
/// (`.NAME.lathe-tmp-PID-N`), not yet renamed to it: a job stages all its files (audio, report,
/// previews) and commits them together ([`commit_all`]), so a failure half way leaves none of
/// them under its final name. Dropped without a commit, the temporary file is removed.
#[must_use = "a staged file is removed unless committed"]
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    path: PathBuf,
    done: bool,
}

impl Staged {
    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the complete file is now (readable, e.g. to measure it before committing).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Renames the file to its final path (atomic on one file system) and makes the rename
    /// durable.
    pub fn commit(mut self) -> Result<()> {
        let write_err = |source: std::io::Error| Error::Write {
            path: self.path.clone(),
            source,
        };
        {
            // Under the lock: a signal's clean-up either removes the temporary file before
            // the rename (which then fails) or finds it renamed (a complete file).
            let mut state = in_flight();
            state.0.retain(|t| t != &self.temp);
            if state.1 {
                return Err(write_err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "interrupted",
                )));
            }
            fs::rename(&self.temp, &self.path).map_err(write_err)?;
        }
        self.done = true;
        sync_parent_dir(&self.path);
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            in_flight().0.retain(|t| t != &self.temp);
            // Best effort: the error that stopped the job is the one worth reporting.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Commits staged files in order. If one cannot be renamed, the rest are removed and the error
/// lists what was already written ([`Error::PartialOutputs`]; with nothing written yet, the
/// rename's own error).
pub fn commit_all(staged: Vec<Staged>) -> Result<()> {
    let mut written = Vec::new();
    let mut rest = staged.into_iter();
    for file in rest.by_ref() {
        let path = file.path.clone();
        match file.commit() {
            Ok(()) => written.push(path),
            Err(e) if written.is_empty() => return Err(e),
            Err(e) => {
                let not_written = std::iter::once(path)
                    .chain(rest.map(|f| f.path.clone()))
                    .collect();
                return Err(Error::PartialOutputs {
                    written,
                    not_written,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Runs `write` on a fresh temporary file next to `path` and syncs it: a [`Staged`] file. On
/// any error the temporary file is removed and `path` is left untouched. The temporary file is
/// registered for [`remove_temp_files`] while it exists; stale ones of earlier runs are swept
/// first ([`sweep_stale_temps`]).
fn stage_atomically(path: &Path, write: impl FnOnce(&File) -> Result<()>) -> Result<Staged> {
    sweep_stale_temps(path);
    let temp = temp_path_for(path)?;
    let write_err = |source: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = {
        let mut state = in_flight();
        if state.1 {
            return Err(write_err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "interrupted",
            )));
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(write_err)?;
        state.0.push(temp.clone());
        file
    };
    // From here the guard removes the temporary file on any error.
    let staged = Staged {
        temp,
        path: path.to_path_buf(),
        done: false,
    };
    write(&file)?;
    file.sync_all().map_err(write_err)?;
    Ok(staged)
}

/// [`stage_atomically`], then [`Staged::commit`] (the tests' shorthand).
#[cfg(test)]
fn write_atomically(path: &Path, write: impl FnOnce(&File) -> Result<()>) -> Result<()> {
    stage_atomically(path, write)?.commit()
}

/// Makes the rename itself durable on unix by syncing the folder; best effort (some file
/// systems refuse to open or sync a directory, and the data is already on disk).
fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// An encoder's complaint as a write error on the output `path`.
fn encode_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(reason.to_string()),
    }
}

fn write_wav(
    file: &File,
    path: &Path,
    audio: &AudioBuffer,
    sample_format: SampleFormat,
    seed: u64,
    tags: &Tags,
) -> Result<()> {
    let spec = hound::WavSpec {
        channels: audio.num_channels() as u16,
        sample_rate: audio.sample_rate_hz,
        bits_per_sample: sample_format.bits() as u16,
        sample_format: match sample_format {
            SampleFormat::Float32 => hound::SampleFormat::Float,
            _ => hound::SampleFormat::Int,
        },
    };
    // Errors name the output, not the temporary file (which is removed).
    let hound_err = |e: hound::Error| match e {
        hound::Error::IoError(source) => Error::Write {
            path: path.to_path_buf(),
            source,
        },
        other => encode_error(path, other),
    };
    // hound writes the header (its choice of WAVE_FORMAT_PCM or _EXTENSIBLE); lathe packs the
    // samples itself, blocks in parallel: hound's per-sample calls took 200 ms for 4 minutes
    // of 24-bit stereo, this takes 60 ms, most of it the file system's.
    // Float: lathe's own header (see `float_wav_header`).
    let mut header = Vec::new();
    if sample_format == SampleFormat::Float32 {
        header = float_wav_header(spec.channels, spec.sample_rate, audio.frames());
    } else {
        hound::WavWriter::new(std::io::Cursor::new(&mut header), spec)
            .and_then(hound::WavWriter::finalize)
            .map_err(hound_err)?;
    }
    // Tags go before the data chunk: symphonia (and so lathe) reads no chunk after it.
    if header.len() >= 8 {
        let at = header.len() - 8;
        header.splice(at..at, tags::riff_chunks(tags));
    }
    let channels = audio.num_channels();
    let bytes_per_sample = sample_format.bits() as usize / 8;
    let data_len = audio.frames() as u64 * (channels * bytes_per_sample) as u64;
    let pad = data_len % 2; // RIFF chunks are word aligned.
    let riff_len = (header.len() as u64 - 8) + data_len + pad;
    let n = header.len();
    if n < 44 || &header[n - 8..n - 4] != b"data" {
        return Err(encode_error(
            path,
            "hound wrote a WAV header lathe does not recognise (no data chunk at its end)",
        ));
    }
    if riff_len > u64::from(u32::MAX) {
        return Err(encode_error(
            path,
            format!(
                "{data_len} bytes of samples do not fit a WAV file (4 GiB): write a .flac, or a \
                 shorter file"
            ),
        ));
    }
    header[4..8].copy_from_slice(&(riff_len as u32).to_le_bytes());
    header[n - 4..].copy_from_slice(&(data_len as u32).to_le_bytes());

    let io_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&header).map_err(io_err)?;
    let mut rngs: Vec<DitherRng> = (0..channels)
        .map(|c| DitherRng::for_channel(seed, c))
        .collect();
    let frames = audio.frames();
    let frame_bytes = channels * bytes_per_sample;
    for start in (0..frames).step_by(WAV_WRITE_FRAMES) {
        let end = (start + WAV_WRITE_FRAMES).min(frames);
        // 16 bit: each channel's dither sequence runs on across writes (the same codes as one
        // call over the whole channel), so the codes are made here, in order. 24 bit and float
        // have no state: each block makes its own.
        let dithered: Option<Vec<Vec<i32>>> = (sample_format == SampleFormat::Int16).then(|| {
            audio
                .channels
                .iter()
                .zip(&mut rngs)
                .map(|(ch, rng)| quantize_tpdf(&ch[start..end], 16, rng))
                .collect()
        });
        let mut bytes = vec![0u8; (end - start) * frame_bytes];
        bytes
            .par_chunks_mut(WAV_BLOCK_FRAMES * frame_bytes)
            .enumerate()
            .for_each(|(b, block)| {
                let first = start + b * WAV_BLOCK_FRAMES;
                let n = block.len() / frame_bytes;
                let codes: Vec<Vec<i32>> = match (&dithered, sample_format) {
                    (_, SampleFormat::Float32) => Vec::new(),
                    (Some(d), _) => d.iter().map(|c| c[first - start..][..n].to_vec()).collect(),
                    // 24 bit: plain rounding, see the module docs for why no dither.
                    (None, _) => audio
                        .channels
                        .iter()
                        .map(|ch| quantize_round(&ch[first..first + n], 24))
                        .collect(),
                };
                for (f, frame) in block.chunks_exact_mut(frame_bytes).enumerate() {
                    for (c, sample) in frame.chunks_exact_mut(bytes_per_sample).enumerate() {
                        if sample_format == SampleFormat::Float32 {
                            sample.copy_from_slice(&audio.channels[c][first + f].to_le_bytes());
                        } else {
                            // The codes are clamped to the format's range: the low bytes are
                            // exact.
                            sample.copy_from_slice(&codes[c][f].to_le_bytes()[..bytes_per_sample]);
                        }
                    }
                }
            });
        out.write_all(&bytes).map_err(io_err)?;
    }
    if pad == 1 {
        out.write_all(&[0]).map_err(io_err)?;
    }
    out.flush().map_err(io_err)
}

/// The header of a 32-bit float WAV up to the data chunk's header (its length filled in by
/// the caller). Mono and stereo: a plain `WAVE_FORMAT_IEEE_FLOAT` fmt chunk with `cbSize` 0, as
/// the RIFF spec (Microsoft, "Multimedia Programming Interface and Data Specifications 1.0",
/// and its 1994 update for non-PCM formats) asks; sox reads hound's WAVE_FORMAT_EXTENSIBLE
/// float header with "wave header missing extended part of fmt chunk". More channels:
/// WAVE_FORMAT_EXTENSIBLE with the float subformat (a channel mask needs it). Both with the
/// `fact` chunk every non-PCM format must have.
fn float_wav_header(channels: u16, sample_rate_hz: u32, frames: usize) -> Vec<u8> {
    const WAVE_FORMAT_IEEE_FLOAT: u16 = 3;
    const WAVE_FORMAT_EXTENSIBLE: u16 = 0xfffe;
    // KSDATAFORMAT_SUBTYPE_IEEE_FLOAT, 00000003-0000-0010-8000-00aa00389b71.
    const SUBTYPE_IEEE_FLOAT: [u8; 16] = [
        3, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
    ];
    let block_align = channels * 4;
    let mut fmt = Vec::with_capacity(40);
    let tag = if channels <= 2 {
        WAVE_FORMAT_IEEE_FLOAT
    } else {
        WAVE_FORMAT_EXTENSIBLE
    };
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&sample_rate_hz.to_le_bytes());
    fmt.extend_from_slice(&(sample_rate_hz * u32::from(block_align)).to_le_bytes());
    fmt.extend_from_slice(&block_align.to_le_bytes());
    fmt.extend_from_slice(&32u16.to_le_bytes());
    if tag == WAVE_FORMAT_EXTENSIBLE {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&32u16.to_le_bytes());
        // Front left, front right, centre...: the first `channels` speaker bits.
        let mask: u32 = (1u32 << channels.min(18)) - 1;
        fmt.extend_from_slice(&mask.to_le_bytes());
        fmt.extend_from_slice(&SUBTYPE_IEEE_FLOAT);
    } else {
        fmt.extend_from_slice(&0u16.to_le_bytes());
    }
    let mut h = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    h.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    h.extend_from_slice(&fmt);
    h.extend_from_slice(b"fact");
    h.extend_from_slice(&4u32.to_le_bytes());
    // Frames per channel; a file this long is refused as over 4 GiB further on.
    h.extend_from_slice(&(frames.min(u32::MAX as usize) as u32).to_le_bytes());
    h.extend_from_slice(b"data\0\0\0\0");
    h
}

/// Frames packed per parallel task, and per write.
const WAV_BLOCK_FRAMES: usize = 1 << 14;
const WAV_WRITE_FRAMES: usize = 1 << 18;

/// FLAC block size lathe prefers (the reference encoder's default at 44.1/48 kHz).
const FLAC_BLOCK_FRAMES: usize = 4096;
/// Smallest block lathe writes; only the last block of a stream may be shorter.
const FLAC_MIN_BLOCK_FRAMES: usize = 64;

/// A fixed block size for `frames` whose last block is either full or at least
/// [`FLAC_MIN_BLOCK_FRAMES`] long (the LPC analysis of a handful of samples is not worth the
/// risk), stepping down from [`FLAC_BLOCK_FRAMES`]; a stream shorter than one block is one block.
fn flac_block_frames(frames: usize) -> usize {
    if frames <= FLAC_BLOCK_FRAMES {
        return frames.max(1);
    }
    (FLAC_MIN_BLOCK_FRAMES..=FLAC_BLOCK_FRAMES)
        .rev()
        .step_by(16)
        .find(|bs| {
            let rest = frames % bs;
            rest == 0 || rest >= FLAC_MIN_BLOCK_FRAMES
        })
        .unwrap_or(FLAC_BLOCK_FRAMES)
}

/// Blocks of FLAC quantized, encoded and written at a time (256 Ki frames at 4096).
const FLAC_WRITE_BLOCKS: usize = 64;

/// FLAC by lathe's frame encoder ([`super::flac`]: fixed predictors, stereo decorrelation,
/// 4- and 5-bit Rice parameters) in blocks of [`flac_block_frames`], the last holding exactly
/// the remaining samples. The MD5 in STREAMINFO covers exactly the written samples.
///
/// Streamed: [`FLAC_WRITE_BLOCKS`] blocks at a time are quantized (each channel's dither
/// sequence running on, as over the whole channel), encoded in parallel, added to the MD5
/// and written; STREAMINFO, whose frame sizes and MD5 are known only at the end, is written
/// last over its place at the start. Memory: a few MB beside the audio (it was three more
/// copies of the audio: its codes, their interleaving, the encoded stream twice); the same
/// bytes.
fn write_flac(
    mut file: &File,
    path: &Path,
    audio: &AudioBuffer,
    sample_format: SampleFormat,
    seed: u64,
    tags: &Tags,
) -> Result<()> {
    use flacenc::source::{Context, Fill};
    use std::io::{Seek, SeekFrom};

    let flac_err = |e: &dyn std::fmt::Debug| encode_error(path, format!("FLAC encoder: {e:?}"));
    let io_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let bits = sample_format.bits() as usize;
    let channels = audio.num_channels();
    let frames = audio.frames();
    let block = flac_block_frames(frames);
    // STREAMINFO's block sizes exclude the last block and must be >= 16 (RFC 9639, 8.2;
    // symphonia refuses smaller ones). A stream of one short block declares 64.
    let declared = block.max(FLAC_MIN_BLOCK_FRAMES);
    let stream_info = |frame_bytes: (u32, u32), md5: &[u8; 16]| {
        super::flac::stream_info(
            declared,
            frame_bytes,
            audio.sample_rate_hz,
            channels,
            bits as u32,
            frames as u64,
            md5,
        )
    };
    // "fLaC", STREAMINFO, the tags (block type 4: VORBIS_COMMENT, RFC 9639 8.6), the frames.
    let comment = (!tags.is_empty()).then(|| {
        let vendor = concat!("lathe ", env!("CARGO_PKG_VERSION"));
        tags::vorbis_comment(tags, vendor)
    });
    let block_header = |last: bool, kind: u8, len: usize| -> [u8; 4] {
        let len = len as u32;
        [
            u8::from(last) << 7 | kind,
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
        ]
    };
    // A placeholder of the same length; STREAMINFO starts after "fLaC" and its header.
    const STREAM_INFO_AT: u64 = 8;
    let placeholder = stream_info((0, 0), &[0; 16]);
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut head = Vec::with_capacity(4096);
    head.extend_from_slice(b"fLaC");
    head.extend_from_slice(&block_header(comment.is_none(), 0, placeholder.len()));
    head.extend_from_slice(&placeholder);
    if let Some(comment) = &comment {
        head.extend_from_slice(&block_header(true, 4, comment.len()));
        head.extend_from_slice(comment);
    }
    out.write_all(&head).map_err(io_err)?;

    // MD5 of the interleaved samples (RFC 9639 8.2), by flacenc's `Context`, fed in order one
    // frame at a time: it pads every fill with zeros up to its block size (here one frame).
    let mut md5 = Context::new(bits, channels, 1);
    let mut rngs: Vec<DitherRng> = (0..channels)
        .map(|c| DitherRng::for_channel(seed, c))
        .collect();
    let mut frame_bytes: Option<(u32, u32)> = None;
    let step = block * FLAC_WRITE_BLOCKS;
    for (chunk, start) in (0..frames).step_by(step).enumerate() {
        let end = (start + step).min(frames);
        let codes: Vec<Vec<i32>> = audio
            .channels
            .iter()
            .zip(&mut rngs)
            .map(|(ch, rng)| match sample_format {
                SampleFormat::Int16 => quantize_tpdf(&ch[start..end], 16, rng),
                // 24 bit: plain rounding, see the module docs for why no dither.
                SampleFormat::Int24 => quantize_round(&ch[start..end], 24),
                SampleFormat::Float32 => unreachable!("float samples are not quantized"),
            })
            .collect();
        let first_frame = (chunk * FLAC_WRITE_BLOCKS) as u64;
        let (encoded, min, max) =
            super::flac::encode_frames(&codes, bits as u32, block, first_frame);
        frame_bytes = Some(frame_bytes.map_or((min, max), |(a, b)| (a.min(min), b.max(max))));
        let mut interleaved = vec![0i32; (end - start) * channels];
        for (c, ch) in codes.iter().enumerate() {
            for (f, &v) in ch.iter().enumerate() {
                interleaved[f * channels + c] = v;
            }
        }
        for frame in interleaved.chunks_exact(channels) {
            md5.fill_interleaved(frame).map_err(|e| flac_err(&e))?;
        }
        out.write_all(&encoded).map_err(io_err)?;
    }
    out.flush().map_err(io_err)?;
    drop(out);
    let info = stream_info(frame_bytes.unwrap_or((0, 0)), &md5.md5_digest());
    file.seek(SeekFrom::Start(STREAM_INFO_AT))
        .and_then(|_| file.write_all(&info))
        .map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        let f = OutputFormat::from_path(Path::new("a/b.WAV"), None).unwrap();
        assert_eq!(f.container, Container::Wav);
        assert_eq!(f.sample_format, SampleFormat::Int24);
        let f = OutputFormat::from_path(Path::new("x.flac"), Some(SampleFormat::Int16)).unwrap();
        assert_eq!(
            (f.container, f.sample_format),
            (Container::Flac, SampleFormat::Int16)
        );
        assert!(matches!(
            OutputFormat::from_path(Path::new("x.flac"), Some(SampleFormat::Float32)),
            Err(Error::UnsupportedOutput { .. })
        ));
        assert!(matches!(
            OutputFormat::from_path(Path::new("x.mp3"), None),
            Err(Error::UnsupportedOutput { reason, .. }) if reason.contains(".mp3")
        ));
        assert!(matches!(
            OutputFormat::from_path(Path::new("noext"), None),
            Err(Error::UnsupportedOutput { .. })
        ));
    }

    #[test]
    fn stale_temps_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.wav");
        // PID 0 never names a user process; our own PID's temp (a concurrent write) stays.
        let dead = dir.path().join(".out.wav.lathe-tmp-0-7");
        let ours = dir
            .path()
            .join(format!(".out.wav.lathe-tmp-{}-999", std::process::id()));
        let other = dir.path().join(".other.wav.lathe-tmp-0-1");
        for p in [&dead, &ours, &other] {
            fs::write(p, b"partial").unwrap();
        }
        sweep_stale_temps(&out);
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists(), "a dead process's temp file stays");
        }
        assert!(ours.exists() && other.exists());
    }

    #[test]
    fn removing_temp_files_stops_a_write_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.wav");
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let out2 = out.clone();
        let writer = std::thread::spawn(move || {
            write_atomically(&out2, |mut f| {
                f.write_all(b"half").unwrap();
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                Ok(())
            })
        });
        started_rx.recv().unwrap();
        // Only this test's file, without the shut-down flag: other tests in this process
        // write too.
        let removed = remove_registered(false, |p| p.starts_with(dir.path()));
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert!(!removed[0].exists());
        go_tx.send(()).unwrap();
        assert!(writer.join().unwrap().is_err());
        assert!(!out.exists(), "an interrupted write left its output");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn staged_files_appear_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.wav");
        let b = dir.path().join("a.report.json");
        // Dropped before committing (the report failed): nothing left, not even temporaries.
        {
            let staged = stage_text(&a, "audio").unwrap();
            assert!(staged.temp_path().exists() && !a.exists());
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        // Committed together.
        let staged = vec![
            stage_text(&a, "audio").unwrap(),
            stage_text(&b, "{}").unwrap(),
        ];
        commit_all(staged).unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "audio");
        assert_eq!(fs::read_to_string(&b).unwrap(), "{}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
        // The second rename fails (its path became a non-empty folder): the error names what
        // was written and what was not, and no temporary file stays.
        let c = dir.path().join("c.wav");
        let d = dir.path().join("d.json");
        let staged = vec![
            stage_text(&c, "audio").unwrap(),
            stage_text(&d, "{}").unwrap(),
        ];
        fs::create_dir(&d).unwrap();
        fs::write(d.join("x"), b"x").unwrap();
        let e = commit_all(staged).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("c.wav") && msg.contains("d.json"), "{msg}");
        assert!(matches!(e, Error::PartialOutputs { .. }), "{e:?}");
        let temps = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("lathe-tmp"))
            .count();
        assert_eq!(temps, 0);
    }

    #[test]
    fn temp_name_is_hidden_and_in_the_same_folder() {
        let t = temp_path_for(Path::new("/some/dir/out.wav")).unwrap();
        assert_eq!(t.parent(), Some(Path::new("/some/dir")));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".out.wav.lathe-tmp-"), "{name}");
    }
}
