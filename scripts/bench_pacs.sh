#!/usr/bin/env bash
# `renal-triage bench pacs` against a fresh Orthanc (Debian's orthanc + orthanc-dicomweb) on
# loopback with authentication on: the bench stores its phantom studies (STOW-RS), then times
# `pacs pull`'s retrieval against Orthanc's own /instances/{id}/file download of the same
# instances, in one run. Extra arguments go to the bench (e.g. --studies 10 --connections 4).
#     bash scripts/bench_pacs.sh [BENCH ARGS] > docs/bench/bench_pacs.json
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/sbin/Orthanc ] || [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb >/dev/null
fi
bin=${RENAL_TRIAGE_BIN:-target/release/renal-triage}
[ -x "$bin" ] || cargo build --release --locked -p renal-triage >&2
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$dir/orthanc.json" <<JSON
{ "Name": "bench", "HttpPort": $port, "DicomPort": 0, "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true, "RegisteredUsers": { "bench": "bench-password" },
  "StorageDirectory": "$dir/db", "IndexDirectory": "$dir/db",
  "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/" } }
JSON
/usr/sbin/Orthanc "$dir/orthanc.json" 2> "$dir/orthanc.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf -u bench:bench-password "http://127.0.0.1:$port/system" >/dev/null && break
  sleep 0.1
done
RENAL_TRIAGE_PACS_PASSWORD=bench-password "$bin" bench pacs \
  --url "http://127.0.0.1:$port/dicom-web" --user bench "$@"
