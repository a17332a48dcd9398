#!/usr/bin/env bash
# `bench load` before and after a change, in one run (issue 17's performance criterion:
# authentication and streaming uploads must not cost more than 5% throughput at 100
# concurrent requests). Each binary trains its own bundle on the same KiTS23 cases with the
# same experiment (bundle formats may differ between versions), then the runs alternate
# (before, after with --auth, after without) ROUNDS times, so that a drift of the machine
# hits every side alike. Prints one line per run and the ratio of the median throughputs.
#
#   scripts/bench_load_compare.sh OLD_BIN NEW_BIN OUT_DIR [ROUNDS] [REQUESTS]
#
# OLD_BIN: the binary before (built from an earlier commit in its own worktree and target
# folder); NEW_BIN: this one. The shared data are found as the tests find them.
set -euo pipefail
old=$1 new=$2 out=$3 rounds=${4:-3} requests=${5:-400}
shared=${RENAL_TRIAGE_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
kits=$shared/kits23
[ -f "$kits/kits23.json" ] || { echo "no KiTS23 data at $kits" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 60 cases: 20 benign, 40 malignant, masks linked.
python3 - "$kits" "$work/kits" <<'EOF'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
recs = json.load(open(os.path.join(src, "kits23.json")))
keep = [r for r in recs if r["malignant"] is False][:20] + [r for r in recs if r["malignant"] is True][:40]
for r in keep:
    d = os.path.join(dst, "cases", r["case_id"])
    os.makedirs(d)
    os.symlink(os.path.join(src, "cases", r["case_id"], "segmentation.nii.gz"), os.path.join(d, "segmentation.nii.gz"))
json.dump(keep, open(os.path.join(dst, "kits23.json"), "w"))
EOF
cat > "$work/exp.toml" <<'EOF'
[experiment]
name = "load"
outer_folds = 3
inner_folds = 2
bootstrap = 50
[rf]
trees = 100
max_features = ["sqrt"]
[[model]]
name = "clinical+size RF"
clinical = "all"
size = true
learner = "rf"
EOF
for side in old new; do
  bin=${!side}
  "$bin" train --data "$work/kits" --experiment "$work/exp.toml" --model "clinical+size RF" \
    --out "$work/bundle-$side" >/dev/null 2>"$work/train-$side.log"
done
mask=$kits/cases/case_00019/segmentation.nii.gz
for r in $(seq 1 "$rounds"); do
  for run in before after_auth after_noauth; do
    case $run in
      before) cmd=("$old" bench load --model "$work/bundle-old") ;;
      after_auth) cmd=("$new" bench load --model "$work/bundle-new" --auth) ;;
      after_noauth) cmd=("$new" bench load --model "$work/bundle-new") ;;
    esac
    "${cmd[@]}" --mask "$mask" --requests "$requests" --concurrency 100 \
      >"$out/bench_load_${run}_r$r.json" 2>/dev/null
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], sys.argv[3], "throughput %.2f/s p50 %.0f ms p99 %.0f ms errors %d peak %s MiB" % (d["throughput_per_s"], d["p50_ms"], d["p99_ms"], d["errors"], d["peak_memory_mib"]))' \
      "$out/bench_load_${run}_r$r.json" "$run" "round $r"
  done
done
python3 - "$out" "$rounds" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
med = {}
for run in ["before", "after_auth", "after_noauth"]:
    med[run] = statistics.median(json.load(open(f"{out}/bench_load_{run}_r{r}.json"))["throughput_per_s"] for r in range(1, rounds + 1))
print("median throughput: before %.2f/s, after with auth %.2f/s (%.3fx), after without auth %.2f/s (%.3fx)" % (
    med["before"], med["after_auth"], med["after_auth"] / med["before"], med["after_noauth"], med["after_noauth"] / med["before"]))
EOF
