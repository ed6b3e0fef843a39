//! Decodes UTF-16 files to UTF-8 as they are read. Windows tools write UTF-16: Windows
//! PowerShell 5.1's `>` redirection and `Out-File`, and Excel's "Unicode Text". The readers
//! then see UTF-8 text, while the file's SHA-256 is still taken over the bytes on disk.

use std::io::{self, Read};

/// The byte order of a UTF-16 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

/// Recognises UTF-16 from the first bytes: a byte order mark, or text whose first two
/// characters are ASCII with a zero byte beside each (a file without a mark).
pub fn detect(head: &[u8]) -> Option<ByteOrder> {
    match head {
        [0xff, 0xfe, ..] => Some(ByteOrder::Little),
        [0xfe, 0xff, ..] => Some(ByteOrder::Big),
        [a, 0, b, 0, ..] if a.is_ascii() && b.is_ascii() && *a != 0 && *b != 0 => Some(ByteOrder::Little),
        [0, a, 0, b, ..] if a.is_ascii() && b.is_ascii() && *a != 0 && *b != 0 => Some(ByteOrder::Big),
        _ => None,
    }
}

/// A reader that yields the UTF-8 encoding of the UTF-16 text read from `inner`. A byte order
/// mark becomes the UTF-8 mark, which the readers skip. An unpaired surrogate or a lone last
/// byte becomes U+FFFD, the replacement character.
pub struct Utf16Reader<R> {
    inner: R,
    order: ByteOrder,
    /// UTF-8 output not yet handed out, from `position` on.
    decoded: Vec<u8>,
    position: usize,
    /// A byte of a code unit whose second byte has not been read yet.
    odd_byte: Option<u8>,
    /// A high surrogate waiting for its low surrogate.
    high_surrogate: Option<u16>,
    finished: bool,
}

impl<R: Read> Utf16Reader<R> {
    pub fn new(inner: R, order: ByteOrder) -> Self {
        Utf16Reader { inner, order, decoded: Vec::new(), position: 0, odd_byte: None, high_surrogate: None, finished: false }
    }

    /// Reads the next block of `inner` and decodes it into `decoded`.
    fn fill(&mut self) -> io::Result<()> {
        let mut raw = vec![0u8; 64 * 1024];
        let start = usize::from(self.odd_byte.is_some());
        if let Some(byte) = self.odd_byte.take() {
            raw[0] = byte;
        }
        let read = self.inner.read(&mut raw[start..])?;
        self.decoded.clear();
        self.position = 0;
        if read == 0 {
            self.finished = true;
            if start == 1 || self.high_surrogate.take().is_some() {
                self.push(char::REPLACEMENT_CHARACTER);
            }
            return Ok(());
        }
        let end = start + read;
        let whole = end - end % 2;
        if whole < end {
            self.odd_byte = Some(raw[end - 1]);
        }
        for pair in raw[..whole].chunks_exact(2) {
            let unit = match self.order {
                ByteOrder::Little => u16::from_le_bytes([pair[0], pair[1]]),
                ByteOrder::Big => u16::from_be_bytes([pair[0], pair[1]]),
            };
            self.decode(unit);
        }
        Ok(())
    }

    fn decode(&mut self, unit: u16) {
        if let Some(high) = self.high_surrogate.take() {
            if (0xdc00..=0xdfff).contains(&unit) {
                let code = 0x10000 + ((u32::from(high) - 0xd800) << 10) + (u32::from(unit) - 0xdc00);
                self.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                return;
            }
            self.push(char::REPLACEMENT_CHARACTER);
        }
        match unit {
            0xd800..=0xdbff => self.high_surrogate = Some(unit),
            0xdc00..=0xdfff => self.push(char::REPLACEMENT_CHARACTER),
            _ => self.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
    }

    fn push(&mut self, c: char) {
        let mut buffer = [0u8; 4];
        self.decoded.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position == self.decoded.len() {
            if self.finished {
                return Ok(0);
            }
            self.fill()?;
        }
        let count = out.len().min(self.decoded.len() - self.position);
        out[..count].copy_from_slice(&self.decoded[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str, order: ByteOrder, mark: bool) -> Vec<u8> {
        let units = mark.then_some(0xfeff).into_iter().chain(text.encode_utf16());
        units
            .flat_map(|unit| match order {
                ByteOrder::Little => unit.to_le_bytes(),
                ByteOrder::Big => unit.to_be_bytes(),
            })
            .collect()
    }

    /// Reads `bytes` through the decoder a few bytes at a time, so that code units and
    /// surrogate pairs are split across reads.
    fn decode(bytes: &[u8], order: ByteOrder) -> String {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let count = out.len().min(self.0.len()).min(3);
                out[..count].copy_from_slice(&self.0[..count]);
                self.0 = &self.0[count..];
                Ok(count)
            }
        }
        let mut text = String::new();
        Utf16Reader::new(Trickle(bytes), order).read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn both_byte_orders_decode() {
        let text = "TimeGenerated [UTC],Uri\n\"3/14/2026\",https://acct/c/Zoë 🦀.exe\n";
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let bytes = encode(text, order, true);
            assert_eq!(detect(&bytes), Some(order));
            assert_eq!(decode(&bytes, order), format!("\u{feff}{text}"));
            let unmarked = encode(text, order, false);
            assert_eq!(detect(&unmarked), Some(order), "without a byte order mark");
            assert_eq!(decode(&unmarked, order), text);
        }
    }

    #[test]
    fn utf8_is_not_utf16() {
        assert_eq!(detect(b"TimeGenerated,Uri\n"), None);
        assert_eq!(detect(b"\xef\xbb\xbf{\"a\":1}"), None);
        assert_eq!(detect(b"\x1f\x8b\x08\x00"), None);
    }

    #[test]
    fn broken_units_become_replacement_characters() {
        // A lone low surrogate, a high surrogate followed by a letter, and a lone last byte.
        let bytes = [0x00, 0xdc, 0x00, 0xd8, 0x41, 0x00, 0x42];
        assert_eq!(decode(&bytes, ByteOrder::Little), "\u{fffd}\u{fffd}A\u{fffd}");
    }
}
