// Temporary files and folders of io::AtomicFile and io::write_folder_atomically (issue 20, hostile
// input: output files). Two writers of one path each get their own temporary (they used to share
// "<path>.tmp" and "<dir>.partial-<pid>" and clobber each other); leftovers of a killed writer are
// swept by the next writer of the same path only when their process is gone; every failure leaves
// neither output nor temporary; the final file keeps the mode fopen would give it.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/scratch_files.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace {

namespace fs = std::filesystem;
using vqr_test::TempDir;

// The names in `dir`, sorted: the output and whatever a writer left beside it.
std::vector<std::string> names_in(const std::string &dir) {
  std::vector<std::string> names;
  for (const auto &e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The pid of a process that has certainly ended: a child that exited and was reaped. The kernel
// hands pids out in increasing order before wrapping, so it is not reused within a test.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

std::string payload(char c, size_t bytes) { return std::string(bytes, c); }

void write_whole(const std::string &path, const std::string &bytes) {
  vqr::io::AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

// Both writers open before either writes, then write and commit in turn: with a shared temporary
// the second open truncated the first's file, and the second commit found it renamed away.
TEST(AtomicFile, InterleavedWritersOfOnePathEachProduceAWholeFile) {
  TempDir dir("atomic_interleaved");
  const std::string path = dir.file("out.bin");
  const std::string a = payload('a', 100000), b = payload('b', 70000);
  vqr::io::AtomicFile first(path), second(path);
  first.write(a.data(), a.size());
  second.write(b.data(), b.size());
  first.commit();
  EXPECT_TRUE(vqr_test::read_file(path) == a) << "not the first writer's bytes";
  second.commit();
  EXPECT_TRUE(vqr_test::read_file(path) == b) << "not the second writer's bytes";
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, ConcurrentThreadsWritingOnePathLeaveOneWholeFile) {
  TempDir dir("atomic_threads");
  const std::string path = dir.file("out.bin");
  const std::string a = payload('a', 1 << 20), b = payload('b', 1 << 20);
  std::string error_a, error_b;
  auto writer = [&](const std::string &bytes, std::string *error) {
    try {
      vqr::io::AtomicFile f(path);
      for (size_t at = 0; at < bytes.size(); at += 4096) f.write(bytes.data() + at, 4096);
      f.commit();
    } catch (const std::exception &e) {
      *error = e.what();
    }
  };
  std::thread ta(writer, std::cref(a), &error_a), tb(writer, std::cref(b), &error_b);
  ta.join();
  tb.join();
  EXPECT_EQ(error_a, "");
  EXPECT_EQ(error_b, "");
  const std::string got = vqr_test::read_file(path);
  EXPECT_TRUE(got == a || got == b) << "a mixture of both writers, " << got.size() << " bytes";
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, TemporaryCarriesThePidAndIsRemovedWithoutCommit) {
  TempDir dir("atomic_discard");
  const std::string path = dir.file("out.bin");
  {
    vqr::io::AtomicFile f(path);
    f.write("x", 1);
    const std::vector<std::string> names = names_in(dir.path());
    ASSERT_EQ(names.size(), 1u);
    const std::string prefix = "out.bin.tmp-" + std::to_string(::getpid()) + "-";
    EXPECT_EQ(names[0].compare(0, prefix.size(), prefix), 0) << names[0];
    EXPECT_EQ(names[0].size(), prefix.size() + 6) << names[0];
  }  // destroyed before commit(): an error or a cancel
  EXPECT_TRUE(names_in(dir.path()).empty());
}

// mkstemp would create the temporary 0600 and the renamed file would keep it; an export must get
// the mode any other new file gets.
TEST(AtomicFile, FinalFileHasTheModeFopenGives) {
  TempDir dir("atomic_mode");
  const mode_t old = ::umask(027);
  write_whole(dir.file("out.bin"), "abc");
  ::umask(old);
  struct stat st{};
  ASSERT_EQ(::stat(dir.file("out.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(AtomicFile, StaleTemporaryOfADeadWriterIsRemovedALiveOneKept) {
  TempDir dir("atomic_stale");
  const std::string path = dir.file("out.bin");
  const std::string dead = path + ".tmp-" + std::to_string(dead_pid()) + "-a1B2c3";
  const std::string live = path + ".tmp-" + std::to_string(::getpid()) + "-zZ9yY8";
  const std::string other = dir.file("other.bin.tmp-" + std::to_string(dead_pid()) + "-q1w2e3");
  vqr_test::write_file(dead, "half of a killed run");
  vqr_test::write_file(live, "another writer, still running");
  vqr_test::write_file(other, "another output's leftover");
  write_whole(path, "done");
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));  // the sweep looks at this output's temporaries only
  EXPECT_EQ(vqr_test::read_file(path), "done");
}

// A write that fails like a full disk: the file size limit makes write(2) fail with EFBIG (SIGXFSZ
// ignored). Run in a child so the limit does not reach the rest of the tests.
TEST(AtomicFile, FailedWriteLeavesNeitherFileNorTemporary) {
  TempDir dir("atomic_full");
  const std::string path = dir.file("out.bin");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit limit = {4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const std::string big = payload('z', 1 << 20);
    try {
      write_whole(path, big);
    } catch (const vqr::Error &e) {
      ::_exit(e.status() == vqr::Status::Io ? 0 : 2);
    }
    ::_exit(1);  // the write "succeeded"
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error, 2: not Status::Io";
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(AtomicFolder, ExceptionInTheFillLeavesNothing) {
  TempDir dir("folder_throw");
  const std::string out = dir.file("model");
  EXPECT_THROW(vqr::io::write_folder_atomically(out,
                                                [&](const std::string &tmp) {
                                                  write_whole(tmp + "/a.bin", "complete");
                                                  fs::create_directory(tmp + "/sub");
                                                  vqr_test::write_file(tmp + "/sub/b.bin", "half");
                                                  throw std::runtime_error("disk on fire");
                                                }),
               std::runtime_error);
  EXPECT_TRUE(names_in(dir.path()).empty());
}

// A second writer of the same folder runs while the first is filling (nested, so the order is
// fixed). With one "<dir>.partial-<pid>" per process the second wiped the first's files; now the
// second finishes, and the first fails to rename over it and removes only its own temporary.
TEST(AtomicFolder, SecondWriterOfOneFolderDoesNotTouchTheFirstsFiles) {
  TempDir dir("folder_nested");
  const std::string out = dir.file("model");
  std::string first_tmp;
  try {
    vqr::io::write_folder_atomically(out, [&](const std::string &tmp) {
      first_tmp = tmp;
      write_whole(tmp + "/first.bin", "first");
      vqr::io::write_folder_atomically(out, [&](const std::string &tmp2) {
        EXPECT_NE(tmp2, tmp);
        write_whole(tmp2 + "/second.bin", "second");
      });
      EXPECT_EQ(vqr_test::read_file(tmp + "/first.bin"), "first");
    });
    ADD_FAILURE() << "renamed over a finished folder";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::Io) << e.what();
  }
  EXPECT_EQ(names_in(out), std::vector<std::string>{"second.bin"});
  EXPECT_EQ(vqr_test::read_file(out + "/second.bin"), "second");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"model"});
}

TEST(AtomicFolder, StaleFolderOfADeadWriterIsRemovedALiveOneKept) {
  TempDir dir("folder_stale");
  const std::string out = dir.file("model");
  const std::string dead = out + ".partial-" + std::to_string(dead_pid()) + "-Ab3dE5";
  const std::string live = out + ".partial-" + std::to_string(::getpid()) + "-xY7wV6";
  for (const std::string &d : {dead, live}) {
    fs::create_directories(d + "/sub");
    vqr_test::write_file(d + "/sub/w.bin", "weights");
  }
  vqr::io::write_folder_atomically(out, [](const std::string &tmp) { write_whole(tmp + "/a.bin", "a"); });
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live + "/sub/w.bin"));
  EXPECT_EQ(vqr_test::read_file(out + "/a.bin"), "a");
}

TEST(AtomicFolder, TemporaryIsRecognizableAndFinalFolderHasTheUsualMode) {
  TempDir dir("folder_name");
  const std::string out = dir.file("model");
  const mode_t old = ::umask(027);
  std::string seen;
  vqr::io::write_folder_atomically(out, [&](const std::string &tmp) { seen = tmp; });
  ::umask(old);
  const std::string prefix = out + ".partial-" + std::to_string(::getpid()) + "-";
  EXPECT_EQ(seen.compare(0, prefix.size(), prefix), 0) << seen;
  EXPECT_EQ(seen.size(), prefix.size() + 6) << seen;
  struct stat st{};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);  // mkdtemp's 0700 would hide the model from the group
}

}  // namespace
