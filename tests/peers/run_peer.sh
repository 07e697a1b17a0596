#!/bin/sh
# run_peer.sh SCRIPT [ARGS...]: runs a peers test script (tests/peers) with the peers interpreter:
# $VQR_PEERS_PYTHON, else the environment scripts/peers.sh creates ($VQR_PEERS_VENV, default
# /work/.venv-peers). Without one it prints why and exits 77, which ctest reports as skipped; the
# script itself exits 77 when the environment lacks a package it needs.
py=${VQR_PEERS_PYTHON:-${VQR_PEERS_VENV:-/work/.venv-peers}/bin/python}
if [ ! -x "$py" ]; then
  echo "skipped: no peers environment at $py (run scripts/peers.sh, or set VQR_PEERS_PYTHON)"
  exit 77
fi
exec "$py" "$@"
