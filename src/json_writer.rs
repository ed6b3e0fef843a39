//! JSON text written field by field, byte for byte as serde_json writes it: compact, or pretty
//! with two spaces per level. `findings`, `export` and `bundle` write findings by the hundred
//! thousand, and `generate` writes its JSON exports with `push_string`. This writer checks
//! strings for escapes eight bytes at a time, where serde_json checks each byte, and it writes
//! each key with its indent in one step.

use serde_json::ser::{CompactFormatter, Formatter};

/// A value that writes itself as JSON text.
pub trait WriteJson {
    /// Appends the value to `out`. `depth` is its nesting level in pretty JSON (0 for a
    /// top-level value, 1 for an element of a top-level array), and `None` writes compact JSON.
    fn write_json(&self, out: &mut Vec<u8>, depth: Option<usize>);
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it. Escapes are `\"` and
/// `\\`, and `\b`, `\t`, `\n`, `\f`, `\r` or `\u00XX` for control characters. All else is
/// copied as it is.
pub fn string(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    escape(text, |piece| out.extend_from_slice(piece.as_bytes()));
    out.push(b'"');
}

/// Appends `text` as a JSON string to a `String`, escaped as `string` escapes it.
pub fn push_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    escape(text, |piece| out.push_str(piece));
    out.push('"');
}

/// Passes `text` to `emit` in pieces: runs that need no escape, and the escape sequence of
/// each character that needs one.
fn escape(text: &str, mut emit: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        // Most strings need no escape, so eight bytes at a time are checked first.
        if let Some(chunk) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("the chunk has eight bytes"));
            if !word_needs_escape(word) {
                at += 8;
                continue;
            }
        }
        let byte = bytes[at];
        at += 1;
        let Some(escape) = escape_of(byte) else { continue };
        // Every escaped byte is ASCII, so both ends of the run are character boundaries.
        emit(&text[copied..at - 1]);
        let sequence = escape.as_bytes(byte);
        emit(std::str::from_utf8(sequence.as_slice()).expect("an escape sequence is ASCII"));
        copied = at;
    }
    emit(&text[copied..]);
}

/// Returns whether any of the eight bytes of `word` is `"`, `\` or below 0x20. Each test is
/// exact as a whole, though the bit it sets may sit on a later byte than the match.
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let below = |value: u64, limit: u8| value.wrapping_sub(ONES * u64::from(limit)) & !value & HIGH_BITS;
    let has_byte = |byte: u8| below(word ^ (ONES * u64::from(byte)), 1);
    below(word, 0x20) | has_byte(b'"') | has_byte(b'\\') != 0
}

/// The escape sequence of one byte.
#[derive(Clone, Copy)]
enum Escape {
    /// A backslash and this letter or character.
    Short(u8),
    /// `\u00` and two lower-case hex digits.
    Unicode,
}

impl Escape {
    fn as_bytes(self, byte: u8) -> EscapeBytes {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match self {
            Escape::Short(letter) => EscapeBytes { bytes: [b'\\', letter, 0, 0, 0, 0], len: 2 },
            Escape::Unicode => EscapeBytes {
                bytes: [b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]],
                len: 6,
            },
        }
    }
}

struct EscapeBytes {
    bytes: [u8; 6],
    len: usize,
}

