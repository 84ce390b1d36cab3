//! Tags (title, artist, album, ISRC, track number...): read from the mix, written to the master,
//! so a delivered file keeps what the producer typed in.
//!
//! - [`read_tags`] reads what symphonia finds in a file (FLAC and Ogg Vorbis comments, RIFF
//!   LIST/INFO, ID3v2 before the audio, MP4 atoms), plus an ID3v2 tag inside a WAV's `id3 `
//!   chunk, which symphonia does not look into. Only the keys of [`TagKey`] are kept.
//! - [`vorbis_comment`] is a FLAC VORBIS_COMMENT block body (RFC 9639 section 8.6, the Vorbis
//!   I comment header without its framing bit).
//! - [`riff_chunks`] are the WAV chunks: `LIST`/`INFO` (the Microsoft RIFF tags most players
//!   read) and an `id3 ` chunk with an ID3v2.4 tag, the only common place for an ISRC in a
//!   WAV (RIFF INFO's `ISRC` means "source", not the recording code).
//!
//! One table ([`KEYS`]) names every key in every format.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataBuilder, MetadataOptions, MetadataRevision, StandardTagKey};
use symphonia::core::probe::Hint;

use crate::error::{Error, Result};

/// The tags lathe carries from a mix to its master.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagKey {
    Title,
    Artist,
    Album,
    AlbumArtist,
    TrackNumber,
    TrackTotal,
    DiscNumber,
    DiscTotal,
    Date,
    Genre,
    Composer,
    Isrc,
    Comment,
    Copyright,
    Label,
}

/// One key's names: symphonia's standard key, the Vorbis comment field name, the RIFF INFO id
/// and the ID3v2.4 frame.
struct KeyNames {
    key: TagKey,
    symphonia: StandardTagKey,
    vorbis: &'static str,
    riff_info: Option<&'static [u8; 4]>,
    id3: Option<&'static [u8; 4]>,
}

/// Every key in every format. RIFF INFO ids as symphonia and ffmpeg read them (`IPRD`
/// "product" is the album, `IPRT` "part" the track number, `IFRM` the track total); ID3v2.4
/// frames per id3.org's "ID3 tag version 2.4.0 - Native Frames" (`TRCK` and `TPOS` carry
/// "number/total", so the totals have no frame of their own; the comment is a `COMM` frame).
const KEYS: &[KeyNames] = &[
    k(
        TagKey::Title,
        StandardTagKey::TrackTitle,
        "TITLE",
        Some(b"INAM"),
        Some(b"TIT2"),
    ),
    k(
        TagKey::Artist,
        StandardTagKey::Artist,
        "ARTIST",
        Some(b"IART"),
        Some(b"TPE1"),
    ),
    k(
        TagKey::Album,
        StandardTagKey::Album,
        "ALBUM",
        Some(b"IPRD"),
        Some(b"TALB"),
    ),
    k(
        TagKey::AlbumArtist,
        StandardTagKey::AlbumArtist,
        "ALBUMARTIST",
        None,
        Some(b"TPE2"),
    ),
    k(
        TagKey::TrackNumber,
        StandardTagKey::TrackNumber,
        "TRACKNUMBER",
        Some(b"IPRT"),
        Some(b"TRCK"),
    ),
    k(
        TagKey::TrackTotal,
        StandardTagKey::TrackTotal,
        "TRACKTOTAL",
        Some(b"IFRM"),
        None,
    ),
    k(
        TagKey::DiscNumber,
        StandardTagKey::DiscNumber,
        "DISCNUMBER",
        None,
        Some(b"TPOS"),
    ),
    k(
        TagKey::DiscTotal,
        StandardTagKey::DiscTotal,
        "DISCTOTAL",
        None,
        None,
    ),
    k(
        TagKey::Date,
        StandardTagKey::Date,
        "DATE",
        Some(b"ICRD"),
        Some(b"TDRC"),
    ),
    k(
        TagKey::Genre,
        StandardTagKey::Genre,
        "GENRE",
        Some(b"IGNR"),
        Some(b"TCON"),
    ),
    k(
        TagKey::Composer,
        StandardTagKey::Composer,
        "COMPOSER",
        Some(b"IMUS"),
        Some(b"TCOM"),
    ),
    k(
        TagKey::Isrc,
        StandardTagKey::IdentIsrc,
        "ISRC",
        None,
        Some(b"TSRC"),
    ),
    k(
        TagKey::Comment,
        StandardTagKey::Comment,
        "COMMENT",
        Some(b"ICMT"),
        Some(b"COMM"),
    ),
    k(
        TagKey::Copyright,
        StandardTagKey::Copyright,
        "COPYRIGHT",
        Some(b"ICOP"),
        Some(b"TCOP"),
    ),
    k(
        TagKey::Label,
        StandardTagKey::Label,
        "LABEL",
        None,
        Some(b"TPUB"),
    ),
];

