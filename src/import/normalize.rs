//! Turns export rows into the case's normalised storage and sign-in rows.
//!
//! Every value is read as text and parsed with explicit formats: times by
//! `parse::time`, addresses by `parse::ip`, object paths by `parse::uri`. A record whose time or
//! typed value does not parse is rejected whole, with the column, the value and the reason, so
//! that nothing is imported half-read. Two conditions stop the file instead, because they affect
//! every record alike and guessing would shift every time: local-time columns without
//! `--utc-offset`, and slash dates whose day/month order is unknown without `--date-order`.

use anyhow::{bail, Result};
use sha2::{Digest, Sha256};

use super::header::{ColumnZone, Header};
use super::record::Row;
use super::tables::{self, Family, LogTable};
use crate::parse::{ip, time, uri};

/// Options that change how values are read.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Offset of `[Local Time]` columns from UTC, in minutes.
    pub utc_offset_minutes: Option<i32>,
    /// Day/month order of slash dates written with a 24-hour clock.
    pub date_order: Option<time::DateOrder>,
}

/// The reason a record was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub column: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

/// An address as stored: canonical form, port, family, scope, or the problem that left it out.
#[derive(Debug, Default, Clone)]
pub struct Address {
    pub raw: Option<String>,
    pub canonical: Option<String>,
    pub port: Option<i32>,
    pub family: Option<&'static str>,
    pub scope: Option<&'static str>,
    pub problem: Option<&'static str>,
}

impl Address {
    fn parse(raw: Option<&str>) -> Address {
        let Some(text) = raw else {
            return Address { problem: Some("empty address"), ..Address::default() };
        };
        let mut address = Address { raw: Some(text.to_string()), ..Address::default() };
        match ip::parse_address(text) {
            Ok(parsed) => {
                address.canonical = Some(parsed.canonical());
                address.port = parsed.port.map(i32::from);
                address.family = Some(parsed.family());
                address.scope = Some(parsed.scope().as_str());
            }
            Err(err) => address.problem = Some(err.reason()),
        }
        address
    }
}

#[derive(Debug)]
pub struct StorageRow {
    pub event_key: String,
    pub table: LogTable,
    pub time_generated: i64,
    pub time_raw: String,
    pub account_name: Option<String>,
    pub operation_name: Option<String>,
    pub status_text: Option<String>,
    pub status_code: Option<String>,
    pub authentication_type: Option<String>,
    pub authentication_hash: Option<String>,
    pub uri: Option<String>,
    pub object_key: Option<String>,
    pub object_path: Option<String>,
    pub container: Option<String>,
    pub file_name: Option<String>,
    pub caller: Address,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub requester_upn: Option<String>,
    pub requester_object_id: Option<String>,
    pub requester_app_id: Option<String>,
    pub requester_tenant_id: Option<String>,
    pub service_type: Option<String>,
    pub protocol: Option<String>,
    pub correlation_id: Option<String>,
    pub request_body_size: Option<i64>,
    /// `RequesterUserName`: the Windows user (`DOMAIN\user`) of an SMB request.
    pub requester_user_name: Option<String>,
    pub smb_primary_sid: Option<String>,
}

#[derive(Debug)]
pub struct SigninRow {
    pub event_key: String,
    pub table: LogTable,
    pub time_generated: Option<i64>,
    pub created_time: Option<i64>,
    pub time_raw: String,
    pub user_principal_name: Option<String>,
    pub user_id: Option<String>,
    pub user_display_name: Option<String>,
    pub app_id: Option<String>,
    pub app_display_name: Option<String>,
    pub service_principal_id: Option<String>,
    pub service_principal_name: Option<String>,
    pub address: Address,
    pub user_agent: Option<String>,
    pub result_type: Option<String>,
    pub result_description: Option<String>,
    pub is_interactive: Option<bool>,
    pub client_app_used: Option<String>,
    pub correlation_id: Option<String>,
    pub signin_id: Option<String>,
}

// Every record becomes one of these, and most are storage rows: boxing the row would cost an
// allocation per record to save memory only on the rare rejected one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Mapped {
    Storage(StorageRow),
    Signin(SigninRow),
    Rejected(Reject),
}

/// The columns of one header that a family's rows are read from.
pub enum Mapper {
    Storage(StorageColumns),
    Signin(SigninColumns),
}

impl Mapper {
    /// Fails when a time column's values needed both day and month orders (see `TimeField`).
    /// Called when the rows of a header are all read.
    pub fn check_date_order(&self) -> Result<()> {
        match self {
            Mapper::Storage(columns) => columns.time.check_date_order(),
            Mapper::Signin(columns) => {
                columns.time_generated.check_date_order()?;
                columns.created.check_date_order()
            }
        }
    }

    /// Resolves the columns of `header` for `family`; fails on local times without an offset.
    /// `hint` is the sign-in table the file's name suggests.
    pub fn new(header: &Header, family: Family, settings: &Settings, hint: Option<LogTable>) -> Result<Mapper> {
        Ok(match family {
            Family::Storage => Mapper::Storage(StorageColumns::new(header, settings)?),
            Family::Signin => Mapper::Signin(SigninColumns::new(header, settings, hint)?),
        })
    }

    /// Maps one row. An error here stops the whole file.
    pub fn map(&self, row: &Row) -> Result<Mapped> {
        match self {
            Mapper::Storage(columns) => columns.map(row),
            Mapper::Signin(columns) => columns.map(row),
        }
    }
}

/// One logical column: every header column with one of the given keys, first key first.
struct Field {
    columns: Vec<usize>,
    name: String,
}

