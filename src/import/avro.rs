//! Reads Event Hub Capture files: Avro object container files (Avro 1.x specification) whose
//! records carry each event's payload in a `Body` field of type `bytes`. Azure Monitor's
//! diagnostic settings send `{"records":[...]}` JSON as that payload, so the bodies, one per
//! line, are read as the JSON shapes are.
//!
//! A container file is the magic `Obj\x01`, a metadata map (`avro.schema`, `avro.codec`), a
//! 16-byte sync marker, then blocks: a count of records, a byte size, the records (compressed
//! by the codec) and the sync marker again. Event Hub Capture writes the `null` codec
//! (encoding `Avro`) or `deflate` (encoding `AvroDeflate`); other codecs are rejected by name.

use std::collections::HashMap;
use std::io::{self, BufRead, Read};

use serde_json::Value;

/// The first bytes of an Avro object container file.
pub const MAGIC: &[u8; 4] = b"Obj\x01";

/// Avro's types, as far as reading past a value needs them. Named types (records, enums and
/// fixed) are referred to by their full name, so that a record may contain itself.
#[derive(Clone, Debug)]
enum Schema {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record(Vec<(String, Schema)>),
    Enum,
    Array(Box<Schema>),
    Map(Box<Schema>),
    Union(Vec<Schema>),
    Fixed(usize),
    Named(String),
}

/// The named types of a schema, by full name and by short name.
#[derive(Default)]
struct Names(HashMap<String, Schema>);

impl Names {
    fn parse(&mut self, value: &Value, namespace: Option<&str>) -> Result<Schema, String> {
        match value {
            Value::String(name) => self.primitive(name).map_or_else(|| Ok(Schema::Named(full_name(name, namespace))), Ok),
            Value::Array(branches) => {
                Ok(Schema::Union(branches.iter().map(|branch| self.parse(branch, namespace)).collect::<Result<_, _>>()?))
            }
            Value::Object(object) => {
                let kind = object.get("type").ok_or("a schema object has no `type`")?;
                let Value::String(kind) = kind else { return self.parse(kind, namespace) };
                let name = object.get("name").and_then(Value::as_str);
                let own_namespace = object.get("namespace").and_then(Value::as_str).or(namespace);
                let schema = match kind.as_str() {
                    "record" | "error" => {
                        let name = name.ok_or("a record schema has no `name`")?;
                        let full = full_name(name, own_namespace);
                        // Registered before its fields, so that a field can refer to the record.
                        self.register(&full, Schema::Named(full.clone()));
                        let inner_namespace = full.rsplit_once('.').map(|(space, _)| space.to_string());
                        let fields = object.get("fields").and_then(Value::as_array).ok_or("a record schema has no `fields`")?;
                        let mut parsed = Vec::with_capacity(fields.len());
                        for field in fields {
                            let field_name = field.get("name").and_then(Value::as_str).ok_or("a record field has no `name`")?;
                            let field_type = field.get("type").ok_or("a record field has no `type`")?;
                            parsed.push((field_name.to_string(), self.parse(field_type, inner_namespace.as_deref())?));
                        }
                        Schema::Record(parsed)
                    }
                    "enum" => Schema::Enum,
                    "fixed" => Schema::Fixed(
                        object.get("size").and_then(Value::as_u64).ok_or("a fixed schema has no `size`")? as usize,
                    ),
                    "array" => Schema::Array(Box::new(self.parse(object.get("items").ok_or("an array schema has no `items`")?, namespace)?)),
                    "map" => Schema::Map(Box::new(self.parse(object.get("values").ok_or("a map schema has no `values`")?, namespace)?)),
                    // A primitive in object form, such as `{"type": "long", "logicalType": ...}`.
                    other => return self.parse(&Value::String(other.to_string()), namespace),
                };
                if let (Some(name), "record" | "error" | "enum" | "fixed") = (name, kind.as_str()) {
                    self.register(&full_name(name, own_namespace), schema.clone());
                }
                Ok(schema)
            }
            other => Err(format!("`{other}` is not an Avro schema")),
        }
    }

    fn primitive(&self, name: &str) -> Option<Schema> {
        Some(match name {
            "null" => Schema::Null,
            "boolean" => Schema::Boolean,
            "int" => Schema::Int,
            "long" => Schema::Long,
            "float" => Schema::Float,
            "double" => Schema::Double,
            "bytes" => Schema::Bytes,
            "string" => Schema::String,
            _ => return None,
        })
    }

