"""Column schemas and writers for the four Log Analytics export shapes.

Shared by ``make_demo.py`` and ``tests/fixtures/make_fixtures.py``. Rows are dicts
from column name to a Python value. Datetime columns hold ``Ticks`` (100 ns units
since the Unix epoch, the precision Log Analytics keeps) or, for malformed-input
fixtures, a raw string that is written unchanged. Dynamic columns hold JSON text,
so every shape carries the same text. Standard library only.
"""

import csv
import datetime as dt
import io
import json
import uuid

TICKS_PER_SECOND = 10_000_000
TICKS_PER_MS = 10_000

# Deterministic GUIDs: uuid5 in a namespace of our own, never a real tenant's id.
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "blobtrail.demo.contoso.com")


def make_guid(label):
    """Return the uuid5 of ``label`` in the blobtrail namespace, as text."""
    return str(uuid.uuid5(GUID_NAMESPACE, label))


class Ticks(int):
    """A UTC instant in 100 ns ticks since 1970-01-01T00:00:00Z."""


def ticks(text):
    """Parse ``2026-03-14 10:01:00.1234567`` (UTC, fraction optional) into Ticks."""
    date_part, _, fraction = text.partition(".")
    whole = dt.datetime.strptime(date_part, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)
    fraction_ticks = int((fraction + "0000000")[:7]) if fraction else 0
    return Ticks(int(whole.timestamp()) * TICKS_PER_SECOND + fraction_ticks)


def seconds(count):
    """Return ``count`` seconds (int or float) as a tick count."""
    return int(round(count * TICKS_PER_SECOND))


def _split(instant):
    whole, fraction = divmod(int(instant), TICKS_PER_SECOND)
    moment = dt.datetime.fromtimestamp(whole, tz=dt.timezone.utc)
    return moment, fraction


def format_iso_trimmed(instant):
    """Format as the query API does: ISO 8601 UTC, trailing fractional zeros trimmed."""
    moment, fraction = _split(instant)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:07d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def format_iso_7(instant):
    """Format as ISO 8601 UTC with exactly seven fractional digits."""
    moment, fraction = _split(instant)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{fraction:07d}Z"


def format_iso_offset(instant):
    """Format with seven fractional digits and ``+00:00``, the style of JSON inside sign-in cells."""
    return format_iso_7(instant)[:-1] + "+00:00"


def format_portal_en_us(instant):
    """Format as the portal's en-US display: ``3/14/2026, 2:00:30.123 PM`` (milliseconds truncated)."""
    moment, fraction = _split(instant)
    hour12 = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    millis = fraction // TICKS_PER_MS
    return (
        f"{moment.month}/{moment.day}/{moment.year}, "
        f"{hour12}:{moment.minute:02d}:{moment.second:02d}.{millis:03d} {meridiem}"
    )


def format_portal_en_gb(instant):
    """Format as the portal's en-GB display: ``05/03/2026 14:00:30.000`` (24-hour, day first)."""
    moment, fraction = _split(instant)
    millis = fraction // TICKS_PER_MS
    return f"{moment.strftime('%d/%m/%Y %H:%M:%S')}.{millis:03d}"


