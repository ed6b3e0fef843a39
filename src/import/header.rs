//! Column headers of an export, normalised so that every shape is read by name.
//!
//! The portal's CSV export decorates datetime columns with the display zone
//! (`TimeGenerated [UTC]`, `TimeGenerated [Local Time]`) and splits a column whose type changed
//! over the query's range into `X_dynamic` and `X_string` twins. JSON exports use the plain
//! names, in whatever case the writer chose. A header maps all of these to one lower-case key
//! per column, keeps the original names for the record's raw copy, and remembers which columns
//! hold local times.

use std::collections::HashMap;

/// The time zone a column's values are written in, as its header states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnZone {
    /// No zone suffix: values carry their own offset, or are UTC as Log Analytics stores them.
    Unstated,
    Utc,
    /// `[Local Time]` or any other zone suffix: the offset is not in the file.
    Local,
}

/// The header row of a CSV file as written and its field delimiter. A CSV record's `raw` is its
/// line as written, so the case keeps these with the file to read it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvHeader {
    /// The header row without a byte order mark and without its line break.
    pub text: String,
    pub delimiter: char,
}

#[derive(Clone, Debug, Default)]
pub struct Header {
    names: Vec<String>,
    keys: Vec<String>,
    zones: Vec<ColumnZone>,
    index: HashMap<String, Vec<usize>>,
    /// The row as written, for a CSV file's header.
    csv: Option<CsvHeader>,
}

impl Header {
    /// Builds a header from column names as they appear in the file.
    pub fn new<I, S>(names: I) -> Header
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut header = Header::default();
        for name in names {
            header.push(name.into());
        }
        header
    }

    /// Returns the header with the CSV row it was read from.
    pub fn with_csv(mut self, csv: CsvHeader) -> Header {
        self.csv = Some(csv);
        self
    }

    /// Returns the CSV row the header was read from, for a CSV file.
    pub fn csv(&self) -> Option<&CsvHeader> {
        self.csv.as_ref()
    }

    /// Adds a column at the end and returns its index.
    pub fn push(&mut self, name: String) -> usize {
        let (key, zone) = normalise(&name);
        let position = self.names.len();
        self.index.entry(key.clone()).or_default().push(position);
        self.names.push(name);
        self.keys.push(key);
        self.zones.push(zone);
        position
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Returns every column index whose key is `key` (lower case, no zone suffix, no twin suffix).
    pub fn find(&self, key: &str) -> &[usize] {
        self.index.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn has(&self, key: &str) -> bool {
        !self.find(key).is_empty()
    }

    pub fn zone(&self, column: usize) -> ColumnZone {
        self.zones[column]
    }

    /// Lists the column names without zone decorations, for messages.
    pub fn display_names(&self) -> String {
        let mut seen = Vec::new();
        for name in &self.names {
            let plain = strip_zone(name.trim()).0.to_string();
            if !seen.contains(&plain) {
                seen.push(plain);
            }
        }
        const SHOWN: usize = 12;
        let more = seen.len().saturating_sub(SHOWN);
        seen.truncate(SHOWN);
        let mut text = seen.join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    }
}

/// Maps a column name to its lookup key and zone.
fn normalise(name: &str) -> (String, ColumnZone) {
    let trimmed = name.trim_start_matches('\u{feff}').trim();
    let (base, zone) = strip_zone(trimmed);
    let lower = base.trim().to_ascii_lowercase();
    // Log Analytics custom tables (`_CL`) of the classic HTTP Data Collector API give each
    // column a suffix for its type: `_s` text, `_d` number, `_t` time, `_b` boolean, `_g` GUID.
    // No column of the log tables read here ends in one of those.
    let key = ["_dynamic", "_string", "_s", "_d", "_t", "_b", "_g"]
        .iter()
        .find_map(|suffix| lower.strip_suffix(suffix).filter(|stem| !stem.is_empty()))
        .unwrap_or(&lower)
        .to_string();
    (key, zone)
}

fn strip_zone(name: &str) -> (&str, ColumnZone) {
    let Some(open) = name.rfind(" [") else {
        return (name, ColumnZone::Unstated);
    };
    if !name.ends_with(']') {
        return (name, ColumnZone::Unstated);
    }
    let suffix = &name[open + 2..name.len() - 1];
    let zone = if suffix.eq_ignore_ascii_case("UTC") { ColumnZone::Utc } else { ColumnZone::Local };
    (&name[..open], zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_suffixes_are_recognised() {
        let header = Header::new(["TimeGenerated [UTC]", "CreatedDateTime [Local Time]", "Uri"]);
        assert_eq!(header.find("timegenerated"), &[0]);
        assert_eq!(header.zone(0), ColumnZone::Utc);
        assert_eq!(header.find("createddatetime"), &[1]);
        assert_eq!(header.zone(1), ColumnZone::Local);
        assert_eq!(header.zone(2), ColumnZone::Unstated);
    }

    #[test]
    fn twin_columns_share_a_key() {
        let header = Header::new(["Status_dynamic", "Status_string", "UserAgent"]);
        assert_eq!(header.find("status"), &[0, 1]);
        assert_eq!(header.find("useragent"), &[2]);
    }

    #[test]
    fn custom_table_type_suffixes_are_dropped() {
        let header = Header::new(["TimeGenerated", "CallerIpAddress_s", "RequestBodySize_d", "EventTime_t", "Id_g", "_s"]);
        assert_eq!(header.find("calleripaddress"), &[1]);
        assert_eq!(header.find("requestbodysize"), &[2]);
        assert_eq!(header.find("eventtime"), &[3]);
        assert_eq!(header.find("id"), &[4]);
        assert_eq!(header.find("_s"), &[5]);
    }

    #[test]
    fn bom_spaces_and_case_are_ignored() {
        let header = Header::new(["\u{feff}TenantId", " Application ID ", "IPADDRESS"]);
        assert!(header.has("tenantid"));
        assert!(header.has("application id"));
        assert!(header.has("ipaddress"));
    }

    #[test]
    fn display_names_drop_zone_and_cap_length() {
        let header = Header::new(["TimeGenerated [UTC]", "Uri"]);
        assert_eq!(header.display_names(), "TimeGenerated, Uri");
        let many = Header::new((0..15).map(|i| format!("c{i}")));
        assert!(many.display_names().ends_with("and 3 more"));
    }
}
