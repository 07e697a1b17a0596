"""How far GPTQ of a Hugging Face copy of a llama2.c model agrees with GPTQ of the original
(cli_hf_test.sh). The two runs are the same algorithm on Hessians that differ only in fp32
rounding, so they must agree up to the near-tie decisions that rounding can flip; the checks and
their bounds are derived below. Exit 0 and a one-line summary, or exit 1 naming the broken check.
Usage: gptq_agreement.py QHF_DIR QORIG_DIR FP_MODEL NLL_HF.json NLL_ORIG.json NLL_FP.json
(QHF_DIR: `vqround quantize` of the Hugging Face copy, native format; QORIG_DIR: of the llama2.c
original FP_MODEL; the NLL files: `vqround eval --json` of both and of FP_MODEL, same paragraphs.)

Why the runs differ at all: the Hugging Face copy stores q/k rows in the half RoPE layout, so each
attention logit sums its HS products q_i k_i in another order (pairs (j, j+HS/2) instead of (2j,
2j+1)); every other operation sees the same operands (permuted rows of one matmul are the same dot
products). The Hessians of the first group (blk.0 q/k/v, fed by the embedding) are bit identical;
from blk.0.wo on they differ in the last bits. GPTQ's rounding is a discontinuous function of H:
where a compensated weight lies within those last bits of a rounding boundary, the decision can go
either way, and which way depends on the BLAS kernels' summation order in the Hessian SYRK and the
GPTQ GEMMs (the forward itself uses no BLAS). On an AMD EPYC, OpenBLAS's SkylakeX, Zen,
Sandybridge, Nehalem and Prescott kernels flipped no decision, as on the Intel machine the test was
written on; its Haswell kernels flipped one weight of blk.0.wo. One flip then cascades: GPTQ
carries the changed rounding error along the row, and the sequential pipeline feeds the changed
layer to every later group, so later Hessians differ by quantization-sized amounts and more near-
ties re-decide (measured on stories260K, 8 x 128 calibration: one flip in blk.0.wo re-decided 4.4%
of all codes, at most 10.6% of one layer). So the runs are two GPTQ solutions of one problem, and
the checks are:

1. blk.0.wq/wk/wv: identical codes, up to the q/k row permutation. Their Hessians are bit
   identical and GPTQ's arithmetic is row-local (each row's sweep and each GEMM element is the same
   dot product wherever the row sits), so this is the same arithmetic: exact. A wrong q/k
   permutation in the export fails here.
2. Hessians: until the first layer whose codes differ (inclusive), each layer's Hessian was built
   from identical earlier codes, so H_hf and H_orig differ only by the logit summation order.
   vqround.json's rtn_proxy_loss = tr(E H E^T) with the same RTN error E in both runs (RTN reads
   only W) compares them. The tool's default report level (vqr_report_level 1) leaves it null for
   GPTQ; then proxy_loss = tr(dW H dW^T) compares them on the layers whose codes (so dW) are
   identical, i.e. up to the first differing layer, exclusive. GPTQ takes it from its sweep's OBS
   errors, whose fp32 rounding is of the same n u order as the trace's (measured 1e-7 relative). Bound: one logit's HS-term sum in two orders differs by at most
   2 gamma_HS sum|q_i k_i| / sqrt(HS) (gamma_n ~ n u, u = 2^-24) = 2 HS u L with L the logits'
   scale (below 20 here; softmax over larger logits would be one-hot): 1.9e-5 absolute; softmax
   turns it into a relative change of at most twice that in each probability, hence in the
   attention output, and H = X X^T doubles it again: 7.6e-5, plus tr(E H E^T)'s own rounding
   (n u < 1e-5 relative). Tolerance 1e-4 relative (measured: 2e-8, the errors being random-walk
   sized). A Hessian collected on a wrongly laid out forward differs by O(1).
3. Share of differing codes, per layer, at most 25%: a cascade from the earliest possible flip
   re-decides at most 10.6% of a layer (measured above); even two independent calibration draws
   (seeds 0 and 1, every Hessian changed by O(1/sqrt(T)), far more than any cascade) differ in at
   most 18.9% of a layer, while a q/k row-order error mismatches whole rows (~94% of their codes).
4. NLL: |NLL_hf - NLL_orig| <= 1e-4 + (2 rho + rho^2) D, with D = NLL_orig - NLL_fp the damage of
   quantization on the evaluated paragraphs and rho = max over layers of ||W_hf - W_orig|| /
   ||W_orig - W_fp||. To second order around the trained fp32 weights (gradient ~0), a model's
   damage is e^T F e for its quantization error e and the curvature F of the NLL on those
   paragraphs, so sqrt(D) is a norm of e and the triangle inequality gives
   |sqrt(D_hf) - sqrt(D_orig)| <= ||e_hf - e_orig||_F; taking F to weigh each layer's difference
   as it weighs that layer's error, ||e_hf - e_orig||_F <= rho sqrt(D_orig), hence the bound.
   1e-4 is the fp32 forward-order tolerance of one weight set evaluated in the two layouts
   (measured 4e-8 on 50 paragraphs), the whole bound when no decision flipped (rho = 0). The
   bound is loose by design (measured, 50 paragraphs: rho = 0.96, bound 0.26, difference 1.1e-3;
   10 paragraphs: difference 7.5e-3), because a near-tie cascade is chaotic: checks 1-3 carry the
   precision, this one guards against a gross error (a q/k row-order error: NLL 4.47 vs 1.48).
"""
import array
import json
import struct
import sys