    fn register(&mut self, full: &str, schema: Schema) {
        if let Some((_, short)) = full.rsplit_once('.') {
            self.0.insert(short.to_string(), schema.clone());
        }
        self.0.insert(full.to_string(), schema);
    }

    fn resolve<'s>(&'s self, schema: &'s Schema) -> Result<&'s Schema, String> {
        let mut current = schema;
        // A name that refers to itself, directly or through others, would loop for ever.
        for _ in 0..64 {
            let Schema::Named(name) = current else { return Ok(current) };
            current = self.0.get(name).ok_or_else(|| format!("the schema refers to the unknown type `{name}`"))?;
            if matches!(current, Schema::Named(again) if again == name) {
                return Err(format!("the type `{name}` is used before its definition ends"));
            }
        }
        Err("the schema's type names refer to each other in a loop".to_string())
    }
}

fn full_name(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(space) if !name.contains('.') && !space.is_empty() => format!("{space}.{name}"),
        _ => name.to_string(),
    }
}

/// The deepest nesting of values read.
const MAX_DEPTH: usize = 200;

/// Reads Avro's binary encoding from a block of records.
struct Decoder<'b> {
    bytes: &'b [u8],
    pos: usize,
    /// Values being read, one inside another.
    depth: usize,
    /// Values read so far, and the most the block may describe (`step_budget`).
    steps: u64,
    max_steps: u64,
}

impl<'b> Decoder<'b> {
    fn new(bytes: &'b [u8]) -> Self {
        Decoder { bytes, pos: 0, depth: 0, steps: 0, max_steps: step_budget(bytes.len()) }
    }
}

/// Returns the maximum number of values a block of `length` bytes may describe: 256 per byte,
/// and a million more.
/// A capture record of about ten values takes a hundred bytes or more, so a real file stays
/// far below this, while a crafted one stops within a second.
fn step_budget(length: usize) -> u64 {
    (length as u64).saturating_mul(256).saturating_add(1 << 20)
}

impl<'b> Decoder<'b> {
    fn take(&mut self, length: usize) -> Result<&'b [u8], String> {
        let end = self.pos.checked_add(length).filter(|&end| end <= self.bytes.len()).ok_or("a value runs past the end of its block")?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// Reads a zig-zag variable-length `long` (also used for `int`).
    fn long(&mut self) -> Result<i64, String> {
        decode_long(|| self.take(1).map(|bytes| bytes[0]))?.ok_or_else(|| "a number is longer than 10 bytes".to_string())
    }

    fn length(&mut self) -> Result<usize, String> {
        usize::try_from(self.long()?).map_err(|_| "a length is negative".to_string())
    }

    fn bytes(&mut self) -> Result<&'b [u8], String> {
        let length = self.length()?;
        self.take(length)
    }

    /// Reads past one value of `schema`.
    fn skip(&mut self, schema: &Schema, names: &Names) -> Result<(), String> {
        // A recursive type can nest values as deep as the data goes, which would overflow the
        // stack; Event Hub Capture's own values nest two levels.
        if self.depth >= MAX_DEPTH {
            return Err(format!("a value nests more than {MAX_DEPTH} levels deep"));
        }
        // Values that take no bytes (null, an empty record, fixed of size 0) let a few bytes
        // describe billions of them, in an array's count or through nested named types.
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err("the block describes far more values than its bytes can hold: the file is damaged or crafted".into());
        }
        self.depth += 1;
        let skipped = self.skip_value(schema, names);
        self.depth -= 1;
        skipped
    }

    fn skip_value(&mut self, schema: &Schema, names: &Names) -> Result<(), String> {
        match names.resolve(schema)? {
            Schema::Null => {}
            Schema::Boolean => drop(self.take(1)?),
            Schema::Int | Schema::Long | Schema::Enum => drop(self.long()?),
            Schema::Float => drop(self.take(4)?),
            Schema::Double => drop(self.take(8)?),
            Schema::Bytes | Schema::String => drop(self.bytes()?),
            Schema::Fixed(size) => drop(self.take(*size)?),
            Schema::Record(fields) => {
                for (_, field) in fields {
                    self.skip(field, names)?;
                }
            }
            Schema::Union(branches) => {
                let branch = self.branch(branches)?;
                self.skip(branch, names)?;
            }
            Schema::Array(items) => self.skip_blocks(|decoder| decoder.skip(items, names))?,
            Schema::Map(values) => self.skip_blocks(|decoder| {
                decoder.bytes()?;
                decoder.skip(values, names)
            })?,
            Schema::Named(_) => unreachable!("resolve returns no name"),
        }
        Ok(())
    }

    fn branch<'s>(&mut self, branches: &'s [Schema]) -> Result<&'s Schema, String> {
        let index = self.long()?;
        usize::try_from(index).ok().and_then(|index| branches.get(index)).ok_or_else(|| format!("union branch {index} does not exist"))
    }

    /// Reads past the blocks of an array or map: a count, and for a negative count also a byte
    /// size, then that many items, until a count of zero.
    fn skip_blocks(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), String>) -> Result<(), String> {
        loop {
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                let size = self.length()?;
                self.take(size)?;
                continue;
            }
            for _ in 0..count {
                item(self)?;
            }
        }
    }
}

