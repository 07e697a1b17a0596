#!/usr/bin/env bash
# Installs the Debian packages libvqround needs to build and test, when they are missing.
# Idempotent; prints nothing when everything is already present. Needs root (or sudo) to install.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev
  libopenblas-dev liblapacke-dev libomp-dev
  opencl-headers ocl-icd-opencl-dev pocl-opencl-icd
  libgtest-dev libbenchmark-dev
  nlohmann-json3-dev libsentencepiece-dev libpcre2-dev
  python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
