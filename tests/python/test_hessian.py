"""vqround.Hessian against a float64 numpy reference: H = (2/T) X^T X, batching invariance,
merge, serialization round trip and corruption, float16 input, strided views, NaN rejection."""
import unittest

import numpy as np

import vqround

RTOL = 1e-5  # fp32 SYRK over a few hundred tokens: relative error ~1e-6 on the large entries


def ref_hessian(xs):
    x = np.concatenate([np.asarray(a, np.float64) for a in xs], axis=0)
    return 2.0 / x.shape[0] * (x.T @ x)


def assert_h_close(test, got, want, rtol=RTOL):
    # Off-diagonal entries near zero carry cancellation error: atol relative to the largest entry.
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


class HessianTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(1)
        self.n = 37
        mix = rng.standard_normal((self.n, self.n)).astype(np.float32)
        self.x = (rng.standard_normal((257, self.n)).astype(np.float32) @ mix) + 0.5

    def test_matches_reference(self):
        with vqround.Hessian(self.n) as h:
            h.add(self.x)
            self.assertEqual(h.tokens, 257)
            self.assertEqual(h.width, self.n)
            got = h.matrix()
        self.assertEqual(got.dtype, np.float32)
        self.assertEqual(got.shape, (self.n, self.n))
        np.testing.assert_array_equal(got, got.T)
        assert_h_close(self, got, ref_hessian([self.x]))

    def test_f64_accumulator_matches_reference(self):
        with vqround.Hessian(self.n, f64=True) as h:
            h.add(self.x)
            assert_h_close(self, h.matrix(), ref_hessian([self.x]))

    def test_empty_is_zero(self):
        with vqround.Hessian(5) as h:
            h.add(np.zeros((0, 5), np.float32))
            self.assertEqual(h.tokens, 0)
            np.testing.assert_array_equal(h.matrix(), np.zeros((5, 5), np.float32))

    def test_batching_invariance(self):
        one = vqround.Hessian(self.n).add(self.x)
        many = vqround.Hessian(self.n)
        cuts = [0, 1, 1, 51, 54, 200, 257]  # uneven, including an empty and a single-token batch
        for a, b in zip(cuts[:-1], cuts[1:]):
            many.add(self.x[a:b])
        self.assertEqual(many.tokens, one.tokens)
        assert_h_close(self, many.matrix(), one.matrix())
        one.close()
        many.close()

    def test_merge_equals_accumulating_all(self):
        a, b = self.x[:100], self.x[100:]
        h1 = vqround.Hessian(self.n).add(a)
        h2 = vqround.Hessian(self.n).add(b)
        h1.merge(h2)
        self.assertEqual(h1.tokens, 257)
        self.assertEqual(h2.tokens, 157)  # src unchanged
        assert_h_close(self, h1.matrix(), ref_hessian([a, b]))
        with self.assertRaises(vqround.Error):
            h1.merge(vqround.Hessian(self.n + 1))

    def test_serialization_round_trip(self):
        for f64 in (False, True):
            with vqround.Hessian(self.n, f64=f64) as h:
                h.add(self.x)
                blob = h.to_bytes()
                self.assertIsInstance(blob, bytes)
                self.assertEqual(blob[:4], b"VQRH")
                with vqround.Hessian.from_bytes(blob) as g:
                    self.assertEqual(g.tokens, h.tokens)
                    self.assertEqual(g.width, h.width)
                    np.testing.assert_array_equal(g.matrix(), h.matrix())
                    self.assertEqual(g.to_bytes(), blob)

    def test_corrupted_bytes_raise_corrupt(self):
        blob = vqround.Hessian(self.n).add(self.x).to_bytes()
        flipped = bytearray(blob)
        flipped[len(blob) // 2] ^= 0x40  # a payload byte: only the CRC can catch it
        bad_magic = b"XQRH" + blob[4:]
        for bad in (bytes(flipped), bad_magic, blob[:-1], blob[:20]):
            with self.assertRaises(vqround.Error) as cm:
                vqround.Hessian.from_bytes(bad)
            self.assertEqual(cm.exception.status, vqround.Status.CORRUPT)
            self.assertEqual(cm.exception.status_name, "CORRUPT")
            self.assertTrue(cm.exception.message)

    def test_f16_equals_f32_of_same_values(self):
        x16 = self.x.astype(np.float16)
        h16 = vqround.Hessian(self.n).add(x16)
        h32 = vqround.Hessian(self.n).add(x16.astype(np.float32))
        np.testing.assert_allclose(h16.matrix(), h32.matrix(), rtol=1e-6,
                                   atol=1e-6 * np.abs(h32.matrix()).max())

    def test_strided_and_converted_inputs(self):
        ref = vqround.Hessian(self.n).add(self.x).matrix()
        wide = np.zeros((257, self.n + 9), np.float32)
        wide[:, 3:3 + self.n] = self.x
        view = wide[:, 3:3 + self.n]  # row stride n + 9, last axis contiguous: read in place
        self.assertFalse(view.flags.c_contiguous)
        assert_h_close(self, vqround.Hessian(self.n).add(view).matrix(), ref, rtol=1e-6)
        inter = np.zeros((257, 2 * self.n), np.float32)
        inter[:, ::2] = self.x  # last axis strided: copied
        np.testing.assert_array_equal(vqround.Hessian(self.n).add(inter[:, ::2]).matrix(), ref)
        f64 = vqround.Hessian(self.n).add(self.x.astype(np.float64)).matrix()
        np.testing.assert_array_equal(f64, ref)

    def test_nonfinite_rejected_whole(self):
        h = vqround.Hessian(self.n).add(self.x[:10])
        before = h.matrix()
        for bad_value in (np.nan, np.inf):
            bad = self.x[10:20].copy()
            bad[7, 3] = bad_value
            with self.assertRaises(vqround.Error) as cm:
                h.add(bad)
            self.assertEqual(cm.exception.status, vqround.Status.NONFINITE)
            self.assertTrue(cm.exception.message)
        self.assertEqual(h.tokens, 10)
        np.testing.assert_array_equal(h.matrix(), before)

    def test_bad_arguments(self):
        h = vqround.Hessian(self.n)
        for bad in (self.x[:, :-1], self.x[0], np.zeros((2, 3, self.n), np.float32)):
            with self.assertRaises(vqround.Error) as cm:
                h.add(bad)
            self.assertEqual(cm.exception.status, vqround.Status.INVALID_ARGUMENT)
            self.assertTrue(cm.exception.message)
        for n in (0, -3):
            with self.assertRaises(vqround.Error):
                vqround.Hessian(n)

    def test_close_is_deterministic_and_idempotent(self):
        h = vqround.Hessian(4)
        h.close()
        h.close()
        with self.assertRaises(vqround.Error):
            h.tokens
        with vqround.Hessian(4) as g:
            pass
        with self.assertRaises(vqround.Error):
            g.add(np.ones((1, 4), np.float32))


if __name__ == "__main__":
    unittest.main()