impl Field {
    fn new(header: &Header, keys: &[&str]) -> Field {
        for key in keys {
            let columns = header.find(key);
            if !columns.is_empty() {
                let name = header.names()[columns[0]].trim().to_string();
                return Field { columns: columns.to_vec(), name };
            }
        }
        Field { columns: Vec::new(), name: keys.first().copied().unwrap_or_default().to_string() }
    }

    /// Returns the first non-empty value of the field's columns, without the spaces around it:
    /// a cell written as `PutBlob ` is the operation `PutBlob`. `raw` keeps the cell as written.
    fn get<'r>(&self, row: &'r Row) -> Option<&'r str> {
        self.columns.iter().map(|&column| row.get(column).trim()).find(|value| !value.is_empty())
    }

    /// Rejects a record whose columns for this field (a duplicated header) hold different
    /// non-empty values: picking one would decide the evidence silently.
    fn check_agreement(&self, row: &Row) -> Result<(), Reject> {
        let mut values = self.columns.iter().map(|&column| row.get(column).trim()).filter(|value| !value.is_empty());
        let Some(first) = values.next() else { return Ok(()) };
        match values.find(|value| *value != first) {
            None => Ok(()),
            Some(other) => Err(Reject {
                column: Some(self.name.clone()),
                value: Some(format!("{first} | {other}")),
                reason: "the file has this column more than once, with different values in this record".into(),
            }),
        }
    }

    fn text(&self, row: &Row) -> Option<String> {
        self.get(row).map(str::to_string)
    }

    fn zone(&self, header: &Header) -> ColumnZone {
        let local = self.columns.iter().any(|&c| header.zone(c) == ColumnZone::Local);
        if local { ColumnZone::Local } else { ColumnZone::Utc }
    }
}

/// A datetime column with the offset its zone-less values are read with.
struct TimeField {
    field: Field,
    offset_minutes: i32,
    date_order: Option<time::DateOrder>,
    /// The first value read month first and the first read day first by inference, when no
    /// order was given: a file whose values need both orders stops (`check_date_order`).
    inferred: std::sync::Mutex<[Option<String>; 2]>,
    /// Bits of the orders already kept in `inferred`, so that most values take no lock.
    inferred_bits: std::sync::atomic::AtomicU8,
}

impl TimeField {
    fn new(header: &Header, keys: &[&str], settings: &Settings) -> Result<TimeField> {
        let field = Field::new(header, keys);
        let offset_minutes = match (field.zone(header), settings.utc_offset_minutes) {
            (ColumnZone::Local, Some(offset)) => offset,
            (ColumnZone::Local, None) => bail!(
                "column `{}` holds local times whose offset from UTC the file does not state; \
                 give it with `--utc-offset` (for example `--utc-offset +02:00`) or export again with UTC times",
                field.name
            ),
            _ => 0,
        };
        Ok(TimeField { field, offset_minutes, date_order: settings.date_order, inferred: Default::default(), inferred_bits: Default::default() })
    }

    /// Fails when the column held slash dates read month first and others read day first: the
    /// order is a property of the file, so one of the two readings is wrong.
    fn check_date_order(&self) -> Result<()> {
        let inferred = self.inferred.lock().map_err(|_| anyhow::anyhow!("a reading thread failed"))?;
        if let [Some(month_first), Some(day_first)] = &*inferred {
            bail!(
                "column `{}` has dates that read month first, such as `{month_first}`, and dates that read day first, \
                 such as `{day_first}`, so the file's day and month order cannot be told; give it with `--date-order dmy` \
                 or `--date-order mdy`",
                self.field.name
            );
        }
        Ok(())
    }

    /// Keeps the first value read with each inferred order.
    fn note_order(&self, order: time::DateOrder, raw: &str) {
        let slot = match order {
            time::DateOrder::MonthFirst => 0,
            time::DateOrder::DayFirst => 1,
        };
        let bit = 1u8 << slot;
        if self.inferred_bits.load(std::sync::atomic::Ordering::Relaxed) & bit != 0 {
            return;
        }
        if let Ok(mut inferred) = self.inferred.lock() {
            self.inferred_bits.fetch_or(bit, std::sync::atomic::Ordering::Relaxed);
            inferred[slot].get_or_insert_with(|| raw.to_string());
        }
    }

    /// Parses the field's value. `Ok(Err(reject))` rejects the record; `Err` stops the file.
    fn parse<'r>(&self, row: &'r Row) -> Result<Result<Option<(i64, &'r str)>, Reject>> {
        let Some(raw) = self.field.get(row).filter(|v| !is_null_word(v)) else {
            return Ok(Ok(None));
        };
        match time::parse_timestamp_inferring(raw, self.offset_minutes, self.date_order) {
            Ok((micros, inferred)) => {
                if let Some(order) = inferred {
                    self.note_order(order, raw);
                }
                Ok(Ok(Some((micros, raw))))
            }
            Err(time::TimeError::AmbiguousDateOrder) => bail!(
                "column `{}` has the date `{raw}`, whose day and month order cannot be told; \
                 give it with `--date-order dmy` or `--date-order mdy`",
                self.field.name
            ),
            Err(err) => Ok(Err(Reject {
                column: Some(self.field.name.clone()),
                value: Some(raw.to_string()),
                reason: format!("invalid datetime: {}", err.reason()),
            })),
        }
    }
}

/// Words some exporters write in place of a missing value (`az` writes Python's `None`).
fn is_null_word(value: &str) -> bool {
    matches!(value.trim(), "None" | "null" | "NULL")
}