/// The compression of each block's records.
#[derive(Clone, Copy)]
enum Codec {
    Null,
    Deflate,
}

/// The `Body` of every record of an Avro container file, each on a line of its own, as bytes
/// to read. Line breaks inside a body, which JSON allows only as white space, become spaces, so
/// that line N of the output is the body of the file's record N.
pub struct AvroBodies<R: BufRead> {
    input: R,
    names: Names,
    record: Schema,
    /// The index of the body among the record's fields.
    body_field: usize,
    codec: Codec,
    sync: [u8; 16],
    /// The bodies of the current block not yet read, one per line.
    pending: Vec<u8>,
    pending_pos: usize,
    /// Records read so far, for messages.
    records: u64,
    /// Set when the file ended inside a block, as a cut-off download or copy does.
    cut_off: bool,
    finished: bool,
    /// Events so far whose body has text.
    bodies: u64,
    /// Set when reading a block failed.
    failed: bool,
    /// Events whose body is not JSON, left out of the output.
    bad_events: Vec<BadEvent>,
}

/// An event whose body cannot be read as JSON; its line of the output is empty.
pub struct BadEvent {
    /// The event's number in the file, from 1, which is also its line of the output.
    pub event: u64,
    pub reason: String,
    /// The start of the body, as text.
    pub raw: String,
}

/// Returns the text of a body as the JSON readers take it, or why it cannot be: a UTF-8 byte
/// order mark is left out and a gzip-compressed body unpacked. The body must be one or more
/// JSON values, so that a bad body is kept as a rejected event instead of making the JSON
/// reader give up on every event after it.
fn checked_body(body: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let text = if body.starts_with(&[0x1f, 0x8b]) {
        let unpacked = unpack_bounded(flate2::read::MultiGzDecoder::new(body))
            .map_err(|err| format!("the body is gzip-compressed and does not unpack: {err}"))?
            .ok_or_else(|| format!("the body unpacks to more than {} MiB", MAX_BLOCK_BYTES >> 20))?;
        std::borrow::Cow::Owned(unpacked)
    } else {
        std::borrow::Cow::Borrowed(body)
    };
    for value in serde_json::Deserializer::from_slice(&text).into_iter::<serde::de::IgnoredAny>() {
        value.map_err(|err| format!("the body is not valid JSON: {err}"))?;
    }
    Ok(text)
}

impl<R: BufRead> AvroBodies<R> {
    /// Reads the file's header: its magic bytes, schema, codec and sync marker.
    pub fn new(input: R) -> io::Result<Self> {
        Self::read_header(input).map_err(|err| match err.kind() {
            io::ErrorKind::UnexpectedEof => invalid("the file ends inside its Avro header: it was cut off".to_string()),
            _ => err,
        })
    }

