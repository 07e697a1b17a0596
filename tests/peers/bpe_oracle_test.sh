#!/bin/sh
# ctest entry of the tokenizers oracle (bpe_oracle.py). Skips (exit 77) without the peers venv or
# the shared data folder; VQR_REQUIRE_DATA=1 turns a missing data folder into a failure.
# Usage: bpe_oracle_test.sh BPE_ENCODE_DRIVER SOURCE_DIR
driver=$1
src=$2
py=${VQR_PEERS_PYTHON:-${VQR_PEERS_VENV:-/work/.venv-peers}/bin/python}
if [ ! -x "$py" ] || ! "$py" -c "import tokenizers" 2>/dev/null; then
  echo "skipped: no tokenizers venv (run scripts/peers.sh --tokenizers-only)"
  exit 77
fi
data=${VQR_DATA_DIR:-${VQR_DATA_DIR_DEFAULT:-$src/../shared/data}}
if [ ! -d "$data/text/exllamav2-calibration" ]; then
  if [ "${VQR_REQUIRE_DATA:-0}" = 1 ]; then
    echo "bpe_oracle: $data/text/exllamav2-calibration not found and VQR_REQUIRE_DATA=1"
    exit 1
  fi
  echo "skipped: shared data folder not found ($data)"
  exit 77
fi
exec "$py" "$src/tests/peers/bpe_oracle.py" --driver "$driver" --data "$data"