pub struct StorageColumns {
    time: TimeField,
    type_name: Field,
    account: Field,
    operation: Field,
    status_text: Field,
    status_code: Field,
    auth_type: Field,
    auth_hash: Field,
    uri: Field,
    object_key: Field,
    caller: Field,
    user_agent: Field,
    referrer: Field,
    upn: Field,
    object_id: Field,
    app_id: Field,
    tenant_id: Field,
    user_name: Field,
    smb_sid: Field,
    service_type: Field,
    protocol: Field,
    correlation: Field,
    client_request: Field,
    body_size: Field,
    resource_id: Field,
    /// `Category`: `StorageRead`, `StorageWrite` or `StorageDelete`; a record of another
    /// category is rejected.
    category: Field,
    /// `MetricName`, which only metric records have; they are rejected.
    metric_name: Field,
}

impl StorageColumns {
    fn new(header: &Header, settings: &Settings) -> Result<StorageColumns> {
        let field = |keys: &[&str]| Field::new(header, keys);
        Ok(StorageColumns {
            time: TimeField::new(header, tables::STORAGE_TIME, settings)?,
            type_name: field(&["type"]),
            account: field(&["accountname", "properties.accountname"]),
            operation: field(&["operationname"]),
            status_text: field(&["statustext"]),
            status_code: field(&["statuscode"]),
            auth_type: field(&["authenticationtype", "identity.type"]),
            auth_hash: field(&["authenticationhash", "identity.tokenhash"]),
            uri: field(&["uri"]),
            object_key: field(&["objectkey", "properties.objectkey"]),
            caller: field(&["calleripaddress"]),
            user_agent: field(&["useragentheader", "properties.useragentheader"]),
            referrer: field(&["referrerheader", "properties.referrerheader"]),
            upn: field(&["requesterupn", "identity.requester.upn"]),
            object_id: field(&["requesterobjectid", "identity.requester.objectid"]),
            app_id: field(&["requesterappid", "identity.requester.appid"]),
            tenant_id: field(&["requestertenantid", "identity.requester.tenantid"]),
            user_name: field(&["requesterusername", "identity.requester.username"]),
            smb_sid: field(&["smbprimarysid", "identity.requester.smbprimarysid"]),
            service_type: field(&["servicetype", "properties.servicetype"]),
            protocol: field(&["protocol"]),
            correlation: field(&["correlationid"]),
            client_request: field(&["clientrequestid", "properties.clientrequestid"]),
            body_size: field(&["requestbodysize", "properties.requestbodysize"]),
            resource_id: field(&["_resourceid", "resourceid"]),
            category: field(&["category"]),
            metric_name: field(&["metricname"]),
        })
    }

    fn map(&self, row: &Row) -> Result<Mapped> {
        let key_fields = [&self.time.field, &self.caller, &self.operation, &self.status_text, &self.uri, &self.object_key, &self.upn];
        if let Err(reject) = key_fields.iter().try_for_each(|field| field.check_agreement(row)) {
            return Ok(Mapped::Rejected(reject));
        }
        let (time_generated, time_raw) = match self.time.parse(row)? {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(missing(&self.time.field.name)),
            Err(reject) => return Ok(Mapped::Rejected(reject)),
        };
        let table = match self.table(row) {
            Ok(table) => table,
            Err(reject) => return Ok(Mapped::Rejected(reject)),
        };

        let account = self.account.text(row);
        let uri_text = self.uri.text(row);
        let object_key = self.object_key.text(row);
        let object = uri::object_path(object_key.as_deref(), uri_text.as_deref(), account.as_deref());
        let caller = Address::parse(self.caller.get(row));
        let request_body_size = match parse_integer(self.body_size.get(row)) {
            Ok(size) => size,
            Err(value) => {
                return Ok(Mapped::Rejected(Reject {
                    column: Some(self.body_size.name.clone()),
                    value: Some(value.to_string()),
                    reason: "invalid integer".into(),
                }))
            }
        };

        let mut row_out = StorageRow {
            event_key: String::new(),
            table,
            time_generated,
            time_raw: time_raw.to_string(),
            account_name: account.or_else(|| object.as_ref().map(|o| o.account.clone())),
            operation_name: self.operation.text(row),
            status_text: self.status_text.text(row),
            status_code: self.status_code.text(row),
            authentication_type: self.auth_type.text(row),
            authentication_hash: self.auth_hash.text(row),
            uri: uri_text,
            object_key,
            object_path: object.as_ref().map(|o| o.path.clone()),
            container: object.as_ref().map(|o| o.container.clone()).filter(|c| !c.is_empty()),
            file_name: object.as_ref().map(|o| o.file_name.clone()).filter(|f| !f.is_empty()),
            caller,
            user_agent: self.user_agent.text(row),
            referrer: self.referrer.text(row),
            requester_upn: self.upn.text(row),
            requester_object_id: self.object_id.text(row),
            requester_app_id: self.app_id.text(row),
            requester_tenant_id: self.tenant_id.text(row),
            service_type: self.service_type.text(row),
            protocol: self.protocol.text(row),
            correlation_id: self.correlation.text(row),
            request_body_size,
            requester_user_name: self.user_name.text(row),
            smb_primary_sid: self.smb_sid.text(row),
        };
        // With a request ID, milliseconds are enough and let a portal CSV (milliseconds) and an
        // API export (100 ns) of the same record share a key; without one, every digit and the
        // full URI keep distinct requests apart.
        let time_key = if row_out.correlation_id.is_some() { millis(time_generated) } else { time_generated.to_string() };
        let uri_key = if row_out.correlation_id.is_some() { None } else { row_out.uri.clone() };
        row_out.event_key = event_key(&[
            Some(table.name()),
            Some(&time_key),
            uri_key.as_deref(),
            row_out.operation_name.as_deref(),
            row_out.correlation_id.as_deref(),
            self.client_request.get(row),
            row_out.object_path.as_deref().or(row_out.uri.as_deref()),
            row_out.caller.raw.as_deref(),
            row_out.status_code.as_deref(),
            row_out.status_text.as_deref().map(status_key),
            row_out.user_agent.as_deref(),
        ]);
        Ok(Mapped::Storage(row_out))
    }

