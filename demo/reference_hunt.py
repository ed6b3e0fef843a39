"""Read the export shapes back from disk and run the reference ("sentinel") hunt on them.

Used by the generators to check the expected findings written in the READMEs. The
hunt follows the Sentinel query "User Account Linked to Storage Account File Upload"
with blobtrail's fixes to its join:

* uploads are StorageBlobLogs and StorageFileLogs rows whose ``StatusText`` equals
  ``Success`` and whose ``OperationName`` is ``PutBlob`` or ``PutRange`` (both
  compared ignoring case);
* candidates are SigninLogs rows (interactive only, any ``ResultType``, as the
  query does not filter it) from the same address, compared in canonical form so
  that ``[2001:db8::5]:50123`` matches ``2001:db8:0:0:0:0:0:5``;
* the sign-in time lies in ``[upload - lookback, upload]``, both ends included;
* with the user-agent filter, the two agents are equal ignoring case and neither
  is empty;
* every upload and every candidate is kept (no ``innerunique`` or ``make_bag``
  loss).

Run directly with one or more files to print the findings:
``python3 reference_hunt.py StorageBlobLogs.csv SigninLogs.csv``.
"""

import csv
import datetime as dt
import io
import ipaddress
import json
import re
import sys

TICKS_PER_SECOND = 10_000_000

_EN_US = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4}), (\d{1,2}):(\d{2}):(\d{2})\.(\d{3}) (AM|PM)$"
)
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?Z$")


def _to_ticks(year, month, day, hour, minute, second, fraction_digits):
    moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    fraction = int((fraction_digits + "0000000")[:7]) if fraction_digits else 0
    return int(moment.timestamp()) * TICKS_PER_SECOND + fraction


def parse_time(text):
    """Parse an en-US portal time or an ISO 8601 UTC time into ticks; raise ValueError otherwise."""
    match = _EN_US.match(text)
    if match:
        month, day, year, hour, minute, second, millis, meridiem = match.groups()
        hour = int(hour) % 12 + (12 if meridiem == "PM" else 0)
        return _to_ticks(int(year), int(month), int(day), hour, int(minute), int(second), millis)
    match = _ISO.match(text)
    if match:
        year, month, day, hour, minute, second, fraction = match.groups()
        return _to_ticks(int(year), int(month), int(day), int(hour), int(minute), int(second),
                         fraction or "")
    raise ValueError(f"unrecognised time: {text!r}")


def format_ticks(value):
    """Format ticks as ISO 8601 UTC with seven fractional digits."""
    whole, fraction = divmod(value, TICKS_PER_SECOND)
    moment = dt.datetime.fromtimestamp(whole, tz=dt.timezone.utc)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{fraction:07d}Z"


# ---------------------------------------------------------------------------
# Readers: each returns a list of row dicts keyed by column name without " [UTC]".
# ---------------------------------------------------------------------------

def _read_portal_csv(text):
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = next(reader)
    names = [re.sub(r" \[UTC\]$", "", name) for name in header]
    return [dict(zip(names, record)) for record in reader]


def _read_api_json(document):
    table = document["tables"][0]
    names = [column["name"] for column in table["columns"]]
    return [dict(zip(names, row)) for row in table["rows"]]


def read_rows(path):
    """Read one file in any of the four shapes and return its rows."""
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    stripped = text.lstrip("\ufeff").lstrip()
    if stripped.startswith("{\"tables\""):
        return _read_api_json(json.loads(stripped))
    if stripped.startswith("["):
        return json.loads(stripped)
    if stripped.startswith("{"):
        return [json.loads(line) for line in stripped.splitlines() if line.strip()]
    return _read_portal_csv(text)


def table_of(row):
    """Return the table a row belongs to, from its Type column."""
    return row.get("Type", "")


def _text(value):
    """Return a column value as KQL text: null, and the "None" that az CLI writes for null, become ""."""
    if value is None or value == "None":
        return ""
    return str(value)


# ---------------------------------------------------------------------------
# Address canonicalisation.
# ---------------------------------------------------------------------------

def canonical_address(text):
    """Return the canonical address of ``ip``, ``ip:port``, ``[v6]:port`` or bare IPv6, else None."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("["):
        host = text[1:text.index("]")]
    elif text.count(":") == 1:
        host = text.split(":")[0]
    else:
        host = text
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


# ---------------------------------------------------------------------------
# The hunt.
# ---------------------------------------------------------------------------

def is_reference_upload(row):
    """Return whether the reference query counts this storage row as an upload."""
    operation = _text(row.get("OperationName")).lower()
    status = _text(row.get("StatusText")).lower()
    return status == "success" and operation in {"putblob", "putrange"}


def run_reference_hunt(storage_rows, signin_rows, lookback_seconds=60, match_user_agent=True,
                       signin_time_column="TimeGenerated"):
    """Return [(upload row, [candidate sign-in rows])] for every reference upload, in time order."""
    lookback = lookback_seconds * TICKS_PER_SECOND
    signins = []
    for row in signin_rows:
        if table_of(row) != "SigninLogs":
            continue
        signins.append((parse_time(_text(row[signin_time_column])),
                        canonical_address(_text(row.get("IPAddress"))), row))

    findings = []
    for upload in storage_rows:
        if not is_reference_upload(upload):
            continue
        upload_time = parse_time(_text(upload["TimeGenerated"]))
        address = canonical_address(_text(upload.get("CallerIpAddress")))
        upload_agent = _text(upload.get("UserAgentHeader"))
        candidates = []
        for signin_time, signin_address, signin in signins:
            if address is None or signin_address != address:
                continue
            if not upload_time - lookback <= signin_time <= upload_time:
                continue
            signin_agent = _text(signin.get("UserAgent"))
            if match_user_agent and not (
                upload_agent and signin_agent and upload_agent.lower() == signin_agent.lower()
            ):
                continue
            candidates.append(signin)
        candidates.sort(key=lambda row: parse_time(_text(row[signin_time_column])))
        findings.append((upload_time, upload, candidates))
    findings.sort(key=lambda item: item[0])
    return [(upload, candidates) for _, upload, candidates in findings]


def object_name(row):
    """Return the decoded object path of a storage row, from ObjectKey."""
    return _text(row.get("ObjectKey"))


def summarise(findings):
    """Return printable lines, one per upload, with its candidate accounts."""
    lines = []
    for upload, candidates in findings:
        accounts = ", ".join(_text(row.get("UserPrincipalName")) for row in candidates) or "-"
        lines.append(
            f"{_text(upload['TimeGenerated']):>28}  {_text(upload['OperationName']):<9} "
            f"{object_name(upload):<62} {accounts}"
        )
    return lines


def main(paths):
    storage, signins = [], []
    for path in paths:
        for row in read_rows(path):
            (signins if "UserPrincipalName" in row else storage).append(row)
    findings = run_reference_hunt(storage, signins)
    print("\n".join(summarise(findings)))
    with_candidate = sum(1 for _, candidates in findings if candidates)
    print(f"{len(findings)} reference uploads, {with_candidate} with at least one candidate")


if __name__ == "__main__":
    main(sys.argv[1:])
