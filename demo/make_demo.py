#!/usr/bin/env python3
"""Generate blobtrail's embedded demo data set (see README.md in this folder for the story).

Writes StorageBlobLogs.csv, StorageFileLogs.json, SigninLogs.csv and
AADNonInteractiveUserSignInLogs.jsonl next to this script, then reads them back
and checks the reference-hunt findings that README.md states. Deterministic:
running it twice gives identical bytes. Standard library only.

    python3 demo/make_demo.py            # write and check
    python3 demo/make_demo.py --report   # also print every reference upload and its candidates
"""

import base64
import hashlib
import os
import random
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from export_shapes import (  # noqa: E402
    NONINTERACTIVE_COLUMNS, SIGNIN_COLUMNS, STORAGE_BLOB_COLUMNS, STORAGE_FILE_COLUMNS,
    TICKS_PER_MS, TICKS_PER_SECOND, Ticks, compact_json, complete_row, format_iso_offset,
    make_guid, pretty_json, render_api_json, render_json_lines, render_portal_csv, seconds,
    ticks, write_text,
)
import reference_hunt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# Tenant, workspace and well-known application ids.
# ---------------------------------------------------------------------------

WORKSPACE_ID = make_guid("log-analytics-workspace:contoso-security")
TENANT_ID = make_guid("entra-tenant:contoso.com")
SUBSCRIPTION_ID = make_guid("subscription:contoso-production")

# First-party application ids as they appear in real sign-in logs.
AZURE_PORTAL_APP = ("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c")
AZURE_CLI_APP = ("Microsoft Azure CLI", "04b07795-8ddb-461a-bbee-02f9e1bf7b46")
# Made-up ids: these two applications' real ids are not needed by any hunt.
STORAGE_EXPLORER_APP = ("Microsoft Azure Storage Explorer", make_guid("app:storage-explorer"))
TEAMS_WEB_APP = ("Microsoft Teams Web Client", make_guid("app:teams-web"))

MANAGEMENT_RESOURCE = ("Windows Azure Service Management API", "797f4846-ba00-4fd7-ba43-dac1f8f63013")
STORAGE_RESOURCE = ("Azure Storage", "e406a681-f3d4-42a8-90b6-c2b029497af1")
TEAMS_RESOURCE = ("Microsoft Teams Services", make_guid("resource:teams-services"))

PORTAL_REFERRER = "https://portal.azure.com/"

# ---------------------------------------------------------------------------
# People, places and user agents.
# ---------------------------------------------------------------------------

USERS = {
    "alice": "Alice Martin", "bob": "Bob Chen", "carol": "Carol Diaz", "dave": "Dave Kim",
    "erin": "Erin Walsh", "frank": "Frank Osei", "grace": "Grace Liu", "henry": "Henry Park",
    "ivan": "Ivan Novak",
}

EDGE_CORP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/145.0.0.0 Safari/537.36 Edg/145.0.0.0")
CHROME_CAROL = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/145.0.0.0 Safari/537.36")
FIREFOX_FRANK = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:148.0) Gecko/20100101 Firefox/148.0"
SAFARI_DAVE = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Version/26.3 Safari/605.1.15")
CHROME_INTRUDER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/144.0.0.0 Safari/537.36")
# Storage Explorer's agent really contains a double space before "AzCopy".
STORAGE_EXPLORER_AGENT = ("Microsoft Azure Storage Explorer, 1.38.0, win32, azcopy-node, 2.1.0, win32,  "
                          "AzCopy/10.28.0 Azure-Storage/0.15 (go1.23.4; Windows_NT)")
AZCOPY_AGENT = "AzCopy/10.28.0 Azure-Storage/0.15 (go1.23.4; Windows_NT)"
BACKUP_AGENT = "azsdk-net-Storage.Blobs/12.23.0 (.NET 8.0.13; Linux 6.8.0-1021-azure #25-Ubuntu SMP)"
LOG_SHIPPER_AGENT = ("azsdk-python-storage-blob/12.24.1 Python/3.11.11 "
                     "(Linux-6.8.0-1021-azure-x86_64-with-glibc2.39)")

BROWSERS = {
    EDGE_CORP: ("Windows 10", "Edge 145.0.0"),
    CHROME_CAROL: ("Windows 10", "Chrome 145.0.0"),
    FIREFOX_FRANK: ("Windows 10", "Firefox 148.0"),
    SAFARI_DAVE: ("MacOs", "Safari 26.3"),
    CHROME_INTRUDER: ("Windows 10", "Chrome 144.0.0"),
}

NAT = "203.0.113.10"             # corporate egress, shared by most staff
DAVE_HOME = "192.0.2.44"
FRANK_HOME = "198.51.100.77"
FRANK_HOME_V6 = "2001:db8:4:0:0:0:0:1a"   # as the sign-in log writes it
FRANK_V6_STORAGE = "2001:db8:4::1a"       # as the storage log writes it, inside brackets
INTRUDER = "198.51.100.23"
BACKUP_HOST = "10.10.4.20"
LOG_SHIPPER_HOST = "10.20.1.15"
FILE_SERVER_CLIENT = "10.30.2.41"

PLACES = {
    "seattle": ("US", {"city": "Seattle", "state": "Washington", "countryOrRegion": "US",
                       "geoCoordinates": {"latitude": 47.6062, "longitude": -122.3321}}),
    "portland": ("US", {"city": "Portland", "state": "Oregon", "countryOrRegion": "US",
                        "geoCoordinates": {"latitude": 45.5152, "longitude": -122.6784}}),
    "denver": ("US", {"city": "Denver", "state": "Colorado", "countryOrRegion": "US",
                      "geoCoordinates": {"latitude": 39.7392, "longitude": -104.9903}}),
    "amsterdam": ("NL", {"city": "Amsterdam", "state": "Noord-Holland", "countryOrRegion": "NL",
                         "geoCoordinates": {"latitude": 52.3676, "longitude": 4.9041}}),
}
PLACE_OF_ADDRESS = {NAT: "seattle", DAVE_HOME: "portland", FRANK_HOME: "denver",
                    FRANK_HOME_V6: "denver", INTRUDER: "amsterdam"}

