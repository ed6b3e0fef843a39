//! The registry of SQL files embedded in the binary.
//!
//! Files in `sql/` are numbered and forward-only: a released file is never edited, a change is a
//! new file. Each is applied once per case, in order, inside a transaction, and recorded in
//! `schema_migrations` with its SHA-256 so that an edited file or a case from a newer blobtrail
//! is detected instead of silently mixed.

use sha2::{Digest, Sha256};

/// One embedded SQL file.
pub struct SqlFile {
    pub version: i32,
    pub name: &'static str,
    pub text: &'static str,
}

impl SqlFile {
    /// Hashes the file's text, as recorded in `schema_migrations.checksum`.
    pub fn checksum(&self) -> String {
        hex(&Sha256::digest(self.text.as_bytes()))
    }
}

/// Declares an embedded file of `sql/` by its version and file name.
macro_rules! sql_file {
    ($version:literal, $name:literal) => {
        SqlFile { version: $version, name: $name, text: include_str!(concat!("../sql/", $name)) }
    };
}

pub const FILES: &[SqlFile] = &[
    sql_file!(1, "001_case_schema.sql"),
    sql_file!(2, "002_sentinel_hunt_v1.sql"),
    sql_file!(3, "003_full_hunt_v1.sql"),
    sql_file!(4, "004_case_work_v1.sql"),
    sql_file!(5, "005_raw_zstd.sql"),
    sql_file!(6, "006_full_hunt_v2.sql"),
    sql_file!(7, "007_hunt_digests.sql"),
    sql_file!(8, "008_source_rows_digests.sql"),
    sql_file!(9, "009_full_hunt_v3.sql"),
    sql_file!(10, "010_rejects_digests.sql"),
    sql_file!(11, "011_full_hunt_v4.sql"),
    sql_file!(12, "012_raw_as_written.sql"),
    sql_file!(13, "013_container_hash.sql"),
    sql_file!(14, "014_smb_requester.sql"),
    sql_file!(15, "015_full_hunt_v5.sql"),
];

/// The schema version a case has once every embedded file is applied.
pub fn latest_version() -> i32 {
    FILES.last().map_or(0, |file| file.version)
}

/// Finds the embedded file with a given version.
pub fn file(version: i32) -> Option<&'static SqlFile> {
    FILES.iter().find(|file| file.version == version)
}

/// Formats bytes as lower-case hexadecimal.
/// Writes text as an SQL string literal, with its single quotes doubled.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (index, file) in FILES.iter().enumerate() {
            assert_eq!(file.version, index as i32 + 1, "{}", file.name);
            assert!(file.name.starts_with(&format!("{:03}_", file.version)));
        }
    }

    #[test]
    fn every_file_has_a_header_comment() {
        for file in FILES {
            assert!(file.text.starts_with("-- "), "{} lacks its header", file.name);
            assert!(file.text.contains("Purpose:"), "{}", file.name);
        }
    }

    /// A case made before file 10 gets the digest of its rejected records, and a rule disabled
    /// with a reason gets that reason from its audit record.
    #[test]
    fn rejects_digests_upgrade_an_older_case() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        for file in &FILES[..9] {
            conn.execute_batch(file.text).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO sources (path, sha256, size_bytes, shape, tables, imported_at, records_read, imported, rejected, duplicates)
             VALUES ('a.csv', 'aa', 1, 'csv', 'StorageBlobLogs', now()::TIMESTAMP, 2, 1, 1, 0),
                    ('b.csv', 'bb', 1, 'csv', 'SigninLogs', now()::TIMESTAMP, 1, 1, 0, 0);
             INSERT INTO rejects VALUES (1, 2, 3, 'TimeGenerated', 'x', 'not a time', 'x,y');
             INSERT INTO exclusion_rules (reason, conditions, created_at, disabled_at)
             VALUES ('one', '{}', now()::TIMESTAMP, now()::TIMESTAMP), ('two', '{}', now()::TIMESTAMP, now()::TIMESTAMP);
             INSERT INTO audit_log VALUES
                 (1, 't', 't', 'exclude', '[]', NULL, 'v', 0, '{\"disabled\": 1, \"reason\": \"the address is ours\"}', NULL, '', '', '', ''),
                 (2, 't', 't', 'exclude', '[]', NULL, 'v', 0, 'not json', NULL, '', '', '', ''),
                 (3, 't', 't', 'exclude', '[]', NULL, 'v', 0, '{\"disabled\": 2, \"reason\": null}', NULL, '', '', '', '');",
        )
        .unwrap();
        conn.execute_batch(FILES[9].text).unwrap();

        let digests: Vec<(String, i64)> = conn
            .prepare("SELECT rejects_digest, (rejects_digest_engine = version())::INTEGER FROM sources ORDER BY source_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<duckdb::Result<_>>()
            .unwrap();
        assert!(digests[0].0.ends_with(":1"), "{digests:?}");
        assert_ne!(digests[0].0, "0:1");
        assert_eq!(digests[1], ("0:0".to_string(), 1));
        assert_eq!(digests[0].1, 1);

        let reasons: Vec<Option<String>> = conn
            .prepare("SELECT disabled_reason FROM exclusion_rules ORDER BY rule_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<duckdb::Result<_>>()
            .unwrap();
        assert_eq!(reasons, [Some("the address is ours".to_string()), None]);
    }

    #[test]
    fn quote_literal_doubles_quotes() {
        assert_eq!(quote_literal("F-1'; DROP"), "'F-1''; DROP'");
    }

    #[test]
    fn hex_of_known_bytes() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
