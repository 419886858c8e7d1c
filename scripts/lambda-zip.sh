#!/usr/bin/env bash
# Builds the autoscaler Lambda's deployment zip (runtime provided.al2023): the static
# x86_64-unknown-linux-musl release build of mesos-scale, stored as `bootstrap` (mode 755) at
# the zip's root, with a fixed timestamp so that the same binary gives the same zip (and the
# same source_code_hash in Terraform).
# Usage: scripts/lambda-zip.sh [OUT.zip]   (default: <target dir>/lambda/mesos-scale.zip)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
dir=${CARGO_TARGET_DIR:-target}
out=${1:-$dir/lambda/mesos-scale.zip}
# With mesos-boot, as scripts/test.sh and bench/run.sh build them: the same feature resolution
# reuses their release dependencies instead of compiling aws-sdk-ec2 once more.
cargo build --release --quiet --target "$target" -p mesos-boot -p mesos-scale
bin=$dir/$target/release/mesos-scale
if readelf -lW "$bin" | grep -q INTERP || readelf -dW "$bin" | grep -q NEEDED; then
  echo "FAIL: $bin is not statically linked:"; readelf -dW "$bin" | grep NEEDED; exit 1
fi
mkdir -p "$(dirname "$out")"
python3 - "$bin" "$out" <<'PY'
import os, sys, zipfile
binary, out = sys.argv[1], sys.argv[2]
tmp = out + ".tmp"
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as f, zipfile.ZipFile(tmp, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
with zipfile.ZipFile(tmp) as z:
    assert z.namelist() == ["bootstrap"], z.namelist()
os.replace(tmp, out)
PY
echo "lambda zip: $out: $(stat -c %s "$out") bytes (bootstrap: static, $(stat -c %s "$bin") bytes)"