impl EscapeBytes {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn escape_of(byte: u8) -> Option<Escape> {
    match byte {
        b'"' => Some(Escape::Short(b'"')),
        b'\\' => Some(Escape::Short(b'\\')),
        0x08 => Some(Escape::Short(b'b')),
        b'\t' => Some(Escape::Short(b't')),
        b'\n' => Some(Escape::Short(b'n')),
        0x0c => Some(Escape::Short(b'f')),
        b'\r' => Some(Escape::Short(b'r')),
        0x00..=0x1f => Some(Escape::Unicode),
        _ => None,
    }
}

/// Appends two spaces per level.
fn indent(out: &mut Vec<u8>, depth: usize) {
    const SPACES: &[u8; 64] = b"                                                                ";
    let mut left = depth * 2;
    while left > 0 {
        let run = left.min(SPACES.len());
        out.extend_from_slice(&SPACES[..run]);
        left -= run;
    }
}

/// Writes one JSON object, a member at a time, in the order the calls come.
pub struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    /// The object's nesting level in pretty JSON; `None` for compact JSON.
    depth: Option<usize>,
    empty: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Opens an object at `depth` (see `WriteJson`).
    pub fn open(out: &'a mut Vec<u8>, depth: Option<usize>) -> Self {
        out.push(b'{');
        ObjectWriter { out, depth, empty: true }
    }

    /// Writes the separator and the key of the next member.
    fn key(&mut self, name: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        if let Some(depth) = self.depth {
            self.out.push(b'\n');
            indent(self.out, depth + 1);
        }
        string(self.out, name);
        self.out.extend_from_slice(if self.depth.is_some() { b": " } else { b":" });
    }

    pub fn str(&mut self, name: &str, value: &str) {
        self.key(name);
        string(self.out, value);
    }

