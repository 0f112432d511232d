//! Turning the bytes of a text file into UTF-8 without reading the whole file.
//!
//! The encoding is decided once, on a prefix: a BOM settles it; otherwise a prefix that is
//! valid UTF-8 means UTF-8, and anything else means Windows-1252 (what Excel on Windows
//! writes for "CSV" in Western locales, and a decoder that accepts every byte).
//!
//! UTF-8 and Windows-1252 are both ASCII-compatible, so the CSV parser can split raw
//! bytes on delimiters and quotes, and each *field* is decoded afterwards. That keeps a
//! late surprise contained: files concatenated from two exports mix encodings, so a field
//! that is not valid UTF-8 is read as Windows-1252, and in a Windows-1252 file a field
//! that *is* valid non-ASCII UTF-8 is read as UTF-8 (legitimate Windows-1252 text almost
//! never forms valid multi-byte UTF-8 sequences). Nothing fails and nothing is lost.
//! UTF-16 (Excel's "Unicode text" export) is not ASCII-compatible, so it is transcoded to
//! UTF-8 as a stream by [`DecodeReader`] before parsing.

use std::borrow::Cow;
use std::io::{self, Read};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_8, WINDOWS_1252};

/// How many bytes are inspected to choose the encoding and the delimiter.
pub(crate) const PREFIX_LEN: usize = 64 * 1024;

/// What the prefix says about the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detected {
    /// UTF-8; `bom_len` bytes of BOM to skip (0 or 3).
    Utf8 { bom_len: usize },
    /// Not UTF-8 and no BOM: single-byte Windows-1252.
    Windows1252,
    /// UTF-16 (LE or BE) announced by a BOM of `bom_len` bytes.
    Utf16 {
        encoding: &'static Encoding,
        bom_len: usize,
    },
}

/// Chooses the encoding from the first bytes of a file. `is_whole_file` says whether the
/// prefix is all there is: if not, a multi-byte character cut at the end of the prefix is
/// not evidence against UTF-8.
pub(crate) fn detect(prefix: &[u8], is_whole_file: bool) -> Detected {
    if let Some((encoding, bom_len)) = Encoding::for_bom(prefix) {
        return if encoding == UTF_8 {
            Detected::Utf8 { bom_len }
        } else {
            Detected::Utf16 { encoding, bom_len }
        };
    }
    if let Some(encoding) = bomless_utf16(prefix) {
        return Detected::Utf16 {
            encoding,
            bom_len: 0,
        };
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => Detected::Utf8 { bom_len: 0 },
        // `error_len() == None`: the bytes end mid-character, which a cut prefix may do.
        Err(e) if e.error_len().is_none() && !is_whole_file => Detected::Utf8 { bom_len: 0 },
        Err(_) => Detected::Windows1252,
    }
}

/// UTF-16 without a BOM is still valid UTF-8 byte-wise (ASCII letters with NULs between
/// them), so it must be caught before the UTF-8 check: mostly-ASCII UTF-16 text has a
/// zero in nearly every other byte, which no real CSV has.
fn bomless_utf16(prefix: &[u8]) -> Option<&'static Encoding> {
    let sample = &prefix[..prefix.len().min(1024) & !1];
    let pairs = sample.len() / 2;
    if pairs < 4 {
        return None;
    }
    let zero_at = |parity: usize| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zero_at(0), zero_at(1));
    if odd * 10 >= pairs * 7 && even == 0 {
        Some(encoding_rs::UTF_16LE)
    } else if even * 10 >= pairs * 7 && odd == 0 {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// What the prefix led us to expect of each field's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldDecoding {
    /// UTF-8 (natively, or transcoded from UTF-16).
    Utf8,
    /// Windows-1252.
    Windows1252,
}

/// Decodes one field: valid UTF-8 as UTF-8, anything else as Windows-1252. Returns the
/// text and whether the field contradicted `expected` (the caller logs that once).
pub(crate) fn decode_field(bytes: &[u8], expected: FieldDecoding) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let surprise = expected == FieldDecoding::Windows1252 && !text.is_ascii();
            (text.to_owned(), surprise)
        }
        Err(_) => (
            windows_1252(bytes).into_owned(),
            expected == FieldDecoding::Utf8,
        ),
    }
}

fn windows_1252(bytes: &[u8]) -> Cow<'_, str> {
    // Windows-1252 maps every byte, so this never loses data.
    WINDOWS_1252.decode_without_bom_handling(bytes).0
}

/// The prefix as text, for the delimiter sniffer. Lossy is fine here: only ASCII
/// delimiters and quotes are counted.
pub(crate) fn prefix_text(prefix: &[u8], detected: Detected) -> Cow<'_, str> {
    match detected {
        Detected::Utf8 { bom_len } => String::from_utf8_lossy(&prefix[bom_len.min(prefix.len())..]),
        Detected::Windows1252 => windows_1252(prefix),
        Detected::Utf16 { encoding, bom_len } => {
            encoding
                .decode_without_bom_handling(&prefix[bom_len.min(prefix.len())..])
                .0
        }
    }
}