    /// Decides the table from `Type`, then `ServiceType`, then the address of the request.
    fn table(&self, row: &Row) -> Result<LogTable, Reject> {
        if let Some(name) = self.type_name.get(row) {
            return match LogTable::from_name(name) {
                Some(table) if table.family() == Family::Storage => Ok(table),
                _ => Err(Reject {
                    column: Some(self.type_name.name.clone()),
                    value: Some(name.to_string()),
                    reason: "a storage log record whose `Type` is not StorageBlobLogs or StorageFileLogs".into(),
                }),
            };
        }
        if let Some(reject) = other_category(&self.category, row, Family::Storage).or_else(|| metric_record(&self.metric_name, row)) {
            return Err(reject);
        }
        let service = self.service_type.get(row).unwrap_or_default().to_ascii_lowercase();
        if service == "queue" || service == "table" {
            // Queue and table requests carry no file upload, and no table of the case is theirs.
            // Classic Storage Analytics logs can contain them beside blob requests.
            return Err(Reject {
                column: Some(self.service_type.name.clone()),
                value: Some(service.clone()),
                reason: format!("a {service} service record: the case holds blob and file service logs"),
            });
        }
        let uri_text = self.uri.get(row).unwrap_or_default().to_ascii_lowercase();
        let resource = self.resource_id.get(row).unwrap_or_default().to_ascii_lowercase();
        let is_file = service == "file"
            || (service.is_empty()
                && (uri_text.contains(".file.core.") || uri_text.starts_with("\\\\") || resource.contains("/fileservices/")));
        Ok(if is_file { LogTable::StorageFileLogs } else { LogTable::StorageBlobLogs })
    }
}

pub struct SigninColumns {
    time_generated: TimeField,
    created: TimeField,
    type_name: Field,
    category: Field,
    /// `MetricName`, which only metric records have; they are rejected.
    metric_name: Field,
    upn: Field,
    user_id: Field,
    display_name: Field,
    app_id: Field,
    app_name: Field,
    sp_id: Field,
    sp_name: Field,
    /// `managedServiceIdentity.msiType` of Microsoft Graph: `none` or the kind of managed identity.
    msi_type: Field,
    address: Field,
    user_agent: Field,
    result_type: Field,
    result_description: Field,
    /// `Status`: a JSON object with `errorCode` in Log Analytics exports that project it, or
    /// a word (Success, Failure, Interrupted) in the Entra admin center's downloads.
    status: Field,
    interactive: Field,
    client_app: Field,
    correlation: Field,
    id: Field,
    event_types: Field,
    default_table: LogTable,
    /// The default table comes from the file's name, so it outranks `IsInteractive`.
    hinted: bool,
}

/// Rejects a record whose `category` names a log of another family or one blobtrail does not
/// read, such as Entra ID's `AuditLogs`, which an event hub may carry beside sign-ins.
fn other_category(category: &Field, row: &Row, family: Family) -> Option<Reject> {
    let value = category.get(row)?.trim();
    if value.is_empty() || tables::family_of_category(value) == Some(family) {
        return None;
    }
    Some(Reject {
        column: Some(category.name.clone()),
        value: Some(value.to_string()),
        reason: tables::other_category_reason(value),
    })
}

/// Rejects a metric record (one with a `MetricName`), which diagnostic settings send beside
/// the logs and which has no category.
fn metric_record(metric_name: &Field, row: &Row) -> Option<Reject> {
    let value = metric_name.get(row)?.trim();
    (!value.is_empty()).then(|| Reject {
        column: Some(metric_name.name.clone()),
        value: Some(value.to_string()),
        reason: tables::metric_reason(value),
    })
}

/// Reads a sign-in's result and failure reason from a `Status` value, for files with no
/// `ResultType`, error code or failure reason column. A JSON object gives its `errorCode`
/// (`0` is success) and `failureReason`. The Entra admin center's word gives `0` for `Success`
/// and is kept as written for `Failure` or `Interrupted`. The text that the AzureADPreview
/// module's objects give (`class SignInStatus {` and a `ErrorCode: 50126` line), as
/// `Export-Csv` writes it, gives its `ErrorCode` and `FailureReason`. Any other value gives
/// neither.
fn read_status(status: &str) -> (Option<String>, Option<String>) {
    let status = status.trim();
    if let Some((_, body)) = status.strip_prefix("class ").and_then(|rest| rest.split_once('{')) {
        return (status_member(body, "ErrorCode"), status_member(body, "FailureReason"));
    }
    if status.starts_with('{') {
        let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(status) else {
            return (None, None);
        };
        let member = |lower_name: &str| {
            let (_, value) = object.iter().find(|(name, _)| name.to_ascii_lowercase() == lower_name)?;
            match value {
                serde_json::Value::Number(number) => Some(number.to_string()),
                serde_json::Value::String(text) if !text.is_empty() => Some(text.clone()),
                _ => None,
            }
        };
        return (member("errorcode"), member("failurereason"));
    }
    let result = if status.eq_ignore_ascii_case("success") {
        Some("0".to_string())
    } else if ["failure", "failed", "interrupted"].iter().any(|word| status.eq_ignore_ascii_case(word)) {
        Some(status.to_string())
    } else {
        None
    };
    (result, None)
}

