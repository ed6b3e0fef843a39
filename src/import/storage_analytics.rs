//! Reads classic Storage Analytics logs (the `$logs` container): one request per line,
//! `;`-delimited, 30 fields in version 1.0 and 38 in version 2.0.
//!
//! Fields that contain special characters are quoted and HTML-encoded (`&quot;`, `&amp;`).
//! Some writers leave a request URL unquoted although it contains `&amp;`, so a `;` that
//! ends an HTML entity does not split a field. Each field is mapped to the Log Analytics
//! column of the same meaning, so the rows land in the same normalised table as every other
//! storage shape.

use std::io::BufRead;

use anyhow::{bail, Result};

use super::header::Header;
use super::record::{Broken, Item, Position, Row};

/// Log Analytics names for the fields, in log order; version 1.0 has the first 30.
const COLUMNS: [&str; 38] = [
    "LogVersion", "TimeGenerated", "OperationName", "StatusText", "StatusCode", "DurationMs",
    "ServerLatencyMs", "AuthenticationType", "RequesterAccountName", "AccountName", "ServiceType",
    "Uri", "ObjectKey", "CorrelationId", "OperationCount", "CallerIpAddress", "OperationVersion",
    "RequestHeaderSize", "RequestBodySize", "ResponseHeaderSize", "ResponseBodySize",
    "ContentLengthHeader", "RequestMd5", "ResponseMd5", "Etag", "LastModifiedTime", "ConditionsUsed",
    "UserAgentHeader", "ReferrerHeader", "ClientRequestId", "RequesterObjectId", "RequesterTenantId",
    "RequesterAppId", "RequesterAudience", "RequesterTokenIssuer", "RequesterUpn", "ReservedField",
    "AuthorizationDetails",
];

/// Position of `AuthenticationType` in `COLUMNS`.
const AUTHENTICATION_TYPE: usize = 7;

/// Returns the resource logs' name for a classic log's authentication type (`authenticated`,
/// `sas`, `anonymous`, `bearer`), so that a filter on `AuthenticationType` finds both kinds
/// of rows. `raw` keeps the value as written.
fn resource_log_authentication(classic: &str) -> &str {
    match classic.to_ascii_lowercase().as_str() {
        "authenticated" => "AccountKey",
        "sas" => "SAS",
        "anonymous" => "Anonymous",
        "bearer" | "oauth" => "OAuth",
        _ => classic,
    }
}

/// Tells whether a first line looks like a Storage Analytics log line.
pub fn looks_like(first_line: &[u8]) -> bool {
    first_line.starts_with(b"1.0;") || first_line.starts_with(b"2.0;")
}

pub fn read(input: impl BufRead, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<()> {
    emit(Item::Header(Header::new(COLUMNS)))?;
    let mut record_no = 0;
    for (index, line) in input.split(b'\n').enumerate() {
        let line = line?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        record_no += 1;
        let position = Position { record_no, line: Some(index as u64 + 1) };
        if std::str::from_utf8(&line).is_err() {
            let escaped = super::record::escaped_text(&line);
            emit(broken(position, "the line holds bytes that are not valid UTF-8 (kept in `raw` as \\xNN)", escaped.trim_end_matches('\r')))?;
            continue;
        }
        let fields = split_fields(text);
        let expected = match fields.first().map(String::as_str) {
            Some("1.0") => 30,
            Some("2.0") => 38,
            _ => {
                emit(broken(position, "not a Storage Analytics log line: it does not start with version 1.0 or 2.0", text))?;
                continue;
            }
        };
        if fields.len() != expected {
            let reason = format!("expected {expected} fields for log version {}, found {}", fields[0], fields.len());
            emit(broken(position, &reason, text))?;
            continue;
        }
        let mut object = serde_json::Map::new();
        for (name, value) in COLUMNS.iter().zip(&fields) {
            object.insert(name.to_string(), serde_json::Value::String(value.clone()));
        }
        let raw = serde_json::json!({ "line": text, "fields": object }).to_string();
        let mut values = fields;
        values[AUTHENTICATION_TYPE] = resource_log_authentication(&values[AUTHENTICATION_TYPE]).to_string();
        emit(Item::Row(Row { position, values, raw }))?;
    }
    if record_no == 0 {
        bail!("the file holds no log lines");
    }
    Ok(())
}

fn broken(position: Position, reason: &str, text: &str) -> Item {
    Item::Broken(Broken { position, reason: reason.to_string(), raw: text.to_string() })
}

/// Splits a line on `;` outside quotes and outside HTML entities, then unquotes and decodes
/// each field.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ';' if !quoted && !ends_with_entity_name(&current) => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    fields.iter().map(|field| decode_html(unquote(field))).collect()
}

