"""Independent numpy references for the Python binding tests: the quantizer grid (a) of spec
gptq §1.6 written exactly as the spec states it, and a GPTQ checkpoint unpacker following the bit
layout of spec gptq §1.7. Nothing here calls the library."""
import math

import numpy as np


def rtn_grid_a(w, bits, group_size, sym):
    """Grid (a) RTN in float32 with round-half-to-even. w: m x n float32.
    Returns codes (uint8 m x n), scales (float32 G x m), zeros (float32 G x m), g_idx (int32 n).
    A last, shorter group is allowed (group_size not dividing n)."""
    w = np.asarray(w, dtype=np.float32)
    m, n = w.shape
    gs = n if group_size == -1 else group_size
    G = math.ceil(n / gs)
    maxq = np.float32(2 ** bits - 1)
    codes = np.empty((m, n), dtype=np.uint8)
    scales = np.empty((G, m), dtype=np.float32)
    zeros = np.empty((G, m), dtype=np.float32)
    for k in range(G):
        x = w[:, k * gs:(k + 1) * gs]
        xmin = np.minimum(x.min(axis=1), np.float32(0))
        xmax = np.maximum(x.max(axis=1), np.float32(0))
        if sym:
            xmax = np.maximum(np.abs(xmin), xmax)
            xmin = np.where(xmin < 0, -xmax, xmin)
        both0 = (xmin == 0) & (xmax == 0)
        xmin = np.where(both0, np.float32(-1), xmin).astype(np.float32)
        xmax = np.where(both0, np.float32(1), xmax).astype(np.float32)
        scale = ((xmax - xmin) / maxq).astype(np.float32)
        if sym:
            zero = np.full(m, (maxq + 1) / 2, dtype=np.float32)
        else:
            zero = np.rint(-xmin / scale).astype(np.float32)
        q = np.rint(x / scale[:, None]) + zero[:, None]
        codes[:, k * gs:(k + 1) * gs] = np.clip(q, 0, maxq).astype(np.uint8)
        scales[k], zeros[k] = scale, zero
    g_idx = (np.arange(n) // gs).astype(np.int32)
    return codes, scales, zeros, g_idx


def dequantize(codes, scales, zeros, g_idx):
    """scales[g_idx[j], r] * (codes[r, j] - zeros[g_idx[j], r]) in float32."""
    s = scales[g_idx].T  # m x n
    z = zeros[g_idx].T
    return (s * (codes.astype(np.float32) - z)).astype(np.float32)


def proxy_loss(w_q, w, h):
    """tr(dW H dW^T) in float64."""
    dw = np.asarray(w_q, np.float64) - np.asarray(w, np.float64)
    return float(np.einsum("ij,jk,ik->", dw, np.asarray(h, np.float64), dw))


def packed_words(count, bits):
    """Number of int32 words holding `count` codes of `bits` bits (spec gptq §1.7)."""
    if bits == 3:
        return 3 * math.ceil(count / 32)
    return math.ceil(count / (32 // bits))


def unpack_axis0(words, bits, count):
    """Unpacks codes packed along axis 0 of an int32 array (W x k), LSB first.
    Returns (codes count x k as int64, padding codes beyond `count` as int64)."""
    u = np.asarray(words).view(np.uint32).astype(np.uint64)
    nw, k = u.shape
    if bits == 3:
        # 32 codes per 3 words, straddling word boundaries exactly as spec gptq §1.7 lists them.
        chunks = nw // 3
        out = np.empty((chunks * 32, k), dtype=np.uint64)
        for c in range(chunks):
            w0, w1, w2 = u[3 * c], u[3 * c + 1], u[3 * c + 2]
            base = 32 * c
            for j in range(10):
                out[base + j] = (w0 >> np.uint64(3 * j)) & 7
            out[base + 10] = (w0 >> np.uint64(30)) | ((w1 & 1) << np.uint64(2))
            for j in range(10):
                out[base + 11 + j] = (w1 >> np.uint64(3 * j + 1)) & 7
            out[base + 21] = (w1 >> np.uint64(31)) | ((w2 & 3) << np.uint64(1))
            for j in range(10):
                out[base + 22 + j] = (w2 >> np.uint64(3 * j + 2)) & 7
    else:
        per = 32 // bits
        mask = np.uint64(2 ** bits - 1)
        out = np.empty((nw * per, k), dtype=np.uint64)
        for j in range(per):
            out[j::per] = (u >> np.uint64(bits * j)) & mask
    out = out.astype(np.int64)
    return out[:count], out[count:]