BAD_PASSWORD = "Invalid username or password or Invalid on-premise username or password."

BLOB_ACCOUNT = "contosofinance"
FILE_ACCOUNT = "contososhare"
FILE_SHARE = "teamshare"


def upn(user):
    return f"{user}@contoso.com"


def object_id(user):
    return make_guid(f"user:{upn(user)}")


def hex_digest(label):
    return hashlib.sha256(label.encode()).hexdigest().upper()


def md5_base64(label):
    return base64.b64encode(hashlib.md5(label.encode()).digest()).decode()


def resource_id(account, service):
    return (f"/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg-storage/providers/"
            f"microsoft.storage/storageaccounts/{account}/{service}services/default")


def sas_query(expiry, permissions="racwl", resource="c"):
    """Return a service SAS query string with the signature redacted, as real logs show it.

    ``resource`` is ``c`` for a blob container and ``s`` for a file share.
    """
    return f"sv=2025-05-05&se={quote(expiry, safe='')}&sr={resource}&sp={permissions}&sig=XXXXX"


READ_OPERATIONS = {"GetBlob", "GetBlobProperties", "ListBlobs", "ListFiles", "GetFile", "Read"}


class Story:
    """Collects the rows of the four tables and the true author of every upload."""

    def __init__(self):
        self.rng = random.Random(20260314)
        self.blob_rows, self.file_rows = [], []
        self.signin_rows, self.noninteractive_rows = [], []
        self.truth = []  # (request time, object key, true uploader, upload method)
        self._labels = set()

    # -- helpers ---------------------------------------------------------

    def unique(self, label):
        if label in self._labels:
            raise ValueError(f"duplicate row label {label}")
        self._labels.add(label)
        return label

    def port(self):
        return self.rng.randint(49152, 65535)

    def logged_after(self, request):
        """Return the log time of a request: the service receives it a few ms after it was sent."""
        return Ticks(request + self.rng.randint(2, 9) * TICKS_PER_MS + self.rng.randint(0, 9999))

    # -- storage rows ----------------------------------------------------

    def storage_row(self, *, service, at, account, operation, container, path, caller, auth,
                    agent, sas=None, query="", status="201", status_text="Success",
                    referrer="", body=0, response_body=0, explicit_port=False, oauth_user=None,
                    granted=True, last_modified=None, duration=None):
        """Append one StorageBlobLogs or StorageFileLogs row; return it."""
        label = self.unique(f"{service}:{operation}:{container}/{path}:{at}")
        browser = agent in BROWSERS
        host = f"{account}.{service}.core.windows.net" + (":443" if explicit_port else "")
        resource_path = f"{container}/{path}" if path else container
        uri = f"https://{host}/{quote(resource_path, safe='/')}"
        if query:
            uri += f"?{query}"

        if auth == "SAS":
            authentication_hash = f"key1({hex_digest(account + ':key1')}),SasSignature({hex_digest(sas)})"
        elif auth == "AccountKey":
            authentication_hash = f"key1({hex_digest(account + ':key1')})"
        else:
            authentication_hash = hex_digest(f"oauth-token:{oauth_user}:{at // TICKS_PER_SECOND // 3600}")

        is_write = operation not in READ_OPERATIONS
        succeeded = status_text == "Success"
        if duration is None:
            duration = self.rng.randint(8, 60) + body // 400_000
        changes_blob = succeeded and operation in {"PutBlob", "PutBlockList", "AppendBlock",
                                                   "CreateFile", "PutRange"}
        if last_modified is None and changes_blob:
            last_modified = Ticks(at - at % TICKS_PER_SECOND)

        values = {
            "TenantId": WORKSPACE_ID, "TimeGenerated": self.logged_after(at),
            "AccountName": account, "Location": "westus2", "Protocol": "HTTPS",
            "OperationName": operation, "AuthenticationType": auth, "StatusCode": status,
            "StatusText": status_text, "DurationMs": float(duration),
            "ServerLatencyMs": float(max(1, duration - self.rng.randint(1, 6))), "Uri": uri,
            "CallerIpAddress": caller, "CorrelationId": make_guid(f"correlation:{label}"),
            "SchemaVersion": "1.0",
            "OperationVersion": "2025-05-05" if browser else "2025-01-05",
            "AuthenticationHash": authentication_hash,
            "UserAgentHeader": agent, "ReferrerHeader": referrer,
            "ClientRequestId": make_guid(f"client-request:{label}"),
            "Etag": f'"0x8DE{hex_digest(label)[:12]}"' if changes_blob or (
                succeeded and operation in {"GetBlob", "GetBlobProperties", "GetFile"}) else None,
            "ServiceType": service, "OperationCount": 0,
            "RequestHeaderSize": self.rng.randint(1250, 1750) if browser else self.rng.randint(620, 940),
            "RequestBodySize": body, "ResponseHeaderSize": self.rng.randint(280, 460),
            "ResponseBodySize": response_body,
            "ResponseMd5": md5_base64(label) if changes_blob and operation != "CreateFile" else None,
            "LastModifiedTime": last_modified,
            "ContentLengthHeader": body,
            "Category": "StorageWrite" if is_write else "StorageRead",
            "TlsVersion": "TLS 1.3" if browser else "TLS 1.2",
            "Type": "StorageBlobLogs" if service == "blob" else "StorageFileLogs",
            "_ResourceId": resource_id(account, service),
            "ObjectKey": f"/{account}/{resource_path}",
            "MetricResponseType": "Success" if succeeded else "AuthorizationError",
        }
        values["SourceSystem"] = "Azure"
        if service == "blob" and changes_blob and operation in {"PutBlob", "PutBlockList"}:
            values["AccessTier"] = "Hot"
        if auth == "OAuth":
            values.update({
                "RequesterObjectId": object_id(oauth_user), "RequesterTenantId": TENANT_ID,
                "RequesterAppId": AZURE_PORTAL_APP[1], "RequesterAudience": "https://storage.azure.com/",
                "RequesterTokenIssuer": f"https://sts.windows.net/{TENANT_ID}/",
                "RequesterUpn": upn(oauth_user),
            })
            if granted:
                values["AuthorizationDetails"] = compact_json([{
                    "action": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
                    "roleAssignmentId": make_guid(f"role-assignment:{oauth_user}"),
                    "roleDefinitionId": make_guid("role-definition:blob-data-contributor"),
                    "principals": [{"id": object_id(oauth_user), "type": "User"}],
                    "denyAssignmentId": "", "type": "RBAC", "result": "Granted", "reason": "Policy",
                }])
        columns = STORAGE_BLOB_COLUMNS if service == "blob" else STORAGE_FILE_COLUMNS
        row = complete_row(columns, values)
        (self.blob_rows if service == "blob" else self.file_rows).append(row)
        return row

    def record_truth(self, at, account, container, path, uploader, method):
        self.truth.append((at, f"/{account}/{container}/{path}", uploader, method))

    def portal_put_blob(self, at, user, address, agent, container, path, size, sas,
                        oauth=False, truth=True):
        """Append the single PutBlob of a browser upload through the portal."""
        caller = f"[{FRANK_V6_STORAGE}]:52044" if address == FRANK_HOME_V6 else f"{address}:{self.port()}"
        self.storage_row(
            service="blob", at=at, account=BLOB_ACCOUNT, operation="PutBlob",
            container=container, path=path, caller=caller, agent=agent, body=size,
            auth="OAuth" if oauth else "SAS", oauth_user=user if oauth else None, sas=sas,
            query="" if oauth else sas_query("2026-03-15T00:00:00Z"),
            referrer=PORTAL_REFERRER,
        )
        if truth:
            how = "portal, OAuth (RequesterUpn)" if oauth else "portal, SAS"
            self.record_truth(at, BLOB_ACCOUNT, container, path, upn(user), how)

    def block_upload(self, at, uploader, caller_address, agent, container, path, block_sizes, auth,
                     sas=None, tool="AzCopy"):
        """Append a tool upload: PutBlock per block, then PutBlockList once every block is stored."""
        block_ids = []
        sent = at
        for index, size in enumerate(block_sizes):
            block_id = base64.b64encode(hashlib.md5(f"{path}:{index}".encode()).digest()).decode()
            block_ids.append(block_id)
            query = f"comp=block&blockid={quote(block_id, safe='')}"
            if sas:
                query += "&" + sas_query("2026-03-14T06:00:00Z")
            self.storage_row(
                service="blob", at=sent, account=BLOB_ACCOUNT, operation="PutBlock",
                container=container, path=path, caller=f"{caller_address}:{self.port()}",
                auth=auth, sas=sas, agent=agent, query=query, body=size, explicit_port=True,
                duration=700 + size // 12_000 + self.rng.randint(0, 300),
            )
            sent = Ticks(sent + seconds(0.35) + self.rng.randint(0, 2000) * TICKS_PER_MS)
        commit_at = Ticks(sent + seconds(1.2))
        query = "comp=blocklist" + ("&" + sas_query("2026-03-14T06:00:00Z") if sas else "")
        self.storage_row(
            service="blob", at=commit_at, account=BLOB_ACCOUNT, operation="PutBlockList",
            container=container, path=path, caller=f"{caller_address}:{self.port()}",
            auth=auth, sas=sas, agent=agent, query=query, body=64 * len(block_ids),
            explicit_port=True,
        )
        self.record_truth(at, BLOB_ACCOUNT, container, path, uploader,
                          f"{tool}, {auth}, PutBlock x{len(block_sizes)} + PutBlockList")

    def blob_read(self, at, operation, address, agent, container, path, auth="SAS", sas=None,
                  size=0, referrer="", last_modified=None, query_extra=""):
        query = query_extra
        if auth == "SAS":
            query = (query + "&" if query else "") + sas_query("2026-03-15T00:00:00Z")
        self.storage_row(
            service="blob", at=at, account=BLOB_ACCOUNT, operation=operation, container=container,
            path=path, caller=f"{address}:{self.port()}", auth=auth, sas=sas, agent=agent,
            query=query, status="200", response_body=size, referrer=referrer,
            last_modified=last_modified,
        )

    # -- sign-in rows ----------------------------------------------------

    def _device(self, user, agent, address):
        operating_system, browser = BROWSERS[agent]
        if address == NAT:
            return {"deviceId": make_guid(f"device:{user}"), "displayName": f"CONTOSO-LT-{user.upper()}",
                    "operatingSystem": operating_system, "browser": browser, "isCompliant": True,
                    "isManaged": True, "trustType": "Azure AD joined"}
        return {"deviceId": "", "operatingSystem": operating_system, "browser": browser}

    def _signin_values(self, at, user, address, agent, app, resource, created_lag, result,
                       method, interactive):
        label = self.unique(f"signin:{interactive}:{user}:{at}")
        created = Ticks(at - seconds(created_lag))
        country, place = PLACES[PLACE_OF_ADDRESS[address]]
        if method == "mfa":
            steps = [("Password", True, "Correct password", "Primary authentication"),
                     ("Mobile app notification", True, "MFA successfully completed",
                      "Multi-factor authentication")]
        elif method == "token":
            steps = [("Previously satisfied", True,
                      "First factor requirement satisfied by claim in the token",
                      "Primary authentication")]
        else:
            steps = [("Password", False, BAD_PASSWORD, "Primary authentication")]
        details = [{
            "authenticationStepDateTime": format_iso_offset(Ticks(created + seconds(index * 4.5))),
            "authenticationMethod": step_method, "succeeded": succeeded,
            "authenticationStepResultDetail": detail, "authenticationStepRequirement": requirement,
            "StatusSequence": 0, "RequestSequence": index,
        } for index, (step_method, succeeded, detail, requirement) in enumerate(steps)]
        status = {"errorCode": result}
        if result:
            status.update({"failureReason": BAD_PASSWORD})
        request_id = make_guid(f"request:{label}")
        return {
            "TenantId": WORKSPACE_ID, "SourceSystem": "Azure AD", "TimeGenerated": at,
            "OperationName": "Sign-in activity", "OperationVersion": "1.0",
            "ResultType": str(result), "ResultSignature": "None",
            "ResultDescription": BAD_PASSWORD if result else "", "DurationMs": 0,
            "CorrelationId": make_guid(f"correlation:{label}"), "ResourceGroup": "Microsoft.aadiam",
            "Identity": USERS[user], "Level": "4", "Location": country,
            "AlternateSignInName": "", "AppDisplayName": app[0], "AppId": app[1],
            "AuthenticationDetails": pretty_json(details), "AuthenticationMethodsUsed": "",
            "AuthenticationProcessingDetails": pretty_json([{"key": "IsCAEToken", "value": "False"}]),
            "AuthenticationRequirement": "multiFactorAuthentication" if method == "mfa"
            else "singleFactorAuthentication",
            "AuthenticationRequirementPolicies": "[]",
            "ClientAppUsed": "Browser" if app in (AZURE_PORTAL_APP, TEAMS_WEB_APP)
            else "Mobile Apps and Desktop clients",
            "ConditionalAccessPolicies": "[]", "ConditionalAccessStatus": "notApplied",
            "CreatedDateTime": created, "DeviceDetail": compact_json(self._device(user, agent, address)),
            "IsInteractive": interactive, "Id": request_id, "IPAddress": address,
            "LocationDetails": compact_json(place),
            "MfaDetail": compact_json({"authMethod": "Mobile app notification"} if method == "mfa" else {}),
            "NetworkLocationDetails": "[]", "OriginalRequestId": request_id,
            "RiskDetail": "none", "RiskEventTypes": "[]", "RiskEventTypes_V2": "[]",
            "RiskLevelAggregated": "none", "RiskLevelDuringSignIn": "none", "RiskState": "none",
            "ResourceDisplayName": resource[0], "ResourceIdentity": resource[1],
            "ServicePrincipalId": "", "Status": compact_json(status), "TokenIssuerName": "",
            "TokenIssuerType": "AzureAD", "UserAgent": agent, "UserDisplayName": USERS[user],
            "UserId": object_id(user), "UserPrincipalName": upn(user), "AADTenantId": TENANT_ID,
            "UserType": "Member", "SignInIdentifierType": "", "ResourceTenantId": TENANT_ID,
            "HomeTenantId": TENANT_ID,
        }

    def signin(self, at, user, address, agent, app=AZURE_PORTAL_APP, created_lag=None, result=0,
               method="mfa", resource=MANAGEMENT_RESOURCE):
        """Append one interactive SigninLogs row; ``at`` is its TimeGenerated."""
        if created_lag is None:
            created_lag = round(self.rng.uniform(2, 40), 7)
        values = self._signin_values(at, user, address, agent, app, resource, created_lag,
                                     result, method, True)
        values.update({
            "ResourceId": f"/tenants/{TENANT_ID}/providers/Microsoft.aadiam",
            "Category": "SignInLogs", "Resource": "Microsoft.aadiam", "ResourceProvider": "",
            "ProcessingTimeInMilliseconds": str(self.rng.randint(90, 480)),
            "ServicePrincipalName": "", "SignInIdentifier": "", "Type": "SigninLogs",
        })
        self.signin_rows.append(complete_row(SIGNIN_COLUMNS, values))

    def refresh(self, at, user, address, agent, app=AZURE_PORTAL_APP, resource=STORAGE_RESOURCE):
        """Append one AADNonInteractiveUserSignInLogs row (a silent token request)."""
        created_lag = round(self.rng.uniform(0.2, 3), 7)
        values = self._signin_values(at, user, address, agent, app, resource, created_lag, 0,
                                     "token", False)
        values.update({
            "Category": "NonInteractiveUserSignInLogs",
            "ProcessingTimeInMs": str(self.rng.randint(20, 160)),
            "SignInEventTypes": compact_json(["nonInteractiveUser"]),
            "Type": "AADNonInteractiveUserSignInLogs",
        })
        self.noninteractive_rows.append(complete_row(NONINTERACTIVE_COLUMNS, values))