/// Reads one member of the AuditSignInStatus text that the AzureADPreview module writes, on
/// lines of their own or on one line (`class SignInStatus { ErrorCode: 0 FailureReason:  }`).
/// A value runs up to the next member's name, the closing brace or the end of its line.
fn status_member(body: &str, name: &str) -> Option<String> {
    const MEMBERS: [&str; 3] = ["ErrorCode:", "FailureReason:", "AdditionalDetails:"];
    let lower = body.to_ascii_lowercase();
    let start = lower.find(&format!("{}:", name.to_ascii_lowercase()))? + name.len() + 1;
    let rest = &body[start..];
    let rest_lower = &lower[start..];
    let mut end = rest.find(['\n', '}']).unwrap_or(rest.len());
    for member in MEMBERS {
        if let Some(at) = rest_lower.find(&member.to_ascii_lowercase()) {
            end = end.min(at);
        }
    }
    let value = rest[..end].trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// Returns the status text as the storage event key reads it. Classic Storage Analytics logs
/// write `SASSuccess`, `OAuthSuccess` or `AnonymousSuccess` where resource logs write `Success`
/// for the same request, so the same request exported both ways gets one key.
///
/// NOTE: classic rows imported by builds before this rule keep the keys they were stored
/// with, so an overlapping classic export imported now into such a case is not recognised as
/// a duplicate of them.
fn status_key(status_text: &str) -> &str {
    if ["SASSuccess", "OAuthSuccess", "AnonymousSuccess"].iter().any(|variant| status_text.eq_ignore_ascii_case(variant)) {
        "Success"
    } else {
        status_text
    }
}

impl SigninColumns {
    fn new(header: &Header, settings: &Settings, hint: Option<LogTable>) -> Result<SigninColumns> {
        let field = |keys: &[&str]| Field::new(header, keys);
        let has_any = |keys: &[&str]| keys.iter().any(|key| header.has(key));
        let service_principal_only = !has_any(tables::SIGNIN_USER)
            && (header.has("serviceprincipalcredentialkeyid") || has_any(tables::SIGNIN_SP_ID));
        let default_table = hint.unwrap_or(if service_principal_only {
            LogTable::AADServicePrincipalSignInLogs
        } else {
            LogTable::SigninLogs
        });
        Ok(SigninColumns {
            time_generated: TimeField::new(header, tables::SIGNIN_TIME, settings)?,
            created: TimeField::new(header, tables::SIGNIN_CREATED, settings)?,
            type_name: field(&["type"]),
            category: field(&["category"]),
            metric_name: field(&["metricname"]),
            event_types: field(&["signineventtypes", "properties.signineventtypes"]),
            upn: field(tables::SIGNIN_USER),
            user_id: field(tables::SIGNIN_USER_ID),
            display_name: field(&["userdisplayname", "properties.userdisplayname", "identity", "user"]),
            app_id: field(&["appid", "properties.appid", "application id"]),
            app_name: field(&["appdisplayname", "properties.appdisplayname", "application"]),
            sp_id: field(tables::SIGNIN_SP_ID),
            sp_name: field(tables::SIGNIN_SP_NAME),
            msi_type: field(&["managedserviceidentity.msitype", "properties.managedserviceidentity.msitype"]),
            address: field(tables::SIGNIN_ADDRESS),
            user_agent: field(&["useragent", "properties.useragent", "user agent"]),
            result_type: field(&["resulttype", "properties.status.errorcode", "status.errorcode", "sign-in error code"]),
            result_description: field(&[
                "resultdescription",
                "properties.status.failurereason",
                "status.failurereason",
                "failure reason",
            ]),
            status: field(&["status", "status_dynamic", "status_string", "properties.status"]),
            interactive: field(&["isinteractive", "properties.isinteractive"]),
            client_app: field(&["clientappused", "properties.clientappused", "client app"]),
            correlation: field(&["correlationid", "properties.correlationid", "correlation id"]),
            id: field(&["id", "properties.id", "request id"]),
            default_table,
            hinted: hint.is_some(),
        })
    }

    fn map(&self, row: &Row) -> Result<Mapped> {
        let key_fields =
            [&self.time_generated.field, &self.created.field, &self.address, &self.upn, &self.result_type, &self.status];
        if let Err(reject) = key_fields.iter().try_for_each(|field| field.check_agreement(row)) {
            return Ok(Mapped::Rejected(reject));
        }
        let generated = match self.time_generated.parse(row)? {
            Ok(parsed) => parsed,
            Err(reject) => return Ok(Mapped::Rejected(reject)),
        };
        let created = match self.created.parse(row)? {
            Ok(parsed) => parsed,
            Err(reject) => return Ok(Mapped::Rejected(reject)),
        };
        let Some(time_raw) = generated.or(created).map(|(_, raw)| raw.to_string()) else {
            return Ok(missing("TimeGenerated or CreatedDateTime"));
        };
        let is_interactive = match parse_bool(self.interactive.get(row)) {
            Ok(value) => value,
            Err(value) => {
                return Ok(Mapped::Rejected(Reject {
                    column: Some(self.interactive.name.clone()),
                    value: Some(value.to_string()),
                    reason: "invalid boolean: expected TRUE, FALSE, true, false, 1 or 0".into(),
                }))
            }
        };
        let table = match self.table(row, is_interactive) {
            Ok(table) => table,
            Err(reject) => return Ok(Mapped::Rejected(reject)),
        };

        let (result_type, result_description) = match (self.result_type.text(row), self.result_description.text(row)) {
            (Some(result), Some(reason)) => (Some(result), Some(reason)),
            (result, reason) => {
                let (status_result, status_reason) = self.status.get(row).map(read_status).unwrap_or_default();
                (result.or(status_result), reason.or(status_reason))
            }
        };
        let result_type = result_type.map(whole_number_text);
        let mut out = SigninRow {
            event_key: String::new(),
            table,
            time_generated: generated.map(|(micros, _)| micros),
            created_time: created.map(|(micros, _)| micros),
            time_raw,
            user_principal_name: self.upn.text(row),
            user_id: self.user_id.text(row),
            user_display_name: self.display_name.text(row),
            app_id: self.app_id.text(row),
            app_display_name: self.app_name.text(row),
            service_principal_id: self.sp_id.text(row),
            service_principal_name: self.sp_name.text(row),
            address: Address::parse(self.address.get(row)),
            user_agent: self.user_agent.text(row),
            result_type,
            result_description,
            is_interactive,
            client_app_used: self.client_app.text(row),
            correlation_id: self.correlation.text(row),
            signin_id: self.id.text(row),
        };
        let event_time = out.created_time.or(out.time_generated).map(millis);
        out.event_key = event_key(&[
            Some(table.name()),
            out.signin_id.as_deref(),
            event_time.as_deref(),
            out.user_principal_name.as_deref(),
            out.user_id.as_deref(),
            out.service_principal_id.as_deref(),
            out.address.raw.as_deref(),
            out.result_type.as_deref(),
            out.correlation_id.as_deref(),
            out.app_id.as_deref(),
        ]);
        Ok(Mapped::Signin(out))
    }

    /// Decides the table from `Type`, then `Category`, then `IsInteractive` and the columns.
    fn table(&self, row: &Row, is_interactive: Option<bool>) -> Result<LogTable, Reject> {
        if let Some(name) = self.type_name.get(row) {
            return match LogTable::from_name(name) {
                Some(table) if table.family() == Family::Signin => Ok(table),
                _ => Err(Reject {
                    column: Some(self.type_name.name.clone()),
                    value: Some(name.to_string()),
                    reason: "a sign-in record whose `Type` is not a sign-in table".into(),
                }),
            };
        }
        if let Some(reject) = other_category(&self.category, row, Family::Signin).or_else(|| metric_record(&self.metric_name, row)) {
            return Err(reject);
        }
        if let Some(table) = self.category.get(row).and_then(LogTable::from_category) {
            return Ok(table);
        }
        if let Some(table) = self.event_types.get(row).and_then(LogTable::from_event_types) {
            return Ok(table);
        }
        // Microsoft Graph v1.0 lists no event types: a sign-in that names a service principal
        // and no user is an application's, or a managed identity's when `msiType` names one.
        if !self.hinted && self.upn.get(row).is_none() && self.user_id.get(row).is_none() && self.sp_id.get(row).is_some() {
            let managed = self.msi_type.get(row).is_some_and(|kind| !kind.eq_ignore_ascii_case("none"));
            return Ok(if managed { LogTable::AADManagedIdentitySignInLogs } else { LogTable::AADServicePrincipalSignInLogs });
        }
        if is_interactive == Some(false) && self.default_table == LogTable::SigninLogs && !self.hinted {
            return Ok(LogTable::AADNonInteractiveUserSignInLogs);
        }
        Ok(self.default_table)
    }
}

/// Writes an error code that a tool turned into a real number (`0.0`, `50126.0`, as a custom
/// table's `_d` column or `az` output gives it) or grouped by thousands (`50,126`, as Excel
/// shows a number) as the integer it is. Other text is kept.
fn whole_number_text(value: String) -> String {
    if let Some((first, rest)) = value.split_once(',') {
        let digits = |group: &str| group.bytes().all(|b| b.is_ascii_digit());
        let grouped = (1..=3).contains(&first.len()) && digits(first) && rest.split(',').all(|group| group.len() == 3 && digits(group));
        return if grouped { value.replace(',', "") } else { value };
    }
    match value.split_once('.') {
        Some((whole, fraction))
            if !whole.is_empty()
                && whole.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit())
                && !whole.trim_start_matches('-').is_empty()
                && fraction.bytes().all(|b| b == b'0') =>
        {
            whole.to_string()
        }
        _ => value,
    }
}

