//! Reads a gzip file member by member, as GNU gzip does: members written one after another
//! are one stream, and zero bytes after the last member (padding from tape or block-sized
//! copies) are ignored. Any other bytes after a member are an error that gives their offset.

use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;

/// The decompressed bytes of every member of a gzip stream.
pub struct GzipMembers<R: BufRead> {
    decoder: Option<GzDecoder<Counting<R>>>,
    /// Set when the input ended inside a member, as a cut-off download or copy does.
    cut_off: bool,
}

impl<R: BufRead> GzipMembers<R> {
    pub fn new(input: R) -> Self {
        GzipMembers { decoder: Some(GzDecoder::new(Counting::new(input))), cut_off: false }
    }

    /// Tells whether the compressed input ended inside a member. The bytes decompressed
    /// before the cut were returned; what followed them is missing.
    pub fn was_cut_off(&self) -> bool {
        self.cut_off
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(decoder) = self.decoder.as_mut() else { return Ok(0) };
            let n = match decoder.read(buf) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    self.cut_off = true;
                    self.decoder = None;
                    return Ok(0);
                }
                Err(err) => return Err(err),
            };
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The member ended. The bufread decoder has consumed exactly its bytes.
            let mut input = self.decoder.take().expect("decoder checked above").into_inner();
            if next_member_starts(&mut input)? {
                self.decoder = Some(GzDecoder::new(input));
            } else {
                skip_zero_padding(&mut input)?;
            }
        }
    }
}

/// Tells whether the next bytes start another gzip member; at the end of the input, false.
fn next_member_starts<R: BufRead>(input: &mut Counting<R>) -> io::Result<bool> {
    Ok(input.peek(2)? == [0x1f, 0x8b])
}

/// Consumes zero bytes up to the end of the input, or fails at the first other byte.
fn skip_zero_padding<R: BufRead>(input: &mut Counting<R>) -> io::Result<()> {
    loop {
        let head = input.fill_buf()?;
        if head.is_empty() {
            return Ok(());
        }
        if let Some(position) = head.iter().position(|&b| b != 0) {
            let offset = input.consumed + position as u64;
            return Err(trailing_bytes(offset));
        }
        let length = head.len();
        input.consume(length);
    }
}

fn trailing_bytes(offset: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the compressed file has bytes after its last gzip member, from byte offset {offset} on, that are \
             neither another member nor zero padding; the file may be damaged or two files may have been joined: \
             check it with `gzip -t`"
        ),
    )
}

/// A reader that counts the compressed bytes consumed, for offsets in messages, and can look
/// two bytes ahead even where the underlying reader's buffer ends between them.
struct Counting<R> {
    inner: R,
    consumed: u64,
    /// Bytes taken from `inner` by `peek` and not yet consumed.
    peeked: Vec<u8>,
}

impl<R: BufRead> Counting<R> {
    fn new(inner: R) -> Self {
        Counting { inner, consumed: 0, peeked: Vec::new() }
    }

    /// Returns the next `wanted` bytes without consuming them, or fewer at the end of the input.
    fn peek(&mut self, wanted: usize) -> io::Result<&[u8]> {
        while self.peeked.len() < wanted {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                break;
            }
            let take = (wanted - self.peeked.len()).min(available.len());
            self.peeked.extend_from_slice(&available[..take]);
            self.inner.consume(take);
        }
        Ok(&self.peeked)
    }
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.peeked.is_empty() {
            self.inner.fill_buf()
        } else {
            Ok(&self.peeked)
        }
    }

    fn consume(&mut self, amount: usize) {
        self.consumed += amount as u64;
        if self.peeked.is_empty() {
            self.inner.consume(amount);
        } else {
            self.peeked.drain(..amount);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn compressed(text: &str) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn decompress(bytes: &[u8], buffer: usize) -> io::Result<String> {
        let mut text = String::new();
        GzipMembers::new(io::BufReader::with_capacity(buffer, bytes)).read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn members_in_a_row_are_one_stream() {
        let mut bytes = compressed("first line\n");
        bytes.extend(compressed("second line\n"));
        assert_eq!(decompress(&bytes, 8192).unwrap(), "first line\nsecond line\n");
        // Buffers of every small size put the boundary between members, and the two bytes
        // that start the second member, at every place in a buffer.
        for buffer in 1..40 {
            assert_eq!(decompress(&bytes, buffer).unwrap(), "first line\nsecond line\n", "buffer {buffer}");
        }
    }

    #[test]
    fn cut_off_member_keeps_what_came_before() {
        let text: String = (0..2000).map(|n| format!("line {n}\n")).collect();
        let bytes = compressed(&text);
        let mut reader = GzipMembers::new(io::BufReader::new(&bytes[..bytes.len() / 2]));
        let mut read = String::new();
        reader.read_to_string(&mut read).unwrap();
        assert!(reader.was_cut_off());
        assert!(read.len() > 1000, "{} bytes", read.len());
        assert!(text.starts_with(&read));

        let mut whole = GzipMembers::new(io::BufReader::new(&bytes[..]));
        whole.read_to_string(&mut read).unwrap();
        assert!(!whole.was_cut_off());
    }

    #[test]
    fn zero_padding_is_ignored() {
        let mut bytes = compressed("a line\n");
        bytes.extend([0u8; 10_000]);
        assert_eq!(decompress(&bytes, 8192).unwrap(), "a line\n");
        assert_eq!(decompress(&bytes, 5).unwrap(), "a line\n");
    }

    #[test]
    fn other_trailing_bytes_fail_with_their_offset() {
        let mut bytes = compressed("a line\n");
        let end = bytes.len();
        bytes.extend([0, 0, b'x', b'y']);
        let error = decompress(&bytes, 8192).unwrap_err().to_string();
        assert!(error.contains(&format!("from byte offset {} on", end + 2)), "{error}");
    }
}