def utc(text):
    """Parse a UTC time written ``2026-03-12 09:14:30.604``."""
    return ticks(text)


def later(start, count):
    return Ticks(start + seconds(count))


def portal_session(story, user, address, agent, signin_at, uploads, refresh_after=None,
                   created_lag=None):
    """Sign in to the portal, then upload each (seconds after sign-in, container, path, size).

    The portal requests a storage token silently right after the sign-in, and again at
    ``refresh_after`` seconds when given.
    """
    start = utc(signin_at)
    story.signin(start, user, address, agent, created_lag=created_lag)
    story.refresh(later(start, 3 + story.rng.randint(0, 3000) / 1000), user, address, agent)
    sas = f"portal-sas:{user}:{signin_at}"
    for offset, container, path, size in uploads:
        story.portal_put_blob(later(start, offset), user, address, agent, container, path, size, sas)
    if refresh_after is not None:
        story.refresh(later(start, refresh_after), user, address, agent)


def build_story():
    story = Story()
    s = story

    # Thursday 12 March 2026 ----------------------------------------------
    portal_session(s, "bob", NAT, EDGE_CORP, "2026-03-12 08:30:05.217",
                   [(26, "reports", "weekly/2026-W11 draft.xlsx", 48_211)], refresh_after=300)

    # Alice and Bob sign in from the NAT within 32 s of each other.
    portal_session(s, "alice", NAT, EDGE_CORP, "2026-03-12 09:14:30.604",
                   [(22, "invoices", "2026/03/INV-10231.pdf", 182_733),
                    (41, "invoices", "2026/03/INV-10232.pdf", 176_090)], refresh_after=130)
    portal_session(s, "bob", NAT, EDGE_CORP, "2026-03-12 09:15:02.118",
                   [(18, "reports", "weekly/2026-W11 summary.xlsx", 61_502)], refresh_after=368)

    start = utc("2026-03-12 10:05:00.342")
    s.signin(start, "alice", NAT, EDGE_CORP)
    s.blob_read(later(start, 5), "ListBlobs", NAT, EDGE_CORP, "invoices", "",
                sas="portal-sas:alice:10:05", referrer=PORTAL_REFERRER,
                query_extra="restype=container&comp=list&prefix=2026%2F03%2F&delimiter=%2F",
                size=4_812)
    for offset, path, size in [(10, "2026/03/INV-10233.pdf", 190_225), (30, "2026/03/INV-10234.pdf", 171_448)]:
        s.portal_put_blob(later(start, offset), "alice", NAT, EDGE_CORP, "invoices", path, size,
                          "portal-sas:alice:10:05")
    s.blob_read(later(start, 62), "GetBlob", NAT, EDGE_CORP, "invoices", "2026/03/INV-10231.pdf",
                sas="portal-sas:alice:10:05", size=182_733, referrer=PORTAL_REFERRER,
                last_modified=utc("2026-03-12 09:14:52"))

    # Carol uses Storage Explorer: browser sign-in, tool upload in blocks with the account key.
    start = utc("2026-03-12 10:40:12.930")
    s.signin(start, "carol", NAT, CHROME_CAROL, app=STORAGE_EXPLORER_APP)
    s.blob_read(later(start, 51), "ListBlobs", NAT, STORAGE_EXPLORER_AGENT, "reports", "",
                auth="AccountKey", query_extra="restype=container&comp=list&prefix=quarterly%2F",
                size=2_977)
    s.block_upload(later(start, 68), upn("carol"), NAT, STORAGE_EXPLORER_AGENT, "reports",
                   "quarterly/Q4-2025 board deck.pptx", [8_388_608] * 3 + [6_291_456],
                   "AccountKey", tool="Storage Explorer")

    # Ivan opens Teams from the NAT 32 s before Erin's upload: a bystander candidate.
    s.signin(utc("2026-03-12 11:05:20.075"), "ivan", NAT, EDGE_CORP, app=TEAMS_WEB_APP,
             resource=TEAMS_RESOURCE)
    portal_session(s, "erin", NAT, EDGE_CORP, "2026-03-12 11:05:40.561",
                   [(12, "reports", "audit/vendor-list.csv", 23_118)])

    portal_session(s, "carol", NAT, CHROME_CAROL, "2026-03-12 12:20:15.006",
                   [(34, "payroll", "2026-03/overtime-approvals.pdf", 311_870)])
    s.signin(utc("2026-03-12 13:02:44.390"), "ivan", NAT, EDGE_CORP, app=TEAMS_WEB_APP,
             resource=TEAMS_RESOURCE)

    # Frank works from home over IPv6.
    portal_session(s, "frank", FRANK_HOME_V6, FIREFOX_FRANK, "2026-03-12 13:30:00.448",
                   [(20, "reports", "field/site-visit-0312.jpg", 2_841_336)])

    # Bob signs in with az login (browser) and uploads with AzCopy and a SAS.
    start = utc("2026-03-12 14:20:30.772")
    s.signin(start, "bob", NAT, EDGE_CORP, app=AZURE_CLI_APP)
    s.block_upload(later(start, 95), upn("bob"), NAT, AZCOPY_AGENT, "reports",
                   "exports/ledger-2026-03-12.parquet", [8_388_608, 8_388_608, 3_145_728], "SAS",
                   sas="azcopy-sas:bob:2026-03-12")

    # Erin and Grace sign in 20 s apart; Grace's upload is OAuth and names her.
    erin_start, grace_start = utc("2026-03-12 15:45:00.208"), utc("2026-03-12 15:45:20.815")
    s.signin(erin_start, "erin", NAT, EDGE_CORP)
    s.signin(grace_start, "grace", NAT, EDGE_CORP)
    s.portal_put_blob(later(grace_start, 18), "grace", NAT, EDGE_CORP, "reports",
                      "audit/controls-testing.xlsx", 97_312, None, oauth=True)
    s.portal_put_blob(later(erin_start, 50), "erin", NAT, EDGE_CORP, "invoices",
                      "2026/03/INV-10240.pdf", 168_905, "portal-sas:erin:15:45")

    # Henry (reader role) tries an OAuth upload, which the service rejects with 403.
    start = utc("2026-03-12 16:09:50.663")
    s.signin(start, "henry", NAT, EDGE_CORP)
    s.storage_row(service="blob", at=later(start, 24), account=BLOB_ACCOUNT, operation="PutBlob",
                  container="reports", path="audit/notes.txt", caller=f"{NAT}:{s.port()}",
                  auth="OAuth", oauth_user="henry", agent=EDGE_CORP, body=2_214,
                  referrer=PORTAL_REFERRER, status="403",
                  status_text="AuthorizationPermissionMismatch", response_body=279, granted=False)

    # Erin's second upload comes 95 s after her sign-in: only a token refresh is near it.
    portal_session(s, "erin", NAT, EDGE_CORP, "2026-03-12 16:40:00.119",
                   [(20, "reports", "audit/vendor-list-v2.csv", 23_904),
                    (95, "reports", "audit/vendor-contacts.csv", 9_730)], refresh_after=70)

    portal_session(s, "dave", DAVE_HOME, SAFARI_DAVE, "2026-03-12 17:30:00.884",
                   [(30, "reports", "sales/pipeline-review.docx", 402_561)])

    # Friday 13 March 2026 ------------------------------------------------
    log_shipping(s, "2026-03-13")
    backup(s, "2026-03-13 01:15:07.031", 188_743_680)

    portal_session(s, "alice", NAT, EDGE_CORP, "2026-03-13 08:50:00.350",
                   [(15, "invoices", "2026/03/INV-10250.pdf", 180_032),
                    (35, "invoices", "2026/03/INV-10251.pdf", 179_551),
                    (130, "invoices", "2026/03/INV-10252.pdf", 185_870)], refresh_after=110)

    # Alice (Edge) and Carol (Chrome) overlap: only the user-agent filter separates their uploads.
    portal_session(s, "alice", NAT, EDGE_CORP, "2026-03-13 09:29:58.013",
                   [(42, "invoices", "2026/03/INV-10253.pdf", 177_204)])
    portal_session(s, "carol", NAT, CHROME_CAROL, "2026-03-13 09:30:00.640",
                   [(25, "payroll", "2026-03/timesheets week 10.xlsx", 88_450)])

    file_share_session(s)

    start = utc("2026-03-13 11:40:00.514")
    s.signin(start, "bob", NAT, EDGE_CORP, app=STORAGE_EXPLORER_APP)
    s.block_upload(later(start, 90), upn("bob"), NAT, STORAGE_EXPLORER_AGENT, "reports",
                   "exports/ap-aging.xlsx", [8_388_608, 1_048_576], "AccountKey",
                   tool="Storage Explorer")

    portal_session(s, "grace", NAT, EDGE_CORP, "2026-03-13 12:10:00.927",
                   [(44, "reports", "audit/sample-selection.xlsx", 54_013)])
    portal_session(s, "frank", FRANK_HOME, FIREFOX_FRANK, "2026-03-13 13:05:00.102",
                   [(9, "reports", "field/site-visit-0313.jpg", 3_102_447)])

    alice_start, bob_start = utc("2026-03-13 14:30:05.447"), utc("2026-03-13 14:30:21.090")
    s.signin(alice_start, "alice", NAT, EDGE_CORP)
    s.signin(bob_start, "bob", NAT, EDGE_CORP)
    s.portal_put_blob(later(alice_start, 43), "alice", NAT, EDGE_CORP, "invoices",
                      "2026/03/INV-10255.pdf", 183_316, "portal-sas:alice:14:30")
    s.portal_put_blob(later(bob_start, 38), "bob", NAT, EDGE_CORP, "reports",
                      "weekly/2026-W11 final.xlsx", 63_877, "portal-sas:bob:14:30")

    erin_start = utc("2026-03-13 15:10:00.333")
    s.signin(erin_start, "erin", NAT, EDGE_CORP)
    s.signin(utc("2026-03-13 15:10:30.701"), "bob", NAT, EDGE_CORP, app=TEAMS_WEB_APP,
             resource=TEAMS_RESOURCE)
    s.portal_put_blob(later(erin_start, 45), "erin", NAT, EDGE_CORP, "invoices",
                      "2026/03/INV-10260.pdf", 170_664, "portal-sas:erin:15:10")

    portal_session(s, "dave", DAVE_HOME, SAFARI_DAVE, "2026-03-13 16:00:00.290",
                   [(40, "reports", "sales/forecast Q2.xlsx", 131_760)])
    portal_session(s, "alice", NAT, EDGE_CORP, "2026-03-13 16:30:00.881",
                   [(12, "invoices", "2026/03/INV-10261.pdf", 174_019),
                    (27, "invoices", "2026/03/INV-10262.pdf", 181_402)])

    start = utc("2026-03-13 17:45:00.159")
    s.signin(start, "carol", NAT, CHROME_CAROL, app=AZURE_CLI_APP)
    s.block_upload(later(start, 70), upn("carol"), NAT, AZCOPY_AGENT, "reports",
                   "exports/gl-detail-2026-03.csv", [8_388_608, 5_767_168], "SAS",
                   sas="azcopy-sas:carol:2026-03-13")

    # Saturday 14 March 2026 ----------------------------------------------
    log_shipping(s, "2026-03-14")
    backup(s, "2026-03-14 01:15:06.610", 189_267_968)
    incident(s)
    return story


