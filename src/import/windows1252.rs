//! Decodes Windows-1252 text to UTF-8 as it is read. Excel on Windows saves "CSV (Comma
//! delimited)" in the system's ANSI code page, which is Windows-1252 for Western European
//! languages, so a name such as `résumé.docx` arrives as bytes that are not UTF-8. The readers
//! then see UTF-8 text, while the file's SHA-256 is still taken over the bytes on disk.

use std::io::{self, Read};

/// The characters of bytes 0x80 to 0x9F, where Windows-1252 differs from ISO 8859-1. The five
/// bytes that Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) become the control
/// character of the same number, as the WHATWG Encoding Standard maps them, so no byte is lost.
const HIGH_CONTROLS: [char; 32] = [
    '\u{20ac}', '\u{0081}', '\u{201a}', '\u{0192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02c6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008d}', '\u{017d}', '\u{008f}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02dc}', '\u{2122}', '\u{0161}', '\u{203a}', '\u{0153}', '\u{009d}', '\u{017e}', '\u{0178}',
];

/// Returns the character of one Windows-1252 byte.
fn decode(byte: u8) -> char {
    match byte {
        0x80..=0x9f => HIGH_CONTROLS[usize::from(byte - 0x80)],
        // ASCII, and 0xA0 to 0xFF as in ISO 8859-1, are the code points of the same number.
        _ => char::from(byte),
    }
}

/// A reader that yields the UTF-8 encoding of the Windows-1252 text read from `inner`.
pub struct Windows1252Reader<R> {
    inner: R,
    /// UTF-8 output not yet handed out, from `position` on.
    decoded: Vec<u8>,
    position: usize,
    /// The non-ASCII bytes that ended the last chunk read, so that a UTF-8 character cut by the
    /// chunk's end is seen whole by the check of the next chunk.
    tail: Vec<u8>,
}

impl<R: Read> Windows1252Reader<R> {
    pub fn new(inner: R) -> Self {
        Windows1252Reader { inner, decoded: Vec::new(), position: 0, tail: Vec::new() }
    }
}

impl<R: Read> Read for Windows1252Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.decoded.len() {
            let mut raw = [0u8; 64 * 1024];
            let read = self.inner.read(&mut raw)?;
            let mut checked = std::mem::take(&mut self.tail);
            checked.extend_from_slice(&raw[..read]);
            let trailing = raw[..read].iter().rev().take(3).take_while(|byte| !byte.is_ascii()).count();
            self.tail = raw[read - trailing..read].to_vec();
            if looks_like_utf8(&checked) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the file is UTF-8 (its non-ASCII bytes are UTF-8 characters), and `--encoding windows-1252` would \
                     misread them: import it without that option",
                ));
            }
            self.decoded.clear();
            self.position = 0;
            let mut utf8 = [0u8; 4];
            for &byte in &raw[..read] {
                if byte.is_ascii() {
                    self.decoded.push(byte);
                } else {
                    self.decoded.extend_from_slice(decode(byte).encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        let count = (&self.decoded[self.position..]).read(buf)?;
        self.position += count;
        Ok(count)
    }
}

/// Tells whether a chunk has non-ASCII bytes and all of them form UTF-8 characters, allowing
/// for one cut at the chunk's end. In Windows-1252 text a non-ASCII letter is one byte between
/// ASCII ones, which is not valid UTF-8, so such a chunk is UTF-8 text.
fn looks_like_utf8(chunk: &[u8]) -> bool {
    if chunk.is_ascii() {
        return false;
    }
    match std::str::from_utf8(chunk) {
        Ok(_) => true,
        // A character cut by the chunk's end, after valid text with non-ASCII in it.
        Err(err) => err.error_len().is_none() && !chunk[..err.valid_up_to()].is_ascii(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> String {
        let mut text = String::new();
        Windows1252Reader::new(bytes).read_to_string(&mut text).unwrap();
        text
    }

    /// The expected text is Python's `bytes(range(0x80, 0x100)).decode("cp1252")`, with the
    /// five bytes that Python leaves undefined written as the control characters of the same
    /// number.
    #[test]
    fn every_high_byte_decodes() {
        let bytes: Vec<u8> = (0x80..=0xff).collect();
        let expected = "€\u{81}‚ƒ„…†‡ˆ‰Š‹Œ\u{8d}Ž\u{8f}\u{90}‘’“”•–—˜™š›œ\u{9d}žŸ\u{a0}¡¢£¤¥¦§¨©ª«¬\u{ad}®¯°±²³´µ¶·¸¹º»¼½¾¿\
                        ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ";
        assert_eq!(decode_all(&bytes), expected);
    }

    #[test]
    fn utf8_text_is_refused() {
        let mut text = String::new();
        let error = Windows1252Reader::new("x;/acct/c/résumé.docx\n".as_bytes()).read_to_string(&mut text).unwrap_err();
        assert!(error.to_string().starts_with("the file is UTF-8"), "{error}");
        // A UTF-8 character cut by the end of the chunk is still UTF-8.
        assert!(looks_like_utf8(&"é€".as_bytes()[..4]));
        assert!(!looks_like_utf8(b"plain ASCII"));
        assert!(!looks_like_utf8(b"r\xe9sum\xe9"));
    }

    /// A reader that hands out at most three bytes per read, so that `é` (two bytes in UTF-8)
    /// is cut between two chunks.
    struct Dribble<'a>(&'a [u8]);

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let count = self.0.len().min(buf.len()).min(3);
            buf[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }

    #[test]
    fn utf8_cut_between_chunks_is_refused() {
        let mut text = String::new();
        let error = Windows1252Reader::new(Dribble("ab\u{e9}".as_bytes())).read_to_string(&mut text).unwrap_err();
        assert!(error.to_string().starts_with("the file is UTF-8"), "{error}");
    }

    #[test]
    fn ascii_passes_through() {
        assert_eq!(decode_all(b"TimeGenerated;ObjectKey\r\nx;/acct/c/r\xe9sum\xe9.docx\r\n"), "TimeGenerated;ObjectKey\r\nx;/acct/c/résumé.docx\r\n");
    }
}