    pub fn opt_str(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(value) => self.str(name, value),
            None => self.null(name),
        }
    }

    pub fn int(&mut self, name: &str, value: i64) {
        self.key(name);
        CompactFormatter.write_i64(self.out, value).expect("writing to a Vec cannot fail");
    }

    pub fn opt_int(&mut self, name: &str, value: Option<i64>) {
        match value {
            Some(value) => self.int(name, value),
            None => self.null(name),
        }
    }

    /// Writes a number as serde_json does: `null` when it is not finite.
    pub fn float(&mut self, name: &str, value: f64) {
        if !value.is_finite() {
            return self.null(name);
        }
        self.key(name);
        CompactFormatter.write_f64(self.out, value).expect("writing to a Vec cannot fail");
    }

    pub fn opt_float(&mut self, name: &str, value: Option<f64>) {
        match value {
            Some(value) => self.float(name, value),
            None => self.null(name),
        }
    }

    fn null(&mut self, name: &str) {
        self.key(name);
        self.out.extend_from_slice(b"null");
    }

    pub fn strs(&mut self, name: &str, values: &[String]) {
        self.array(name, values, |value, out, _| string(out, value));
    }

    pub fn ints(&mut self, name: &str, values: &[i64]) {
        self.array(name, values, |value, out, _| {
            CompactFormatter.write_i64(out, *value).expect("writing to a Vec cannot fail");
        });
    }

    pub fn values<T: WriteJson>(&mut self, name: &str, values: &[T]) {
        self.array(name, values, |value, out, depth| value.write_json(out, depth));
    }

    /// Writes an array member; `write` appends one element at the depth it is given.
    fn array<T>(&mut self, name: &str, values: &[T], write: impl Fn(&T, &mut Vec<u8>, Option<usize>)) {
        self.key(name);
        let element_depth = self.depth.map(|depth| depth + 2);
        self.out.push(b'[');
        for (number, value) in values.iter().enumerate() {
            if number > 0 {
                self.out.push(b',');
            }
            if let Some(depth) = element_depth {
                self.out.push(b'\n');
                indent(self.out, depth);
            }
            write(value, self.out, element_depth);
        }
        if let (Some(depth), false) = (self.depth, values.is_empty()) {
            self.out.push(b'\n');
            indent(self.out, depth + 1);
        }
        self.out.push(b']');
    }

    /// Closes the object.
    pub fn close(self) {
        if let (Some(depth), false) = (self.depth, self.empty) {
            self.out.push(b'\n');
            indent(self.out, depth);
        }
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str) -> String {
        let mut out = Vec::new();
        string(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn string_escapes_every_ascii_byte_as_serde_json() {
        for byte in 0u8..=0x7f {
            let text = char::from(byte).to_string();
            assert_eq!(written(&text), serde_json::to_string(&text).unwrap(), "byte {byte:#04x}");
        }
    }

    #[test]
    fn string_escapes_at_every_offset() {
        // An escape at each place of an eight-byte word, and beyond it, next to multi-byte text.
        for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "\u{202f}", "\u{7f}"] {
            for before in 0..18 {
                let text = format!("{}{special}{}", "a".repeat(before), "ü".repeat(before % 5));
                assert_eq!(written(&text), serde_json::to_string(&text).unwrap(), "{text:?}");
            }
        }
        assert_eq!(written(""), "\"\"");
        assert_eq!(written("a\"b\\c\r\nd\te\u{8}\u{c}"), r#""a\"b\\c\r\nd\te\b\f""#);
    }

    #[test]
    fn push_string_matches_string() {
        for text in ["", "plain", "a\"b\\c\r\nd\te\u{8}\u{c}\u{1}", "ü é \u{202f} \u{7f}", "long text before an escape\n"] {
            let mut pushed = String::new();
            push_string(&mut pushed, text);
            assert_eq!(pushed, written(text), "{text:?}");
        }
    }

    #[test]
    fn word_check_finds_each_special_byte() {
        for special in [b'"', b'\\', 0x00, 0x1f] {
            for place in 0..8 {
                let mut bytes = *b"abcdefgh";
                bytes[place] = special;
                assert!(word_needs_escape(u64::from_le_bytes(bytes)), "{special:#04x} at {place}");
            }
        }
        assert!(!word_needs_escape(u64::from_le_bytes(*b" !#[]~\x7f\xff")));
        assert!(!word_needs_escape(u64::from_le_bytes([0x20, 0x21, 0x23, 0x5b, 0x5d, 0x80, 0xc3, 0xa9])));
    }

    struct Sample {
        name: &'static str,
        items: Vec<Sample>,
    }

    impl WriteJson for Sample {
        fn write_json(&self, out: &mut Vec<u8>, depth: Option<usize>) {
            let mut object = ObjectWriter::open(out, depth);
            object.str("name", self.name);
            object.opt_str("none", None);
            object.int("int", -42);
            object.opt_int("opt", Some(7));
            object.float("float", 0.1);
            object.float("whole", 3.0);
            object.float("nan", f64::NAN);
            object.opt_float("huge", Some(1e300));
            object.strs("empty", &[]);
            object.strs("words", &["a".to_string(), "b\"".to_string()]);
            object.ints("ids", &[1, 2]);
            object.values("items", &self.items);
            object.close();
        }
    }

    #[test]
    fn object_writer_matches_serde_json() {
        let sample = Sample {
            name: "top",
            items: vec![Sample { name: "inner", items: vec![] }, Sample { name: "second", items: vec![] }],
        };
        let expected = serde_json::json!({
            "name": "top", "none": null, "int": -42, "opt": 7, "float": 0.1, "whole": 3.0, "nan": null,
            "huge": 1e300, "empty": [], "words": ["a", "b\""], "ids": [1, 2],
            "items": [
                {"name": "inner", "none": null, "int": -42, "opt": 7, "float": 0.1, "whole": 3.0, "nan": null,
                 "huge": 1e300, "empty": [], "words": ["a", "b\""], "ids": [1, 2], "items": []},
                {"name": "second", "none": null, "int": -42, "opt": 7, "float": 0.1, "whole": 3.0, "nan": null,
                 "huge": 1e300, "empty": [], "words": ["a", "b\""], "ids": [1, 2], "items": []}
            ]
        });
        let mut pretty = Vec::new();
        sample.write_json(&mut pretty, Some(0));
        assert_eq!(String::from_utf8(pretty).unwrap(), serde_json::to_string_pretty(&expected).unwrap());
        let mut compact = Vec::new();
        sample.write_json(&mut compact, None);
        assert_eq!(String::from_utf8(compact).unwrap(), serde_json::to_string(&expected).unwrap());
    }
}
