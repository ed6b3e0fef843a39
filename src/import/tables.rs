//! The log tables blobtrail reads, and how an export's table is recognised from its columns.

use anyhow::{bail, Result};

use super::header::Header;

/// The log family a table belongs to: the two are stored in different case tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Storage,
    Signin,
}

/// A log table, named as Log Analytics names it.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogTable {
    StorageBlobLogs,
    StorageFileLogs,
    SigninLogs,
    AADNonInteractiveUserSignInLogs,
    AADServicePrincipalSignInLogs,
    AADManagedIdentitySignInLogs,
}

impl LogTable {
    pub const ALL: [LogTable; 6] = [
        LogTable::StorageBlobLogs,
        LogTable::StorageFileLogs,
        LogTable::SigninLogs,
        LogTable::AADNonInteractiveUserSignInLogs,
        LogTable::AADServicePrincipalSignInLogs,
        LogTable::AADManagedIdentitySignInLogs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LogTable::StorageBlobLogs => "StorageBlobLogs",
            LogTable::StorageFileLogs => "StorageFileLogs",
            LogTable::SigninLogs => "SigninLogs",
            LogTable::AADNonInteractiveUserSignInLogs => "AADNonInteractiveUserSignInLogs",
            LogTable::AADServicePrincipalSignInLogs => "AADServicePrincipalSignInLogs",
            LogTable::AADManagedIdentitySignInLogs => "AADManagedIdentitySignInLogs",
        }
    }

    pub fn family(self) -> Family {
        match self {
            LogTable::StorageBlobLogs | LogTable::StorageFileLogs => Family::Storage,
            _ => Family::Signin,
        }
    }

    /// Finds a table by its Log Analytics name, ignoring case.
    /// Finds a table by its Log Analytics name. A table restored from long-term retention
    /// (`StorageBlobLogs_RST`) or a search job's results named after it (`StorageBlobLogs_SRCH`)
    /// has the table's columns and counts as the table.
    pub fn from_name(name: &str) -> Option<LogTable> {
        let name = name.trim();
        let base = ["_RST", "_SRCH", "_CL"]
            .iter()
            .find_map(|suffix| {
                let cut = name.len().checked_sub(suffix.len())?;
                (name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(suffix)).then(|| &name[..cut])
            })
            .unwrap_or(name);
        let custom = base.len() < name.len() && name.to_ascii_uppercase().ends_with("_CL");
        LogTable::ALL
            .into_iter()
            .find(|table| table.name().eq_ignore_ascii_case(base))
            // A custom table made from an admin center download keeps the download's name.
            .or_else(|| custom.then(|| LogTable::from_download_name(base)).flatten())
    }

    /// Finds a sign-in table from the event types Microsoft Graph lists (`signInEventTypes`),
    /// given as JSON text or a bare word.
    pub fn from_event_types(types: &str) -> Option<LogTable> {
        let lower = types.to_ascii_lowercase();
        if lower.contains("noninteractiveuser") {
            Some(LogTable::AADNonInteractiveUserSignInLogs)
        } else if lower.contains("serviceprincipal") {
            Some(LogTable::AADServicePrincipalSignInLogs)
        } else if lower.contains("managedidentity") {
            Some(LogTable::AADManagedIdentitySignInLogs)
        } else if lower.contains("interactiveuser") {
            Some(LogTable::SigninLogs)
        } else {
            None
        }
    }

    /// Guesses a sign-in table from the name the Entra admin center gives a download, such as
    /// `NonInteractiveSignIns_2026-03-01_2026-03-31.csv`.
    pub fn from_download_name(file_name: &str) -> Option<LogTable> {
        let lower = file_name.to_ascii_lowercase();
        if lower.starts_with("noninteractivesignins") {
            Some(LogTable::AADNonInteractiveUserSignInLogs)
        } else if lower.starts_with("interactivesignins") {
            Some(LogTable::SigninLogs)
        } else if lower.starts_with("applicationsignins") {
            Some(LogTable::AADServicePrincipalSignInLogs)
        } else if lower.starts_with("msisignins") {
            Some(LogTable::AADManagedIdentitySignInLogs)
        } else {
            None
        }
    }

    /// Finds a sign-in table by the `Category` value that diagnostic settings and Log Analytics
    /// give its records.
    pub fn from_category(category: &str) -> Option<LogTable> {
        let table = match category.trim().to_ascii_lowercase().as_str() {
            "signinlogs" => LogTable::SigninLogs,
            "noninteractiveusersigninlogs" => LogTable::AADNonInteractiveUserSignInLogs,
            "serviceprincipalsigninlogs" | "microsoftserviceprincipalsigninlogs" => LogTable::AADServicePrincipalSignInLogs,
            "managedidentitysigninlogs" => LogTable::AADManagedIdentitySignInLogs,
            _ => return None,
        };
        Some(table)
    }
}