    fn read_header(mut input: R) -> io::Result<Self> {
        let mut magic = [0u8; 4];
        input.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(invalid("the file does not start with Avro's `Obj` magic bytes".to_string()));
        }
        let metadata = read_metadata(&mut input)?;
        let codec = codec_of(&metadata)?;
        let (names, record, body_field) = record_schema(&metadata)?;
        let mut sync = [0u8; 16];
        input.read_exact(&mut sync)?;
        Ok(AvroBodies {
            input,
            names,
            record,
            body_field,
            codec,
            sync,
            pending: Vec::new(),
            pending_pos: 0,
            records: 0,
            cut_off: false,
            finished: false,
            bodies: 0,
            failed: false,
            bad_events: Vec::new(),
        })
    }

    /// Removes and returns the events found so far whose body could not be read.
    pub fn take_bad_events(&mut self) -> Vec<BadEvent> {
        std::mem::take(&mut self.bad_events)
    }

    /// Tells whether every block was read and no event had a body with text, so that the
    /// output is nothing but line breaks.
    pub fn read_no_bodies(&self) -> bool {
        self.bodies == 0 && !self.failed
    }

    /// Tells whether the file ended inside a block. The bodies of the blocks before the cut
    /// were returned; the records of the cut block are missing.
    pub fn was_cut_off(&self) -> bool {
        self.cut_off
    }

    /// Reads the next block into `pending`. Returns false at the end of the file.
    fn next_block(&mut self) -> io::Result<bool> {
        if self.input.fill_buf()?.is_empty() {
            return Ok(false);
        }
        let block = match self.read_block() {
            Ok(block) => block,
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                self.cut_off = true;
                return Ok(false);
            }
            Err(err) => return Err(err),
        };
        let (count, data) = block;
        let data = match self.codec {
            Codec::Null => data,
            Codec::Deflate => unpack_bounded(flate2::read::DeflateDecoder::new(data.as_slice()))
                .map_err(|err| invalid(format!("the block after record {} does not inflate: {err}", self.records)))?
                .ok_or_else(|| {
                    invalid(format!(
                        "the block after record {} inflates to more than {} MiB, more than Event Hub Capture writes",
                        self.records,
                        MAX_BLOCK_BYTES >> 20
                    ))
                })?,
        };
        self.pending.clear();
        self.pending_pos = 0;
        let mut decoder = Decoder::new(&data);
        let Schema::Record(fields) = &self.record else { unreachable!("checked in new") };
        for _ in 0..count {
            self.records += 1;
            let record = self.records;
            let failed = |err: String| invalid(format!("record {record} cannot be decoded: {err}"));
            for (index, (_, field)) in fields.iter().enumerate() {
                if index != self.body_field {
                    decoder.skip(field, &self.names).map_err(failed)?;
                    continue;
                }
                let body = read_body(&mut decoder, field, &self.names).map_err(failed)?.unwrap_or_default();
                match checked_body(body) {
                    Ok(text) => {
                        self.bodies += u64::from(!text.is_empty());
                        let start = self.pending.len();
                        self.pending.extend_from_slice(&text);
                        for byte in &mut self.pending[start..] {
                            if matches!(*byte, b'\n' | b'\r') {
                                *byte = b' ';
                            }
                        }
                    }
                    Err(reason) => {
                        let raw = super::record::escaped_text(&body[..body.len().min(2000)]);
                        self.bad_events.push(BadEvent { event: record, reason, raw });
                    }
                }
            }
            self.pending.push(b'\n');
        }
        if decoder.pos != data.len() {
            return Err(invalid(format!("the block that ends with record {} has bytes after its last record", self.records)));
        }
        Ok(true)
    }

    /// Reads one block's record count and data, and checks the sync marker after it.
    fn read_block(&mut self) -> io::Result<(u64, Vec<u8>)> {
        let count = read_long(&mut self.input)?;
        let size = read_long(&mut self.input)?;
        let (Ok(count), Ok(size)) = (u64::try_from(count), usize::try_from(size)) else {
            return Err(invalid(format!("the block after record {} has a negative count or size", self.records)));
        };
        let mut data = Vec::new();
        (&mut self.input).take(size as u64).read_to_end(&mut data)?;
        if data.len() < size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut sync = [0u8; 16];
        self.input.read_exact(&mut sync)?;
        if sync != self.sync {
            return Err(invalid(format!(
                "the block after record {} does not end with the file's sync marker: the file is damaged",
                self.records
            )));
        }
        Ok((count, data))
    }
}

impl<R: BufRead> Read for AvroBodies<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending_pos == self.pending.len() {
            if self.finished {
                return Ok(0);
            }
            let more = match self.next_block() {
                Ok(more) => more,
                Err(err) => {
                    self.failed = true;
                    return Err(err);
                }
            };
            if !more {
                self.finished = true;
                return Ok(0);
            }
        }
        let count = (&self.pending[self.pending_pos..]).read(buf)?;
        self.pending_pos += count;
        Ok(count)
    }
}