ALL_LAYERS_MAX_SHARE = 0.25  # check 3
HESSIAN_REL_TOL = 1e-4  # check 2
FORWARD_ORDER_NLL_TOL = 1e-4  # check 4, rho = 0
HF_NAMES = {'wq': 'self_attn.q_proj', 'wk': 'self_attn.k_proj', 'wv': 'self_attn.v_proj', 'wo': 'self_attn.o_proj',
            'w1': 'mlp.gate_proj', 'w2': 'mlp.down_proj', 'w3': 'mlp.up_proj'}
ORDER = ['wq', 'wk', 'wv', 'wo', 'w1', 'w3', 'w2']  # the pipeline's groups, as vqround.json lists them


def fail(message):
    print('FAIL: ' + message)
    sys.exit(1)


def load_safetensors(path):
    """name -> flat fp32 array, from F32 or BF16 tensors."""
    blob = open(path, 'rb').read()
    n = struct.unpack('<Q', blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == '__metadata__':
            continue
        raw = blob[8 + n + t['data_offsets'][0]:8 + n + t['data_offsets'][1]]
        a = array.array('f')
        if t['dtype'] == 'F32':
            a.frombytes(raw)
        elif t['dtype'] == 'BF16':
            a.frombytes(b''.join(b'\0\0' + raw[i:i + 2] for i in range(0, len(raw), 2)))
        else:
            fail('%s: dtype %s not handled' % (name, t['dtype']))
        out[name] = a
    return out


def load_llama2c_layers(path, dim, hidden, layers, kv_dim, vocab):
    """(kind, layer) -> flat fp32 array of a llama2.c v0 file's linear weights."""
    a = array.array('f')
    a.frombytes(open(path, 'rb').read()[28:])
    offset = vocab * dim + layers * dim  # token embedding, attention RMSNorm weights
    shapes = [('wq', dim * dim), ('wk', kv_dim * dim), ('wv', kv_dim * dim), ('wo', dim * dim), ('rms', dim),
              ('w1', hidden * dim), ('w2', dim * hidden), ('w3', hidden * dim)]
    out = {}
    for kind, size in shapes:
        for layer in range(layers):
            out[(kind, layer)] = a[offset:offset + size]
            offset += size
    return out


def main():
    qhf, qorig, fp_model, nll_hf, nll_orig, nll_fp = sys.argv[1:7]
    c = json.load(open(qhf + '/config.json'))
    dim, hidden, layers = c['hidden_size'], c['intermediate_size'], c['num_hidden_layers']
    hs = c.get('head_dim') or dim // c['num_attention_heads']
    kv_dim = hs * c['num_key_value_heads']
    hf = load_safetensors(qhf + '/model.safetensors')
    orig = load_llama2c_layers(qorig + '/model.bin', dim, hidden, layers, kv_dim, c['vocab_size'])
    fp = load_llama2c_layers(fp_model, dim, hidden, layers, kv_dim, c['vocab_size'])

    def orig_row(kind, r):  # the interleaved row that half-layout row r holds (model/rope_layout.h)
        if kind not in ('wq', 'wk'):
            return r
        head, i = divmod(r, hs)
        p, j = divmod(i, hs // 2)
        return head * hs + 2 * j + p

    differ = {}  # layer name -> (differing codes, codes)
    rho = 0.0  # check 4
    for layer in range(layers):
        for kind in ORDER:
            a = orig[(kind, layer)]
            b = hf['model.layers.%d.%s.weight' % (layer, HF_NAMES[kind])]
            cols = hidden if kind == 'w2' else dim
            rows = len(a) // cols
            if len(b) != len(a):
                fail('blk.%d.%s: %d weights in the Hugging Face output, %d in the original'
                     % (layer, kind, len(b), len(a)))
            n, moved = 0, 0.0
            for r in range(rows):
                s = orig_row(kind, r)
                row_a, row_b = a[s * cols:(s + 1) * cols], b[r * cols:(r + 1) * cols]
                if row_a != row_b:
                    n += sum(1 for x, y in zip(row_a, row_b) if x != y)
                    moved += sum((x - y) ** 2 for x, y in zip(row_a, row_b))
            differ['blk.%d.%s' % (layer, kind)] = (n, rows * cols)
            error = sum((x - y) ** 2 for x, y in zip(a, fp[(kind, layer)]))
            rho = max(rho, (moved / error) ** 0.5 if error > 0 else (0.0 if moved == 0 else float('inf')))

    for name in ('blk.0.wq', 'blk.0.wk', 'blk.0.wv'):  # check 1
        if differ[name][0]:
            fail('%s: %d codes differ although its Hessian is bit identical in both runs' % (name, differ[name][0]))

    rec_hf = json.load(open(qhf + '/vqround.json'))['layers']
    rec_orig = json.load(open(qorig + '/vqround.json'))['layers']
    checked = 0
    for x, y in zip(rec_hf, rec_orig):  # check 2
        if x['name'] != y['name']:
            fail('vqround.json lists %s against %s' % (x['name'], y['name']))
        key = 'rtn_proxy_loss'
        if x.get(key) is None or y.get(key) is None:
            if differ[x['name']][0]:
                break  # GPTQ's own loss compares different dW from here on
            key = 'proxy_loss'
        rel = abs(x[key] - y[key]) / max(abs(y[key]), 1e-30)
        if rel > HESSIAN_REL_TOL:
            fail('%s: Hessians disagree (%s %.9g vs %.9g, relative %.2g > %g) before any code differed'
                 % (x['name'], key, x[key], y[key], rel, HESSIAN_REL_TOL))
        checked += 1
        if differ[x['name']][0]:
            break

    worst = max(differ, key=lambda k: differ[k][0] / differ[k][1])  # check 3
    if differ[worst][0] > ALL_LAYERS_MAX_SHARE * differ[worst][1]:
        fail('%s: %d of %d codes differ, more than near-tie decisions explain' % ((worst,) + differ[worst]))

    share = sum(v[0] for v in differ.values()) / sum(v[1] for v in differ.values())
    h, o, f = (json.load(open(p))['mean_nll'] for p in (nll_hf, nll_orig, nll_fp))  # check 4
    bound = FORWARD_ORDER_NLL_TOL + (2 * rho + rho * rho) * max(o - f, 0.0)
    if abs(h - o) > bound:
        fail('NLL %.6f (Hugging Face copy) vs %.6f (original): difference %.2g > %.2g (rho %.3f, damage %.4f)'
             % (h, o, abs(h - o), bound, rho, o - f))
    print('GPTQ agreement: %.4f of codes differ (worst %s %.4f), Hessians agree on %d layers, rho %.3f, NLL %.6f vs '
          '%.6f (|diff| %.2g <= %.2g)' % (share, worst, differ[worst][0] / differ[worst][1], checked, rho, h, o,
                                           abs(h - o), bound))


main()