// Column keys by meaning. Each list names the Log Analytics column first, then the same field
// in the other shapes: archived resource logs and Graph nest it (`properties.userAgentHeader`,
// flattened to dotted keys), the Entra admin center download uses words (`IP address`).
pub const STORAGE_TIME: &[&str] = &["timegenerated", "time"];
const STORAGE_REQUIRED: &[&[&str]] = &[&["operationname"], &["calleripaddress"]];
const STORAGE_OBJECT: &[&str] = &["uri", "objectkey", "properties.objectkey"];
pub const SIGNIN_TIME: &[&str] = &["timegenerated", "time"];
pub const SIGNIN_CREATED: &[&str] = &["createddatetime", "properties.createddatetime", "date (utc)", "date", "eventtime"];
pub const SIGNIN_ADDRESS: &[&str] = &["ipaddress", "properties.ipaddress", "ip address"];
pub const SIGNIN_USER: &[&str] = &["userprincipalname", "properties.userprincipalname", "username"];
pub const SIGNIN_USER_ID: &[&str] = &["userid", "properties.userid", "user id"];
pub const SIGNIN_SP_ID: &[&str] = &["serviceprincipalid", "properties.serviceprincipalid", "service principal id"];
pub const SIGNIN_SP_NAME: &[&str] = &["serviceprincipalname", "properties.serviceprincipalname", "service principal name"];

/// Recognises the log family of an export from its columns, checked against the `Type` value of
/// its first record when there is one. The error names the columns found and the tables
/// expected.
pub fn recognise(header: &Header, type_value: Option<&str>) -> Result<Family> {
    let storage = has_columns_of(header, Family::Storage);
    let signin = has_columns_of(header, Family::Signin);
    let named = type_value.filter(|v| !v.trim().is_empty());

    match (storage, signin, named.map(LogTable::from_name)) {
        (true, _, Some(Some(table))) if table.family() == Family::Storage => Ok(Family::Storage),
        (_, true, Some(Some(table))) if table.family() == Family::Signin => Ok(Family::Signin),
        (true, false, None) => Ok(Family::Storage),
        (false, true, None) => Ok(Family::Signin),
        (_, _, Some(None)) => bail!(
            "the `Type` column says `{}`, which is not a table blobtrail reads; expected {}",
            named.unwrap_or_default(),
            expected_tables()
        ),
        (_, _, Some(Some(table))) => bail!(
            "the `Type` column says `{}`, but the file lacks the columns of a {} table export ({}); \
             it looks like the result of a query rather than the table's rows: export the table's rows with all columns. Columns found: {}",
            table.name(),
            table.name(),
            missing_columns(header, table.family()),
            header.display_names()
        ),
        _ => bail!(
            "not a log export blobtrail can read: columns found: {}; expected {}",
            header.display_names(),
            expected_tables()
        ),
    }
}

/// Tells whether a header has the columns that the records of a family need.
pub fn has_columns_of(header: &Header, family: Family) -> bool {
    let has_any = |keys: &[&str]| keys.iter().any(|key| header.has(key));
    match family {
        Family::Storage => has_any(STORAGE_TIME) && STORAGE_REQUIRED.iter().all(|keys| has_any(keys)) && has_any(STORAGE_OBJECT),
        Family::Signin => {
            (has_any(SIGNIN_TIME) || has_any(SIGNIN_CREATED))
                && has_any(SIGNIN_ADDRESS)
                && [SIGNIN_USER, SIGNIN_USER_ID, SIGNIN_SP_ID, SIGNIN_SP_NAME].iter().any(|keys| has_any(keys))
        }
    }
}

/// Tells whether a record has a value in any column that identifies a record of either log
/// family (a storage request's operation, caller or object; a sign-in's address, user or
/// service principal). `value` gives the record's value in a column of `header`. A file's
/// header is the union of its records' keys, so a record can sit under a log table's header
/// and still be no log record at all.
pub fn has_log_values(header: &Header, value: impl Fn(usize) -> bool) -> bool {
    let storage = STORAGE_REQUIRED.iter().copied().chain([STORAGE_OBJECT]);
    let signin = [SIGNIN_ADDRESS, SIGNIN_USER, SIGNIN_USER_ID, SIGNIN_SP_ID, SIGNIN_SP_NAME];
    storage.chain(signin).flatten().flat_map(|key| header.find(key)).any(|&column| value(column))
}

/// Finds the family of a diagnostic-settings record by its `category`: `StorageRead`,
/// `StorageWrite` and `StorageDelete` for storage, the sign-in categories of `from_category`.
pub fn family_of_category(category: &str) -> Option<Family> {
    // Compared without a lower-case copy: the fast path checks every storage record.
    let prefix = category.trim().as_bytes().get(..7);
    if prefix.is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"storage")) {
        return Some(Family::Storage);
    }
    LogTable::from_category(category).map(LogTable::family)
}

/// Explains why a metric record is not imported.
pub fn metric_reason(metric: &str) -> String {
    format!("an Azure Monitor metric record (`{metric}`), not a log record")
}

/// Explains why a record of another category than storage and sign-in logs is not imported.
pub fn other_category_reason(category: &str) -> String {
    format!("a record of the `{category}` category, which blobtrail does not read: it reads storage and sign-in logs")
}

