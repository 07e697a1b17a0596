// Seed tool: serialized Hessians for fuzz_hessian, made through the public API: symmetric and
// asymmetric, fp32 and fp64 accumulators, widths 16 and 64, from a few random batches. Each file is
// the harness's layout: one settings byte (CRC rewrite on, a settings index) then the bytes.
//   make_hessians OUTDIR
#include <vqround/vqround.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

bool write_seed(const std::string &path, uint8_t mode, const std::vector<uint8_t> &bytes) {
  FILE *f = fopen(path.c_str(), "wb");
  bool ok = f && fwrite(&mode, 1, 1, f) == 1 && fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (f && fclose(f) != 0) ok = false;
  if (!ok) perror(path.c_str());
  return ok;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  int index = 0;
  for (int64_t n : {16, 64}) {
    for (unsigned flags : {0u, VQR_HESSIAN_F64, VQR_HESSIAN_ASYMMETRIC, VQR_HESSIAN_F64 | VQR_HESSIAN_ASYMMETRIC}) {
      vqr_hessian *h = nullptr;
      if (vqr_hessian_create(n, flags, &h) != VQR_OK) {
        fprintf(stderr, "vqr_hessian_create: %s\n", vqr_last_error());
        return 1;
      }
      // 3 batches of 5 tokens; the full-precision stream a small perturbation of the quantized one.
      const int64_t T = 5;
      std::vector<float> xq(static_cast<size_t>(T * n)), xfp(xq.size());
      for (int batch = 0; batch < 3; ++batch) {
        for (size_t i = 0; i < xq.size(); ++i) {
          xq[i] = std::sin(0.7f * static_cast<float>(i) + 1.3f * static_cast<float>(batch));
          xfp[i] = xq[i] + 0.05f * std::cos(0.3f * static_cast<float>(i));
        }
        const vqr_tensor tq = vqr_tensor_2d(xq.data(), VQR_DTYPE_F32, T, n, 0);
        const vqr_tensor tfp = vqr_tensor_2d(xfp.data(), VQR_DTYPE_F32, T, n, 0);
        const vqr_status s = (flags & VQR_HESSIAN_ASYMMETRIC) ? vqr_hessian_add_pair(h, &tq, &tfp) : vqr_hessian_add(h, &tq);
        if (s != VQR_OK) {
          fprintf(stderr, "adding a batch: %s\n", vqr_last_error());
          return 1;
        }
      }
      size_t size = 0;
      vqr_hessian_serialized_size(h, &size);
      std::vector<uint8_t> bytes(size);
      if (vqr_hessian_serialize(h, bytes.data(), size, nullptr) != VQR_OK) {
        fprintf(stderr, "vqr_hessian_serialize: %s\n", vqr_last_error());
        return 1;
      }
      vqr_hessian_free(h);
      const std::string name = std::string(argv[1]) + "/hessian_n" + std::to_string(n) +
                               ((flags & VQR_HESSIAN_ASYMMETRIC) ? "_asym" : "_sym") +
                               ((flags & VQR_HESSIAN_F64) ? "_f64" : "_f32");
      // Settings index = the seed's number, so the seeds cover all eight; CRC rewrite on.
      if (!write_seed(name, static_cast<uint8_t>(((index++ & 7) << 1) | 1), bytes)) return 1;
    }
  }
  return 0;
}