const fn k(
    key: TagKey,
    symphonia: StandardTagKey,
    vorbis: &'static str,
    riff_info: Option<&'static [u8; 4]>,
    id3: Option<&'static [u8; 4]>,
) -> KeyNames {
    KeyNames {
        key,
        symphonia,
        vorbis,
        riff_info,
        id3,
    }
}

fn names(key: TagKey) -> &'static KeyNames {
    KEYS.iter()
        .find(|n| n.key == key)
        .expect("every TagKey is in KEYS")
}

impl TagKey {
    /// The Vorbis comment field name (`TITLE`, `ISRC`...).
    pub fn vorbis_name(self) -> &'static str {
        names(self).vorbis
    }
}

/// A file's tags in the order found; a key appears once (the first value wins).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tags {
    pub entries: Vec<(TagKey, String)>,
}

impl Tags {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: TagKey) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Adds `value` under `key` unless the key is there already or the value is blank.
    pub fn insert(&mut self, key: TagKey, value: &str) {
        let value = value.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if !value.is_empty() && self.get(key).is_none() {
            self.entries.push((key, value.to_string()));
        }
    }

    /// Adds a "number/total" value (ID3's `TRCK`, `TPOS`) as a number and a total.
    fn insert_numbered(&mut self, number: TagKey, total: TagKey, value: &str) {
        match value.split_once('/') {
            Some((n, t)) => {
                self.insert(number, n);
                self.insert(total, t);
            }
            None => self.insert(number, value),
        }
    }

    fn add_revision(&mut self, rev: &MetadataRevision) {
        for tag in rev.tags() {
            let Some(std) = tag.std_key else { continue };
            let Some(n) = KEYS.iter().find(|n| n.symphonia == std) else {
                continue;
            };
            let value = tag.value.to_string();
            match n.key {
                TagKey::TrackNumber => {
                    self.insert_numbered(TagKey::TrackNumber, TagKey::TrackTotal, &value)
                }
                TagKey::DiscNumber => {
                    self.insert_numbered(TagKey::DiscNumber, TagKey::DiscTotal, &value)
                }
                key => self.insert(key, &value),
            }
        }
    }
}

/// The tags of the file at `path` (see the module docs); a file without tags gives none.
pub fn read_tags(path: &Path) -> Result<Tags> {
    let read_err = |source: std::io::Error| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut tags = Tags::default();
    // A file symphonia cannot open has no tags lathe can read; decoding reports the problem.
    if let Ok(mut probed) = symphonia::default::get_probe().format(
        &hint,
        mss,
        &FormatOptions::default(),
        &MetadataOptions::default(),
    ) {
        if let Some(rev) = probed.format.metadata().current() {
            tags.add_revision(rev);
        }
        if let Some(meta) = probed.metadata.get() {
            if let Some(rev) = meta.current() {
                tags.add_revision(rev);
            }
        }
    }
    if let Some(id3) = wav_id3_chunk(path).map_err(read_err)? {
        let mut reader = symphonia::core::io::BufReader::new(&id3);
        let mut builder = MetadataBuilder::new();
        if symphonia_metadata::id3v2::read_id3v2(&mut reader, &mut builder).is_ok() {
            tags.add_revision(&builder.metadata());
        }
    }
    Ok(tags)
}

/// The body of a WAV's `id3 ` (or `ID3 `) chunk, if the file is a RIFF WAVE that has one.
fn wav_id3_chunk(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 12];
    if file.read_exact(&mut head).is_err() || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    let file_len = file.metadata()?.len();
    let mut pos = 12u64;
    let mut chunk = [0u8; 8];
    while pos + 8 <= file_len {
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut chunk)?;
        let len = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        if &chunk[0..4] == b"id3 " || &chunk[0..4] == b"ID3 " {
            // A tag is small; a length past the end of the file is a broken chunk.
            if len > file_len - pos - 8 {
                return Ok(None);
            }
            let mut body = vec![0u8; len as usize];
            file.read_exact(&mut body)?;
            return Ok(Some(body));
        }
        pos += 8 + len + (len & 1);
    }
    Ok(None)
}

