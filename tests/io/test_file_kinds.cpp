// Paths that are not regular files, handed where a file is read (issue 20: "wrong answers to wrong
// inputs"): a folder read as text used to give an empty text (vqr_sequences_from_file returned
// VQR_OK with no sequences), /dev/zero would be read without end, and a FIFO blocked in open() or
// was reported as "no such file or folder". Each now fails at once with Status::Io (VQR_ERR_IO)
// and a message that says what the path is.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <string>

#include "common/scratch_files.h"
#include "core/error.h"
#include "io/files.h"
#include "model/data_dir.h"
#include "vqround/vqround.h"

namespace {

using vqr_test::TempDir;

// Runs fn, expecting vqr::Error(Status::Io) whose message contains `needle`.
template <class Fn>
void expect_io(Fn fn, const std::string &needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing \"" << needle << "\"";
  } catch (const vqr::Error &e) {
    EXPECT_EQ(e.status(), vqr::Status::Io) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(FileKinds, ReadersRefuseWhatIsNotARegularFile) {
  TempDir dir("file_kinds");
  const std::string fifo = dir.path() + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(vqr::io::not_a_regular_file(dir.path()), "is a folder, not a file");
  expect_io([&] { vqr::io::read_file(dir.path(), "hint"); }, "is a folder");
  expect_io([&] { vqr::io::read_file(fifo, "hint"); }, "FIFO");  // returns: the open never happens
  expect_io([&] { vqr::io::read_file("/dev/zero", "hint"); }, "is a device");
  expect_io([&] { vqr::io::read_file(dir.path() + "/missing.txt", "hint"); }, "cannot open");
  vqr_test::write_file(dir.path() + "/ok.txt", "text");
  EXPECT_EQ(vqr::io::read_file(dir.path() + "/ok.txt", "hint"), "text");
}

// Through the C API, as an embedding program meets it: calibration text from a folder, and a model
// or tokenizer path that is a FIFO.
TEST(FileKinds, TheCApiSaysWhatThePathIs) {
  VQR_DATA_DIR_OR_SKIP(data);
  TempDir dir("file_kinds_capi");
  const std::string fifo = dir.path() + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string model = data + "/models/stories260K/stories260K.bin";
  vqr_model *m = nullptr;
  ASSERT_EQ(vqr_model_load(model.c_str(), (data + "/models/stories260K/tok512.bin").c_str(), &m), VQR_OK);
  vqr_sequences *s = nullptr;
  EXPECT_EQ(vqr_sequences_from_file(m, dir.path().c_str(), 0, VQR_SAMPLE_PARAGRAPHS, 0, 0, 0, &s), VQR_ERR_IO);
  EXPECT_NE(std::string(vqr_last_error()).find("is a folder"), std::string::npos) << vqr_last_error();
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(vqr_sequences_from_file(m, fifo.c_str(), 1, VQR_SAMPLE_WINDOWS, 0, 0, 0, &s), VQR_ERR_IO);
  EXPECT_NE(std::string(vqr_last_error()).find("FIFO"), std::string::npos) << vqr_last_error();
  vqr_model_free(m);
  vqr_model *bad = nullptr;
  EXPECT_EQ(vqr_model_load(fifo.c_str(), nullptr, &bad), VQR_ERR_IO);
  EXPECT_NE(std::string(vqr_last_error()).find("FIFO"), std::string::npos) << vqr_last_error();
  EXPECT_EQ(vqr_model_load(model.c_str(), fifo.c_str(), &bad), VQR_ERR_IO);
  EXPECT_NE(std::string(vqr_last_error()).find("FIFO"), std::string::npos) << vqr_last_error();
}

}  // namespace
