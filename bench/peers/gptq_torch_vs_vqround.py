"""GPTQ on one 4096 x 4096 layer: libvqround through its Python binding against IST-DASLab's
GPTQ algorithm on PyTorch (CPU, fp32), same weights, same Hessian, same configuration (4-bit,
asymmetric, g128 dynamic groups, damp 0.01, blocks of 128, no act-order).

The torch side is written here from the algorithm description of ../shared/spec/gptq_family.md
§1.3-§1.6 (fasterquant: dead-column fix, damp = 0.01 * mean diag, upper Cholesky factor of
H^-1, lazy batch updates of 128 columns, per-row min/max quantizer at each group start), not
copied from the reference code.

Each side runs in its own persistent worker process, so that each has its own threading
environment: the library's with scripts/blas_env.sh as sourced by the caller (OpenBLAS core type,
passive OpenMP waiting, OpenBLAS thread timeout), torch's with those variables removed (its own
defaults). The workers
take turns, never overlapping, each call after an idle pause (--pause): per round torch, the
library with the default report (VQR_PARAM_REPORT_LOSS = 1), the library with report_loss=False
(level 0), each round starting with the next of the three. Each worker first runs
one untimed call (page faults, thread pools, library loading). Times are wall seconds of the one
call: torch's fasterquant from W and H tensors to dequantized weights and codes; the library's
vqround.quantize() from numpy arrays to its Result.

Usage (an interpreter with torch, e.g. the one scripts/peers.sh prints):
  source scripts/blas_env.sh
  $(scripts/peers.sh | tail -1) bench/peers/gptq_torch_vs_vqround.py [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

NEEDS = ("run scripts/peers.sh and use the interpreter it prints on its last line")
try:
    import numpy as np
except ImportError:
    sys.exit(f"gptq_torch_vs_vqround: numpy is not importable by {sys.executable}; {NEEDS}")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# Variables scripts/blas_env.sh sets for the library; the torch worker runs without them.
# Suffix of each worker's untimed first call, the one whose output is saved for the comparison.
WARM = "_warm"
LIBRARY_ONLY_ENV = ("OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")


# --- the data: heavy-tailed weights, activations with outlier channels -------------------------

def make_layer(m, n, tokens, seed):
    """W: Student-t (4 degrees of freedom) weights; X: tokens x n activations, correlated through
    a low-rank latent and with 1% of the channels 20x louder (the outlier channels of real LLM
    activations). Returns float32 W (m x n) and X (tokens x n)."""
    rng = np.random.default_rng(seed)
    w = (0.02 * rng.standard_t(4.0, size=(m, n))).astype(np.float32)
    latent = rng.standard_normal((tokens, 16)) @ rng.standard_normal((16, n)) / 4.0
    x = rng.standard_normal((tokens, n)) + latent
    outliers = rng.choice(n, size=max(1, n // 100), replace=False)
    x[:, outliers] *= 20.0
    return w, x.astype(np.float32)


# --- the torch worker: IST's GPTQ algorithm ----------------------------------------------------

def group_params(torch, x, maxq):
    """Per-row asymmetric min/max quantizer of spec gptq §1.6 (a): the range always contains 0; an
    all-zero row gets [-1, 1]; zero = round(-xmin / scale)."""
    zero_t = torch.zeros(x.shape[0], dtype=x.dtype)
    xmin = torch.minimum(x.min(dim=1).values, zero_t)
    xmax = torch.maximum(x.max(dim=1).values, zero_t)
    flat = (xmin == 0) & (xmax == 0)
    xmin[flat] = -1.0
    xmax[flat] = 1.0
    scale = (xmax - xmin) / maxq
    zero = torch.round(-xmin / scale)
    return scale, zero


def fasterquant(torch, w_in, h_in, bits, group, block, percdamp):
    """GPTQ (spec gptq §1.3-§1.5, no act-order, dynamic groups). Returns the dequantized weights,
    the (scale, zero) of each group in order, and sum (w - q)^2 / d^2 = tr(dW H_damped dW^T) (§1.4;
    IST reports half of it). Like IST's fasterquant it produces no integer codes in the sweep."""
    w = w_in.clone()
    h = h_in.clone()
    m, n = w.shape
    maxq = 2 ** bits - 1
    diag = torch.arange(n)
    dead = torch.diagonal(h) == 0
    h[diag[dead], diag[dead]] = 1.0
    w[:, dead] = 0.0
    h[diag, diag] += percdamp * torch.mean(torch.diagonal(h))
    # H^-1 = U^T U with U upper triangular: row q of U is the OBS update of column q given that
    # the columns before it are fixed (§1.3 step 6).
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q_all = torch.zeros_like(w)
    losses = torch.zeros_like(w)
    params = []
    for i1 in range(0, n, block):
        i2 = min(i1 + block, n)
        w1 = w[:, i1:i2].clone()
        q1 = torch.zeros_like(w1)
        err1 = torch.zeros_like(w1)
        losses1 = torch.zeros_like(w1)
        u1 = u[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = w1[:, i]
            d = u1[i, i]
            if (i1 + i) % group == 0:
                # Parameters from the global W (§1.5); with group = block = 128 every group starts
                # at a block start, where W already holds all earlier updates.
                params.append(group_params(torch, w[:, i1 + i:i1 + i + group], maxq))
            scale, zero = params[-1]
            q = scale * (torch.clamp(torch.round(col / scale) + zero, 0, maxq) - zero)
            q1[:, i] = q
            losses1[:, i] = (col - q) ** 2 / d ** 2
            e = (col - q) / d
            w1[:, i:] -= torch.outer(e, u1[i, i:])
            err1[:, i] = e
        q_all[:, i1:i2] = q1
        losses[:, i1:i2] = losses1
        # The lazy batch update: the whole block's errors reach the later columns in one GEMM.
        w[:, i2:] -= err1 @ u[i1:i2, i2:]
    return q_all, params, float(torch.sum(losses, dtype=torch.float64))


def codes_of(torch, q, params, group):
    """Integer codes c = q / scale + zero of the dequantized weights, group by group (exact: q is
    scale times a small integer)."""
    codes = torch.empty(q.shape, dtype=torch.uint8)
    for k, (scale, zero) in enumerate(params):
        cols = slice(k * group, (k + 1) * group)
        codes[:, cols] = torch.round(q[:, cols] / scale[:, None] + zero[:, None]).to(torch.uint8)
    return codes


def torch_worker(args, data):
    import torch
    torch.set_num_threads(args.threads)
    w = torch.from_numpy(np.load(os.path.join(data, "w.npy")))
    h = torch.from_numpy(np.load(os.path.join(data, "h.npy")))
    info = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "torch_backend": torch.__config__.parallel_info().splitlines()[-1].strip()}

    def run(tag):
        t0 = time.perf_counter()
        q, params, loss = fasterquant(torch, w, h, args.bits, args.group, args.block, args.damp)
        seconds = time.perf_counter() - t0
        if tag.endswith(WARM):  # saved once: 80 MB of writeback must not overlap a timed call
            base = tag[:-len(WARM)]
            np.save(os.path.join(data, f"{base}_q.npy"), q.numpy())
            np.save(os.path.join(data, f"{base}_codes.npy"), codes_of(torch, q, params, args.group).numpy())
        return {"seconds": seconds, "own_loss": loss}

    serve(run, info)