def log_shipping(story, day):
    """Append the log shipper's day: PutBlob creates the append blob, AppendBlock adds to it."""
    sent = utc(f"{day} 00:00:02.118")
    path = f"app-{day}.log"
    story.storage_row(service="blob", at=sent, account=BLOB_ACCOUNT, operation="PutBlob",
                      container="logs", path=path, caller=f"{LOG_SHIPPER_HOST}:{story.port()}",
                      auth="AccountKey", agent=LOG_SHIPPER_AGENT, explicit_port=True)
    story.record_truth(sent, BLOB_ACCOUNT, "logs", path, "log shipper (service)",
                       "AccountKey from 10.20.1.15; PutBlob creates the append blob")
    for hour, size in [("06", 211_904), ("12", 248_377), ("18", 196_045)]:
        story.storage_row(service="blob", at=utc(f"{day} {hour}:00:03.{story.rng.randint(100, 999)}"),
                          account=BLOB_ACCOUNT, operation="AppendBlock", container="logs", path=path,
                          caller=f"{LOG_SHIPPER_HOST}:{story.port()}", auth="AccountKey",
                          agent=LOG_SHIPPER_AGENT, query="comp=appendblock", body=size,
                          explicit_port=True)


def backup(story, sent_text, size):
    """Append the nightly database backup: one large PutBlob with the account key from a private host."""
    sent = utc(sent_text)
    path = f"db-{sent_text[:10]}.bak"
    story.storage_row(service="blob", at=sent, account=BLOB_ACCOUNT, operation="PutBlob",
                      container="backup", path=path, caller=f"{BACKUP_HOST}:{story.port()}",
                      auth="AccountKey", agent=BACKUP_AGENT, body=size, explicit_port=True,
                      duration=14_820)
    story.record_truth(sent, BLOB_ACCOUNT, "backup", path, "backup job (service)",
                       "AccountKey from 10.10.4.20")


