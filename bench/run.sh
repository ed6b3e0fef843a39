#!/usr/bin/env bash
# Generate a synthetic case, then time blobtrail and the three hand-written peers on the same
# files, score every answer against truth.csv and write the results into BENCHMARKS.md.
#
# Usage: bench/run.sh [--scale N] [--skew] [--seed S]
#
# Environment:
#   BLOBTRAIL               blobtrail binary to measure (default: build it with cargo)
#   PYTHON                  Python with bench/requirements.txt installed (default: python3)
#   BENCH_DATA              folder for generated data, cases and results (default: /tmp/bench-data)
#   BLOBTRAIL_MEMORY_LIMIT  passed on to blobtrail, such as 4GB (default: DuckDB's own limit)
#   BENCH_THREADS           passed to every blobtrail command as --threads (default: all cores)
#   BENCH_NO_WRITE=1        print the table without changing BENCHMARKS.md
#   BENCH_KEEP_DATA=1       reuse the generated exports of an earlier run with the same label
#   BENCH_PEERS             peers to run, such as "duckdb polars" (default: duckdb pandas polars)
#   BENCH_PEER_MEMORY_GB    cap each peer's virtual memory (ulimit -v), so that a peer that
#                           runs out of memory fails alone before the kernel's OOM killer acts
set -euo pipefail

scale=20
seed=1
skew=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --scale) scale="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --skew) skew="--skew"; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument '$1'; expected --scale N, --seed S or --skew" >&2; exit 2 ;;
    esac
done

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$bench_dir")"
python="${PYTHON:-python3}"

if [[ -z "${BLOBTRAIL:-}" ]]; then
    echo "BLOBTRAIL is not set; building blobtrail with cargo build --release" >&2
    # shellcheck disable=SC1091
    target_dir="$(cd "$repo" && . ../shared/dev-env.sh && cargo build --release >&2 && echo "${CARGO_TARGET_DIR:-$repo/target}")"
    BLOBTRAIL="$target_dir/release/blobtrail"
fi
[[ -x "$BLOBTRAIL" ]] || { echo "run.sh: blobtrail binary '$BLOBTRAIL' is missing or not executable" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "run.sh: GNU time (/usr/bin/time) is missing; install the 'time' package" >&2; exit 1; }

label="scale${scale}-seed${seed}${skew:+-skew}${BENCH_THREADS:+-threads$BENCH_THREADS}"
work="${BENCH_DATA:-/tmp/bench-data}/$label"
data="$work/data"
timings="$work/timings"
if [[ "${BENCH_KEEP_DATA:-}" == 1 && -f "$data/truth.csv" ]]; then
    echo "== reusing the exports in $data" >&2
    find "$work" -mindepth 1 -maxdepth 1 ! -name data -exec rm -rf {} +
    mkdir -p "$timings"
else
    rm -rf "$work"
    mkdir -p "$timings"
    echo "== generating --scale $scale --seed $seed $skew into $data" >&2
    "$BLOBTRAIL" --quiet generate --out "$data" --scale "$scale" --seed "$seed" $skew >&2
fi

# Run a command under GNU time; its wall seconds and peak RSS (KiB) go to $timings/NAME.
timed() {
    local name="$1"
    shift
    /usr/bin/time -f '%e %M' -o "$timings/$name" "$@"
}

bt=("$BLOBTRAIL" --quiet ${BENCH_THREADS:+--threads "$BENCH_THREADS"})

files=(StorageBlobLogs.csv StorageFileLogs.jsonl SigninLogs.csv AADNonInteractiveUserSignInLogs.jsonl
       AADServicePrincipalSignInLogs.jsonl)

echo "== blobtrail" >&2
"${bt[@]}" case new bench --cases-dir "$work" >&2
case_dir="$work/bench"
for file in "${files[@]}"; do
    timed "import-$file" "${bt[@]}" --case "$case_dir" import --format json "$data/$file" \
        > "$timings/import-$file.json"
done
timed hunt-full "${bt[@]}" --case "$case_dir" hunt --mode full >&2
timed findings "${bt[@]}" --case "$case_dir" findings --format json > "$work/findings-full.json"
"${bt[@]}" --case "$case_dir" score --truth "$data/truth.csv" --format json > "$timings/score-full.json"
timed query "${bt[@]}" --case "$case_dir" query --format csv \
    "SELECT confidence, count(*) FROM findings WHERE hunt_id = (SELECT max(hunt_id) FROM findings) GROUP BY ALL" >&2
timed hunt-sentinel "${bt[@]}" --case "$case_dir" hunt --mode sentinel >&2
"${bt[@]}" --case "$case_dir" score --truth "$data/truth.csv" --format json > "$timings/score-sentinel.json"
timed hunt-full-again "${bt[@]}" --case "$case_dir" hunt --mode full >&2
du -sb "$case_dir" | cut -f1 > "$timings/case-bytes"

# One more day: a scale-1 export with another seed, imported into the finished case and into
# an empty one.
echo "== incremental import" >&2
"$BLOBTRAIL" --quiet generate --out "$work/extra-day" --scale 1 --seed "$((seed + 1000))" >&2
extra_day=("${files[@]/#/$work/extra-day/}")
timed import-extra-day-big "${bt[@]}" --case "$case_dir" import --format json "${extra_day[@]}" > /dev/null || [[ $? -eq 3 ]]
"${bt[@]}" case new empty --cases-dir "$work" >&2
timed import-extra-day-empty "${bt[@]}" --case "$work/empty" import --format json "${extra_day[@]}" > /dev/null || [[ $? -eq 3 ]]

"$python" "$bench_dir/peers.py" --data "$data" --findings "$work/findings-full.json" \
    --result "$timings/score-full-python.json" > /dev/null

for peer in ${BENCH_PEERS:-duckdb pandas polars}; do
    echo "== peer $peer" >&2
    # A peer that fails (out of memory, most likely) is recorded as failed, with its last error line.
    if ! (
        [[ -n "${BENCH_PEER_MEMORY_GB:-}" ]] && ulimit -v $((BENCH_PEER_MEMORY_GB * 1024 * 1024))
        timed "peer-$peer" "$python" "$bench_dir/peers.py" --data "$data" --peer "$peer" --workdir "$work" \
            --result "$timings/peer-$peer.json" > /dev/null 2> "$timings/peer-$peer.stderr"
    ); then
        tail -n 1 "$timings/peer-$peer.stderr" > "$timings/peer-$peer.failed"
        echo "peer $peer failed: $(cat "$timings/peer-$peer.failed")" >&2
    fi
    rm -f "$work/peer-duckdb.duckdb" "$work/peer-duckdb.duckdb.wal"
done

write_flag=(--write "$repo/BENCHMARKS.md")
[[ "${BENCH_NO_WRITE:-}" == 1 ]] && write_flag=()
"$python" "$bench_dir/report.py" --work "$work" --label "$label" \
    --command "${BENCH_THREADS:+BENCH_THREADS=$BENCH_THREADS }bench/run.sh --scale $scale --seed $seed${skew:+ --skew}" --blobtrail "$BLOBTRAIL" "${write_flag[@]}"