/// Reads the codec named in the header; Event Hub Capture writes `null` or `deflate`.
fn codec_of(metadata: &HashMap<String, Vec<u8>>) -> io::Result<Codec> {
    match metadata.get("avro.codec").map(Vec::as_slice) {
        None | Some(b"null") => Ok(Codec::Null),
        Some(b"deflate") => Ok(Codec::Deflate),
        Some(other) => Err(invalid(format!(
            "the Avro file's records are compressed with `{}`, which blobtrail does not read; Event Hub Capture \
             writes `null` or `deflate`. Convert the file (for example with Apache Avro's tools) and import the result",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// Parses the header's schema and finds the body among the fields of its record.
fn record_schema(metadata: &HashMap<String, Vec<u8>>) -> io::Result<(Names, Schema, usize)> {
    let text = metadata.get("avro.schema").ok_or_else(|| invalid("the Avro file has no `avro.schema`".to_string()))?;
    let json: Value =
        serde_json::from_slice(text).map_err(|err| invalid(format!("the Avro file's schema is not valid JSON: {err}")))?;
    let mut names = Names::default();
    let record = names.parse(&json, None).map_err(|err| invalid(format!("the Avro file's schema is invalid: {err}")))?;
    let record = names.resolve(&record).map_err(invalid)?.clone();
    let body = match &record {
        Schema::Record(fields) => body_field(fields, &names),
        _ => None,
    };
    let Some(body) = body else {
        return Err(invalid(
            "the Avro file's records have no `Body` field of type bytes, so it is not an Event Hub Capture file; \
             blobtrail reads the log records that Event Hub Capture keeps in `Body`"
                .to_string(),
        ));
    };
    Ok((names, record, body))
}

/// Finds the record's `Body` field (any case) whose type is `bytes`, or a union of `bytes` and
/// `null`, as Event Hub Capture writes it.
fn body_field(fields: &[(String, Schema)], names: &Names) -> Option<usize> {
    fields.iter().position(|(name, schema)| {
        name.eq_ignore_ascii_case("body")
            && match names.resolve(schema) {
                Ok(Schema::Bytes) => true,
                Ok(Schema::Union(branches)) => {
                    branches.iter().all(|branch| matches!(names.resolve(branch), Ok(Schema::Bytes | Schema::Null)))
                }
                _ => false,
            }
    })
}

/// Reads a body; None for a null one.
fn read_body<'b>(decoder: &mut Decoder<'b>, schema: &Schema, names: &Names) -> Result<Option<&'b [u8]>, String> {
    match names.resolve(schema)? {
        Schema::Bytes => decoder.bytes().map(Some),
        Schema::Union(branches) => match names.resolve(decoder.branch(branches)?)? {
            Schema::Bytes => decoder.bytes().map(Some),
            _ => Ok(None),
        },
        _ => unreachable!("body_field checked the type"),
    }
}

/// Reads the header's metadata map of string keys and bytes values.
fn read_metadata(input: &mut impl Read) -> io::Result<HashMap<String, Vec<u8>>> {
    let mut metadata = HashMap::new();
    loop {
        let mut count = read_long(input)?;
        if count == 0 {
            return Ok(metadata);
        }
        if count < 0 {
            count = -count;
            read_long(input)?;
        }
        for _ in 0..count {
            let key = read_bytes(input)?;
            let value = read_bytes(input)?;
            metadata.insert(String::from_utf8_lossy(&key).into_owned(), value);
        }
    }
}

fn read_long(input: &mut impl Read) -> io::Result<i64> {
    let next_byte = || {
        let mut byte = [0u8; 1];
        input.read_exact(&mut byte).map(|()| byte[0])
    };
    decode_long(next_byte)?.ok_or_else(|| invalid("a number in the Avro header is longer than 10 bytes".to_string()))
}

/// Decodes Avro's zig-zag variable-length `long` (also used for `int`) from the bytes that
/// `next_byte` gives. Returns None for a number of more than 10 bytes.
fn decode_long<E>(mut next_byte: impl FnMut() -> Result<u8, E>) -> Result<Option<i64>, E> {
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = next_byte()?;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(Some((value >> 1) as i64 ^ -((value & 1) as i64)));
        }
    }
    Ok(None)
}

/// Reads a decompressing reader to its end. Returns None once it gives more than
/// `MAX_BLOCK_BYTES`, which only a damaged or crafted file does.
fn unpack_bounded(reader: impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut unpacked = Vec::new();
    reader.take(MAX_BLOCK_BYTES + 1).read_to_end(&mut unpacked)?;
    Ok((unpacked.len() as u64 <= MAX_BLOCK_BYTES).then_some(unpacked))
}

/// The largest block read once inflated. Event Hub Capture writes a file of at most 500 MB
/// (its size window), so a block of more comes from a damaged or crafted file.
const MAX_BLOCK_BYTES: u64 = 1 << 30;

/// The largest metadata value read: a schema is a few kilobytes.
const MAX_METADATA_BYTES: u64 = 64 << 20;

fn read_bytes(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let length = read_long(input)?;
    let length = u64::try_from(length).ok().filter(|&length| length <= MAX_METADATA_BYTES);
    let length = length.ok_or_else(|| invalid("a value in the Avro header has an invalid length".to_string()))?;
    let mut value = Vec::new();
    input.take(length).read_to_end(&mut value)?;
    if (value.len() as u64) < length {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(value)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a long as Avro does, for building files by hand.
    fn long(value: i64) -> Vec<u8> {
        let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let byte = (zigzag & 0x7f) as u8;
            zigzag >>= 7;
            if zigzag == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn bytes(value: &[u8]) -> Vec<u8> {
        [long(value.len() as i64), value.to_vec()].concat()
    }

    const SCHEMA: &str = r#"{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging","fields":[
        {"name":"SequenceNumber","type":"long"},{"name":"Offset","type":"string"},{"name":"EnqueuedTimeUtc","type":"string"},
        {"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},
        {"name":"Properties","type":{"type":"map","values":["long","double","string","bytes"]}},
        {"name":"Body","type":["null","bytes"]}]}"#;

    /// Builds a container file with one block of events whose bodies are given.
    fn file(codec: &str, bodies: &[Option<&[u8]>]) -> Vec<u8> {
        let sync = [7u8; 16];
        let mut out = MAGIC.to_vec();
        out.extend(long(2));
        out.extend(bytes(b"avro.schema"));
        out.extend(bytes(SCHEMA.as_bytes()));
        out.extend(bytes(b"avro.codec"));
        out.extend(bytes(codec.as_bytes()));
        out.extend(long(0));
        out.extend(sync);
        let mut records = Vec::new();
        for (number, body) in bodies.iter().enumerate() {
            records.extend(long(number as i64 * 1000));
            records.extend(bytes(b"4096"));
            records.extend(bytes(b"12/4/2026 10:00:00 AM"));
            // A map block with a negative count and its byte size, then the end.
            let entry = [bytes(b"x-opt-offset"), long(2), bytes(b"4096")].concat();
            records.extend(long(-1));
            records.extend(long(entry.len() as i64));
            records.extend(entry);
            records.extend(long(0));
            records.extend(long(0));
            match body {
                Some(body) => {
                    records.extend(long(1));
                    records.extend(bytes(body));
                }
                None => records.extend(long(0)),
            }
        }
        let data = match codec {
            "deflate" => {
                let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut encoder, &records).unwrap();
                encoder.finish().unwrap()
            }
            _ => records,
        };
        out.extend(long(bodies.len() as i64));
        out.extend(long(data.len() as i64));
        out.extend(data);
        out.extend(sync);
        out
    }

    fn read_all(bytes: &[u8]) -> io::Result<String> {
        let mut reader = AvroBodies::new(bytes)?;
        let mut text = String::new();
        reader.read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn bodies_come_one_per_line() {
        let bodies: [Option<&[u8]>; 3] = [Some(b"{\"records\":[\n{\"a\":1}]}"), None, Some(b"{\"records\":[]}")];
        for codec in ["null", "deflate"] {
            assert_eq!(read_all(&file(codec, &bodies)).unwrap(), "{\"records\":[ {\"a\":1}]}\n\n{\"records\":[]}\n", "{codec}");
        }
    }

    /// A body that is not JSON is left out and reported with its event number. A UTF-8 byte
    /// order mark is dropped and a gzip-compressed body unpacked.
    #[test]
    fn bad_bodies_are_reported_by_event() {
        let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gzipped, b"{\"b\":2}").unwrap();
        let gzipped = gzipped.finish().unwrap();
        let bodies: [Option<&[u8]>; 5] =
            [Some(b"{\"a\":1}"), Some(b"{\"records\": [{\"time\": "), Some(&gzipped), Some(b"\xef\xbb\xbf{}"), Some(b"\xff{}")];
        let bytes = file("null", &bodies);
        let mut reader = AvroBodies::new(bytes.as_slice()).unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"a\":1}\n\n{\"b\":2}\n{}\n\n");
        let bad = reader.take_bad_events();
        assert_eq!(bad.iter().map(|event| event.event).collect::<Vec<_>>(), [2, 5]);
        assert!(bad[0].reason.starts_with("the body is not valid JSON: EOF while parsing"), "{}", bad[0].reason);
        assert_eq!(bad[0].raw, "{\"records\": [{\"time\": ");
    }

    #[test]
    fn cut_header_is_named() {
        let whole = file("null", &[Some(b"{}")]);
        for end in [2, 10, 40, MAGIC.len() + 300] {
            let error = AvroBodies::new(&whole[..end]).err().unwrap().to_string();
            assert_eq!(error, "the file ends inside its Avro header: it was cut off", "cut at {end}");
        }
    }

    #[test]
    fn cut_off_block_is_reported() {
        let whole = file("null", &[Some(b"{}")]);
        let mut reader = AvroBodies::new(&whole[..whole.len() - 20]).unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "");
        assert!(reader.was_cut_off());
    }

    #[test]
    fn damaged_sync_marker_is_an_error() {
        let mut damaged = file("null", &[Some(b"{}")]);
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let error = read_all(&damaged).unwrap_err().to_string();
        assert!(error.contains("does not end with the file's sync marker"), "{error}");
    }

    #[test]
    fn other_codec_is_named() {
        let error = AvroBodies::new(file("snappy", &[]).as_slice()).err().unwrap().to_string();
        assert!(error.contains("compressed with `snappy`"), "{error}");
    }

    #[test]
    fn file_without_body_is_rejected() {
        let schema = r#"{"type":"record","name":"r","fields":[{"name":"x","type":"long"}]}"#;
        let mut out = MAGIC.to_vec();
        out.extend(long(1));
        out.extend(bytes(b"avro.schema"));
        out.extend(bytes(schema.as_bytes()));
        out.extend(long(0));
        out.extend([0u8; 16]);
        let error = AvroBodies::new(out.as_slice()).err().unwrap().to_string();
        assert!(error.contains("no `Body` field of type bytes"), "{error}");
    }

    #[test]
    fn recursive_schema_is_read() {
        let mut names = Names::default();
        let schema: Value = serde_json::from_str(
            r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]},{"name":"Body","type":"bytes"}]}"#,
        )
        .unwrap();
        let node = names.parse(&schema, None).unwrap();
        // A node whose `next` contains one more node without a next, then its body.
        let encoded = [long(1), long(0), bytes(b"inner"), bytes(b"outer")].concat();
        let mut decoder = Decoder::new(&encoded);
        let Schema::Record(fields) = names.resolve(&node).unwrap().clone() else { panic!() };
        decoder.skip(&fields[0].1, &names).unwrap();
        assert_eq!(read_body(&mut decoder, &fields[1].1, &names).unwrap(), Some(&b"outer"[..]));

        // Nodes nested deeper than the limit fail instead of overflowing the stack.
        let deep = [long(1).repeat(100_000), long(0)].concat();
        let mut decoder = Decoder::new(&deep);
        let error = decoder.skip(&fields[0].1, &names).unwrap_err();
        assert!(error.contains("nests more than 200 levels"), "{error}");
    }

    /// An array of 2^62 nulls takes ten bytes to describe; reading it stops with an error.
    #[test]
    fn values_without_bytes_are_bounded() {
        let mut names = Names::default();
        let array = names.parse(&serde_json::json!({"type": "array", "items": "null"}), None).unwrap();
        let encoded = [long(1 << 62), long(0)].concat();
        let error = Decoder::new(&encoded).skip(&array, &names).unwrap_err();
        assert!(error.contains("far more values than its bytes can hold"), "{error}");
    }
}