def file_share_session(story):
    """Append erin's portal uploads to the team share (CreateFile, then PutRange) and some reads."""
    start = utc("2026-03-13 10:15:00.466")
    story.signin(start, "erin", NAT, EDGE_CORP)
    sas = "portal-file-sas:erin:2026-03-13"

    def file_request(offset, operation, path, body=0, query="", status="201", response_body=0,
                     last_modified=None):
        full_query = "&".join(part for part in [query, sas_query("2026-03-14T00:00:00Z", "rcwl", "s")] if part)
        story.storage_row(service="file", at=later(start, offset), account=FILE_ACCOUNT,
                          operation=operation, container=FILE_SHARE, path=path,
                          caller=f"{NAT}:{story.port()}", auth="SAS", sas=sas, agent=EDGE_CORP,
                          query=full_query, body=body, referrer=PORTAL_REFERRER, status=status,
                          response_body=response_body, last_modified=last_modified)

    file_request(10, "ListFiles", "Projects", query="restype=directory&comp=list", status="200",
                 response_body=1_734)
    for offset, path, ranges in [(20, "Projects/Kickoff notes.docx", [1_207_416]),
                                 (48, "Projects/site plan v2.pdf", [4_194_304, 2_097_152])]:
        file_request(offset, "CreateFile", path)
        for index, size in enumerate(ranges):
            file_request(offset + 1.4 + 2.7 * index, "PutRange", path, body=size, query="comp=range")
        story.record_truth(later(start, offset), FILE_ACCOUNT, FILE_SHARE, path, upn("erin"),
                           f"portal, SAS, CreateFile + PutRange x{len(ranges)}")
    file_request(300, "GetFile", "Projects/Kickoff notes.docx", status="200",
                 response_body=1_207_416, last_modified=utc("2026-03-13 10:15:21"))

    # An SMB read from a domain-joined desktop: no port, no StatusText, Kerberos.
    label = story.unique("smb-read")
    story.file_rows.append(complete_row(STORAGE_FILE_COLUMNS, {
        "TenantId": WORKSPACE_ID, "TimeGenerated": utc("2026-03-13 10:31:12.5518406"),
        "AccountName": FILE_ACCOUNT, "Location": "westus2", "Protocol": "SMB",
        "OperationName": "Read", "AuthenticationType": "Kerberos", "StatusCode": "0",
        "StatusText": "", "DurationMs": 3.0, "ServerLatencyMs": 3.0,
        "Uri": f"\\\\{FILE_ACCOUNT}.file.core.windows.net\\{FILE_SHARE}\\Projects\\budget.xlsx",
        "CallerIpAddress": FILE_SERVER_CLIENT, "CorrelationId": make_guid(f"correlation:{label}"),
        "SchemaVersion": "1.0", "OperationVersion": "3.1.1", "AuthenticationHash": "",
        "RequesterUserName": "CONTOSO\\carol",
        "SmbPrimarySID": "S-1-5-21-2127521184-1604012920-1887927527-1114",
        "ServiceType": "file", "OperationCount": 0, "RequestHeaderSize": 113,
        "RequestBodySize": 0, "ResponseHeaderSize": 80, "ResponseBodySize": 65_536,
        "Category": "StorageRead", "TlsVersion": "", "SmbTreeConnectID": "0x5",
        "SmbPersistentHandleID": "0x1a2c", "SmbVolatileHandleID": "0x4000000d",
        "SmbMessageID": "0x3f1", "SmbCreditsConsumed": 1,
        "SmbCommandDetail": "Read 65536 bytes at offset 0", "SmbFileId": "0x2000000000042",
        "SmbSessionID": "0x8c0000480001", "SmbCommandMajor": 8, "SmbCommandMinor": "",
        "SourceSystem": "Azure", "Type": "StorageFileLogs",
        "_ResourceId": resource_id(FILE_ACCOUNT, "file"),
        "ObjectKey": f"\\\\{FILE_ACCOUNT}.file.core.windows.net\\{FILE_SHARE}\\Projects\\budget.xlsx",
        "MetricResponseType": "Success",
    }))


