#!/usr/bin/env bash
# Sets up the Python environment of the peers the library is compared with: a virtual environment
# OUTSIDE the source tree (default /work/.venv-peers, or $VQR_PEERS_VENV) with pinned PyPI versions
# of tokenizers (the BPE tokenizer oracle), transformers and PyTorch (the forward oracle of every
# architecture, bench/peers/gptq_torch_vs_vqround.py), compressed-tensors (transformers' loader of
# our compressed-tensors exports), safetensors and numpy. None of them is a
# dependency of the library or its build. --tokenizers-only installs just tokenizers and numpy
# (a few MB; what the tokenizer tests need). Idempotent: a second run with the same pins installs
# nothing. Prints the interpreter to use on its last line; the versions go to
# $VENV/peers-versions.txt.
#
# Which torch: PyPI's only Linux x86-64 torch wheel is the CUDA build (about 540 MB, plus about
# 4.5 GB of nvidia-* / cuda-* wheels). Installed with --no-deps it cannot even be imported on a
# CPU-only machine (torch/__init__ preloads libcudart, libcublasLt ... and raises when they are
# missing), and the CPU-only wheels live on another index, which this project does not use. So the
# full wheel with its dependencies is installed; the bench runs it on the CPU only.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VQR_PEERS_VENV:-/work/.venv-peers}
torch_spec=${VQR_PEERS_TORCH:-torch==2.15.0}
pins_light=(tokenizers==0.23.3 numpy==2.3.5)
pins_full=("$torch_spec" transformers==5.25.0 safetensors==0.8.0 compressed-tensors==0.20.1)
light=0
[[ ${1:-} == --tokenizers-only ]] && light=1
python=${VQR_PEERS_PYTHON:-python3}

venv_abs=$(realpath -m "$venv")
if [[ $venv_abs == "$root" || $venv_abs == "$root"/* ]]; then
  echo "peers: $venv_abs is inside the source tree $root; choose another VQR_PEERS_VENV" >&2
  exit 1
fi

if [[ ! -x $venv_abs/bin/python ]]; then
  echo "peers: creating $venv_abs" >&2
  "$python" -m venv "$venv_abs"
fi
py=$venv_abs/bin/python

# pip's own check: nothing is downloaded when the pinned versions are already there.
pins=("${pins_light[@]}")
((light)) || pins+=("${pins_full[@]}")
if ! "$py" -m pip install --quiet --disable-pip-version-check "${pins[@]}" >&2; then
  echo "peers: pip install ${pins[*]} failed" >&2
  exit 1
fi

"$py" - > "$venv_abs/peers-versions.txt" <<'EOF'
import importlib.util, platform, sys
print(f"python {platform.python_version()} ({sys.executable})")
import numpy, tokenizers
print(f"numpy {numpy.__version__}")
print(f"tokenizers {tokenizers.__version__}")
if importlib.util.find_spec("torch") and importlib.util.find_spec("transformers"):
    import torch, transformers
    print(f"transformers {transformers.__version__}")
    if importlib.util.find_spec("compressed_tensors"):
        import compressed_tensors
        print(f"compressed-tensors {compressed_tensors.__version__}")
    print(f"torch {torch.__version__} (cuda build {torch.version.cuda}; run on the CPU)")
    print(f"torch threads default {torch.get_num_threads()}")
    print(torch.__config__.parallel_info().splitlines()[-1].strip())
EOF
cat "$venv_abs/peers-versions.txt" >&2
echo "$py"
