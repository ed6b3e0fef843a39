#!/usr/bin/env python3
"""Turn the timings that bench/run.sh collected into a Markdown section, print it, and with
--write put it into BENCHMARKS.md in place of an earlier section with the same label."""

import argparse
import json
import os
import platform
import re
import subprocess
from pathlib import Path

FILES = ["StorageBlobLogs.csv", "StorageFileLogs.jsonl", "SigninLogs.csv",
         "AADNonInteractiveUserSignInLogs.jsonl", "AADServicePrincipalSignInLogs.jsonl"]
PEERS = ["duckdb", "pandas", "polars"]
PEER_NAMES = {"duckdb": "DuckDB SQL (Python `duckdb`)", "pandas": "pandas (`merge_asof`)",
              "polars": "polars (`join_asof`)"}


def read_time(timings, name):
    """Return (wall seconds, peak RSS in MiB) from a GNU time `%e %M` file."""
    lines = (timings / name).read_text().split()
    return float(lines[-2]), int(lines[-1]) / 1024


def read_json(path):
    return json.loads(Path(path).read_text())


def shell(command):
    try:
        return subprocess.run(command, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        return f"unavailable ({error})"


def machine(work):
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    memory = shell("free -g | awk '/^Mem:/ {print $2 \" GB total, \" $7 \" GB available\"}'")
    device = shell(f"df -h {work} | awk 'NR==2 {{print $1 \" (\" $2 \" total, \" $4 \" free)\"}}'")
    return {"nproc": shell("nproc"), "cpu": cpu, "memory": memory, "disk": device, "kernel": platform.release()}


def versions(blobtrail):
    repo = Path(__file__).resolve().parent.parent
    found = {"blobtrail": f"{shell(f'{blobtrail} --version')} (commit {shell(f'git -C {repo} rev-parse --short HEAD')})"}
    for module in ["duckdb", "pandas", "polars"]:
        try:
            found[module] = __import__(module).__version__
        except ImportError:
            found[module] = "not installed"
    return found


def score_text(score):
    return (f"{score['attributable_right']}/{score['attributable']} ({100 * score['accuracy']:.1f}%)",
            f"{score['unattributable_named']}/{score['unattributable']}")


def build(work, label, command, blobtrail):
    timings = work / "timings"
    data = work / "data"
    lines = [f"## Results: `{label}`", ""]
    lines += [f"Command: `{command}` (with `BLOBTRAIL` set to a release build)."
              + (f" `BLOBTRAIL_MEMORY_LIMIT={os.environ['BLOBTRAIL_MEMORY_LIMIT']}`."
                 if os.environ.get("BLOBTRAIL_MEMORY_LIMIT") else " No memory limit was set."), ""]

    box = machine(work)
    found = versions(blobtrail)
    lines += [f"Machine: {box['nproc']} cores ({box['cpu']}), {box['memory']}, data on {box['disk']}, "
              f"Linux {box['kernel']}. Versions: {found['blobtrail']}, Python duckdb {found['duckdb']}, "
              f"pandas {found['pandas']}, polars {found['polars']}.", ""]

    lines += ["| File | Rows | Bytes | blobtrail import (s) | Rows/s | Peak RSS (MiB) | Reader |", "|---|---|---|---|---|---|---|"]
    total_rows = total_bytes = 0
    total_import = 0.0
    for name in FILES:
        summary = read_json(timings / f"import-{name}.json")[0]
        seconds, rss = read_time(timings, f"import-{name}")
        rows = summary["records"]
        size = (data / name).stat().st_size
        total_rows += rows
        total_bytes += size
        total_import += seconds
        # Summaries of builds before the fast path have no reader field.
        reader = summary.get("reader", "streaming")
        lines.append(f"| {name} | {rows:,} | {size:,} | {seconds:.2f} | {rows / seconds:,.0f} | {rss:,.0f} | {reader} |")
    lines += [f"| all five | {total_rows:,} | {total_bytes:,} | {total_import:.2f} | {total_rows / total_import:,.0f} | | |", ""]

    full = read_json(timings / "score-full.json")
    sentinel = read_json(timings / "score-sentinel.json")
    python_score = read_json(timings / "score-full-python.json")["score"]
    hunt_seconds, hunt_rss = read_time(timings, "hunt-full")
    blobtrail_total = total_import + hunt_seconds
    right, named = score_text(python_score)

    lines += ["| Tool and step | Time (s) | Peak RSS (MiB) | Ratio to blobtrail | Attributable right | Unattributable named |",
              "|---|---|---|---|---|---|"]
    rows = [("blobtrail import, 5 files", total_import, max(read_time(timings, f"import-{n}")[1] for n in FILES), None, "", ""),
            ("blobtrail hunt (full)", hunt_seconds, hunt_rss, None, right,
             f"{named} (strong or direct: {full['unattributable_overclaimed']})"),
            ("blobtrail hunt (sentinel)", *read_time(timings, "hunt-sentinel"), None,
             f"{sentinel['attributable_right']}/{sentinel['attributable']} ({100 * sentinel['accuracy']:.1f}%)",
             f"strong or direct: {sentinel['unattributable_overclaimed']}"),
            ("blobtrail second full hunt", *read_time(timings, "hunt-full-again"), None, "", ""),
            ("blobtrail `findings --format json`", *read_time(timings, "findings"), None, "", ""),
            ("blobtrail `query` (count by confidence)", *read_time(timings, "query"), None, "", ""),
            ("**blobtrail import + full hunt**", blobtrail_total, None, None, right, named)]
    for name, seconds, rss, _, right_text, named_text in rows:
        rss_text = f"{rss:,.0f}" if rss is not None else ""
        lines.append(f"| {name} | {seconds:.2f} | {rss_text} | | {right_text} | {named_text} |")

    peers = {}
    for peer in PEERS:
        failed = timings / f"peer-{peer}.failed"
        if failed.exists():
            wall, rss = read_time(timings, f"peer-{peer}") if (timings / f"peer-{peer}").exists() else (0.0, 0.0)
            error = failed.read_text().strip() or "no error message"
            lines.append(f"| **{PEER_NAMES[peer]}: failed** after {wall:.0f} s | | {rss:,.0f} | | | `{error[:160]}` |")
            continue
        if not (timings / f"peer-{peer}.json").exists():
            lines.append(f"| {PEER_NAMES[peer]}: not run (`BENCH_PEERS`) | | | | | |")
            continue
        result = read_json(timings / f"peer-{peer}.json")
        wall, rss = read_time(timings, f"peer-{peer}")
        peers[peer] = result
        right, named = score_text(result["score"])
        lines.append(f"| {PEER_NAMES[peer]}: load as text | {result['load_seconds']:.2f} | | "
                     f"{result['load_seconds'] / total_import:.2f}× import | | |")
        lines.append(f"| {PEER_NAMES[peer]}: correlation | {result['correlate_seconds']:.2f} | | "
                     f"{result['correlate_seconds'] / hunt_seconds:.2f}× full hunt | | |")
        lines.append(f"| **{PEER_NAMES[peer]}: whole process** | {wall:.2f} | {rss:,.0f} | "
                     f"{wall / blobtrail_total:.2f}× import + hunt | {right} | {named} |")
    lines.append("")

    case_bytes = int((timings / "case-bytes").read_text())
    big_seconds, big_rss = read_time(timings, "import-extra-day-big")
    empty_seconds, empty_rss = read_time(timings, "import-extra-day-empty")
    lines += [f"Case folder after all steps: {case_bytes:,} bytes ({case_bytes / total_bytes:.2f}× the exports). "
              f"One more day (a scale-1 export, seed + 1000, all five files in one `import`): "
              f"{big_seconds:.2f} s into this case, {empty_seconds:.2f} s into an empty case "
              f"({big_seconds / empty_seconds:.1f}×); peak RSS {big_rss:,.0f} and {empty_rss:,.0f} MiB.", ""]
    lines += [f"`blobtrail score` of the full hunt: {full['attributable_right']}/{full['attributable']} right, "
              f"{full['attributable_missing']} without a finding, {full['unattributable_overclaimed']} of "
              f"{full['unattributable']} unattributable uploads given a strong or direct answer. "
              f"The Python scorer in `bench/peers.py` counts the same findings as {python_score['attributable_right']}"
              f"/{python_score['attributable']}.", ""]
    return "\n".join(lines) + "\n"


def write_section(path, label, section):
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    heading = f"## Results: `{label}`"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, type=Path, help="folder that bench/run.sh filled")
    parser.add_argument("--label", required=True, help="section label, such as scale20-seed1-skew")
    parser.add_argument("--command", required=True, help="command line to show in the section")
    parser.add_argument("--blobtrail", required=True, help="blobtrail binary that was measured")
    parser.add_argument("--write", type=Path, help="BENCHMARKS.md to update")
    args = parser.parse_args()
    section = build(args.work, args.label, args.command, args.blobtrail)
    print(section)
    if args.write:
        write_section(args.write, args.label, section)


if __name__ == "__main__":
    main()
