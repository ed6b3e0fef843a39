//! The log tables blobtrail reads, and how an export's table is recognised from its columns.

use anyhow::{bail, Result};

use super::header::Header;

/// The log family a table belongs to: the two are stored in different case tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Storage,
    Signin,
}

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
    pub fn from_name(name: &str) -> Option<LogTable> {
        LogTable::ALL.into_iter().find(|table| table.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Finds a sign-in table by the `Category` value that diagnostic settings and Log Analytics
    /// give its records.
    pub fn from_category(category: &str) -> Option<LogTable> {
        let table = match category.trim().to_ascii_lowercase().as_str() {
            "signinlogs" => LogTable::SigninLogs,
            "noninteractiveusersigninlogs" => LogTable::AADNonInteractiveUserSignInLogs,
            "serviceprincipalsigninlogs" => LogTable::AADServicePrincipalSignInLogs,
            "managedidentitysigninlogs" => LogTable::AADManagedIdentitySignInLogs,
            _ => return None,
        };
        Some(table)
    }
}

const STORAGE_TIME: &[&str] = &["timegenerated"];
const STORAGE_REQUIRED: &[&str] = &["operationname", "calleripaddress"];
const STORAGE_OBJECT: &[&str] = &["uri", "objectkey"];
const SIGNIN_TIME: &[&str] = &["timegenerated", "createddatetime"];
const SIGNIN_ADDRESS: &[&str] = &["ipaddress"];
const SIGNIN_IDENTITY: &[&str] =
    &["userprincipalname", "userid", "serviceprincipalid", "serviceprincipalname"];

/// Recognises the log family of an export from its columns, checked against the `Type` value of
/// its first record when there is one. The error names the columns found and the tables
/// expected.
pub fn recognise(header: &Header, type_value: Option<&str>) -> Result<Family> {
    let has_any = |keys: &[&str]| keys.iter().any(|key| header.has(key));
    let has_all = |keys: &[&str]| keys.iter().all(|key| header.has(key));
    let storage = has_any(STORAGE_TIME) && has_all(STORAGE_REQUIRED) && has_any(STORAGE_OBJECT);
    let signin = has_any(SIGNIN_TIME) && has_all(SIGNIN_ADDRESS) && has_any(SIGNIN_IDENTITY);
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

fn expected_tables() -> &'static str {
    "a Log Analytics export of StorageBlobLogs or StorageFileLogs (with TimeGenerated, OperationName, \
     CallerIpAddress, Uri or ObjectKey) or of SigninLogs, AADNonInteractiveUserSignInLogs, \
     AADServicePrincipalSignInLogs or AADManagedIdentitySignInLogs (with TimeGenerated or \
     CreatedDateTime, IPAddress, UserPrincipalName or ServicePrincipalId)"
}

fn missing_columns(header: &Header, family: Family) -> String {
    let groups: &[(&[&str], &str)] = match family {
        Family::Storage => &[
            (STORAGE_TIME, "TimeGenerated"),
            (&["operationname"], "OperationName"),
            (&["calleripaddress"], "CallerIpAddress"),
            (STORAGE_OBJECT, "Uri or ObjectKey"),
        ],
        Family::Signin => &[
            (SIGNIN_TIME, "TimeGenerated or CreatedDateTime"),
            (SIGNIN_ADDRESS, "IPAddress"),
            (SIGNIN_IDENTITY, "UserPrincipalName, UserId or ServicePrincipalId"),
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
    fn category_names_map_to_tables() {
        assert_eq!(LogTable::from_category("NonInteractiveUserSignInLogs"), Some(LogTable::AADNonInteractiveUserSignInLogs));
        assert_eq!(LogTable::from_category("StorageWrite"), None);
    }
}
