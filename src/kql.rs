//! The hunt as KQL, to run where the logs live: Microsoft Sentinel or Azure Data Explorer.
//!
//! The query does what the case's hunt does, written for Kusto: the same upload operations
//! and status filter, block uploads counted once at their commit, caller addresses compared
//! through `parse_ipv6` (which accepts IPv4 and IPv6 and returns one canonical form, so the
//! address is never split on `:`), file names from the percent-decoded path, an explicit
//! `join kind=inner` and `make_list` of candidates, requesters that the storage log names (OAuth,
//! or the Windows user of an SMB request) attributed directly, and
//! each enabled exclusion rule of the case as a filter. The window, the time bounds and the
//! target file are `let` parameters at the top.

use std::fmt::Write;

use crate::exclusions::{Conditions, Rule};

/// The data a query is generated from.
pub struct KqlInput<'a> {
    pub full: bool,
    pub before_seconds: u64,
    pub after_seconds: u64,
    pub lookback_seconds: u64,
    pub ua_match: bool,
    pub start: &'a str,
    pub end: &'a str,
    pub target_file: &'a str,
    pub case_name: Option<&'a str>,
    /// Time bounds relative to the run, for a scheduled rule: the span of uploads it examines.
    pub rule_period: Option<&'a str>,
    pub view: &'a str,
    pub rules: &'a [Rule],
}

/// Quotes text as a KQL string literal.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || crate::output::is_bidi_control(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Makes text safe inside a `//` comment: one line, no control characters.
fn comment(text: &str) -> String {
    // Kusto and YAML also end a line at U+2028 and U+2029, which `is_bidi_control` includes.
    text.chars().map(|c| if c.is_control() || crate::output::is_bidi_control(c) { ' ' } else { c }).collect()
}

const UPLOAD_OPERATIONS: &str = r#""putblob", "putblobfromurl", "putblocklist", "appendblock", "appendblockfromurl", "putpage", "putpagefromurl", "copyblob", "incrementalcopyblob", "copyfile", "flushfile", "createfile", "putrange", "putrangefromurl", "write", "nfs4write""#;

fn header(out: &mut String, input: &KqlInput) {
    let mode = if input.full { "full" } else { "sentinel" };
    let _ = writeln!(out, "// Upload-to-sign-in hunt exported by blobtrail {} ({mode} mode).", crate::VERSION);
    let _ = writeln!(out, "// Correlation: {} (the SQL view this query follows).", comment(input.view));
    match input.case_name {
        Some(name) => {
            let _ = writeln!(out, "// Case: {}; its exclusion rules are the filters at the end.", comment(name));
        }
        None => {
            let _ = writeln!(out, "// Default hunt: no case, no exclusions.");
        }
    }
    match input.rule_period {
        Some(period) => {
            let _ = writeln!(out, "// A scheduled rule examines the uploads since its previous run, and the sign-ins before them.");
            let _ = writeln!(out, "let EndTime = now();");
            let _ = writeln!(out, "let StartTime = EndTime - {period};");
        }
        None => {
            let _ = writeln!(out, "// Set the time bounds to the period under investigation; nothing here depends on the clock of the run.");
            let _ = writeln!(out, "let StartTime = datetime({});", input.start);
            let _ = writeln!(out, "let EndTime = datetime({});", input.end);
        }
    }
    let _ = writeln!(out, "let TargetFile = {}; // empty: every file", quote(input.target_file));
}

/// The caller address as `parse_ipv6` canonicalises it: brackets and ports removed first. An
/// upload whose address does not parse keeps its finding (an OAuth requester still names it)
/// and matches no sign-in.
const CALLER_KEY: &str = r#"| extend CallerIp = case(
    CallerIpAddress startswith "[", extract(@"^\[([^\]]+)\]", 1, CallerIpAddress),
    countof(CallerIpAddress, ":") == 1, tostring(split(CallerIpAddress, ":")[0]),
    CallerIpAddress)
| extend CallerKey = parse_ipv6(CallerIp)"#;

/// The decoded object path and file name. An SMB request's path is a UNC path
/// (`\\account.file.core.windows.net\share\dir\file`), written `/account/share/dir/file` as the case
/// writes it.
const OBJECT_PATH: &str = r#"| extend ObjectPath = case(isnotempty(ObjectKey), ObjectKey, Uri startswith @"\\", Uri,
    strcat("/", AccountName, url_decode(tostring(parse_url(Uri).Path))))
