"""RTN through vqround.quantize against the numpy grid (a) reference of spec gptq §1.6 (float32,
round-half-to-even): codes, scales, zeros and g_idx must match exactly; the dequantized weights
must equal scales * (codes - zeros)."""
import math
import unittest

import numpy as np

import vqround
from vqr_reference import dequantize, proxy_loss, rtn_grid_a


def first_diff(got, want):
    idx = np.argwhere(got != want)
    if idx.size == 0:
        return ""
    i = tuple(idx[0])
    return f"{len(idx)} differ; first at {i}: got {got[i]!r}, want {want[i]!r}"


def make_weights(m, n, seed):
    """Random weights with the grid's edge cases: an all-positive row (sym keeps xmin = 0),
    an all-negative row, an all-zero row (range forced to [-1, 1]) and a row whose every group
    spans [-1.5, 6] with entries on a 0.25 lattice: with 4-bit (scale 0.5) and 2-bit (scale
    2.5) asymmetric grids many x/scale are exact ties that only half-to-even resolves as the
    reference does."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, n)).astype(np.float32)
    w[0] = np.abs(w[0]) + 0.01
    w[1] = -np.abs(w[1]) - 0.01
    w[2] = 0.0
    w[3] = np.float32(0.25) * rng.integers(-6, 25, n)
    w[3, 0::8], w[3, 1::8] = -1.5, 6.0
    return w


class RtnTest(unittest.TestCase):
    def check(self, m, n, bits, group_size, sym, partial=False):
        w = make_weights(m, n, seed=bits * 100 + n)
        with vqround.quantize(w, bits=bits, group_size=group_size, sym=sym,
                              allow_partial_group=partial) as r:
            codes, scales, zeros, g_idx = rtn_grid_a(w, bits, group_size, sym)
            gs = n if group_size == -1 else group_size
            msg = f"bits={bits} g={group_size} sym={sym} {m}x{n}"
            self.assertEqual((r.rows, r.cols, r.bits, r.groups), (m, n, bits, math.ceil(n / gs)))
            self.assertEqual(r.codes.dtype, np.uint8)
            self.assertEqual(r.scales.dtype, np.float32)
            self.assertEqual(r.zeros.dtype, np.float32)
            self.assertEqual(r.g_idx.dtype, np.int32)
            np.testing.assert_array_equal(r.g_idx, g_idx, msg)
            for name, got, want in (("scales", r.scales, scales), ("zeros", r.zeros, zeros),
                                    ("codes", r.codes, codes)):
                diff = first_diff(got, want)
                self.assertFalse(diff, f"{name} ({msg}): {diff}")
            self.assertLessEqual(int(r.codes.max()), 2 ** bits - 1)
            deq = dequantize(r.codes, r.scales, r.zeros, r.g_idx)
            diff = first_diff(r.dequantized, deq)
            self.assertFalse(diff, f"dequantized ({msg}): {diff}")
            self.assertTrue(math.isnan(r.proxy_loss))  # no Hessian given
            self.assertEqual(r.method, "rtn")

    def test_per_channel(self):
        for bits in (2, 3, 4, 8):
            for sym in (False, True):
                self.check(13, 64, bits, -1, sym)

    def test_grouped(self):
        for bits in (2, 3, 4, 8):
            for sym in (False, True):
                self.check(13, 64, bits, 16, sym)
                self.check(7, 96, bits, 32, sym)

    def test_partial_last_group(self):
        for sym in (False, True):
            self.check(5, 40, 4, 16, sym, partial=True)
        with self.assertRaises(vqround.Error) as cm:
            vqround.quantize(make_weights(5, 40, 0), group_size=16)
        self.assertEqual(cm.exception.status, vqround.Status.INVALID_ARGUMENT)

    def test_f16_weights_equal_f32_of_same_values(self):
        w16 = make_weights(9, 48, 3).astype(np.float16)
        a = vqround.quantize(w16, bits=4, group_size=16)
        b = vqround.quantize(w16.astype(np.float32), bits=4, group_size=16)
        np.testing.assert_array_equal(a.codes, b.codes)
        np.testing.assert_array_equal(a.scales, b.scales)
        np.testing.assert_array_equal(a.zeros, b.zeros)

    def test_strided_weights(self):
        w = make_weights(9, 48, 4)
        wide = np.zeros((9, 60), np.float32)
        wide[:, 5:53] = w
        a = vqround.quantize(wide[:, 5:53], bits=3, group_size=16)
        b = vqround.quantize(w, bits=3, group_size=16)
        np.testing.assert_array_equal(a.codes, b.codes)
        np.testing.assert_array_equal(a.dequantized, b.dequantized)

    def test_proxy_loss_with_hessian(self):
        rng = np.random.default_rng(5)
        w = make_weights(11, 32, 5)
        x = rng.standard_normal((300, 32)).astype(np.float32)
        with vqround.Hessian(32) as h:
            h.add(x)
            r = vqround.quantize(w, h, bits=3)
            want = proxy_loss(r.dequantized, w, h.matrix())
            self.assertAlmostEqual(r.proxy_loss / want, 1.0, delta=1e-3)
            self.assertAlmostEqual(r.rtn_proxy_loss / want, 1.0, delta=1e-3)
            self.assertTrue(math.isnan(vqround.quantize(w, h, report_loss=False).proxy_loss))
        self.assertEqual(r.damp, 0.0)


if __name__ == "__main__":
    unittest.main()