/// The body of a FLAC VORBIS_COMMENT metadata block for `tags`, with `vendor` as the vendor
/// string. Every length is a little-endian u32 (RFC 9639 section 8.6).
pub fn vorbis_comment(tags: &Tags, vendor: &str) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    }
    let mut out = Vec::new();
    put(&mut out, vendor.as_bytes());
    out.extend_from_slice(&(tags.entries.len() as u32).to_le_bytes());
    for (key, value) in &tags.entries {
        put(
            &mut out,
            format!("{}={value}", key.vorbis_name()).as_bytes(),
        );
    }
    out
}

/// The WAV chunks for `tags`: `LIST`/`INFO` with the keys RIFF has an id for, then an `id3 `
/// chunk with every key (ID3v2.4, UTF-8 text frames). Empty for no tags. Each chunk is padded
/// to an even length, as RIFF requires.
pub fn riff_chunks(tags: &Tags) -> Vec<u8> {
    if tags.is_empty() {
        return Vec::new();
    }
    let mut info = b"INFO".to_vec();
    for (key, value) in &tags.entries {
        if let Some(id) = names(*key).riff_info {
            // INFO strings are NUL-terminated (RIFF "ZSTR").
            let mut text = value.as_bytes().to_vec();
            text.push(0);
            push_chunk(&mut info, id, &text);
        }
    }
    let mut out = Vec::new();
    if info.len() > 4 {
        push_chunk(&mut out, b"LIST", &info);
    }
    push_chunk(&mut out, b"id3 ", &id3v2_tag(tags));
    out
}

fn push_chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

/// An ID3v2.4 tag: a 10-byte header and one frame per key, text in UTF-8 (encoding byte 3).
fn id3v2_tag(tags: &Tags) -> Vec<u8> {
    let mut frames = Vec::new();
    let numbered = |n: TagKey, t: TagKey| {
        tags.get(n).map(|n| match tags.get(t) {
            Some(t) => format!("{n}/{t}"),
            None => n.to_string(),
        })
    };
    for (key, value) in &tags.entries {
        let Some(id) = names(*key).id3 else { continue };
        let mut body = vec![3u8];
        match key {
            TagKey::Comment => {
                // COMM: encoding, language, empty description (NUL), text.
                body.extend_from_slice(b"eng\0");
                body.extend_from_slice(value.as_bytes());
            }
            TagKey::TrackNumber => body.extend_from_slice(
                numbered(TagKey::TrackNumber, TagKey::TrackTotal)
                    .unwrap_or_default()
                    .as_bytes(),
            ),
            TagKey::DiscNumber => body.extend_from_slice(
                numbered(TagKey::DiscNumber, TagKey::DiscTotal)
                    .unwrap_or_default()
                    .as_bytes(),
            ),
            _ => body.extend_from_slice(value.as_bytes()),
        }
        frames.extend_from_slice(id);
        frames.extend_from_slice(&synchsafe(body.len() as u32));
        frames.extend_from_slice(&[0, 0]);
        frames.extend_from_slice(&body);
    }
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    tag.extend_from_slice(&synchsafe(frames.len() as u32));
    tag.extend_from_slice(&frames);
    tag
}

/// A 28-bit integer as four 7-bit bytes (ID3v2.4 section 6.2).
fn synchsafe(n: u32) -> [u8; 4] {
    [
        ((n >> 21) & 0x7f) as u8,
        ((n >> 14) & 0x7f) as u8,
        ((n >> 7) & 0x7f) as u8,
        (n & 0x7f) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_the_table_once() {
        for n in KEYS {
            assert_eq!(KEYS.iter().filter(|m| m.key == n.key).count(), 1);
            assert_eq!(names(n.key).vorbis, n.vorbis);
        }
    }

    #[test]
    fn synchsafe_matches_the_spec_example() {
        // ID3v2.4 section 6.2: 255 (0xff) is 0x00 0x00 0x01 0x7f.
        assert_eq!(synchsafe(255), [0, 0, 1, 0x7f]);
    }

    #[test]
    fn vorbis_comment_layout() {
        let mut t = Tags::default();
        t.insert(TagKey::Title, "Song");
        let b = vorbis_comment(&t, "v");
        assert_eq!(b, b"\x01\0\0\0v\x01\0\0\0\x0a\0\0\0TITLE=Song");
    }
}
