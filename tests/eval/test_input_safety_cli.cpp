// Bad input outside training is refused, not silently replaced or read forever: a NaN or infinite
// sampling flag, a prompt / text / config "file" that is a device or a FIFO. Each is a one-line
// error naming the flag or file, before the model is loaded where possible.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "model_fixture.h"
#include "support/run_program.h"

namespace {

namespace fs = std::filesystem;
using harpe::testing::ProgramResult;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// `harpe ARGS` under a time limit (a FIFO opened for reading blocks until a writer comes) and a
// memory limit (a device such as /dev/urandom would otherwise be read until memory runs out).
// AddressSanitizer reserves terabytes of shadow address space at start, which no `ulimit -v` leaves
// room for, so the sanitizer build keeps only the time limit.
ProgramResult harpe_limited(const std::string& args) {
  const std::string memory_limit = kAddressSanitizer ? "" : "ulimit -v 8000000; ";
  return harpe::testing::run_shell(memory_limit + "timeout 60 " + std::string(HARPE_BINARY) + " " +
                                   args);
}

void expect_error(const std::string& args, const std::string& fragment) {
  const ProgramResult r = harpe_limited(args);
  EXPECT_EQ(r.code, 1) << args << "\n" << r.out;
  std::string last = r.out;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  EXPECT_EQ(last.find('\n'), std::string::npos) << args << "\n" << r.out;  // nothing else printed
  EXPECT_EQ(last.rfind("harpe: error: ", 0), 0u) << args << "\n" << r.out;
  EXPECT_NE(last.find(fragment), std::string::npos) << args << "\n" << r.out;
}

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("harpe-test-safety-" + std::to_string(::getpid()));
  Scratch() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string fifo(const std::string& name) const {
    const std::string p = (dir / name).string();
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0);
    return p;
  }
};

TEST(InputSafetyCli, GenerateRefusesNonFiniteSamplingFlags) {
  const auto& ck = harpe::eval::testing::tiny_checkpoint();
  const std::string g = "generate -q --model " + ck.model_dir + " --prompt hello -n 4 ";
  expect_error(g + "--temperature nan", "--temperature");
  expect_error(g + "--temperature inf", "--temperature");
  expect_error(g + "--temperature -nan", "--temperature");
  expect_error(g + "--top-p nan", "--top-p");
  expect_error(g + "--temperature 0.7 --top-p nan", "--top-p");
  expect_error(g + "--capacity -5", "--capacity");
  // Still fine: greedy, and sampling with finite values.
  EXPECT_EQ(harpe_limited(g).code, 0);
  EXPECT_EQ(harpe_limited(g + "--temperature 0.8 --top-p 0.9 --seed 3").code, 0);
}

TEST(InputSafetyCli, PromptAndTextFilesMustBeRegularFiles) {
  const auto& ck = harpe::eval::testing::tiny_checkpoint();
  Scratch s;
  const std::string g = "generate -q --model " + ck.model_dir + " -n 2 --prompt-file ";
  expect_error(g + "/dev/null", "--prompt-file /dev/null: a character device, not a regular file");
  expect_error(g + "/dev/urandom", "--prompt-file /dev/urandom: a character device");
  expect_error(g + s.fifo("prompt"), "a FIFO, not a regular file");
  expect_error(g + s.dir.string(), "a directory");
  const std::string t = "eval tokens --model " + ck.model_dir + " --text-file ";
  expect_error(t + "/dev/zero", "--text-file /dev/zero: a character device");
  expect_error(t + s.fifo("text"), "--text-file");
  expect_error("eval tasks --task niah_single_1 --essay " + s.fifo("essay"), "--essay");
}

TEST(InputSafetyCli, ConfigMustBeARegularFile) {
  const auto& ck = harpe::eval::testing::tiny_checkpoint();
  Scratch s;
  // A checkpoint directory whose config.json is a FIFO (the weights and tokenizer are real).
  const fs::path m = s.dir / "model";
  fs::create_directories(m);
  fs::copy_file(fs::path(ck.model_dir) / "model.safetensors", m / "model.safetensors");
  fs::copy_file(fs::path(ck.model_dir) / "tokenizer.model", m / "tokenizer.model");
  ASSERT_EQ(::mkfifo((m / "config.json").c_str(), 0600), 0);
  expect_error("generate -q --prompt hi --model " + m.string(), "config.json: a FIFO");
  fs::remove(m / "config.json");
  fs::create_symlink("/dev/zero", m / "config.json");
  expect_error("generate -q --prompt hi --model " + m.string(), "config.json: a character device");
}

}  // namespace
