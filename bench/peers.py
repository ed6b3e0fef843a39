#!/usr/bin/env python3
"""Attribute uploads to accounts without blobtrail, in DuckDB SQL, pandas or polars, and score
the answers against the truth.csv that `blobtrail generate` writes.

Each peer reads the five exports from scratch with every column as text, takes the successful
upload requests, strips the port from the caller address and answers with the OAuth requester
named in the storage log, else with the account of the closest successful sign-in from the same
address in the 90 minutes before the upload, else in the 5 minutes after it. That is the method
an analyst would write by hand, without blobtrail's grouping of requests into uploads, address
normalisation, candidate ranking or confidence levels.

The scorer follows `blobtrail score`: a truth row is matched by object path and upload time, an
attributable upload is right when the answer names the true account (ignoring case), and an
unattributable upload should get no name. `--findings` scores blobtrail's `findings --format json`
output with the same code, so that both sides are counted alike.
"""

import argparse
import csv
import json
import sys
import time
from pathlib import Path

BLOB_FILE = "StorageBlobLogs.csv"
FILE_FILE = "StorageFileLogs.jsonl"
SIGNIN_FILE = "SigninLogs.csv"
NONINTERACTIVE_FILE = "AADNonInteractiveUserSignInLogs.jsonl"
SERVICE_PRINCIPAL_FILE = "AADServicePrincipalSignInLogs.jsonl"

# Write requests that put data into a blob or file. PutBlock is left out because its blocks
# only become an upload at the PutBlockList that commits them.
UPLOAD_OPERATIONS = [
    "PutBlob", "PutBlockList", "AppendBlock", "PutPage", "CopyBlob", "PutBlobFromUrl",
    "CopyBlobFromUrl", "CreatePathFile", "AppendFile", "FlushFile", "CreateFile", "PutRange",
    "PutRangeFromUrl", "CopyFile",
]
WINDOW_BEFORE_MINUTES = 90
WINDOW_AFTER_MINUTES = 5

# Time formats of the Log Analytics portal CSV (en-US) and of the JSON exports.
PORTAL_TIME_PYTHON = "%m/%d/%Y, %I:%M:%S.%f %p"
PORTAL_TIME_DUCKDB = "%m/%d/%Y, %I:%M:%S.%g %p"
PORTAL_TIME_POLARS = "%m/%d/%Y, %I:%M:%S%.f %p"
ISO_TIME_POLARS = "%Y-%m-%dT%H:%M:%S%.fZ"
OUTPUT_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
OUTPUT_TIME_POLARS = "%Y-%m-%dT%H:%M:%S%.6fZ"


def json_keys(path, sample_lines=200):
    """Return the keys of the first JSON lines of `path`, in order of first appearance."""
    keys = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number >= sample_lines:
                break
            if line.strip():
                keys.update(dict.fromkeys(json.loads(line)))
    return list(keys)


# ---------------------------------------------------------------- DuckDB SQL


def duckdb_json_columns(path):
    return "{" + ", ".join(f"'{key}': 'VARCHAR'" for key in json_keys(path)) + "}"