/// Tells whether `text` ends with the start of an HTML entity (`&amp`, `&#34`), so that the
/// `;` that follows closes the entity instead of the field.
fn ends_with_entity_name(text: &str) -> bool {
    let Some(start) = text.rfind('&') else { return false };
    let name = &text[start + 1..];
    !name.is_empty()
        && name.len() <= 8
        && (name.chars().all(|c| c.is_ascii_alphabetic())
            || (name.starts_with('#') && name.len() > 1 && name[1..].chars().all(|c| c.is_ascii_alphanumeric())))
}

fn unquote(field: &str) -> &str {
    field.strip_prefix('"').and_then(|f| f.strip_suffix('"')).unwrap_or(field)
}

/// Decodes the HTML entities Storage Analytics writes.
fn decode_html(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find(';').filter(|&end| end <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = "2.0;2022-01-03T20:34:54.4617505Z;PutBlob;SASSuccess;201;7;7;sas;;logsamples;blob;https://logsamples.blob.core.windows.net/container1/1.txt?se=2022-02-02T20:34:54Z&amp;sig=XXXXX&amp;sp=rwl;\"/logsamples/container1/1.txt\";id;0;71.197.193.44:53371;2019-12-12;654;13;337;0;13;\"a==\";\"b==\";\"&quot;0x8D9CEF88004E296&quot;\";Monday, 03-Jan-22 20:34:54 GMT;;\"Microsoft Azure Storage Explorer, 1.20.1, win32,  AzCopy/10.11.0\";;\"cid\";;;;;;;;";

    #[test]
    fn entity_semicolons_do_not_split() {
        let fields = split_fields(V2);
        assert_eq!(fields.len(), 38, "{fields:?}");
        assert_eq!(fields[11], "https://logsamples.blob.core.windows.net/container1/1.txt?se=2022-02-02T20:34:54Z&sig=XXXXX&sp=rwl");
        assert_eq!(fields[12], "/logsamples/container1/1.txt");
        assert_eq!(fields[15], "71.197.193.44:53371");
        assert_eq!(fields[24], "\"0x8D9CEF88004E296\"");
        assert_eq!(fields[27], "Microsoft Azure Storage Explorer, 1.20.1, win32,  AzCopy/10.11.0");
    }

    #[test]
    fn lines_become_rows() {
        let text = format!("{V2}\n\n1.0;short\n");
        let mut items = Vec::new();
        read(text.as_bytes(), &mut |item| {
            items.push(item);
            Ok(())
        })
        .unwrap();
        let Item::Row(row) = &items[1] else { panic!("{items:?}") };
        assert_eq!(row.position.line, Some(1));
        assert_eq!(row.get(2), "PutBlob");
        let Item::Broken(broken) = &items[2] else { panic!("{items:?}") };
        assert_eq!(broken.position.line, Some(3));
        assert!(broken.reason.contains("expected 30 fields"), "{}", broken.reason);
    }

    #[test]
    fn html_entities_decode() {
        assert_eq!(decode_html("a&amp;b&#34;c&#x3c;d&unknown;"), "a&b\"c<d&unknown;");
    }
}