def compact_json(value):
    """Serialise a dynamic value the way the portal shows most of them: no spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def pretty_json(value):
    """Serialise with two-space indentation, as some sign-in string columns arrive."""
    return json.dumps(value, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------
# Schemas: (column name, Log Analytics type), in physical column order.
# ---------------------------------------------------------------------------

# The 44 columns of the Sentinel StorageBlobLogs schema, then the five columns
# that live workspaces append after them.
STORAGE_BLOB_COLUMNS = [
    ("TenantId", "string"), ("SourceSystem", "string"), ("TimeGenerated", "datetime"),
    ("AccountName", "string"), ("Location", "string"), ("Protocol", "string"),
    ("OperationName", "string"), ("AuthenticationType", "string"), ("StatusCode", "string"),
    ("StatusText", "string"), ("DurationMs", "real"), ("ServerLatencyMs", "real"),
    ("Uri", "string"), ("CallerIpAddress", "string"), ("CorrelationId", "string"),
    ("SchemaVersion", "string"), ("OperationVersion", "string"), ("AuthenticationHash", "string"),
    ("RequesterObjectId", "string"), ("RequesterTenantId", "string"), ("RequesterAppId", "string"),
    ("RequesterAudience", "string"), ("RequesterTokenIssuer", "string"), ("RequesterUpn", "string"),
    ("AuthorizationDetails", "dynamic"), ("UserAgentHeader", "string"), ("ReferrerHeader", "string"),
    ("ClientRequestId", "string"), ("Etag", "string"), ("ServiceType", "string"),
    ("OperationCount", "int"), ("RequestHeaderSize", "long"), ("RequestBodySize", "long"),
    ("ResponseHeaderSize", "long"), ("ResponseBodySize", "long"), ("RequestMd5", "string"),
    ("ResponseMd5", "string"), ("LastModifiedTime", "datetime"), ("ConditionsUsed", "string"),
    ("ContentLengthHeader", "long"), ("Category", "string"), ("TlsVersion", "string"),
    ("Type", "string"), ("_ResourceId", "string"),
    ("ObjectKey", "string"), ("MetricResponseType", "string"), ("SourceUri", "string"),
    ("DestinationUri", "string"), ("AccessTier", "string"),
]

# The 56 columns of the Sentinel StorageFileLogs schema, then ObjectKey and
# MetricResponseType as live workspaces append them.
STORAGE_FILE_COLUMNS = [
    ("TenantId", "string"), ("TimeGenerated", "datetime"), ("AccountName", "string"),
    ("Location", "string"), ("Protocol", "string"), ("OperationName", "string"),
    ("AuthenticationType", "string"), ("StatusCode", "string"), ("StatusText", "string"),
    ("DurationMs", "real"), ("ServerLatencyMs", "real"), ("Uri", "string"),
    ("CallerIpAddress", "string"), ("CorrelationId", "string"), ("SchemaVersion", "string"),
    ("OperationVersion", "string"), ("AuthenticationHash", "string"), ("RequesterObjectId", "string"),
    ("RequesterTenantId", "string"), ("RequesterAppId", "string"), ("RequesterAudience", "string"),
    ("RequesterTokenIssuer", "string"), ("RequesterUpn", "string"), ("RequesterUserName", "string"),
    ("AuthorizationDetails", "dynamic"), ("SmbPrimarySID", "string"), ("UserAgentHeader", "string"),
    ("ReferrerHeader", "string"), ("ClientRequestId", "string"), ("Etag", "string"),
    ("ServiceType", "string"), ("OperationCount", "int"), ("RequestHeaderSize", "long"),
    ("RequestBodySize", "long"), ("ResponseHeaderSize", "long"), ("ResponseBodySize", "long"),
    ("RequestMd5", "string"), ("ResponseMd5", "string"), ("LastModifiedTime", "datetime"),
    ("ConditionsUsed", "string"), ("ContentLengthHeader", "long"), ("Category", "string"),
    ("TlsVersion", "string"), ("SmbTreeConnectID", "string"), ("SmbPersistentHandleID", "string"),
    ("SmbVolatileHandleID", "string"), ("SmbMessageID", "string"), ("SmbCreditsConsumed", "int"),
    ("SmbCommandDetail", "string"), ("SmbFileId", "string"), ("SmbSessionID", "string"),
    ("SmbCommandMajor", "int"), ("SmbCommandMinor", "string"), ("SourceSystem", "string"),
    ("Type", "string"), ("_ResourceId", "string"),
    ("ObjectKey", "string"), ("MetricResponseType", "string"),
]

# SigninLogs in the physical order of real portal exports (TimeGenerated kept,
# no _dynamic/_string twin columns), 65 of the table's columns.
SIGNIN_COLUMNS = [
    ("TenantId", "string"), ("SourceSystem", "string"), ("TimeGenerated", "datetime"),
    ("ResourceId", "string"), ("OperationName", "string"), ("OperationVersion", "string"),
    ("Category", "string"), ("ResultType", "string"), ("ResultSignature", "string"),
    ("ResultDescription", "string"), ("DurationMs", "long"), ("CorrelationId", "string"),
    ("Resource", "string"), ("ResourceGroup", "string"), ("ResourceProvider", "string"),
    ("Identity", "string"), ("Level", "string"), ("Location", "string"),
    ("AlternateSignInName", "string"), ("AppDisplayName", "string"), ("AppId", "string"),
    ("AuthenticationDetails", "string"), ("AuthenticationMethodsUsed", "string"),
    ("AuthenticationProcessingDetails", "string"), ("AuthenticationRequirement", "string"),
    ("AuthenticationRequirementPolicies", "string"), ("ClientAppUsed", "string"),
    ("ConditionalAccessPolicies", "dynamic"), ("ConditionalAccessStatus", "string"),
    ("CreatedDateTime", "datetime"), ("DeviceDetail", "dynamic"), ("IsInteractive", "bool"),
    ("Id", "string"), ("IPAddress", "string"), ("IsRisky", "bool"),
    ("LocationDetails", "dynamic"), ("MfaDetail", "dynamic"), ("NetworkLocationDetails", "string"),
    ("OriginalRequestId", "string"), ("ProcessingTimeInMilliseconds", "string"),
    ("RiskDetail", "string"), ("RiskEventTypes", "string"), ("RiskEventTypes_V2", "string"),
    ("RiskLevelAggregated", "string"), ("RiskLevelDuringSignIn", "string"), ("RiskState", "string"),
    ("ResourceDisplayName", "string"), ("ResourceIdentity", "string"),
    ("ServicePrincipalId", "string"), ("ServicePrincipalName", "string"), ("Status", "dynamic"),
    ("TokenIssuerName", "string"), ("TokenIssuerType", "string"), ("UserAgent", "string"),
    ("UserDisplayName", "string"), ("UserId", "string"), ("UserPrincipalName", "string"),
    ("AADTenantId", "string"), ("UserType", "string"), ("FlaggedForReview", "bool"),
    ("SignInIdentifier", "string"), ("SignInIdentifierType", "string"),
    ("ResourceTenantId", "string"), ("HomeTenantId", "string"), ("Type", "string"),
]

# The smallest SigninLogs projection the fixtures use, in the same physical order.
SIGNIN_MINIMAL_NAMES = [
    "TenantId", "SourceSystem", "TimeGenerated", "ResourceId", "OperationName", "Category",
    "ResultType", "ResultDescription", "CorrelationId", "Identity", "Location",
    "AppDisplayName", "AppId", "AuthenticationDetails", "ClientAppUsed",
    "ConditionalAccessStatus", "CreatedDateTime", "DeviceDetail", "IsInteractive", "Id",
    "IPAddress", "LocationDetails", "Status", "UserAgent", "UserDisplayName", "UserId",
    "UserPrincipalName", "UserType", "Type",
]

# AADNonInteractiveUserSignInLogs: the SigninLogs order without the columns that
# table lacks (Resource, ResourceId, ResourceProvider, FlaggedForReview,
# SignInIdentifier, ServicePrincipalName), ProcessingTimeInMs in place of
# ProcessingTimeInMilliseconds, SignInEventTypes added, and LocationDetails,
# DeviceDetail, Status, MfaDetail and ConditionalAccessPolicies typed string.
NONINTERACTIVE_STRING_COLUMNS = {
    "LocationDetails", "DeviceDetail", "Status", "MfaDetail", "ConditionalAccessPolicies",
}
NONINTERACTIVE_COLUMNS = []
for _name, _type in SIGNIN_COLUMNS:
    if _name in {"Resource", "ResourceId", "ResourceProvider", "FlaggedForReview",
                 "SignInIdentifier", "ServicePrincipalName"}:
        continue
    if _name == "ProcessingTimeInMilliseconds":
        _name = "ProcessingTimeInMs"
    if _name in NONINTERACTIVE_STRING_COLUMNS:
        _type = "string"
    NONINTERACTIVE_COLUMNS.append((_name, _type))
    if _name == "ServicePrincipalId":
        NONINTERACTIVE_COLUMNS.append(("SignInEventTypes", "string"))


def complete_row(columns, values):
    """Return a row with every column of ``columns``, absent ones None; reject unknown keys."""
    names = [name for name, _ in columns]
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"unknown columns: {sorted(unknown)}")
    return {name: values.get(name) for name in names}


# ---------------------------------------------------------------------------
# Shape A: Log Analytics portal "Export to CSV".
# ---------------------------------------------------------------------------

def _portal_cell(value, column_type, time_formatter):
    if value is None:
        return ""
    if column_type == "datetime" and isinstance(value, Ticks):
        return time_formatter(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_portal_csv(columns, rows, time_suffix="[UTC]", time_formatter=format_portal_en_us):
    """Render shape A as text: BOM, CRLF records, minimal quoting, ``Name [UTC]`` datetime headers.

    JSON inside a cell keeps its own LF line breaks, so a pretty-printed cell spans
    several physical lines inside its quotes.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    header = [f"{name} {time_suffix}" if kind == "datetime" else name for name, kind in columns]
    writer.writerow(header)
    for row in rows:
        writer.writerow(_portal_cell(row.get(name), kind, time_formatter) for name, kind in columns)
    return "\ufeff" + buffer.getvalue()


