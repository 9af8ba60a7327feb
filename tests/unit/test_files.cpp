#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

TEST(Files, AtomicWriteReplacesWholeFileAndLeavesNoTemp) {
  const fs::path dir = fs::temp_directory_path() / "mt_files_test";
  fs::remove_all(dir);
  const std::string path = (dir / "sub" / "out.json").string();
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir / "sub")) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

TEST(Files, MissingAndMalformedFilesNameTheFile) {
  try {
    read_json("/nonexistent/x.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.json"), std::string::npos);
  }
  const std::string bad = (fs::temp_directory_path() / "mt_bad.json").string();
  write_file_atomic(bad, "{\"a\": [1, 2");
  try {
    read_json(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos);
  }
}

TEST(Files, ConcurrentAtomicWritesOfOnePathNeverCollide) {
  const fs::path dir = fs::temp_directory_path() / ("mt_files_threads_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string path = (dir / "out.bin").string();
  std::vector<std::string> contents;
  for (char c = 'a'; c < 'a' + 6; ++c) contents.emplace_back(size_t{1} << 16, c);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (const auto& content : contents)
    threads.emplace_back([&, content] {
      for (int i = 0; i < 40; ++i) {
        try {
          write_file_atomic(path, content);
        } catch (const Error&) {
          ++failures;  // one temporary name per process: another thread renamed it away
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const std::string final_content = read_file(path);
  EXPECT_NE(std::find(contents.begin(), contents.end(), final_content), contents.end()) << "mixed content";
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1u);  // no temporary left
  fs::remove_all(dir);
}

TEST(Files, ReplacedDirectoryIsNeverMissing) {
  const fs::path dir = fs::temp_directory_path() / ("mt_files_dir_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string target = (dir / "model").string();
  const auto fill = [](const std::string& tmp) { write_file_atomic(tmp + "/model.json", "{}"); };
  write_directory_atomic(target, fill);
  std::atomic<bool> done{false};
  std::atomic<long> missing{0}, looks{0};
  std::thread reader([&] {
    while (!done) {
      std::error_code ec;
      if (!fs::exists(target + "/model.json", ec)) ++missing;
      ++looks;
    }
  });
  for (int i = 0; i < 300; ++i) write_directory_atomic(target, fill);
  done = true;
  reader.join();
  EXPECT_EQ(missing.load(), 0) << "of " << looks.load() << " looks";
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += (void(e), 1);
  EXPECT_EQ(entries, 1u);  // no temporary or old directory left
  fs::remove_all(dir);
}

TEST(Files, FolderWithASymlinkLoopListsTheLoopAsAnInput) {
  const fs::path dir = fs::temp_directory_path() / ("mt_files_loop_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_file_atomic((dir / "a.png").string(), "x");
  fs::create_symlink(dir / "loop.png", dir / "loop.png");
  fs::create_directories(dir / "sub.png");  // a folder with an image extension is not an input
  const auto found = list_images({dir.string()});
  EXPECT_EQ(found, (std::vector<std::string>{(dir / "a.png").string(), (dir / "loop.png").string()}));
  fs::remove_all(dir);
}
