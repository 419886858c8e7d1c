#!/usr/bin/env bash
# bench/fuzz.sh [SECONDS] — runs every cargo-fuzz target of fuzz/ (the pure parsers of the
# exhibitor-config crate: Java properties, servers-spec and zoo-cfg-extra, whole shared
# configs, ZooKeeper's dynamic config / `/zookeeper/config`) for SECONDS each (default
# FUZZ_SECONDS or 120) and prints, per target, the executions, the corpus size and whether
# it found a crash. Exits 1 when any target crashed (the input is in fuzz/artifacts/<target>/).
#
# Environment:
#   FUZZ_SECONDS   seconds per target (the first argument wins), default 120
#   FUZZ_TARGETS   space-separated subset of targets, default all of `cargo fuzz list`
#   FUZZ_CORPUS    where the growing corpora live, default fuzz/corpus (gitignored); the
#                  committed seeds in fuzz/seeds/<target> are read too, never written
#   FUZZ_RSS_MB    libFuzzer's memory limit per target, default 1024
#
# The toolchain here is stable only: cargo-fuzz needs nightly's -Z flags, which
# RUSTC_BOOTSTRAP=1 enables on stable. No sanitizer (`--sanitizer none`): the fuzzed crate
# forbids unsafe code, so AddressSanitizer could find nothing that a panic does not show,
# and without it each target runs several times faster. Debug assertions and overflow checks
# are on (cargo-fuzz's default), so an arithmetic overflow is a crash too.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-${FUZZ_SECONDS:-120}}
corpus_root=${FUZZ_CORPUS:-$root/fuzz/corpus}
rss=${FUZZ_RSS_MB:-1024}
export RUSTC_BOOTSTRAP=1
# The fuzz crate is a workspace of its own: keep its build next to (not inside) the main
# one, so different RUSTFLAGS never invalidate the workspace's artifacts.
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")/fuzz

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "bench/fuzz.sh: cargo-fuzz is not installed (scripts/setup.sh installs it)" >&2
  exit 2
fi

cd fuzz
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
build_start=$(date +%s)
cargo fuzz build --sanitizer none --target-dir "$target_dir" >/dev/null 2>"$target_dir.build.log" || {
  cat "$target_dir.build.log" >&2
  exit 1
}
echo "fuzz: built $(echo $targets | wc -w) targets in $(($(date +%s) - build_start)) s; ${seconds} s per target"

failed=0
printf '%-16s %12s %10s %8s %8s  %s\n' target executions exec/s corpus cov result
for t in $targets; do
  mkdir -p "$corpus_root/$t" "artifacts/$t"
  log=$(mktemp)
  set +e
  cargo fuzz run --sanitizer none --target-dir "$target_dir" "$t" "$corpus_root/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb="$rss" -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  files=$(find "$corpus_root/$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="CRASH (exit $rc): see fuzz/artifacts/$t/"
    failed=1
    grep -E "panicked|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -5 >&2 || tail -20 "$log" >&2
  fi
  printf '%-16s %12s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "$files" "${cov:-?}" "$result"
  rm -f "$log"
done
exit "$failed"
