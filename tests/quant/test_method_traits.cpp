// The method-traits table (quant/method_traits.h): one row per method in enum order, the names the
// C API gives, the bounds of VQR_PARAM_METHOD, facts that agree with each other, and presets that
// resolve_presets reads from it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <string>

#include "core/error.h"
#include "quant/config.h"
#include "quant/method_traits.h"
#include "vqround/vqround.h"

namespace {

using vqr::quant::Method;
using vqr::quant::MethodFamily;
using vqr::quant::MethodTraits;

TEST(MethodTraits, OneRowPerMethodWithTheCApiNames) {
  std::set<std::string> names;
  for (int m = 0; m < vqr::quant::kMethodCount; ++m) {
    const MethodTraits *t = vqr::quant::find_method_traits((Method)m);
    ASSERT_NE(t, nullptr) << m;
    EXPECT_EQ((int)t->method, m);
    ASSERT_NE(vqr_method_name((vqr_method)m), nullptr);
    EXPECT_STREQ(t->name, vqr_method_name((vqr_method)m));
    EXPECT_TRUE(names.insert(t->name).second) << "duplicate name " << t->name;
    EXPECT_GT(std::strlen(t->stage), 0u);
  }
  for (int m : {-1, vqr::quant::kMethodCount}) {
    EXPECT_EQ(vqr::quant::find_method_traits((Method)m), nullptr);
    EXPECT_EQ(vqr_method_name((vqr_method)m), nullptr);
    try {
      vqr::quant::method_traits((Method)m);
      ADD_FAILURE() << "method " << m << " accepted";
    } catch (const vqr::Error &e) {
      EXPECT_EQ(e.status(), vqr::Status::Unsupported);
    }
  }
  vqr_bounds b{};
  b.struct_size = sizeof b;
  ASSERT_EQ(vqr_param_bounds(VQR_PARAM_METHOD, &b), VQR_OK);
  EXPECT_EQ(b.lower, 0);
  EXPECT_EQ(b.upper, vqr::quant::kMethodCount - 1);
}

TEST(MethodTraits, FactsAgree) {
  for (int m = 0; m < vqr::quant::kMethodCount; ++m) {
    const MethodTraits &t = vqr::quant::method_traits((Method)m);
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.needs_hessian, t.family != MethodFamily::kRoundToNearest);
    EXPECT_EQ(vqr::quant::is_learned_method((Method)m), t.family == MethodFamily::kLearnedRounding);
    if (t.needs_d) {  // D comes only from the (X_q, X_fp) pairs of the fp stream, and only the sweep reads alpha
      EXPECT_TRUE(t.needs_fp_stream);
      EXPECT_EQ(t.family, MethodFamily::kGptqSweep);
    }
    if (t.exact_target) {
      EXPECT_EQ(t.family, MethodFamily::kGptqSweep);
    }
    if (t.family == MethodFamily::kLearnedRounding) {
      EXPECT_GT(t.learned.steps, 0);
    }
  }
}

// resolve_presets fills every preset marker from the table, and only the methods that need D keep
// alpha, alpha2 and the outer mode.
TEST(MethodTraits, PresetsComeFromTheTable) {
  for (int bits : {2, 4})
    for (int m = 0; m < vqr::quant::kMethodCount; ++m) {
      const MethodTraits &t = vqr::quant::method_traits((Method)m);
      SCOPED_TRACE(std::string(t.name) + " at " + std::to_string(bits) + " bits");
      vqr::quant::QuantConfig c;
      c.method = (Method)m;
      c.bits = bits;
      const vqr::quant::QuantConfig r = vqr::quant::resolve_presets(c);
      EXPECT_EQ(r.alpha, t.needs_d ? t.sweep.alpha : 0.0);
      EXPECT_EQ(r.alpha2, t.needs_d ? t.sweep.alpha2 : 0.0);
      EXPECT_EQ(r.outer, !t.needs_d ? vqr::quant::OuterMode::Quantized : bits >= 3 ? t.sweep.outer : t.sweep.outer_2_bits);
      if (t.family != MethodFamily::kLearnedRounding) {
        EXPECT_EQ(r.steps, -1);
        continue;
      }
      EXPECT_EQ(r.steps, t.learned.steps);
      EXPECT_EQ(r.lr, t.learned.sign_sgd ? 1.0 / (double)t.learned.steps : t.learned.lr);
      EXPECT_EQ(r.minmax_lr, r.lr);
      EXPECT_EQ(r.warmup, t.learned.warmup);
      EXPECT_EQ(r.beta_schedule, t.learned.beta_schedule);
      EXPECT_EQ(r.reg_weight, t.learned.reg_weight);
      // In the objective's units the preset is the references' lambda (spec learned_rounding §3.3).
      c.reg_units = vqr::quant::RegUnits::Objective;
      EXPECT_EQ(vqr::quant::resolve_presets(c).reg_weight, vqr::quant::kReferenceRegWeight);
    }
}

}  // namespace