def run_duckdb(data, workdir, threads, memory_limit):
    import duckdb

    database = Path(workdir) / "peer-duckdb.duckdb"
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")

    started = time.perf_counter()
    for table, name in [("blob_raw", BLOB_FILE), ("signin_raw", SIGNIN_FILE)]:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, all_varchar = true, header = true)",
                    [str(Path(data) / name)])
    for table, name in [("file_raw", FILE_FILE), ("noninteractive_raw", NONINTERACTIVE_FILE),
                        ("service_principal_raw", SERVICE_PRINCIPAL_FILE)]:
        path = Path(data) / name
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_json(?, format = 'newline_delimited', "
                    f"columns = {duckdb_json_columns(path)})", [str(path)])
    con.execute("CHECKPOINT")
    load_seconds = time.perf_counter() - started

    started = time.perf_counter()
    operations = ", ".join(f"'{op}'" for op in UPLOAD_OPERATIONS)
    con.execute(f"""
        CREATE OR REPLACE TABLE uploads AS
        WITH requests AS (
            SELECT ObjectKey AS object_path,
                   strptime("TimeGenerated [UTC]", '{PORTAL_TIME_DUCKDB}') AS upload_time,
                   CallerIpAddress AS caller, RequesterUpn, RequesterObjectId, RequesterAppId,
                   OperationName, StatusText
            FROM blob_raw
            UNION ALL
            SELECT ObjectKey, CAST(TimeGenerated AS TIMESTAMP), CallerIpAddress, RequesterUpn,
                   RequesterObjectId, RequesterAppId, OperationName, StatusText
            FROM file_raw
        )
        SELECT row_number() OVER () AS upload_id, object_path, upload_time,
               nullif(RequesterUpn, '') AS requester_upn,
               lower(nullif(RequesterObjectId, '')) AS requester_object_id,
               lower(nullif(RequesterAppId, '')) AS requester_app_id,
               -- '[v6]:port' keeps the bracketed part, 'v4:port' drops the port, a bare IPv6
               -- address (several colons) stays whole.
               lower(nullif(CASE
                   WHEN caller LIKE '[%' THEN regexp_extract(caller, '^\\[([^\\]]*)\\]', 1)
                   WHEN length(caller) - length(replace(caller, ':', '')) = 1 THEN split_part(caller, ':', 1)
                   ELSE caller END, '')) AS ip
        FROM requests
        WHERE StatusText = 'Success' AND OperationName IN ({operations})
    """)
    con.execute(f"""
        CREATE OR REPLACE TABLE signins AS
        SELECT lower(nullif(IPAddress, '')) AS ip,
               coalesce(strptime(nullif("CreatedDateTime [UTC]", ''), '{PORTAL_TIME_DUCKDB}'),
                        strptime("TimeGenerated [UTC]", '{PORTAL_TIME_DUCKDB}')) AS signin_time,
               coalesce(nullif(UserPrincipalName, ''), nullif(UserId, ''), nullif(AppId, '')) AS account,
               lower(nullif(UserId, '')) AS object_id, lower(nullif(AppId, '')) AS app_id
        FROM signin_raw WHERE ResultType = '0'
        UNION ALL
        SELECT lower(nullif(IPAddress, '')),
               CAST(coalesce(nullif(CreatedDateTime, ''), TimeGenerated) AS TIMESTAMP),
               coalesce(nullif(UserPrincipalName, ''), nullif(UserId, ''), nullif(AppId, '')),
               lower(nullif(UserId, '')), lower(nullif(AppId, ''))
        FROM noninteractive_raw WHERE ResultType = '0'
        UNION ALL
        SELECT lower(nullif(IPAddress, '')), CAST(TimeGenerated AS TIMESTAMP),
               coalesce(nullif(ServicePrincipalName, ''), nullif(ServicePrincipalId, ''), nullif(AppId, '')),
               lower(nullif(ServicePrincipalId, '')), lower(nullif(AppId, ''))
        FROM service_principal_raw WHERE ResultType = '0'
    """)
    rows = con.execute(f"""
        WITH object_names AS (
            SELECT object_id, min(account) AS name FROM signins WHERE object_id IS NOT NULL GROUP BY object_id
        ),
        app_names AS (
            SELECT app_id, min(account) AS name FROM signins
            WHERE app_id IS NOT NULL AND account <> app_id GROUP BY app_id
        ),
        nearest AS (
            -- Closest sign-in at or before the upload wins; one after it counts only when
            -- there is none before.
            SELECT u.upload_id,
                   arg_min(s.account,
                           CASE WHEN s.signin_time <= u.upload_time
                                THEN epoch_us(u.upload_time) - epoch_us(s.signin_time)
                                ELSE 1e13 + epoch_us(s.signin_time) - epoch_us(u.upload_time) END) AS account
            FROM uploads u
            JOIN signins s
              ON s.ip = u.ip
             AND s.signin_time BETWEEN u.upload_time - INTERVAL {WINDOW_BEFORE_MINUTES} MINUTE
                                   AND u.upload_time + INTERVAL {WINDOW_AFTER_MINUTES} MINUTE
            WHERE u.requester_upn IS NULL AND u.requester_object_id IS NULL
            GROUP BY u.upload_id
        )
        SELECT u.object_path, strftime(u.upload_time, '{OUTPUT_TIME}') AS upload_time,
               coalesce(u.requester_upn, o.name, a.name, u.requester_object_id, n.account) AS account,
               CASE WHEN u.requester_upn IS NOT NULL OR u.requester_object_id IS NOT NULL
                    THEN 'direct' ELSE 'nearest' END AS confidence
        FROM uploads u
        LEFT JOIN nearest n USING (upload_id)
        LEFT JOIN object_names o ON o.object_id = u.requester_object_id
        LEFT JOIN app_names a ON a.app_id = u.requester_app_id
    """).fetchall()
    correlate_seconds = time.perf_counter() - started

    counts = {name: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
              for table, name in [("blob_raw", BLOB_FILE), ("file_raw", FILE_FILE), ("signin_raw", SIGNIN_FILE),
                                  ("noninteractive_raw", NONINTERACTIVE_FILE),
                                  ("service_principal_raw", SERVICE_PRINCIPAL_FILE)]}
    con.close()
    answers = [dict(zip(("object_path", "upload_time", "account", "confidence"), row)) for row in rows]
    return load_seconds, correlate_seconds, answers, counts