fn missing(column: &str) -> Mapped {
    Mapped::Rejected(Reject {
        column: Some(column.to_string()),
        value: None,
        reason: "missing time: the record has no value in this column".into(),
    })
}

/// Parses a boolean cell; `Err` carries the text that is not a boolean.
fn parse_bool(value: Option<&str>) -> Result<Option<bool>, &str> {
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty() && !is_null_word(v)) else {
        return Ok(None);
    };
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        _ => Err(text),
    }
}

/// Parses an integer cell; `Err` carries the text that is not an integer. JSON exports may
/// write whole numbers as `512.0`, which is accepted.
fn parse_integer(value: Option<&str>) -> Result<Option<i64>, &str> {
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty() && !is_null_word(v)) else {
        return Ok(None);
    };
    if let Ok(number) = text.parse::<i64>() {
        return Ok(Some(number));
    }
    match text.parse::<f64>() {
        Ok(number) if number.fract() == 0.0 && number.abs() < 9.0e15 => Ok(Some(number as i64)),
        _ => Err(text),
    }
}

/// Formats a time to whole milliseconds, the precision every export shape keeps, so that the
/// same record read from a portal CSV and from the API gets the same key.
fn millis(micros: i64) -> String {
    micros.div_euclid(1000).to_string()
}

