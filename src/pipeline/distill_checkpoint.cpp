// End-to-end distillation checkpoints (distill_checkpoint.h).
#include "pipeline/distill_checkpoint.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <new>

#include "core/crc32.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"

namespace vqr::pipeline {

namespace {

constexpr char kMagic[8] = {'V', 'Q', 'R', 'D', 'S', 'T', 'L', '1'};
constexpr uint32_t kVersion = 1;
// Longest setting name the reader accepts (ours are under 32 bytes).
constexpr uint32_t kMaxNameBytes = 256;

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A reader that keeps the CRC of what it read and refuses to read past the file's end.
struct Reader {
  std::FILE *f;
  const std::string &path;
  int64_t left;
  uint32_t crc = 0;
  void read(void *out, size_t bytes) {
    if ((int64_t)bytes > left || (bytes > 0 && std::fread(out, 1, bytes, f) != bytes))
      throw Error(Status::Corrupt, path + ": the checkpoint ends early");
    left -= (int64_t)bytes;
    crc = crc32_update(crc, out, bytes);
  }
  template <typename T>
  T value() {
    T v;
    read(&v, sizeof v);
    return v;
  }
  // n values of T, after checking that the file still holds them.
  template <typename T>
  std::vector<T> array(int64_t n) {
    if (n < 0 || n > left / (int64_t)sizeof(T))
      throw Error(Status::Corrupt, path + ": the checkpoint claims " + std::to_string(n) + " values, more than it holds");
    std::vector<T> v;
    try {
      v.resize((size_t)n);
    } catch (const std::bad_alloc &) {
      throw Error(Status::OutOfMemory, path + ": cannot allocate " + std::to_string(n) + " values");
    }
    read(v.data(), (size_t)n * sizeof(T));
    return v;
  }
};

}  // namespace

void write_distill_checkpoint(const std::string &path, const DistillKey &key, const DistillState &s) {
  io::AtomicFile out(path);
  uint32_t crc = 0;
  auto put = [&](const void *p, size_t bytes) {
    out.write(p, bytes);
    crc = crc32_update(crc, p, bytes);
  };
  auto put_value = [&](auto v) { put(&v, sizeof v); };
  put(kMagic, 8);
  put_value(kVersion);
  put_value((uint32_t)key.settings.size());
  for (const auto &[name, value] : key.settings) {
    put_value((uint32_t)name.size());
    put(name.data(), name.size());
    put_value(value);
  }
  put_value(key.model_hash);
  put_value(key.tokens_hash);
  put_value(key.start_hash);
  put_value(s.step);
  put_value(s.optimizer_steps);
  put_value(s.tokens);
  put_value(s.seconds);
  put_value((int64_t)s.params.size());
  for (size_t g = 0; g < s.params.size(); ++g) {
    put_value((int64_t)s.params[g].size());
    put(s.params[g].data(), s.params[g].size() * sizeof(float));
    if (!s.first.empty()) {
      put(s.first[g].data(), s.first[g].size() * sizeof(float));
      put(s.second[g].data(), s.second[g].size() * sizeof(float));
    }
  }
  put_value(s.best_step);
  put_value(s.best_score);
  put_value((uint8_t)(s.best_params.empty() ? 0 : 1));
  for (const auto &p : s.best_params) put(p.data(), p.size() * sizeof(float));
  put_value((int64_t)s.loss.size());
  put(s.loss.data(), s.loss.size() * sizeof(double));
  put(s.reg.data(), s.reg.size() * sizeof(double));
  put_value((int64_t)s.evals.size());
  for (const DistillEval &e : s.evals) {
    put_value(e.step);
    put_value(e.kl);
    put_value(e.nll);
  }
  out.write(&crc, 4);
  out.commit();
}

DistillState read_distill_checkpoint(const std::string &path, const DistillKey &expected,
                                     const std::vector<int64_t> &sizes, bool adam, int64_t max_steps) {
  io::FilePtr file = io::open_for_reading(path, "a run with a checkpoint path writes it; drop --resume to start over");
  std::FILE *f = file.get();
  if (std::fseek(f, 0, SEEK_END) != 0) throw Error(Status::Io, path + ": cannot seek");
  const long size = std::ftell(f);
  if (size < 0 || std::fseek(f, 0, SEEK_SET) != 0) throw Error(Status::Io, path + ": cannot seek");
  if (size < 16) throw Error(Status::Corrupt, path + ": too short for a checkpoint");
  Reader r{f, path, (int64_t)size - 4};
  char magic[8];
  r.read(magic, 8);
  if (std::memcmp(magic, kMagic, 8) != 0) throw Error(Status::Corrupt, path + ": not a distillation checkpoint");
  const uint32_t version = r.value<uint32_t>();
  if (version != kVersion)
    throw Error(Status::Corrupt, path + ": checkpoint version " + std::to_string(version) + ", this library reads " +
                                     std::to_string(kVersion));

  // The key, compared field by field so the message names every difference.
  std::string diff;
  auto differ = [&](const std::string &field, const std::string &a, const std::string &b) {
    if (a != b) diff += (diff.empty() ? "" : "; ") + field + ": checkpoint " + a + ", this run " + b;
  };
  const uint32_t count = r.value<uint32_t>();
  if (count > 4096) throw Error(Status::Corrupt, path + ": " + std::to_string(count) + " settings");
  std::vector<std::pair<std::string, double>> got;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t len = r.value<uint32_t>();
    if (len > kMaxNameBytes) throw Error(Status::Corrupt, path + ": a setting name of " + std::to_string(len) + " bytes");
    std::string name(len, '\0');
    r.read(name.data(), len);
    got.emplace_back(name, r.value<double>());
  }
  for (const auto &[name, value] : expected.settings) {
    const std::pair<std::string, double> *match = nullptr;
    for (const auto &g : got)
      if (g.first == name) match = &g;
    differ(name, match ? number(match->second) : "absent", number(value));
  }
  for (const auto &g : got) {
    bool known = false;
    for (const auto &e : expected.settings) known |= e.first == g.first;
    if (!known) differ(g.first, number(g.second), "absent");
  }
  differ("model content hash (another model or other weights)", hex(r.value<uint64_t>()), hex(expected.model_hash));
  differ("token data hash (other calibration sequences)", hex(r.value<uint64_t>()), hex(expected.tokens_hash));
  differ("start hash (another initialization or codebook)", hex(r.value<uint64_t>()), hex(expected.start_hash));
  if (!diff.empty())
    throw Error(Status::InvalidArgument, path + ": made by another run: " + diff +
                                             "; hint: resume with the settings that made it, or drop --resume");

