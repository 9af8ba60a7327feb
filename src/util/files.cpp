#include "maskterial/util/files.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/util/error.hpp"

namespace fs = std::filesystem;

namespace maskterial {

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw file_error(path, "no such file");
  if (fs::is_directory(path, ec)) throw file_error(path, "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw file_error(path, "read error");
  return buffer.str();
}

namespace {
template <typename Json>
Json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("malformed JSON (") + e.what() + ")");
  }
}
}  // namespace

nlohmann::json read_json(const std::string& path) { return parse_json_file<nlohmann::json>(path); }
nlohmann::ordered_json read_ordered_json(const std::string& path) {
  return parse_json_file<nlohmann::ordered_json>(path);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw file_error(target.parent_path().string(), "cannot create folder: " + ec.message());
  }
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw file_error(path, std::string("cannot write: ") + std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      throw file_error(path, "write failed (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw file_error(path, "cannot move result into place: " + ec.message());
  }
}

void write_directory_atomic(const std::string& dir, const std::function<void(const std::string&)>& fill) {
  static std::atomic<unsigned> counter{0};
  const fs::path target = fs::path(dir).lexically_normal();
  const std::string suffix = std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const fs::path tmp = target.string() + ".tmp-" + suffix;
  const fs::path old = target.string() + ".old-" + suffix;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw file_error(tmp.string(), "cannot create folder: " + ec.message());
  try {
    fill(tmp.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  const bool had_old = fs::exists(target);
  if (had_old) {
    fs::rename(target, old, ec);
    if (ec) {
      fs::remove_all(tmp, ec);
      throw file_error(dir, "cannot replace: " + ec.message());
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    const std::string why = ec.message();
    if (had_old) fs::rename(old, target, ec);
    fs::remove_all(tmp, ec);
    throw file_error(dir, "cannot write: " + why);
  }
  if (had_old) fs::remove_all(old, ec);
}

void write_json_atomic(const std::string& path, const nlohmann::json& value, int indent) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

void write_json_atomic(const std::string& path, const nlohmann::ordered_json& value, int indent) {
  write_file_atomic(path, value.dump(indent) + "\n");
}

void write_image_atomic(const std::string& path, const cv::Mat& image) {
  std::string ext = fs::path(path).extension().string();
  if (ext.empty()) throw file_error(path, "no image extension to pick the format from");
  std::vector<uchar> bytes;
  try {
    if (!cv::imencode(ext, image, bytes)) throw file_error(path, "image encoding failed");
  } catch (const cv::Exception& e) {
    throw file_error(path, std::string("image encoding failed: ") + e.what());
  }
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".tif" || ext == ".tiff" ||
         ext == ".bmp";
}

std::vector<std::string> list_images(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(input, ec)) {
        if (entry.is_regular_file() && has_image_extension(entry.path().string()))
          found.push_back(entry.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      // Missing files are kept: the caller reports them as a failed item of the batch.
      files.push_back(input);
    }
  }
  return files;
}

}  // namespace maskterial
