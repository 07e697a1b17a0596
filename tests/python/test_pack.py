"""vqround.pack_gptq against an independent numpy unpacker (vqr_reference.unpack_axis0, the bit
layout of spec gptq §1.7): codes, zero-points (v1 stores zero - 1), fp16 scales and g_idx must
round-trip for 2, 3, 4 and 8 bits, on shapes that are not multiples of the codes per word."""
import unittest

import numpy as np

import vqround
from vqr_reference import packed_words, unpack_axis0

M, N, GS = 40, 72, 24  # 3-bit: 72 inputs -> 3 chunks of 32 with 24 padding codes; 40 outputs


def quantized(bits, sym, act_order=False):
    rng = np.random.default_rng(bits)
    w = rng.standard_normal((M, N)).astype(np.float32)
    w[0] = np.abs(w[0]) + 0.1  # asym: an all-positive row has zero-point 0
    if not act_order:
        return vqround.quantize(w, bits=bits, group_size=GS, sym=sym)
    h = vqround.Hessian(N).add(rng.standard_normal((200, N)).astype(np.float32)
                               * np.linspace(0.2, 3.0, N).astype(np.float32))
    return vqround.quantize(w, h, method="gptq", bits=bits, group_size=GS, sym=sym,
                            act_order=True)


class PackTest(unittest.TestCase):
    def check(self, r, version):
        bits, G = r.bits, r.groups
        p = vqround.pack_gptq(r, version=version)
        self.assertEqual(sorted(p), ["g_idx", "qweight", "qzeros", "scales"])
        self.assertEqual(p["qweight"].dtype, np.int32)
        self.assertEqual(p["qzeros"].dtype, np.int32)
        self.assertEqual(p["scales"].dtype, np.float16)
        self.assertEqual(p["g_idx"].dtype, np.int32)
        self.assertEqual(p["qweight"].shape, (packed_words(N, bits), M))
        self.assertEqual(p["qzeros"].shape, (G, packed_words(M, bits)))
        self.assertEqual(p["scales"].shape, (G, M))
        self.assertEqual(p["g_idx"].shape, (N,))

        codes_t, pad = unpack_axis0(p["qweight"], bits, N)  # packed along the input dim
        np.testing.assert_array_equal(codes_t.T, r.codes)
        np.testing.assert_array_equal(pad, 0)  # padding bits are zero
        zeros_t, zpad = unpack_axis0(p["qzeros"].T, bits, M)  # packed along the output dim
        np.testing.assert_array_equal(zpad, 0)
        mask = 2 ** bits - 1
        stored = r.zeros.astype(np.int64) - (1 if version == 1 else 0)
        np.testing.assert_array_equal(zeros_t.T, stored & mask)
        if version == 1:
            np.testing.assert_array_equal(zeros_t.T + 1, r.zeros)
        np.testing.assert_array_equal(p["scales"], r.scales.astype(np.float16))  # RNE in numpy
        np.testing.assert_array_equal(p["g_idx"], r.g_idx)
        return p

    def test_v1_symmetric(self):
        for bits in (2, 3, 4, 8):
            with self.subTest(bits=bits), quantized(bits, sym=True) as r:
                p = self.check(r, 1)
                if bits == 4:  # the well-known v1 sym 4-bit qzeros word: 7 in every nibble
                    self.assertTrue(np.all(p["qzeros"].view(np.uint32) == 0x77777777))

    def test_v2_symmetric_and_asymmetric(self):
        for bits in (2, 3, 4, 8):
            for sym in (True, False):
                with self.subTest(bits=bits, sym=sym), quantized(bits, sym) as r:
                    self.check(r, 2)

    def test_act_order_g_idx_is_packed(self):
        for bits in (3, 4):
            with quantized(bits, sym=True, act_order=True) as r:
                self.assertFalse(np.all(np.diff(r.g_idx) >= 0))  # non-monotone
                self.check(r, 1)
                self.check(r, 2)

    def test_v1_rejects_zero_point_zero(self):
        with quantized(4, sym=False) as r:
            self.assertTrue(np.any(r.zeros == 0))
            with self.assertRaises(vqround.Error) as cm:
                vqround.pack_gptq(r, version=1)
            self.assertEqual(cm.exception.status, vqround.Status.UNSUPPORTED)
            self.assertTrue(cm.exception.message)

    def test_unsupported_bits_version_and_closed(self):
        with vqround.quantize(np.ones((4, 32), np.float32), bits=5, sym=True) as r:
            with self.assertRaises(vqround.Error) as cm:
                vqround.pack_gptq(r, version=2)
            self.assertEqual(cm.exception.status, vqround.Status.UNSUPPORTED)
        r = quantized(4, sym=True)
        with self.assertRaises(vqround.Error):
            vqround.pack_gptq(r, version=3)
        r.close()
        with self.assertRaises(vqround.Error):
            vqround.pack_gptq(r)
        self.assertEqual(r.codes.shape, (M, N))  # arrays stay valid after close()


if __name__ == "__main__":
    unittest.main()
