#!/bin/bash
# Times `blobtrail findings` with two builds on one finished case, alternating the builds
# for a number of rounds, and checks that both write the same bytes.
#
#   bench/findings-ab.sh OLD_BINARY NEW_BINARY CASE [ROUNDS]
#
# Each round runs, with each build: the table to /dev/null, the table into a file, JSON to
# /dev/null and JSON into a file (about 4 KB per finding). Outputs go to $TMPDIR (default
# /tmp). Needs GNU time at /usr/bin/time.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 OLD_BINARY NEW_BINARY CASE [ROUNDS]" >&2
  exit 2
fi
builds=("$1" "$2")
case_dir=$3
rounds=${4:-3}
out=${TMPDIR:-/tmp}/findings-ab
mkdir -p "$out"
# The timings go to the original standard output, which each timed command's redirection hides.
exec 3>&1

timed() {
  local label=$1
  shift
  /usr/bin/time -o "$out/time" -f '%e s, %M KB' "$@" 2>/dev/null
  printf ' | %s %s' "$label" "$(cat "$out/time")" >&3
}

for round in $(seq "$rounds"); do
  for number in 0 1; do
    binary=${builds[$number]}
    printf 'round %s, build %s' "$round" "$((number + 1))"
    timed "table /dev/null" "$binary" findings --case "$case_dir" >/dev/null
    timed "table file" "$binary" findings --case "$case_dir" >"$out/table-$number.txt"
    timed "json /dev/null" "$binary" findings --case "$case_dir" --format json >/dev/null
    timed "json file" "$binary" findings --case "$case_dir" --format json >"$out/json-$number.json"
    echo
  done
done
cmp "$out/table-0.txt" "$out/table-1.txt" && echo "tables identical"
cmp "$out/json-0.json" "$out/json-1.json" && echo "JSON identical"