fn expected_tables() -> &'static str {
    "a Log Analytics export of StorageBlobLogs or StorageFileLogs (with TimeGenerated, OperationName, \
     CallerIpAddress, Uri or ObjectKey) or of SigninLogs, AADNonInteractiveUserSignInLogs, \
     AADServicePrincipalSignInLogs or AADManagedIdentitySignInLogs (with TimeGenerated or \
     CreatedDateTime, IPAddress, UserPrincipalName or ServicePrincipalId)"
}

fn missing_columns(header: &Header, family: Family) -> String {
    let identity: Vec<&str> = [SIGNIN_USER, SIGNIN_USER_ID, SIGNIN_SP_ID, SIGNIN_SP_NAME].concat();
    let time: Vec<&str> = [SIGNIN_TIME, SIGNIN_CREATED].concat();
    let groups: Vec<(&[&str], &str)> = match family {
        Family::Storage => vec![
            (STORAGE_TIME, "TimeGenerated"),
            (&["operationname"], "OperationName"),
            (&["calleripaddress"], "CallerIpAddress"),
            (STORAGE_OBJECT, "Uri or ObjectKey"),
        ],
        Family::Signin => vec![
            (&time, "TimeGenerated or CreatedDateTime"),
            (SIGNIN_ADDRESS, "IPAddress"),
            (&identity, "UserPrincipalName, UserId or ServicePrincipalId"),
        ],
    };
    let missing: Vec<&str> = groups
        .iter()
        .filter(|(keys, _)| !keys.iter().any(|key| header.has(key)))
        .map(|(_, label)| *label)
        .collect();
    format!("missing {}", missing.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_columns_are_recognised() {
        let header = Header::new(["TimeGenerated [UTC]", "OperationName", "CallerIpAddress", "Uri"]);
        assert_eq!(recognise(&header, None).unwrap(), Family::Storage);
        assert_eq!(recognise(&header, Some("StorageFileLogs")).unwrap(), Family::Storage);
    }

    #[test]
    fn signin_without_time_generated_uses_created() {
        let header = Header::new(["CreatedDateTime [UTC]", "IPAddress", "UserPrincipalName"]);
        assert_eq!(recognise(&header, Some("SigninLogs")).unwrap(), Family::Signin);
    }

    #[test]
    fn query_result_with_type_is_rejected() {
        let header = Header::new(["StartTime [UTC]", "IPAddress", "Type"]);
        let err = recognise(&header, Some("SigninLogs")).unwrap_err().to_string();
        assert!(err.contains("result of a query"), "{err}");
        assert!(err.contains("StartTime, IPAddress, Type"), "{err}");
        assert!(err.contains("UserPrincipalName"), "{err}");
    }

    #[test]
    fn foreign_type_is_rejected() {
        let header = Header::new(["TimeGenerated", "OperationName", "Type"]);
        let err = recognise(&header, Some("AuditLogs")).unwrap_err().to_string();
        assert!(err.contains("`AuditLogs`"), "{err}");
    }

    #[test]
    fn unrelated_columns_are_rejected() {
        let header = Header::new(["Name", "Size", "Owner"]);
        let err = recognise(&header, None).unwrap_err().to_string();
        assert!(err.contains("columns found: Name, Size, Owner"), "{err}");
        assert!(err.contains("StorageBlobLogs"), "{err}");
    }

    #[test]
    fn restored_and_search_tables_count_as_theirs() {
        assert_eq!(LogTable::from_name("StorageBlobLogs_RST"), Some(LogTable::StorageBlobLogs));
        assert_eq!(LogTable::from_name("signinlogs_srch"), Some(LogTable::SigninLogs));
        assert_eq!(LogTable::from_name("AuditLogs_SRCH"), None);
        assert_eq!(LogTable::from_name("_RST"), None);
        assert_eq!(LogTable::from_name("StorageBlobLogs_CL"), Some(LogTable::StorageBlobLogs));
        assert_eq!(LogTable::from_name("InteractiveSignIns_CL"), Some(LogTable::SigninLogs));
        assert_eq!(LogTable::from_name("NonInteractiveSignIns_CL"), Some(LogTable::AADNonInteractiveUserSignInLogs));
        assert_eq!(LogTable::from_name("InteractiveSignIns"), None);
        assert_eq!(LogTable::from_name("AuditLogs_CL"), None);
    }

    #[test]
    fn categories_map_to_families() {
        assert_eq!(family_of_category("StorageWrite"), Some(Family::Storage));
        assert_eq!(family_of_category(" storagedelete"), Some(Family::Storage));
        assert_eq!(family_of_category("NonInteractiveUserSignInLogs"), Some(Family::Signin));
        assert_eq!(family_of_category("AuditLogs"), None);
    }

    #[test]
    fn category_names_map_to_tables() {
        assert_eq!(LogTable::from_category("NonInteractiveUserSignInLogs"), Some(LogTable::AADNonInteractiveUserSignInLogs));
        assert_eq!(LogTable::from_category("StorageWrite"), None);
    }
}