| extend ObjectPath = iff(ObjectPath startswith @"\\", strcat("/", AccountName, "/", strcat_array(array_slice(split(ObjectPath, @"\"), 3, -1), "/")), ObjectPath)
| extend FileName = tostring(split(ObjectPath, "/")[-1])
| where isempty(TargetFile) or FileName =~ TargetFile"#;

/// Renders the query.
pub fn render(input: &KqlInput) -> String {
    let mut out = String::new();
    header(&mut out, input);
    if input.full {
        full(&mut out, input);
    } else {
        sentinel(&mut out, input);
    }
    exclusions(&mut out, input.rules, input.full);
    out
}

fn full(out: &mut String, input: &KqlInput) {
    let _ = writeln!(out, "let Before = {}s; // window before each upload", input.before_seconds);
    let _ = writeln!(out, "let After = {}s; // window after each upload, for clock skew and logging delay", input.after_seconds);
    let _ = writeln!(
        out,
        r#"// Successful writes. A block upload (PutBlock ... PutBlockList) and a Data Lake upload
// (CreatePathFile, AppendFile ... FlushFile) count once, at the request that commits them.
// Writes with no commit request count once per object, caller, requester and 5-minute
// bin: file-share REST, SMB and NFS writes, and page or append blob series (PutPage or
// AppendBlock requests and the empty PutBlob that creates the blob). The case's SQL splits a
// series only at a gap over 5 minutes, so a series that crosses a bin boundary counts once
// there and twice here. The case also takes a block upload's requester from its blocks when
// the commit names none; this query reads only the commit. The case's SQL also opens the
// window before an upload's first request, and flags an upload whose requests name several
// requesters or addresses; this query opens it before the request it reads.
let Uploads = union StorageBlobLogs, StorageFileLogs
| where TimeGenerated between (StartTime .. EndTime)
| where StatusText in~ ("Success", "SASSuccess", "AnonymousSuccess", "OAuthSuccess")
    or (isempty(StatusText) and StatusCode in ("0", "200", "201", "202", "206"))
| extend Op = tolower(OperationName)
| where Op in ({UPLOAD_OPERATIONS})
{OBJECT_PATH}
| extend UploadKind = case(
    Op in ("putblob"), "put-blob",
    Op in ("putblobfromurl"), "put-blob-from-url",
    Op in ("putblocklist"), "block-upload",
    Op in ("appendblock", "appendblockfromurl"), "append-block",
    Op in ("putpage", "putpagefromurl"), "put-page",
    Op in ("copyblob", "incrementalcopyblob", "copyfile"), "copy",
    Op in ("flushfile"), "datalake-upload",
    Op in ("createfile", "putrange", "putrangefromurl"), "file-upload",
    Op in ("write"), "smb-write",
    "nfs-write")
| extend RequesterUserName = tostring(column_ifexists("RequesterUserName", "")), SmbPrimarySid = tostring(column_ifexists("SmbPrimarySID", ""))
| extend Requester = case(isnotempty(RequesterUpn), RequesterUpn, isnotempty(RequesterUserName), RequesterUserName,
    isnotempty(RequesterObjectId), RequesterObjectId, SmbPrimarySid)
// Requests are grouped by requester as the case groups them: ignoring case, a Windows user by its SID.
| extend RequesterKey = tolower(case(isnotempty(RequesterObjectId), RequesterObjectId, isnotempty(RequesterUpn), RequesterUpn,
    isnotempty(SmbPrimarySid), SmbPrimarySid, RequesterUserName))
{CALLER_KEY}
// Private, loopback, link-local and reserved callers keep their finding but get no candidates:
// Entra ID records the public address a client signs in from.
| extend IsPublic = iff(CallerIp contains ":",
    not(ipv6_is_in_any_range(CallerIp, "::1/128", "::/128", "ff00::/8", "fe80::/10", "fc00::/7")),
    not(ipv4_is_in_any_range(CallerIp, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
        "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8", "224.0.0.0/3")))
| extend GroupKind = case(
    UploadKind in ("append-block", "put-page") or (UploadKind == "put-blob" and RequestBodySize == 0), "blob-series",
    UploadKind)
| extend Island = iff(GroupKind in ("blob-series", "file-upload", "smb-write", "nfs-write"), bin(TimeGenerated, 5m), TimeGenerated)
| summarize arg_max(TimeGenerated, *) by ObjectPath, GroupKind, CallerKey, RequesterKey, Island
| extend UploadTime = TimeGenerated
| extend UploadId = strcat(CorrelationId, "|", OperationName, "|", tostring(UploadTime));
// Successful sign-ins of every kind, timed by CreatedDateTime where the table has it.
let Signins = union withsource=SigninTable SigninLogs, AADNonInteractiveUserSignInLogs, AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs
| where TimeGenerated between ((StartTime - Before) .. (EndTime + After + 1h))
| where ResultType == "0"
| extend SigninTime = iff(isnotempty(CreatedDateTime), CreatedDateTime, TimeGenerated)
| extend IsApplication = SigninTable in ("AADServicePrincipalSignInLogs", "AADManagedIdentitySignInLogs")
| extend Account = case(
    IsApplication and isnotempty(ServicePrincipalName), ServicePrincipalName,
    IsApplication and isnotempty(ServicePrincipalId), ServicePrincipalId,
    IsApplication, AppId,
    isnotempty(UserPrincipalName), UserPrincipalName,
    UserId)
| extend SigninKey = parse_ipv6(IPAddress)
| where isnotempty(SigninKey) and isnotempty(Account)
| extend AccountKey = tolower(iff(not(IsApplication) and isnotempty(UserId), UserId, Account))
| project SigninTime, Account, AccountKey, SigninKey, SigninIp = IPAddress, SigninUserAgent = UserAgent, SigninTable;
// Every sign-in from the caller's address in the window; one candidate per account, its
// closest sign-in before the upload (else after), scored as the case's view scores it.
let Candidates = Uploads
| where IsPublic and isnotempty(CallerKey)
| project UploadId, UploadTime, CallerKey, UserAgentHeader
| join kind=inner (Signins) on $left.CallerKey == $right.SigninKey
| where SigninTime between ((UploadTime - Before) .. (UploadTime + After))
| extend DeltaSeconds = datetime_diff("millisecond", UploadTime, SigninTime) / 1000.0
| extend UaEqual = isnotempty(UserAgentHeader) and SigninUserAgent =~ UserAgentHeader
| extend Closeness = iff(DeltaSeconds < 0, 1000000000.0, 0.0) + abs(DeltaSeconds)
| summarize arg_min(Closeness, *), SigninCount = count(), AnyUaEqual = max(toint(UaEqual)) by UploadId, AccountKey
| join kind=inner (
    Signins
    | join kind=inner (Uploads | where IsPublic and isnotempty(CallerKey) | project UploadId, UploadTime, CallerKey)
        on $left.SigninKey == $right.CallerKey
    | where SigninTime between ((UploadTime - Before) .. (UploadTime + After))
    | summarize AccountsInWindow = dcount(AccountKey) by UploadId
  ) on UploadId
| extend Score = round(
    iff(DeltaSeconds >= 0, 40.0 * exp(-DeltaSeconds / 900.0), 30.0 * exp(DeltaSeconds / 120.0))
    + iff(AnyUaEqual == 1, 15.0, 0.0)
    + case(AccountsInWindow == 1, 25.0, AccountsInWindow <= 3, 10.0, 0.0)
    + case(SigninTable == "SigninLogs", 10.0, SigninTable == "AADNonInteractiveUserSignInLogs", 8.0, 5.0)
    + 5.0, 1)
| summarize Candidates = make_list(bag_pack("account", Account, "score", Score, "delta_seconds", DeltaSeconds,
        "signin_time", SigninTime, "ip", SigninIp, "user_agent", SigninUserAgent, "table", SigninTable, "signins", SigninCount)),
    Top = arg_max(Score, Account, DeltaSeconds, AnyUaEqual), AccountsInWindow = max(AccountsInWindow)
    by UploadId;
Uploads
| join kind=leftouter (Candidates) on UploadId
| extend Confidence = case(
    isnotempty(Requester), "direct",
    isempty(Account), "none",
    AccountsInWindow == 1 and (DeltaSeconds between (-300.0 .. 1800.0) or AnyUaEqual == 1), "strong",
    AccountsInWindow == 1, "probable",
    "ambiguous")
| extend AttributedAccount = case(Confidence == "direct", Requester, Confidence in ("strong", "probable"), Account, "")
| project UploadTime, UploadKind, OperationName, AccountName, ObjectPath, FileName, CallerIpAddress, CallerIp,
    UserAgentHeader, AuthenticationType, Confidence, AttributedAccount, Candidates"#
    );
}

fn sentinel(out: &mut String, input: &KqlInput) {
    let _ = writeln!(out, "let Lookback = {}s;", input.lookback_seconds);
    let ua = if input.ua_match {
        "| where isnotempty(UserAgentHeader) and LoginUserAgent =~ UploadUserAgent\n"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        r#"// The reference query's filters, with every upload and every candidate kept.
let Uploads = union StorageFileLogs, StorageBlobLogs
| where TimeGenerated between (StartTime .. EndTime)
| where StatusText =~ "Success"
| where OperationName =~ "PutBlob" or OperationName =~ "PutRange"
{OBJECT_PATH}
{CALLER_KEY}
| extend UploadTime = TimeGenerated, UploadUserAgent = UserAgentHeader;
let Signins = SigninLogs
| where TimeGenerated between ((StartTime - Lookback) .. EndTime)
| extend SigninKey = parse_ipv6(IPAddress)
| where isnotempty(SigninKey)
| project AzureLoginTime = TimeGenerated, AccountUsed = UserPrincipalName, IPAddress, SigninKey, LoginUserAgent = UserAgent;
Uploads
| join kind=inner (Signins) on $left.CallerKey == $right.SigninKey
| where AzureLoginTime between ((UploadTime - Lookback) .. UploadTime)
{ua}| summarize Candidates = make_list(bag_pack("account", AccountUsed, "signin_time", AzureLoginTime, "ip", IPAddress, "user_agent", LoginUserAgent))
    by UploadTime, OperationName, ObjectPath, FileName, CallerIpAddress, CallerIp, UserAgentHeader, AccountName
| extend AttributedAccount = tostring(Candidates[0].account)"#
    );
}

/// Writes each enabled rule as a `where not(...)` filter, with its reason and author above it.
fn exclusions(out: &mut String, rules: &[Rule], full: bool) {
    for rule in rules.iter().filter(|r| r.disabled_at.is_none()) {
        let _ = writeln!(
            out,
            "// Exclusion rule {} by {}: {}",
            rule.rule_id,
            comment(rule.examiner.as_deref().unwrap_or("an unnamed examiner")),
            comment(&rule.reason)
        );
        let _ = writeln!(out, "| where not({})", condition(&rule.conditions, full));
    }
}

/// Returns the KQL of a rule's conditions: all listed conditions, any value of each. In the
/// sentinel query, an account matches only an upload with one candidate, as blobtrail matches it.
fn condition(c: &Conditions, full: bool) -> String {
    let mut parts = Vec::new();
    let mut any = |values: &[String], test: &dyn Fn(&str) -> String| {
        if !values.is_empty() {
            let tests: Vec<String> = values.iter().map(|v| test(v)).collect();
            parts.push(format!("({})", tests.join(" or ")));
        }
    };
    any(&c.account, &|v| {
        if full {
            format!("AttributedAccount =~ {}", quote(v))
        } else {
            format!("(AttributedAccount =~ {} and array_length(Candidates) == 1)", quote(v))
        }
    });
    any(&c.file_contains, &|v| format!("FileName contains {}", quote(v)));
    any(&c.extension, &|v| format!("FileName endswith {}", quote(&format!(".{}", v.trim_start_matches('.')))));
    // Both functions return null for an address they cannot read (ipv4_is_in_range for an
    // IPv6 caller), and `where not(null)` drops the row, so null counts as not in the range.
    any(&c.ip, &|v| {
        let function = if v.contains(':') { "ipv6_is_in_range" } else { "ipv4_is_in_range" };
        format!("coalesce({function}(CallerIp, {}), false)", quote(v))
    });
    any(&c.user_agent_contains, &|v| format!("UserAgentHeader contains {}", quote(v)));
    any(&c.operation, &|v| format!("OperationName =~ {}", quote(v)));
    any(&c.container, &|v| format!("tostring(split(ObjectPath, \"/\")[2]) =~ {}", quote(v)));
    any(&c.path_prefix, &|v| {
        let prefix = if v.starts_with('/') { v.to_string() } else { format!("/{v}") };
        format!(
            "(ObjectPath startswith {0} or substring(ObjectPath, indexof(ObjectPath, \"/\", 1)) startswith {0})",
            quote(&prefix)
        )
    });
    if parts.is_empty() {
        "false".into()
    } else {
        parts.join(" and ")
    }
}

/// How often an exported rule runs, and so the span of uploads each run examines: every upload
/// is examined, and can alert, once.
pub const RULE_FREQUENCY: &str = "1h";

/// Returns the query period of an exported rule: the data each run may read, which must reach
/// back from the run over the uploads' hour and then the window before the earliest of them,
/// in whole hours.
pub fn rule_query_period(window_before_seconds: u64) -> String {
    let hours = (3_600 + window_before_seconds).div_ceil(3_600);
    format!("{hours}h")
}

/// Wraps the query as a Sentinel analytics rule in the YAML shape of the content hub's rules.
pub fn as_rule(query: &str, id: &str, case_name: Option<&str>, query_period: &str) -> String {
    let mut yaml = String::new();
    let _ = writeln!(yaml, "id: {id}");
    let _ = writeln!(yaml, "name: Account linked to a storage upload (blobtrail)");
    let _ = writeln!(yaml, "description: |");
    let _ = writeln!(yaml, "  'Attributes each upload to Azure Blob or File storage to the account behind it: the requester the storage log");
    let _ = writeln!(yaml, "  names, else the accounts that signed in from the caller's address around the upload, ranked with a confidence.");
    let _ = writeln!(
        yaml,
        "  Exported by blobtrail {}{}.'",
        crate::VERSION,
        case_name.map(|n| format!(" from case {}", comment(n).replace('\'', "''"))).unwrap_or_default()
    );
    yaml.push_str(&format!(
        "severity: Medium\n\
         requiredDataConnectors:\n\
         \x20 - connectorId: AzureActiveDirectory\n\
         \x20   dataTypes:\n\
         \x20     - SigninLogs\n\
         \x20     - AADNonInteractiveUserSignInLogs\n\
         \x20     - AADServicePrincipalSignInLogs\n\
         \x20     - AADManagedIdentitySignInLogs\n\
         \x20 - connectorId: AzureStorageAccount\n\
         \x20   dataTypes:\n\
         \x20     - StorageBlobLogs\n\
         \x20     - StorageFileLogs\n\
         queryFrequency: {RULE_FREQUENCY}\n\
         queryPeriod: {query_period}\n\
         triggerOperator: gt\n\
         triggerThreshold: 0\n\
         tactics:\n\
         \x20 - CredentialAccess\n\
         relevantTechniques:\n\
         \x20 - T1528\n\
         query: |\n",
    ));
    for line in query.lines() {
        let _ = writeln!(yaml, "  {line}");
    }
    yaml.push_str(
        "entityMappings:\n\
         \x20 - entityType: Account\n\
         \x20   fieldMappings:\n\
         \x20     - identifier: FullName\n\
         \x20       columnName: AttributedAccount\n\
         \x20 - entityType: IP\n\
         \x20   fieldMappings:\n\
         \x20     - identifier: Address\n\
         \x20       columnName: CallerIp\n\
         \x20 - entityType: File\n\
         \x20   fieldMappings:\n\
         \x20     - identifier: Name\n\
         \x20       columnName: FileName\n\
         version: 1.0.0\n\
         kind: Scheduled\n",
    );
    yaml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_kql_strings() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(quote("a\u{2028}b"), "\"a\\u2028b\"");
    }

    #[test]
    fn comment_never_ends_its_line() {
        assert_eq!(comment("backup\u{2028}| where false\u{2029}x\u{85}y\rz"), "backup | where false x y z");
    }

    #[test]
    fn conditions_and_within_or_across() {
        let conditions = Conditions {
            file_contains: vec!["backup".into(), "restore".into()],
            ip: vec!["10.0.0.0/8".into()],
            ..Conditions::default()
        };
        assert_eq!(
            condition(&conditions, true),
            "(FileName contains \"backup\" or FileName contains \"restore\") and (coalesce(ipv4_is_in_range(CallerIp, \"10.0.0.0/8\"), false))"
        );
    }
}