/// Hashes the identifying fields of a record; absent fields hash as empty.
fn event_key(parts: &[Option<&str>]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.unwrap_or_default().as_bytes());
        hasher.update([0x1f]);
    }
    crate::sql::hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::record::Position;

    #[test]
    fn status_text_of_azureadpreview_objects() {
        let failed = "class SignInStatus {\n  ErrorCode: 50126\n  FailureReason: Error validating credentials: invalid password.\n  AdditionalDetails: \n}\n";
        assert_eq!(
            read_status(failed),
            (Some("50126".to_string()), Some("Error validating credentials: invalid password.".to_string()))
        );
        let succeeded = "class SignInStatus {\r\n  ErrorCode: 0\r\n  FailureReason: \r\n}";
        assert_eq!(read_status(succeeded), (Some("0".to_string()), None));
        assert_eq!(read_status("class SignInStatus {\n}"), (None, None));
        let one_line = "class SignInStatus { ErrorCode: 0 FailureReason:  AdditionalDetails:  }";
        assert_eq!(read_status(one_line), (Some("0".to_string()), None));
        let one_line = "class SignInStatus { ErrorCode:50126 FailureReason: Invalid username }";
        assert_eq!(read_status(one_line), (Some("50126".to_string()), Some("Invalid username".to_string())));
    }

    fn row(values: &[&str]) -> Row {
        Row {
            position: Position { record_no: 1, line: Some(2) },
            values: values.iter().map(|v| v.to_string()).collect(),
            raw: String::new(),
        }
    }

    fn storage_header() -> Header {
        Header::new([
            "TimeGenerated [UTC]", "AccountName", "OperationName", "StatusText", "Uri",
            "CallerIpAddress", "UserAgentHeader", "ObjectKey", "Type",
        ])
    }

    #[test]
    fn storage_row_is_normalised() {
        let mapper = Mapper::new(&storage_header(), Family::Storage, &Settings::default(), None).unwrap();
        let mapped = mapper
            .map(&row(&[
                "3/14/2026, 2:00:30.123 PM", "acct", "PutBlob", "Success",
                "https://acct.blob.core.windows.net:443/c/r%C3%A9sum%C3%A9%20(1).docx?sig=XXXXX",
                "[2001:DB8::5]:50123", "", "", "StorageBlobLogs",
            ]))
            .unwrap();
        let Mapped::Storage(out) = mapped else { panic!("{mapped:?}") };
        assert_eq!(time::format_iso(out.time_generated), "2026-03-14T14:00:30.123000Z");
        assert_eq!(out.caller.canonical.as_deref(), Some("2001:db8::5"));
        assert_eq!(out.caller.port, Some(50123));
        assert_eq!(out.file_name.as_deref(), Some("résumé (1).docx"));
        assert_eq!(out.object_path.as_deref(), Some("/acct/c/résumé (1).docx"));
        assert_eq!(out.user_agent, None);
        assert_eq!(out.table, LogTable::StorageBlobLogs);
    }

    #[test]
    fn bad_time_rejects_record_with_column() {
        let mapper = Mapper::new(&storage_header(), Family::Storage, &Settings::default(), None).unwrap();
        let mapped = mapper.map(&row(&["not a date", "acct", "PutBlob", "", "", "", "", "", ""])).unwrap();
        let Mapped::Rejected(reject) = mapped else { panic!("{mapped:?}") };
        assert_eq!(reject.column.as_deref(), Some("TimeGenerated [UTC]"));
        assert_eq!(reject.value.as_deref(), Some("not a date"));
    }

    #[test]
    fn local_time_needs_offset() {
        let header = Header::new(["TimeGenerated [Local Time]", "OperationName", "CallerIpAddress", "Uri"]);
        let err = Mapper::new(&header, Family::Storage, &Settings::default(), None).err().unwrap();
        assert!(err.to_string().contains("--utc-offset"), "{err}");
        let settings = Settings { utc_offset_minutes: Some(120), ..Settings::default() };
        let mapper = Mapper::new(&header, Family::Storage, &settings, None).unwrap();
        let Mapped::Storage(out) = mapper.map(&row(&["2026-03-14T16:00:00", "PutBlob", "1.2.3.4", "x"])).unwrap() else {
            panic!()
        };
        assert_eq!(time::format_iso(out.time_generated), "2026-03-14T14:00:00.000000Z");
    }

    #[test]
    fn same_record_from_two_shapes_has_one_key() {
        let header = Header::new(["TimeGenerated [UTC]", "OperationName", "Uri", "CallerIpAddress", "CorrelationId"]);
        let mapper = Mapper::new(&header, Family::Storage, &Settings::default(), None).unwrap();
        let values = |time: &'static str| row(&[time, "PutBlob", "https://acct.blob.core.windows.net/c/a.txt", "1.2.3.4:5", "c-1"]);
        let Mapped::Storage(csv) = mapper.map(&values("3/14/2026, 2:00:30.123 PM")).unwrap() else { panic!() };
        let Mapped::Storage(api) = mapper.map(&values("2026-03-14T14:00:30.1234567Z")).unwrap() else { panic!() };
        assert_eq!(csv.event_key, api.event_key);
    }

    #[test]
    fn requests_without_id_keep_apart() {
        let mapper = Mapper::new(&storage_header(), Family::Storage, &Settings::default(), None).unwrap();
        let block = |id: &'static str| {
            row(&["2026-03-14T14:00:30.1234Z", "acct", "PutBlock", "Success", id, "1.2.3.4:5", "ua", "", ""])
        };
        let Mapped::Storage(first) = mapper.map(&block("https://acct.blob.core.windows.net/c/big.bin?comp=block&blockid=AAAA")).unwrap() else { panic!() };
        let Mapped::Storage(second) = mapper.map(&block("https://acct.blob.core.windows.net/c/big.bin?comp=block&blockid=AAAB")).unwrap() else { panic!() };
        assert_ne!(first.event_key, second.event_key);
    }

    #[test]
    fn signin_falls_back_to_created_time_and_category() {
        let header = Header::new(["CreatedDateTime [UTC]", "IPAddress", "UserPrincipalName", "IsInteractive", "Category"]);
        let mapper = Mapper::new(&header, Family::Signin, &Settings::default(), None).unwrap();
        let mapped = mapper
            .map(&row(&["4/28/2021, 2:08:45.221 PM", "175.45.176.99", "a@b.c", "TRUE", "NonInteractiveUserSignInLogs"]))
            .unwrap();
        let Mapped::Signin(out) = mapped else { panic!("{mapped:?}") };
        assert_eq!(out.time_generated, None);
        assert_eq!(out.created_time.map(time::format_iso).as_deref(), Some("2021-04-28T14:08:45.221000Z"));
        assert_eq!(out.is_interactive, Some(true));
        assert_eq!(out.table, LogTable::AADNonInteractiveUserSignInLogs);
    }

    #[test]
    fn signin_without_user_names_service_principal() {
        let header = Header::new([
            "createdDateTime", "userPrincipalName", "userId", "servicePrincipalId", "isInteractive", "managedServiceIdentity.msiType",
        ]);
        let mapper = Mapper::new(&header, Family::Signin, &Settings::default(), None).unwrap();
        let table = |values: &[&str]| match mapper.map(&row(values)).unwrap() {
            Mapped::Signin(out) => out.table,
            other => panic!("{other:?}"),
        };
        assert_eq!(table(&["2026-03-02T00:06:00Z", "", "", "sp-1", "false", ""]), LogTable::AADServicePrincipalSignInLogs);
        assert_eq!(table(&["2026-03-02T00:06:00Z", "", "", "sp-1", "false", "none"]), LogTable::AADServicePrincipalSignInLogs);
        assert_eq!(
            table(&["2026-03-02T00:06:00Z", "", "", "sp-1", "false", "systemAssigned"]),
            LogTable::AADManagedIdentitySignInLogs
        );
        assert_eq!(table(&["2026-03-02T00:06:00Z", "", "u-1", "sp-1", "false", ""]), LogTable::AADNonInteractiveUserSignInLogs);
        assert_eq!(table(&["2026-03-02T00:06:00Z", "a@b.c", "", "", "true", ""]), LogTable::SigninLogs);
    }

    #[test]
    fn real_error_codes_read_as_integers() {
        assert_eq!(whole_number_text("0.0".into()), "0");
        assert_eq!(whole_number_text("50126.00".into()), "50126");
        assert_eq!(whole_number_text("-1.0".into()), "-1");
        assert_eq!(whole_number_text("0".into()), "0");
        assert_eq!(whole_number_text("0.5".into()), "0.5");
        assert_eq!(whole_number_text(".0".into()), ".0");
        assert_eq!(whole_number_text("Success".into()), "Success");
        assert_eq!(whole_number_text("1.2.0".into()), "1.2.0");
        assert_eq!(whole_number_text("50,126".into()), "50126");
        assert_eq!(whole_number_text("1,000,000".into()), "1000000");
        assert_eq!(whole_number_text("50,12".into()), "50,12");
        assert_eq!(whole_number_text("5000,126".into()), "5000,126");
        assert_eq!(whole_number_text("a,bcd".into()), "a,bcd");
    }

    #[test]
    fn cells_are_trimmed() {
        let mapper = Mapper::new(&storage_header(), Family::Storage, &Settings::default(), None).unwrap();
        let mapped = mapper
            .map(&row(&[
                " 3/14/2026, 2:00:30.000 PM ", "acct", "PutBlob ", " Success",
                "https://acct.blob.core.windows.net/c/a.zip", "203.0.113.7:50123", "", "", "StorageBlobLogs",
            ]))
            .unwrap();
        let Mapped::Storage(out) = mapped else { panic!("{mapped:?}") };
        assert_eq!(out.operation_name.as_deref(), Some("PutBlob"));
        assert_eq!(out.status_text.as_deref(), Some("Success"));
        assert_eq!(out.time_raw, "3/14/2026, 2:00:30.000 PM");
    }

    #[test]
    fn conflicting_duplicate_columns_reject_record() {
        let header = Header::new(["TimeGenerated", "OperationName", "Uri", "CallerIpAddress", "CallerIpAddress"]);
        let mapper = Mapper::new(&header, Family::Storage, &Settings::default(), None).unwrap();
        let same = mapper.map(&row(&["2026-03-14T14:00:00Z", "PutBlob", "u", "1.2.3.4:5", "1.2.3.4:5"])).unwrap();
        assert!(matches!(same, Mapped::Storage(_)), "{same:?}");
        let differ = mapper.map(&row(&["2026-03-14T14:00:00Z", "PutBlob", "u", "1.2.3.4:5", "9.9.9.9:1"])).unwrap();
        let Mapped::Rejected(reject) = differ else { panic!("{differ:?}") };
        assert_eq!(reject.value.as_deref(), Some("1.2.3.4:5 | 9.9.9.9:1"));
    }

    #[test]
    fn signin_bad_boolean_is_rejected() {
        let header = Header::new(["TimeGenerated", "IPAddress", "UserPrincipalName", "IsInteractive"]);
        let mapper = Mapper::new(&header, Family::Signin, &Settings::default(), None).unwrap();
        let mapped = mapper.map(&row(&["2026-03-14T14:00:00Z", "1.2.3.4", "a@b.c", "maybe"])).unwrap();
        let Mapped::Rejected(reject) = mapped else { panic!("{mapped:?}") };
        assert_eq!(reject.column.as_deref(), Some("IsInteractive"));
    }

    #[test]
    fn az_none_reads_as_missing() {
        assert_eq!(parse_bool(Some("None")), Ok(None));
        assert_eq!(parse_bool(Some("True")), Ok(Some(true)));
    }
}
