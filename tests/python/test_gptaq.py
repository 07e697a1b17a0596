"""GPTAQ / ResComp through the binding (spec gptq §2, §3, §9), against float64 numpy references:
the asymmetric accumulator's D = (2/T) (X_fp - X_q)^T X_q, the method presets and overrides, GPTQ
recovered when D = 0, the reported asymmetric objective (from H and D, and directly from the
activations), the ordering of the methods on that objective, and a numpy per-column least-squares
sweep that the prequant outer mode must reproduce code for code."""
import ctypes
import math
import unittest

import numpy as np

import vqround
from vqround import _lib
from vqr_reference import rtn_grid_a

INVALID = vqround.Status.INVALID_ARGUMENT
RTOL = 1e-5  # fp32 accumulation over a few hundred tokens


def ref_h(xq):
    xq = np.asarray(xq, np.float64)
    return 2.0 / xq.shape[0] * (xq.T @ xq)


def ref_d(xq, xfp):
    xq, xfp = np.asarray(xq, np.float64), np.asarray(xfp, np.float64)
    return 2.0 / xq.shape[0] * ((xfp - xq).T @ xq)


def assert_close(got, want, rtol=RTOL):
    # Entries near zero carry cancellation error: atol relative to the largest entry.
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


def asym_layer(m, n, t, seed=0, noise=0.15):
    """Weights and paired activations: X_fp with correlated channels, distinct per-channel scales
    and three outlier channels; X_q = X_fp + noise correlated with the signal (the error an
    upstream quantized layer leaves) plus a small independent part."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, n)).astype(np.float32)
    mix = np.eye(n) + 0.6 * rng.standard_normal((n, n)) / math.sqrt(n)
    latent = rng.standard_normal((t, 8)) @ rng.standard_normal((8, n))
    x = (rng.standard_normal((t, n)) @ mix + 2.0 * latent) * np.linspace(0.5, 2.0, n)
    x[:, [1, n // 3, n - 2]] *= 8.0  # outlier channels
    sd = x.std(axis=0)
    e = noise * (x @ rng.standard_normal((n, n)) / math.sqrt(n)) / math.sqrt(np.mean(x ** 2)) * sd
    e += 0.05 * rng.standard_normal((t, n)) * sd
    return w, (x + e).astype(np.float32), x.astype(np.float32)


def asym_objective(deq, w, h, d):
    """tr(dW H dW^T) - 2 tr(dW D^T W^T) in float64, dW = deq - w."""
    w = np.asarray(w, np.float64)
    dw = np.asarray(deq, np.float64) - w
    h, d = np.asarray(h, np.float64), np.asarray(d, np.float64)
    return float(np.einsum("ij,jk,ik->", dw, h, dw) - 2.0 * np.sum(dw * (w @ d)))  # tr(dW D^T W^T)


def direct_objective(deq, w, xq, xfp):
    """(2/T) ||W' X_q - W X_fp||^2 - (2/T) ||W (X_fp - X_q)||^2 from the activations (rows =
    tokens), float64."""
    deq, w = np.asarray(deq, np.float64), np.asarray(w, np.float64)
    xq, xfp = np.asarray(xq, np.float64), np.asarray(xfp, np.float64)
    t = xq.shape[0]
    return float(2.0 / t * (np.sum((xq @ deq.T - xfp @ w.T) ** 2) - np.sum(((xfp - xq) @ w.T) ** 2)))


class AsymmetricHessianTest(unittest.TestCase):
    def setUp(self):
        _, self.xq, self.xfp = asym_layer(4, 29, 203, seed=1)
        self.n = 29

    def test_d_matches_reference(self):
        for f64 in (False, True):
            with self.subTest(f64=f64), vqround.Hessian(self.n, f64=f64, asymmetric=True) as h:
                self.assertTrue(h.asymmetric)
                self.assertEqual(h.f64, f64)
                h.add(self.xq, self.xfp)
                self.assertEqual(h.tokens, 203)
                d = h.d_matrix()
                self.assertEqual((d.dtype, d.shape), (np.float32, (self.n, self.n)))
                assert_close(d, ref_d(self.xq, self.xfp))
                assert_close(h.matrix(), ref_h(self.xq))  # H from the quantized stream only
                self.assertIn("asymmetric", repr(h))

    def test_symmetric_has_no_d(self):
        with vqround.Hessian(self.n) as h:
            self.assertFalse(h.asymmetric)
            h.add(self.xq)
            with self.assertRaises(vqround.Error) as cm:
                h.add(self.xq, self.xfp)
            self.assertEqual(cm.exception.status, INVALID)
            self.assertEqual(h.tokens, 203)  # unchanged by the failed pair
            with self.assertRaises(vqround.Error) as cm:
                h.d_matrix()
            self.assertEqual(cm.exception.status, INVALID)

    def test_pairs_batching_invariance_and_single_stream_batches(self):
        one = vqround.Hessian(self.n, asymmetric=True).add(self.xq, self.xfp)
        many = vqround.Hessian(self.n, asymmetric=True)
        cuts = [0, 1, 1, 51, 54, 150, 203]  # uneven, with an empty and a one-token batch
        for a, b in zip(cuts[:-1], cuts[1:]):
            many.add(self.xq[a:b], self.xfp[a:b])
        self.assertEqual(many.tokens, one.tokens)
        assert_close(many.matrix(), one.matrix())
        assert_close(many.d_matrix(), one.d_matrix())
        # add(x) on an asymmetric accumulator means x_fp = x_q: tokens count, D gains nothing.
        extra = self.xq[:40] * 0.5
        many.add(extra)
        self.assertEqual(many.tokens, 243)
        xq_all = np.concatenate([self.xq, extra])
        assert_close(many.matrix(), ref_h(xq_all))
        assert_close(many.d_matrix(), ref_d(xq_all, np.concatenate([self.xfp, extra])))
        one.close()
        many.close()

    def test_pair_dtypes_and_strides_may_differ(self):
        x16 = self.xq.astype(np.float16)
        wide = np.zeros((203, self.n + 5), np.float32)
        wide[:, 2:2 + self.n] = self.xfp
        with vqround.Hessian(self.n, asymmetric=True) as h:
            h.add(x16, wide[:, 2:2 + self.n])
            assert_close(h.d_matrix(), ref_d(x16.astype(np.float32), self.xfp))

    def test_merge_and_serialization(self):
        for f64 in (False, True):
            with self.subTest(f64=f64):
                h1 = vqround.Hessian(self.n, f64=f64, asymmetric=True).add(self.xq[:80], self.xfp[:80])
                h2 = vqround.Hessian(self.n, f64=f64, asymmetric=True).add(self.xq[80:], self.xfp[80:])
                h1.merge(h2)
                self.assertEqual(h1.tokens, 203)
                assert_close(h1.d_matrix(), ref_d(self.xq, self.xfp))
                assert_close(h1.matrix(), ref_h(self.xq))
                blob = h1.to_bytes()
                self.assertEqual(blob[:4], b"VQRH")
                with vqround.Hessian.from_bytes(blob) as g:
                    self.assertTrue(g.asymmetric)
                    self.assertEqual(g.f64, f64)
                    self.assertEqual((g.width, g.tokens), (self.n, 203))
                    np.testing.assert_array_equal(g.matrix(), h1.matrix())
                    np.testing.assert_array_equal(g.d_matrix(), h1.d_matrix())
                    self.assertEqual(g.to_bytes(), blob)
                # flags must agree: asymmetric and symmetric accumulators do not merge
                with vqround.Hessian(self.n, f64=f64) as sym, self.assertRaises(vqround.Error) as cm:
                    h1.merge(sym)
                self.assertEqual(cm.exception.status, INVALID)
                h1.close()
                h2.close()

    def test_corrupted_bytes_raise_corrupt(self):
        h = vqround.Hessian(self.n, asymmetric=True).add(self.xq, self.xfp)
        blob = h.to_bytes()
        # The payload is the upper triangle of S, then D (n x n fp32), then the CRC: flip a byte
        # inside D's part, one in S's part, and damage the ends.
        in_d = len(blob) - 4 - 4 * self.n * self.n // 2
        in_s = 40 + 8
        bad = []
        for pos in (in_d, in_s):
            b = bytearray(blob)
            b[pos] ^= 0x10
            bad.append(bytes(b))
        bad += [blob[:-1], blob[:-4 * self.n], b"XQRH" + blob[4:]]
        for data in bad:
            with self.assertRaises(vqround.Error) as cm:
                vqround.Hessian.from_bytes(data)
            self.assertEqual(cm.exception.status, vqround.Status.CORRUPT)
            self.assertTrue(cm.exception.message)
        h.close()

    def test_bad_pairs_raise_and_leave_it_unchanged(self):
        h = vqround.Hessian(self.n, asymmetric=True).add(self.xq[:10], self.xfp[:10])
        before_h, before_d = h.matrix(), h.d_matrix()
        for xq, xfp in ((self.xq[:12], self.xfp[:11]),          # row counts differ
                        (self.xq[:12], self.xfp[:12, :-1]),     # widths differ
                        (self.xq[:12, :-1], self.xfp[:12, :-1]),  # wrong width
                        (self.xq[0], self.xfp[0])):             # not 2-D
            with self.assertRaises(vqround.Error) as cm:
                h.add(xq, xfp)
            self.assertEqual(cm.exception.status, INVALID)
            self.assertTrue(cm.exception.message)
        for which in (0, 1):
            pair = [self.xq[10:20].copy(), self.xfp[10:20].copy()]
            pair[which][4, 7] = np.nan
            with self.assertRaises(vqround.Error) as cm:
                h.add(*pair)
            self.assertEqual(cm.exception.status, vqround.Status.NONFINITE)
        self.assertEqual(h.tokens, 10)
        np.testing.assert_array_equal(h.matrix(), before_h)
        np.testing.assert_array_equal(h.d_matrix(), before_d)
        h.close()


M, N, T = 32, 64, 1024


class GptaqTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # noise 0.3: GPTAQ's margin over GPTQ on the asymmetric objective is wide here (and on
        # seeds 1-3 too), so fp32 details of the library cannot flip the ordering test.
        cls.w, cls.xq, cls.xfp = asym_layer(M, N, T, seed=0, noise=0.3)
        cls.h = vqround.Hessian(N, asymmetric=True).add(cls.xq, cls.xfp)
        cls.hm, cls.dm = cls.h.matrix(), cls.h.d_matrix()

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    def q(self, **kw):
        return vqround.quantize(self.w, self.h, **kw)

    def test_asymmetric_methods_need_d(self):
        with vqround.Hessian(N) as sym:
            sym.add(self.xq)
            for method in ("gptaq", "rescomp", "gptaq_paper"):
                with self.subTest(method=method):
                    with self.assertRaises(vqround.Error) as cm:
                        vqround.quantize(self.w, sym, method=method)
                    self.assertEqual(cm.exception.status, INVALID)
                    self.assertTrue(cm.exception.message)
                    with self.assertRaises(vqround.Error):
                        vqround.quantize(self.w, None, method=method)
            with self.assertRaises(vqround.Error) as cm:
                vqround.quantize(self.w, sym, method="gptq", exact_target=True)
            self.assertEqual(cm.exception.status, INVALID)
            r = vqround.quantize(self.w, sym, method="gptq")
            self.assertTrue(math.isnan(r.asym_loss))  # no D: no asymmetric objective
            self.assertEqual((r.alpha, r.alpha2, r.outer), (0.0, 0.0, "quantized"))
        with self.assertRaises(vqround.Error) as cm:  # exact_target is a GPTQ option
            self.q(method="gptaq", exact_target=True)
        self.assertEqual(cm.exception.status, INVALID)

    def test_presets(self):
        cases = [("gptq", 4, (0.0, 0.0, "quantized")),
                 ("gptaq", 4, (0.25, 0.0, "quantized")),
                 ("gptaq", 2, (0.25, 0.0, "quantized")),
                 ("rescomp", 3, (0.25, 0.25, "prequant_clamped")),
                 ("rescomp", 4, (0.25, 0.25, "prequant_clamped")),
                 ("rescomp", 2, (0.25, 0.25, "quantized")),
                 ("gptaq_paper", 4, (1.0, 0.0, "prequant")),
                 ("gptaq_paper", 3, (1.0, 0.0, "prequant"))]
        for method, bits, want in cases:
            with self.subTest(method=method, bits=bits):
                r = self.q(method=method, bits=bits)
                self.assertEqual(r.method, method)
                self.assertEqual((r.alpha, r.alpha2, r.outer), want)
                self.assertTrue(math.isfinite(r.asym_loss))

    def test_explicit_parameters_override_the_preset(self):
        r = self.q(method="gptaq", alpha=0.5, outer="prequant")
        self.assertEqual((r.alpha, r.alpha2, r.outer), (0.5, 0.0, "prequant"))
        r = self.q(method="rescomp", bits=3, alpha2=0.1, outer="quantized")
        self.assertEqual((r.alpha, r.alpha2, r.outer), (0.25, 0.1, "quantized"))
        r = self.q(method="gptaq_paper", alpha=0.25, outer="prequant_clamped")
        self.assertEqual((r.alpha, r.alpha2, r.outer), (0.25, 0.0, "prequant_clamped"))
        # The preset spelled out runs the same computation.
        a = self.q(method="gptaq_paper", bits=3)
        b = self.q(method="gptaq", bits=3, alpha=1.0, outer="prequant")
        np.testing.assert_array_equal(a.codes, b.codes)
        c = self.q(method="rescomp", bits=4)
        d = self.q(method="gptaq", bits=4, alpha2=0.25, outer="prequant_clamped")
        np.testing.assert_array_equal(c.codes, d.codes)
        # Overrides change the result.
        self.assertFalse(np.array_equal(self.q(method="gptaq", bits=3).codes,
                                        self.q(method="gptaq", bits=3, alpha=1.0).codes))
        # alpha = alpha2 = 0 is GPTQ itself.
        z = self.q(method="gptaq", bits=3, alpha=0.0, alpha2=0.0)
        np.testing.assert_array_equal(z.codes, self.q(method="gptq", bits=3).codes)
        self.assertEqual((z.alpha, z.alpha2), (0.0, 0.0))

    def test_bad_overrides(self):
        with self.assertRaises(vqround.Error) as cm:
            self.q(method="gptaq", outer="allw")
        self.assertEqual(cm.exception.status, INVALID)
        for kw in (dict(alpha=-2.0), dict(alpha=101.0), dict(alpha2=float("nan")), dict(alpha2=-0.5)):
            with self.subTest(**kw), self.assertRaises(vqround.Error) as cm:
                self.q(method="gptaq", **kw)
            self.assertEqual(cm.exception.status, vqround.Status.OUT_OF_RANGE)

    def test_zero_asymmetry_gives_gptq(self):
        # x_fp == x_q: D = 0 exactly, so the asymmetry terms vanish and GPTAQ, paper GPTAQ and the
        # exact target reduce to GPTQ, code for code.
        with vqround.Hessian(N, asymmetric=True) as h:
            h.add(self.xq, self.xq)
            np.testing.assert_array_equal(h.d_matrix(), 0.0)
            for bits, gs, act in ((4, -1, False), (3, -1, True), (3, 16, True), (2, 32, False)):
                kw = dict(bits=bits, group_size=gs, act_order=act)
                ref = vqround.quantize(self.w, h, method="gptq", **kw)
                for method, extra in (("gptaq", {}), ("gptaq_paper", {}), ("gptq", {"exact_target": True})):
                    with self.subTest(method=method, **kw, **extra):
                        r = vqround.quantize(self.w, h, method=method, **kw, **extra)
                        np.testing.assert_array_equal(r.codes, ref.codes)
                        np.testing.assert_array_equal(r.g_idx, ref.g_idx)
                        np.testing.assert_array_equal(r.zeros, ref.zeros)
                        # The library compiles without FMA contraction, so the asymmetric
                        # update with P = 0 rounds exactly like GPTQ's: bit for bit.
                        np.testing.assert_array_equal(r.scales, ref.scales)
                        self.assertEqual(r.proxy_loss, ref.proxy_loss)

    def test_asym_loss_matches_numpy(self):
        runs = [dict(method="rtn"), dict(method="gptq"), dict(method="gptaq"),
                dict(method="rescomp"), dict(method="gptaq_paper"),
                dict(method="gptq", exact_target=True),
                dict(method="gptaq", group_size=16, act_order=True)]
        for kw in runs:
            for bits in (3, 4):
                with self.subTest(bits=bits, **kw):
                    r = self.q(bits=bits, **kw)
                    via_hd = asym_objective(r.dequantized, self.w, self.hm, self.dm)
                    direct = direct_objective(r.dequantized, self.w, self.xq, self.xfp)
                    self.assertLess(abs(r.asym_loss - via_hd), 1e-3 * abs(via_hd), (r.asym_loss, via_hd))
                    self.assertLess(abs(r.asym_loss - direct), 1e-3 * abs(direct), (r.asym_loss, direct))

    def test_asym_loss_needs_report_loss(self):
        r = self.q(method="gptaq", report_loss=False)
        self.assertTrue(math.isnan(r.asym_loss))
        self.assertTrue(math.isnan(r.proxy_loss))

    def test_methods_ordered_on_the_asymmetric_objective(self):
        # GPTAQ beats GPTQ on the objective it targets; the exact target (the continuous
        # minimizer, then GPTQ) beats all of them on this layer.
        for bits in (3, 4):
            with self.subTest(bits=bits):
                loss = {name: self.q(bits=bits, **kw).asym_loss for name, kw in (
                    ("rtn", dict(method="rtn")), ("gptq", dict(method="gptq")),
                    ("gptaq", dict(method="gptaq")), ("rescomp", dict(method="rescomp")),
                    ("gptaq_paper", dict(method="gptaq_paper")),
                    ("exact", dict(method="gptq", exact_target=True)))}
                self.assertLess(loss["gptaq"], loss["gptq"], loss)
                self.assertLess(loss["gptq"], loss["rtn"], loss)
                self.assertEqual(min(loss, key=loss.get), "exact", loss)

    def test_report_struct_size(self):
        # The library never writes past struct_size: a 0.1.0-sized report keeps the new fields.
        with self.q(method="gptaq") as r:
            rep = _lib.Report()
            rep.struct_size = 72
            rep.asym_loss, rep.alpha, rep.outer_mode = 1234.5, 6.5, 77
            self.assertEqual(_lib.lib.vqr_result_report(r._h, ctypes.byref(rep)), 0)
            self.assertEqual(rep.method, _lib.METHOD_GPTAQ)
            self.assertEqual(rep.proxy_loss, r.proxy_loss)
            self.assertEqual((rep.asym_loss, rep.alpha, rep.outer_mode), (1234.5, 6.5, 77))


def prequant_sweep(w, h, d, alpha, bits, damp=0.01, hint=None, tie_eps=0.0):
    """The exact per-column least-squares sweep of spec gptq §2.4/§9 (outer mode prequant, alpha2 =
    0) in float64: for q = 0..n-1, quantize the current column with the row's grid-(a)
    asymmetric quantizer (parameters from the original row), then
      w_F += (w_q - Q_q) H_{q,F} H_{F,F}^-1 + alpha w_q D_{q,F} H_{F,F}^-1,   F = q+1..n-1,
    with H damped by damp * mean(diag H). No blocks, no Cholesky factor. Returns the codes.
    hint: the library's codes, replayed where w / s lies within tie_eps scale units of a rounding
    boundary and the hint is one of the two neighbouring codes (the near-tie replay of the C++
    oracles, tests/common/ref_quant.h replayable_code): the library's fp32 sweep and this float64
    one may round such a value apart, by an amount that depends on the BLAS kernels' summation
    order, and a flip changes every later column of its row."""
    w = np.array(w, np.float64)
    h, d = np.asarray(h, np.float64), np.asarray(d, np.float64)
    m, n = w.shape
    assert np.all(np.diag(h) > 0), "the reference has no dead-column handling"
    hd = h + damp * np.mean(np.diag(h)) * np.eye(n)
    _, s, z, _ = rtn_grid_a(w.astype(np.float32), bits, -1, False)
    s, z = s[0].astype(np.float64), z[0].astype(np.float64)
    maxq = 2 ** bits - 1
    codes = np.empty((m, n), np.uint8)
    for q in range(n):
        wq = w[:, q].copy()
        c = np.clip(np.rint(wq / s) + z, 0, maxq)
        if hint is not None:
            t = wq / s
            lo, hi = np.clip(np.floor(t) + z, 0, maxq), np.clip(np.ceil(t) + z, 0, maxq)
            hq = hint[:, q].astype(np.float64)
            near = (lo != hi) & (np.abs(t - np.floor(t) - 0.5) < tie_eps) & ((hq == lo) | (hq == hi))
            c = np.where(near, hq, c)
        codes[:, q] = c
        if q + 1 < n:
            hff = hd[q + 1:, q + 1:]
            g_err = np.linalg.solve(hff, hd[q + 1:, q])  # = (H_{q,F} H_FF^-1)^T, H symmetric
            g_asym = np.linalg.solve(hff.T, d[q, q + 1:])  # = (D_{q,F} H_FF^-1)^T
            w[:, q + 1:] += np.outer(wq - s * (c - z), g_err) + alpha * np.outer(wq, g_asym)
    return codes


class PrequantReferenceTest(unittest.TestCase):
    def test_prequant_sweep_equals_numpy_least_squares(self):
        # 8 x 24 layer, seed 0: the library's fp32 blocked sweep must agree code for code with the
        # float64 per-column reference, up to near ties (prequant_sweep's hint), where fp32 may
        # round either way. Tie bound, in scale units: each of the n updates adds to w / s the
        # rounding error e (|e| <= 1/2) times an fp32 coefficient row of H_FF^-1 H_Fq, plus alpha
        # w_q / s (|w_q / s| <= 2^b) times one of D_qF H_FF^-1; the damped Cholesky route gives
        # those coefficients a relative error of at most about kappa u, kappa the condition number
        # of the Jacobi-scaled damped H (261 here), u = 2^-24. Together
        # tie_eps = n kappa u (1/2 + alpha 2^b): 9.4e-4 for gptaq alpha 0.25 at 3 bits, whose
        # closest approach to a boundary on this layer is 6.8e-4. Every other code must match.
        # Block sizes 128 (one block), 5 (uneven blocks) and 1: the prequant outer mode is
        # block-size invariant in exact arithmetic (spec gptq §8 item 5).
        w, xq, xfp = asym_layer(8, 24, 256, seed=0)
        with vqround.Hessian(24, asymmetric=True) as h:
            h.add(xq, xfp)
            hm, dm = h.matrix(), h.d_matrix()
            hd = np.asarray(hm, np.float64) + 0.01 * np.mean(np.diag(hm)) * np.eye(24)
            kappa = np.linalg.cond(hd / np.sqrt(np.outer(np.diag(hd), np.diag(hd))))
            for method, alpha in (("gptaq_paper", None), ("gptaq", 0.25)):
                for bits in (3, 4):
                    want = prequant_sweep(w, hm, dm, 1.0 if alpha is None else alpha, bits)
                    for block in (128, 5, 1):
                        with self.subTest(method=method, bits=bits, block_size=block):
                            kw = {} if alpha is None else dict(alpha=alpha, outer="prequant")
                            r = vqround.quantize(w, h, method=method, bits=bits, block_size=block, **kw)
                            self.assertEqual(r.outer, "prequant")
                            a = 1.0 if alpha is None else alpha
                            got = want if np.array_equal(r.codes, want) else prequant_sweep(
                                w, hm, dm, a, bits, hint=r.codes, tie_eps=24 * kappa * 2.0**-24 * (0.5 + a * 2**bits))
                            np.testing.assert_array_equal(r.codes, got)
            # The official "quantized" outer mode is a different computation (spec gptq §2.4):
            # it must not match the reference once blocks split the columns.
            r = vqround.quantize(w, h, method="gptaq", alpha=1.0, bits=4, block_size=4)
            self.assertEqual(r.outer, "quantized")
            self.assertFalse(np.array_equal(r.codes, prequant_sweep(w, hm, dm, 1.0, 4)))


if __name__ == "__main__":
    unittest.main()
