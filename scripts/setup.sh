#!/usr/bin/env bash
# Set-up on a fresh machine: the Rust components, C and C++ compilers and cmake, and libtorch for the encoder
# (the Python torch wheel, whose libtorch tch builds against: LIBTORCH_USE_PYTORCH=1 is set in
# .cargo/config.toml). Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION=2.13.0   # tch 0.26 is built for PyTorch 2.13

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
# gcc builds libdeflate and ring; g++ and cmake build CharLS (the JPEG-LS decoder); tch's zstd
# links Debian's libzstd through pkg-config (ZSTD_SYS_USE_PKG_CONFIG in .cargo/config.toml).
zstd_static="$(pkg-config --variable=libdir libzstd 2>/dev/null || true)/libzstd.a"
if ! command -v cc >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1 || ! command -v cmake >/dev/null 2>&1 \
  || [ ! -e "$zstd_static" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc g++ cmake pkg-config libzstd-dev >/dev/null
fi
have=$(python3 -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)
if [ "$have" != "$TORCH_VERSION" ]; then
  echo "== installing torch==$TORCH_VERSION (libtorch for the SimCLR encoder; about 4 GB)"
  python3 -m pip install -q "torch==$TORCH_VERSION"
fi