# ---------------------------------------------------------------------------
# Shapes B, C and D: query API JSON, JSON lines, az CLI array.
# ---------------------------------------------------------------------------

def _api_value(value, column_type):
    """Convert to the value the query API returns: strings are never null in KQL."""
    if value is None:
        return "" if column_type == "string" else None
    if column_type == "datetime" and isinstance(value, Ticks):
        return format_iso_trimmed(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def api_rows(columns, rows):
    """Return each row as the list of API values in column order."""
    return [[_api_value(row.get(name), kind) for name, kind in columns] for row in rows]


def render_api_json(columns, rows):
    """Render shape B, one row per line so that a reader can check it by eye."""
    dumps = lambda value: json.dumps(value, ensure_ascii=False)
    column_text = ",\n".join(
        "  " + dumps({"name": name, "type": kind}) for name, kind in columns
    )
    row_text = ",\n".join("  " + dumps(row) for row in api_rows(columns, rows))
    return (
        '{"tables":[{"name":"PrimaryResult","columns":[\n'
        f"{column_text}\n"
        '],"rows":[\n'
        f"{row_text}\n"
        "]}]}\n"
    )


def render_json_lines(columns, rows):
    """Render shape C: one flat object per row, LF line endings."""
    names = [name for name, _ in columns]
    lines = []
    for values in api_rows(columns, rows):
        lines.append(json.dumps(dict(zip(names, values)), ensure_ascii=False))
    return "\n".join(lines) + "\n"


def render_az_cli_json(columns, rows):
    """Render shape D: the az CLI array, ``TableName`` first and every value passed through str()."""
    names = [name for name, _ in columns]
    items = []
    for values in api_rows(columns, rows):
        item = {"TableName": "PrimaryResult"}
        item.update({name: str(value) for name, value in zip(names, values)})
        items.append(item)
    return json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def write_text(path, text):
    """Write ``text`` as UTF-8 bytes exactly, with no newline translation."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