# ---------------------------------------------------------------- pandas


def strip_port_pandas(caller):
    """Return the address part of `host:port`, `[v6]:port` or a bare address, lowercased."""
    caller = caller.fillna("").str.lower()
    bracketed = caller.str.extract(r"^\[([^\]]*)\]", expand=False)
    one_colon = caller.str.count(":") == 1
    address = caller.where(~one_colon, caller.str.split(":", n=1).str[0])
    address = bracketed.fillna(address)
    return address.where(address != "")


def run_pandas(data, workdir, threads, memory_limit):
    import pandas as pd

    started = time.perf_counter()
    data = Path(data)

    def read_portal_csv(name):
        return pd.read_csv(data / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")

    def read_json_lines(name):
        return pd.read_json(data / name, lines=True, dtype=False)

    blob = read_portal_csv(BLOB_FILE)
    signin = read_portal_csv(SIGNIN_FILE)
    file = read_json_lines(FILE_FILE)
    noninteractive = read_json_lines(NONINTERACTIVE_FILE)
    service_principal = read_json_lines(SERVICE_PRINCIPAL_FILE)
    load_seconds = time.perf_counter() - started

    started = time.perf_counter()
    columns = ["ObjectKey", "CallerIpAddress", "RequesterUpn", "RequesterObjectId", "RequesterAppId",
               "OperationName", "StatusText"]
    blob_requests = blob[columns].assign(
        upload_time=pd.to_datetime(blob["TimeGenerated [UTC]"], format=PORTAL_TIME_PYTHON))
    file_requests = file[columns].assign(
        upload_time=pd.to_datetime(file["TimeGenerated"], format="ISO8601", utc=True).dt.tz_localize(None))
    requests = pd.concat([blob_requests, file_requests], ignore_index=True)
    uploads = requests[(requests["StatusText"] == "Success")
                       & requests["OperationName"].isin(UPLOAD_OPERATIONS)].copy()
    uploads["ip"] = strip_port_pandas(uploads["CallerIpAddress"])
    for column in ["RequesterUpn", "RequesterObjectId", "RequesterAppId"]:
        uploads[column] = uploads[column].fillna("").astype(str).replace("", None)
    uploads["RequesterObjectId"] = uploads["RequesterObjectId"].str.lower()
    uploads["RequesterAppId"] = uploads["RequesterAppId"].str.lower()

    def nonempty(frame, column):
        if column not in frame:
            return pd.Series(None, index=frame.index, dtype=object)
        return frame[column].fillna("").astype(str).replace("", None)

    def signin_rows(frame, times, account_columns, object_column):
        ok = frame["ResultType"].astype(str) == "0"
        account = nonempty(frame, account_columns[0])
        for column in account_columns[1:]:
            account = account.fillna(nonempty(frame, column))
        return pd.DataFrame({
            "ip": nonempty(frame, "IPAddress").str.lower(),
            "signin_time": times,
            "account": account,
            "object_id": nonempty(frame, object_column).str.lower(),
            "app_id": nonempty(frame, "AppId").str.lower(),
        })[ok]

    def iso(series):
        return pd.to_datetime(series, format="ISO8601", utc=True).dt.tz_localize(None)

    signin_times = pd.to_datetime(nonempty(signin, "CreatedDateTime [UTC]").fillna(signin["TimeGenerated [UTC]"]),
                                  format=PORTAL_TIME_PYTHON)
    noninteractive_times = iso(nonempty(noninteractive, "CreatedDateTime").fillna(noninteractive["TimeGenerated"]))
    signins = pd.concat([
        signin_rows(signin, signin_times, ["UserPrincipalName", "UserId", "AppId"], "UserId"),
        signin_rows(noninteractive, noninteractive_times, ["UserPrincipalName", "UserId", "AppId"], "UserId"),
        signin_rows(service_principal, iso(service_principal["TimeGenerated"]),
                    ["ServicePrincipalName", "ServicePrincipalId", "AppId"], "ServicePrincipalId"),
    ], ignore_index=True)

    object_names = signins.dropna(subset=["object_id"]).groupby("object_id")["account"].min()
    app_names = signins[signins["account"] != signins["app_id"]].dropna(subset=["app_id"]).groupby("app_id")["account"].min()

    # merge_asof by address: the closest sign-in at or before the upload within 90 minutes,
    # then, for uploads without one, the closest within 5 minutes after it.
    direct = uploads["RequesterUpn"].notna() | uploads["RequesterObjectId"].notna()
    indirect = uploads[~direct & uploads["ip"].notna()].sort_values("upload_time")
    usable = signins.dropna(subset=["ip", "signin_time"]).sort_values("signin_time")[["ip", "signin_time", "account"]]
    before = pd.merge_asof(indirect, usable, left_on="upload_time", right_on="signin_time", by="ip",
                           direction="backward", tolerance=pd.Timedelta(minutes=WINDOW_BEFORE_MINUTES))
    after = pd.merge_asof(indirect, usable, left_on="upload_time", right_on="signin_time", by="ip",
                          direction="forward", tolerance=pd.Timedelta(minutes=WINDOW_AFTER_MINUTES))
    indirect = indirect.assign(account=before["account"].fillna(after["account"]).to_numpy())

    uploads = uploads.join(indirect["account"])
    direct_name = (uploads["RequesterUpn"]
                   .fillna(uploads["RequesterObjectId"].map(object_names))
                   .fillna(uploads["RequesterAppId"].map(app_names))
                   .fillna(uploads["RequesterObjectId"]))
    uploads["answer"] = direct_name.where(direct, uploads["account"])
    uploads["confidence"] = direct.map({True: "direct", False: "nearest"})
    uploads["time_text"] = uploads["upload_time"].dt.strftime(OUTPUT_TIME)
    answers = [
        {"object_path": path, "upload_time": when, "account": None if pd.isna(account) else account,
         "confidence": confidence}
        for path, when, account, confidence in zip(uploads["ObjectKey"], uploads["time_text"],
                                                   uploads["answer"], uploads["confidence"])
    ]
    correlate_seconds = time.perf_counter() - started
    counts = {BLOB_FILE: len(blob), FILE_FILE: len(file), SIGNIN_FILE: len(signin),
              NONINTERACTIVE_FILE: len(noninteractive), SERVICE_PRINCIPAL_FILE: len(service_principal)}
    return load_seconds, correlate_seconds, answers, counts


# ---------------------------------------------------------------- polars


def run_polars(data, workdir, threads, memory_limit):
    import polars as pl

    started = time.perf_counter()
    data = Path(data)

    def read_json_lines(name):
        path = data / name
        return pl.read_ndjson(path, schema={key: pl.String for key in json_keys(path)})

    blob = pl.read_csv(data / BLOB_FILE, infer_schema=False)
    signin = pl.read_csv(data / SIGNIN_FILE, infer_schema=False)
    file = read_json_lines(FILE_FILE)
    noninteractive = read_json_lines(NONINTERACTIVE_FILE)
    service_principal = read_json_lines(SERVICE_PRINCIPAL_FILE)
    load_seconds = time.perf_counter() - started

    started = time.perf_counter()

    def text(name):
        return pl.col(name).replace("", None)

    def iso(name):
        return pl.col(name).str.strptime(pl.Datetime("us"), ISO_TIME_POLARS)

    def portal(expression):
        return expression.str.strptime(pl.Datetime("us"), PORTAL_TIME_POLARS)

    request_columns = [text("ObjectKey").alias("object_path"), pl.col("CallerIpAddress").str.to_lowercase().alias("caller"),
                       text("RequesterUpn").alias("requester_upn"),
                       text("RequesterObjectId").str.to_lowercase().alias("requester_object_id"),
                       text("RequesterAppId").str.to_lowercase().alias("requester_app_id"),
                       pl.col("OperationName"), pl.col("StatusText")]
    requests = pl.concat([
        blob.select(*request_columns, portal(pl.col("TimeGenerated [UTC]")).alias("upload_time")),
        file.select(*request_columns, iso("TimeGenerated").alias("upload_time")),
    ])
    caller = pl.col("caller")
    uploads = (requests
               .filter((pl.col("StatusText") == "Success") & pl.col("OperationName").is_in(UPLOAD_OPERATIONS))
               .with_columns(pl.when(caller.str.starts_with("["))
                             .then(caller.str.extract(r"^\[([^\]]*)\]", 1))
                             .when(caller.str.count_matches(":", literal=True) == 1)
                             .then(caller.str.split(":").list.first())
                             .otherwise(caller)
                             .replace("", None)
                             .alias("ip"))
               .with_row_index("upload_id"))

    def signin_rows(frame, time_expression, account_columns, object_column):
        return frame.filter(pl.col("ResultType") == "0").select(
            text("IPAddress").str.to_lowercase().alias("ip"),
            time_expression.alias("signin_time"),
            pl.coalesce([text(c) for c in account_columns]).alias("account"),
            text(object_column).str.to_lowercase().alias("object_id"),
            text("AppId").str.to_lowercase().alias("app_id"),
        )

    signins = pl.concat([
        signin_rows(signin, portal(pl.coalesce(text("CreatedDateTime [UTC]"), pl.col("TimeGenerated [UTC]"))),
                    ["UserPrincipalName", "UserId", "AppId"], "UserId"),
        signin_rows(noninteractive, pl.coalesce(text("CreatedDateTime"), pl.col("TimeGenerated"))
                    .str.strptime(pl.Datetime("us"), ISO_TIME_POLARS),
                    ["UserPrincipalName", "UserId", "AppId"], "UserId"),
        signin_rows(service_principal, iso("TimeGenerated"),
                    ["ServicePrincipalName", "ServicePrincipalId", "AppId"], "ServicePrincipalId"),
    ])
    object_names = (signins.drop_nulls("object_id").group_by("object_id").agg(pl.col("account").min().alias("object_name"))
                    .rename({"object_id": "requester_object_id"}))
    app_names = (signins.filter(pl.col("account") != pl.col("app_id")).drop_nulls("app_id")
                 .group_by("app_id").agg(pl.col("account").min().alias("app_name"))
                 .rename({"app_id": "requester_app_id"}))

    # join_asof by address: closest sign-in at or before the upload within 90 minutes, else
    # the closest within 5 minutes after it.
    direct = pl.col("requester_upn").is_not_null() | pl.col("requester_object_id").is_not_null()
    indirect = uploads.filter(~direct & pl.col("ip").is_not_null()).select("upload_id", "ip", "upload_time").sort("upload_time")
    usable = signins.drop_nulls(["ip", "signin_time"]).select("ip", "signin_time", "account").sort("signin_time")
    before = indirect.join_asof(usable, left_on="upload_time", right_on="signin_time", by="ip",
                                strategy="backward", tolerance=f"{WINDOW_BEFORE_MINUTES}m",
                                check_sortedness=False)
    after = indirect.join_asof(usable, left_on="upload_time", right_on="signin_time", by="ip",
                               strategy="forward", tolerance=f"{WINDOW_AFTER_MINUTES}m",
                               check_sortedness=False)
    nearest = before.select("upload_id", pl.col("account").alias("before")).join(
        after.select("upload_id", pl.col("account").alias("after")), on="upload_id")
    result = (uploads
              .join(nearest, on="upload_id", how="left")
              .join(object_names, on="requester_object_id", how="left")
              .join(app_names, on="requester_app_id", how="left")
              .select("object_path",
                      pl.col("upload_time").dt.strftime(OUTPUT_TIME_POLARS).alias("upload_time"),
                      pl.when(direct)
                      .then(pl.coalesce("requester_upn", "object_name", "app_name", "requester_object_id"))
                      .otherwise(pl.coalesce("before", "after")).alias("account"),
                      pl.when(direct).then(pl.lit("direct")).otherwise(pl.lit("nearest")).alias("confidence")))
    answers = result.to_dicts()
    correlate_seconds = time.perf_counter() - started
    counts = {BLOB_FILE: blob.height, FILE_FILE: file.height, SIGNIN_FILE: signin.height,
              NONINTERACTIVE_FILE: noninteractive.height, SERVICE_PRINCIPAL_FILE: service_principal.height}
    return load_seconds, correlate_seconds, answers, counts


# ---------------------------------------------------------------- scoring


def read_truth(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def score(answers, truth):
    """Count right answers and unattributable uploads given a name, as `blobtrail score` does.

    `answers` are dicts with object_path, upload_time, account and confidence. An answer with
    confidence `strong` or `direct` for an unattributable upload is an overclaim.
    """
    by_upload = {}
    for answer in answers:
        by_upload.setdefault((answer["object_path"], answer["upload_time"]), answer)
    result = {"attributable": 0, "attributable_right": 0, "attributable_missing": 0,
              "unattributable": 0, "unattributable_named": 0, "unattributable_overclaimed": 0}
    for row in truth:
        answer = by_upload.get((row["object_path"], row["upload_time"]))
        if row["attributable"] == "true":
            result["attributable"] += 1
            if answer is None:
                result["attributable_missing"] += 1
            elif answer["account"] and answer["account"].lower() == row["true_account"].lower():
                result["attributable_right"] += 1
        else:
            result["unattributable"] += 1
            if answer is not None and answer["account"]:
                result["unattributable_named"] += 1
            if answer is not None and answer["confidence"] in ("strong", "direct"):
                result["unattributable_overclaimed"] += 1
    result["accuracy"] = result["attributable_right"] / result["attributable"] if result["attributable"] else 0.0
    return result


def findings_answers(path):
    """Turn `blobtrail findings --format json` output into scorer answers.

    The answer is the attributed account, else the first candidate (as `blobtrail score`
    takes it). It counts as naming an account only when blobtrail attributed one.
    """
    with open(path, encoding="utf-8") as handle:
        findings = json.load(handle)
    answers = []
    for finding in findings:
        if finding.get("object_path") is None:
            continue
        candidates = finding.get("candidates") or []
        first = candidates[0].get("account") if candidates else None
        answers.append({"object_path": finding["object_path"], "upload_time": finding["upload_time"],
                        "account": finding.get("attributed_account") or first,
                        "named": finding.get("attributed_account"),
                        "confidence": finding.get("confidence")})
    return answers


PEERS = {"duckdb": run_duckdb, "pandas": run_pandas, "polars": run_polars}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder written by `blobtrail generate`")
    parser.add_argument("--peer", choices=sorted(PEERS), help="tool to attribute with")
    parser.add_argument("--findings", help="score this `blobtrail findings --format json` file instead of running a peer")
    parser.add_argument("--workdir", default=".", help="folder for the DuckDB peer's database file")
    parser.add_argument("--threads", type=int, help="DuckDB peer: worker threads (default: all cores)")
    parser.add_argument("--memory-limit", help="DuckDB peer: memory limit such as 4GB")
    parser.add_argument("--result", required=True, help="JSON file to write the timings and the score to")
    args = parser.parse_args()
    if bool(args.peer) == bool(args.findings):
        parser.error("give exactly one of --peer or --findings")

    truth = read_truth(Path(args.data) / "truth.csv")
    if args.findings:
        answers = findings_answers(args.findings)
        result = {"score": score(answers, truth)}
        # blobtrail leaves ambiguous uploads unnamed, so count only attributed accounts here.
        result["score"]["unattributable_named"] = score(
            [dict(a, account=a["named"]) for a in answers], truth)["unattributable_named"]
    else:
        load_seconds, correlate_seconds, answers, counts = PEERS[args.peer](
            args.data, args.workdir, args.threads, args.memory_limit)
        result = {"peer": args.peer, "load_seconds": load_seconds, "correlate_seconds": correlate_seconds,
                  "rows": counts, "answers": len(answers), "score": score(answers, truth)}
    with open(args.result, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