  DistillState s;
  s.step = r.value<int64_t>();
  s.optimizer_steps = r.value<int64_t>();
  s.tokens = r.value<int64_t>();
  s.seconds = r.value<double>();
  if (s.step < 0 || s.step > max_steps || s.optimizer_steps < 0 || s.optimizer_steps > s.step)
    throw Error(Status::Corrupt, path + ": step " + std::to_string(s.step) + " outside 0.." + std::to_string(max_steps));
  const int64_t groups = r.value<int64_t>();
  if (groups != (int64_t)sizes.size())
    throw Error(Status::Corrupt, path + ": " + std::to_string(groups) + " parameter groups, the run has " +
                                     std::to_string(sizes.size()));
  for (size_t g = 0; g < sizes.size(); ++g) {
    const int64_t n = r.value<int64_t>();
    if (n != sizes[g])
      throw Error(Status::Corrupt, path + ": group " + std::to_string(g) + " holds " + std::to_string(n) +
                                       " values, the run's " + std::to_string(sizes[g]));
    s.params.push_back(r.array<float>(n));
    if (adam) {
      s.first.push_back(r.array<float>(n));
      s.second.push_back(r.array<float>(n));
    }
  }
  s.best_step = r.value<int64_t>();
  s.best_score = r.value<double>();
  if (s.best_step < -2 || s.best_step > s.step)
    throw Error(Status::Corrupt, path + ": best step " + std::to_string(s.best_step));
  if (r.value<uint8_t>() != 0)
    for (int64_t n : sizes) s.best_params.push_back(r.array<float>(n));
  const int64_t history = r.value<int64_t>();
  if (history != s.step) throw Error(Status::Corrupt, path + ": " + std::to_string(history) + " losses for step " + std::to_string(s.step));
  s.loss = r.array<double>(history);
  s.reg = r.array<double>(history);
  const int64_t evals = r.value<int64_t>();
  if (evals < 0 || evals > s.step + 1) throw Error(Status::Corrupt, path + ": " + std::to_string(evals) + " evaluations");
  for (int64_t i = 0; i < evals; ++i) {
    DistillEval e;
    e.step = r.value<int64_t>();
    e.kl = r.value<double>();
    e.nll = r.value<double>();
    s.evals.push_back(e);
  }
  if (r.left != 0) throw Error(Status::Corrupt, path + ": " + std::to_string(r.left) + " bytes too many");
  const uint32_t computed = r.crc;
  uint32_t stored = 0;
  if (std::fread(&stored, 1, 4, f) != 4 || stored != computed) throw Error(Status::Corrupt, path + ": checksum mismatch");
  return s;
}

}  // namespace vqr::pipeline