def incident(story):
    """Append the incident: dave's stolen session stages a tool and a payroll archive from 198.51.100.23."""
    s = story
    s.signin(utc("2026-03-14 14:02:10.482"), "bob", INTRUDER, CHROME_INTRUDER, created_lag=1.9,
             result=50126, method="password")
    start = utc("2026-03-14 14:05:12.357")
    s.signin(start, "dave", INTRUDER, CHROME_INTRUDER, created_lag=13.6, method="token")
    sas = "intruder-sas:dave:2026-03-14"
    s.blob_read(later(start, 18), "ListBlobs", INTRUDER, CHROME_INTRUDER, "staging", "", sas=sas,
                referrer=PORTAL_REFERRER, query_extra="restype=container&comp=list", size=611)
    s.portal_put_blob(later(start, 32), "dave", INTRUDER, CHROME_INTRUDER, "staging",
                      "tools/mimikatz.exe", 1_355_264, sas)
    s.truth[-1] = s.truth[-1][:3] + ("portal, SAS; stolen session used by an intruder",)
    for offset, path, size in [(58, "2026-03/timesheets week 10.xlsx", 88_450),
                               (71, "2026-03/overtime-approvals.pdf", 311_870)]:
        s.blob_read(later(start, offset), "GetBlob", INTRUDER, CHROME_INTRUDER, "payroll", path,
                    sas=sas, size=size, referrer=PORTAL_REFERRER)
    s.refresh(later(start, 157.6), "dave", INTRUDER, CHROME_INTRUDER)
    s.portal_put_blob(later(start, 188), "dave", INTRUDER, CHROME_INTRUDER, "staging",
                      "exfil/Q1 payroll (final).7z", 8_912_345, sas)
    s.truth[-1] = s.truth[-1][:3] + ("portal, SAS; stolen session used by an intruder",)