# --- the library worker ------------------------------------------------------------------------

def vqround_worker(args, data):
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import vqround
    from vqround import _lib
    w = np.load(os.path.join(data, "w.npy"))
    h = vqround.Hessian(args.n)
    h.add(np.load(os.path.join(data, "x.npy")))
    np.save(os.path.join(data, "h.npy"), h.matrix())  # the torch side uses this very matrix
    info = {"vqround": vqround.__version__,
            "library": _lib.lib._name, "vqround_threads": "all cores (threads=None)"}

    def run(tag):
        level = 0 if tag.endswith("noreport") else 1
        t0 = time.perf_counter()
        r = vqround.quantize(w, h, method="gptq", bits=args.bits, group_size=args.group,
                             sym=False, damp=args.damp, block_size=args.block,
                             report_loss=bool(level))
        seconds = time.perf_counter() - t0
        if tag.endswith(WARM):  # deterministic: the warm-up call's output is every call's
            base = tag[:-len(WARM)]
            np.save(os.path.join(data, f"{base}_q.npy"), r.dequantized)
            np.save(os.path.join(data, f"{base}_codes.npy"), r.codes)
        return {"seconds": seconds, "own_loss": float(r.proxy_loss)}

    serve(run, info)


def serve(run, info):
    """Line protocol on stdin/stdout: the worker prints its info, then answers each tag with one
    JSON line; the parent never has two workers running at once."""
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        tag = line.strip()
        if not tag:
            break
        print(json.dumps(run(tag)), flush=True)


# --- the parent --------------------------------------------------------------------------------