/// A `Read` adapter that transcodes any encoding_rs encoding to UTF-8 in bounded memory.
/// Malformed input becomes U+FFFD rather than an error: a bad byte in one cell should not
/// sink a 100 000-row file.
pub(crate) struct DecodeReader<R> {
    inner: R,
    decoder: Decoder,
    input: Vec<u8>,
    in_start: usize,
    in_end: usize,
    input_done: bool,
    output: Vec<u8>,
    out_start: usize,
    out_end: usize,
    finished: bool,
}

impl<R: Read> DecodeReader<R> {
    const BUF: usize = 16 * 1024;

    /// `inner` must start after any BOM: the decoder does no BOM handling.
    pub(crate) fn new(inner: R, encoding: &'static Encoding) -> Self {
        DecodeReader {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            input: vec![0; Self::BUF],
            in_start: 0,
            in_end: 0,
            input_done: false,
            // Room for the worst-case expansion of a full input buffer, so every decode
            // call makes progress.
            output: vec![0; Self::BUF * 3 + 16],
            out_start: 0,
            out_end: 0,
            finished: false,
        }
    }
}

impl<R: Read> Read for DecodeReader<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = dst.len().min(self.out_end - self.out_start);
                dst[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.finished || dst.is_empty() {
                return Ok(0);
            }
            if self.in_start == self.in_end && !self.input_done {
                let n = loop {
                    match self.inner.read(&mut self.input) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                self.in_start = 0;
                self.in_end = n;
                self.input_done = n == 0;
            }
            let (result, read, written, _malformed) = self.decoder.decode_to_utf8(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                self.input_done,
            );
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.input_done && result == CoderResult::InputEmpty {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_decides_first() {
        assert_eq!(
            detect(b"\xEF\xBB\xBFa,b", true),
            Detected::Utf8 { bom_len: 3 }
        );
        assert_eq!(
            detect(b"\xFF\xFEa\x00", true),
            Detected::Utf16 {
                encoding: encoding_rs::UTF_16LE,
                bom_len: 2
            }
        );
    }

    #[test]
    fn utf16_without_bom_is_recognised_by_its_zero_bytes() {
        let le: Vec<u8> = "name\tmail\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let be: Vec<u8> = "name\tmail\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(
            detect(&le, true),
            Detected::Utf16 {
                encoding: encoding_rs::UTF_16LE,
                bom_len: 0
            }
        );
        assert_eq!(
            detect(&be, true),
            Detected::Utf16 {
                encoding: encoding_rs::UTF_16BE,
                bom_len: 0
            }
        );
        assert_eq!(detect(b"name,mail\n", true), Detected::Utf8 { bom_len: 0 });
    }

    #[test]
    fn invalid_utf8_means_windows_1252() {
        assert_eq!(detect(b"name\nM\xFCller", true), Detected::Windows1252);
        assert_eq!(
            detect("name\nMüller".as_bytes(), true),
            Detected::Utf8 { bom_len: 0 }
        );
    }

    #[test]
    fn a_character_cut_by_the_prefix_is_still_utf8() {
        let bytes = "Müller".as_bytes();
        let cut = &bytes[..2]; // "M" + first byte of "ü"
        assert_eq!(detect(cut, false), Detected::Utf8 { bom_len: 0 });
        assert_eq!(detect(cut, true), Detected::Windows1252);
    }

    #[test]
    fn fields_fall_back_to_windows_1252_one_by_one() {
        assert_eq!(
            decode_field("Café".as_bytes(), FieldDecoding::Utf8),
            ("Café".to_string(), false)
        );
        assert_eq!(
            decode_field(b"Caf\xE9", FieldDecoding::Utf8),
            ("Café".to_string(), true)
        );
        assert_eq!(
            decode_field(b"\x80 5", FieldDecoding::Windows1252),
            ("€ 5".to_string(), false)
        );
        assert_eq!(
            decode_field("Zoë".as_bytes(), FieldDecoding::Windows1252),
            ("Zoë".to_string(), true)
        );
        assert_eq!(
            decode_field(b"plain", FieldDecoding::Windows1252),
            ("plain".to_string(), false)
        );
    }

    #[test]
    fn decode_reader_transcodes_utf16_across_small_reads() -> io::Result<()> {
        let text = "name\tmail\nMüller\tm@ü.de\n".repeat(5000);
        let mut bytes = Vec::new();
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let mut reader = DecodeReader::new(&bytes[..], encoding_rs::UTF_16LE);
        let mut out = Vec::new();
        let mut chunk = [0u8; 7];
        loop {
            let n = reader.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(String::from_utf8_lossy(&out), text);
        Ok(())
    }

    #[test]
    fn decode_reader_replaces_a_dangling_half_character() -> io::Result<()> {
        let bytes = [b'a', 0, b'b'];
        let mut out = String::new();
        DecodeReader::new(&bytes[..], encoding_rs::UTF_16LE).read_to_string(&mut out)?;
        assert_eq!(out, "a\u{FFFD}");
        Ok(())
    }
}