# ---------------------------------------------------------------------------
# Output and checks.
# ---------------------------------------------------------------------------

OUTPUTS = {
    "StorageBlobLogs.csv": lambda story: render_portal_csv(STORAGE_BLOB_COLUMNS, story.blob_rows),
    "StorageFileLogs.json": lambda story: render_api_json(STORAGE_FILE_COLUMNS, story.file_rows),
    "SigninLogs.csv": lambda story: render_portal_csv(SIGNIN_COLUMNS, story.signin_rows),
    "AADNonInteractiveUserSignInLogs.jsonl":
        lambda story: render_json_lines(NONINTERACTIVE_COLUMNS, story.noninteractive_rows),
}

# Expected reference-hunt result (1-minute lookback, user agents equal ignoring case).
EXPECTED_UPLOADS = 36
EXPECTED_WITH_CANDIDATE = 29
EXPECTED_CANDIDATES = {
    "/contosofinance/staging/tools/mimikatz.exe": ["dave@contoso.com"],
    "/contosofinance/staging/exfil/Q1 payroll (final).7z": [],
    "/contosofinance/reports/audit/controls-testing.xlsx": ["erin@contoso.com", "grace@contoso.com"],
    "/contosofinance/reports/field/site-visit-0312.jpg": ["frank@contoso.com"],
    "/contosofinance/reports/audit/vendor-list.csv": ["ivan@contoso.com", "erin@contoso.com"],
    "/contosofinance/invoices/2026/03/INV-10253.pdf": ["alice@contoso.com"],
    "/contosofinance/payroll/2026-03/timesheets week 10.xlsx": ["carol@contoso.com"],
    "/contosofinance/backup/db-2026-03-14.bak": [],
}