class Worker:
    def __init__(self, side, args, data, env):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", side, "--data", data,
               "--n", str(args.n), "--bits", str(args.bits), "--group", str(args.group),
               "--block", str(args.block), "--damp", str(args.damp),
               "--threads", str(args.threads)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     text=True)
        self.info = self._reply()

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.proc.args[3]} died (exit {self.proc.wait()})")
        return json.loads(line)

    def run(self, tag):
        self.proc.stdin.write(tag + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def proxy_loss(torch, q, w, h):
    """tr(dW H dW^T), the fp32 GEMM summed in float64: the same yardstick for both sides."""
    dw = torch.from_numpy(q) - torch.from_numpy(w)
    return float(torch.sum((dw @ torch.from_numpy(h)).double() * dw.double()))


def cpu_model():
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    get = lambda k: fields.get(k, "?").strip()
    return (f"{get('Model name')} (family {get('CPU family')} model {get('Model')}), "
            f"{get('CPU(s)')} CPUs, {get('Hypervisor vendor')} hypervisor")


def parent(args):
    try:
        import torch
    except ImportError:
        sys.exit(f"gptq_torch_vs_vqround: torch is not importable by {sys.executable}; {NEEDS}")
    with tempfile.TemporaryDirectory(prefix="vqr-peers-") as data:
        w, x = make_layer(args.m, args.n, args.tokens, args.seed)
        np.save(os.path.join(data, "w.npy"), w)
        np.save(os.path.join(data, "x.npy"), x)
        env_lib = dict(os.environ)
        env_torch = {k: v for k, v in os.environ.items() if k not in LIBRARY_ONLY_ENV}
        lib = Worker("vqround", args, data, env_lib)  # writes h.npy before replying
        tw = Worker("torch", args, data, env_torch)
        h = np.load(os.path.join(data, "h.npy"))
        print(f"date {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; cpu {cpu_model()}; "
              f"load {os.getloadavg()[0]:.2f}")
        print(f"torch {tw.info['torch']} ({tw.info['torch_backend']}), "
              f"torch.set_num_threads({tw.info['torch_threads']}); library {lib.info['library']}, "
              f"threads {lib.info['vqround_threads']}; library env: "
              + ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in LIBRARY_ONLY_ENV)
              + "; torch env: those unset")
        print(f"layer {args.m} x {args.n}, Hessian of {args.tokens} tokens, {args.bits}-bit asym "
              f"g{args.group}, damp {args.damp}, block {args.block}; rounds {args.rounds} "
              f"(+1 untimed warm-up each)")
        sides = (("torch", tw, "t"), ("vqround", lib, "v"), ("vqround_noreport", lib, "v_noreport"))
        for _, worker, tag in sides:
            worker.run(tag + WARM)
        times = {name: [] for name, _, _ in sides}
        own = {}
        for r in range(args.rounds):
            # Each round starts with another side, and every call after an idle pause: a side's
            # threads that spin after their work (OpenMP's wait policy) then tax no one.
            for name, worker, tag in sides[r % len(sides):] + sides[:r % len(sides)]:
                time.sleep(args.pause)
                out = worker.run(tag)
                times[name].append(out["seconds"])
                own[name] = out["own_loss"]
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in times.items()),
                  flush=True)
        load_end = os.getloadavg()[0]
        tw.close()
        lib.close()

        med = {k: statistics.median(v) for k, v in times.items()}
        ct = np.load(os.path.join(data, "t_codes.npy"))
        cv = np.load(os.path.join(data, "v_codes.npy"))
        differ = int(np.count_nonzero(ct != cv))
        rows = int(np.count_nonzero((ct != cv).any(axis=1)))
        torch.set_num_threads(args.threads)
        lt = proxy_loss(torch, np.load(os.path.join(data, "t_q.npy")), w, h)
        lv = proxy_loss(torch, np.load(os.path.join(data, "v_q.npy")), w, h)
        print(f"codes: {differ} of {ct.size} differ ({differ / ct.size:.4%}), in {rows} of "
              f"{ct.shape[0]} rows")
        print(f"proxy loss tr(dW H dW^T): torch {lt:.6g}, vqround {lv:.6g} "
              f"(vqround / torch {lv / lt:.4f}); their own reports: torch sum e^2/d^2 "
              f"{own['torch']:.6g} (= tr(dW H_damped dW^T)), vqround {own['vqround']:.6g}")
        print("medians: " + ", ".join(f"{k} {v:.3f} s" for k, v in med.items())
              + f"; load at end {load_end:.2f}")
        print(f"speed ratio torch / vqround (default report, level 1): "
              f"{med['torch'] / med['vqround']:.2f}x")
        print(f"speed ratio torch / vqround (report_loss=False, level 0): "
              f"{med['torch'] / med['vqround_noreport']:.2f}x")
        ok = differ / ct.size < args.max_code_diff and abs(lv / lt - 1) < args.max_loss_diff
        if not ok:
            sys.exit(f"gptq_torch_vs_vqround: the two sides disagree beyond --max-code-diff "
                     f"{args.max_code_diff} / --max-loss-diff {args.max_loss_diff}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pause", type=float, default=1.0,
                   help="idle seconds before each timed call (default 1.0)")
    p.add_argument("--m", type=int, default=4096)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--tokens", type=int, default=2048)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--group", type=int, default=128)
    p.add_argument("--block", type=int, default=128)
    p.add_argument("--damp", type=float, default=0.01)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--max-code-diff", type=float, default=0.05,
                   help="largest share of differing codes accepted (near ties cascade along rows)")
    p.add_argument("--max-loss-diff", type=float, default=0.03,
                   help="largest relative difference of the two proxy losses accepted")
    p.add_argument("--worker", choices=("torch", "vqround"), help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.group <= 0 or args.n % args.group:
        p.error("--group must be positive and divide --n (this bench runs grouped GPTQ only)")
    if args.worker == "torch":
        torch_worker(args, args.data)
    elif args.worker == "vqround":
        vqround_worker(args, args.data)
    else:
        parent(args)


if __name__ == "__main__":
    main()