# Findings that change when the user-agent filter is off, or when the sign-in time is
# CreatedDateTime instead of TimeGenerated.
EXPECTED_CHANGED_WITHOUT_AGENT = 2
EXPECTED_CHANGED_BY_CREATED = 13


def sort_rows(story):
    """Order each table by TimeGenerated, as an export sorted by time would be."""
    for rows in (story.blob_rows, story.file_rows, story.signin_rows, story.noninteractive_rows):
        rows.sort(key=lambda row: row["TimeGenerated"])


def check_outputs(report):
    """Read the written files back, run the reference hunt and compare with the expectations."""
    storage = (reference_hunt.read_rows(os.path.join(HERE, "StorageBlobLogs.csv"))
               + reference_hunt.read_rows(os.path.join(HERE, "StorageFileLogs.json")))
    signins = (reference_hunt.read_rows(os.path.join(HERE, "SigninLogs.csv"))
               + reference_hunt.read_rows(os.path.join(HERE, "AADNonInteractiveUserSignInLogs.jsonl")))
    correlation_ids = [row["CorrelationId"] for row in storage + signins]
    assert len(correlation_ids) == len(set(correlation_ids)), "CorrelationId values repeat"

    findings = reference_hunt.run_reference_hunt(storage, signins)
    if report:
        print("\n".join(reference_hunt.summarise(findings)))
    by_object = {}
    for upload, candidates in findings:
        by_object.setdefault(upload["ObjectKey"], []).append(
            [row["UserPrincipalName"] for row in candidates])
    with_candidate = sum(1 for _, candidates in findings if candidates)
    assert len(findings) == EXPECTED_UPLOADS, f"{len(findings)} reference uploads"
    assert with_candidate == EXPECTED_WITH_CANDIDATE, f"{with_candidate} uploads with a candidate"
    for key, expected in EXPECTED_CANDIDATES.items():
        assert by_object.get(key) == [expected], f"{key}: {by_object.get(key)}"

    without_agent = reference_hunt.run_reference_hunt(storage, signins, match_user_agent=False)
    changed = [(u, c) for (u, c), (_, filtered) in zip(without_agent, findings) if c != filtered]
    assert len(changed) == EXPECTED_CHANGED_WITHOUT_AGENT, f"{len(changed)} change without the agent filter"
    if report:
        print("\nwithout the user-agent filter, these findings differ:")
        print("\n".join(reference_hunt.summarise(changed)))

    by_created = reference_hunt.run_reference_hunt(storage, signins,
                                                   signin_time_column="CreatedDateTime")
    changed = [(u, c) for (u, c), (_, kept) in zip(by_created, findings) if c != kept]
    assert len(changed) == EXPECTED_CHANGED_BY_CREATED, f"{len(changed)} change with CreatedDateTime"
    assert all("mimikatz" not in upload["ObjectKey"] for upload, _ in changed)
    if report:
        print("\nwith CreatedDateTime as the sign-in time, these findings differ:")
        print("\n".join(reference_hunt.summarise(changed)))
    return findings


def main():
    story = build_story()
    sort_rows(story)
    for name, render in OUTPUTS.items():
        write_text(os.path.join(HERE, name), render(story))
    report = "--report" in sys.argv
    findings = check_outputs(report)
    if report:
        print("\nground truth (request time, object, uploader, how):")
        for sent, key, uploader, method in sorted(story.truth):
            print(f"  {reference_hunt.format_ticks(sent)}  {key}  {uploader}  [{method}]")
    total = sum(os.path.getsize(os.path.join(HERE, name)) for name in OUTPUTS)
    with_candidate = sum(1 for _, candidates in findings if candidates)
    print(f"wrote {len(OUTPUTS)} files, {total} bytes; {len(story.blob_rows)} blob rows, "
          f"{len(story.file_rows)} file rows, {len(story.signin_rows)} interactive and "
          f"{len(story.noninteractive_rows)} non-interactive sign-ins; {len(findings)} reference "
          f"uploads, {with_candidate} with a candidate", file=sys.stderr)


if __name__ == "__main__":
    main()
