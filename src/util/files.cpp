#include "maskterial/util/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <algorithm>
#include <cctype>
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

namespace {

std::string open_problem(int error) {
  switch (error) {
    case ENOENT: return "no such file";
    case ELOOP: return "a loop of symbolic links (or too many of them in a row)";
    case EACCES: return "permission denied";
    case ENOTDIR: return "a part of the path is not a folder";
    default: return std::string("cannot open: ") + std::strerror(error);
  }
}

// Only regular files are read (a FIFO, socket or device is refused, and opening never blocks).
int open_regular_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw file_error(path, open_problem(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw file_error(path, S_ISDIR(st.st_mode) ? "is a folder, expected a file"
                                               : "not a regular file (a FIFO, socket or device); only files are read");
  }
  return fd;
}

}  // namespace

std::string read_file(const std::string& path) {
  const int fd = open_regular_file(path);
  std::string content;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw file_error(path, "read error: " + why);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
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

namespace {

// New files and folders get the permissions open() and mkdir() would give them (0666 / 0777 minus the
// umask), not mkstemp's 0600. The umask is read from /proc: umask() reads it only by changing it, which races
// with other threads creating files.
mode_t process_umask() {
  static const mode_t mask = [] {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
    return static_cast<mode_t>(022);
  }();
  return mask;
}

// Makes a rename or a new entry in `dir` durable.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the data itself is already synced
  ::fsync(fd);
  ::close(fd);
}

void write_all(int fd, const std::string& content, const std::string& path) {
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw file_error(path, std::string("write failed: ") + std::strerror(errno));
    written += static_cast<size_t>(n);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw file_error(target.parent_path().string(), "cannot create folder: " + ec.message());
  }
  std::string tmp = path + ".tmp-XXXXXX";  // unique per call: threads of one process never share it
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw file_error(path, std::string("cannot write: ") + std::strerror(errno));
  try {
    ::fchmod(fd, 0666 & ~process_umask());
    write_all(fd, content, path);
    if (::fsync(fd) != 0) throw file_error(path, std::string("write failed: ") + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw file_error(path, "cannot move result into place: " + why);
  }
  sync_directory(target.parent_path());
}

void move_directory_into_place(const std::string& fresh, const std::string& target) {
  const fs::path parent = fs::path(target).parent_path();
  std::error_code ec;
  if (fs::exists(target, ec)) {
    // Swap in one step, so readers see the old or the new directory, never neither; then drop the old one.
    if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
      sync_directory(parent);
      fs::remove_all(fresh, ec);
      return;
    }
    if (errno != EINVAL && errno != ENOSYS)  // else: the file system cannot exchange; replace in two steps
      throw file_error(target, std::string("cannot replace: ") + std::strerror(errno));
    const fs::path old = fresh + ".old";
    fs::rename(target, old, ec);
    if (ec) throw file_error(target, "cannot replace: " + ec.message());
    fs::rename(fresh, target, ec);
    if (ec) {
      const std::string why = ec.message();
      fs::rename(old, target, ec);
      throw file_error(target, "cannot replace: " + why);
    }
    fs::remove_all(old, ec);
  } else {
    fs::rename(fresh, target, ec);
    if (ec) throw file_error(target, "cannot move into place: " + ec.message());
  }
  sync_directory(parent);
}

namespace {

bool is_atomic_write_temporary(const std::string& file_name) {
  // "<name>.tmp-XXXXXX", as mkstemp / mkdtemp fill in the six characters
  const size_t at = file_name.rfind(".tmp-");
  if (at == std::string::npos || at == 0 || file_name.size() != at + 11) return false;
  return std::all_of(file_name.begin() + static_cast<std::ptrdiff_t>(at) + 5, file_name.end(),
                     [](unsigned char c) { return std::isalnum(c); });
}

}  // namespace

size_t remove_stale_temporaries(const std::string& dir) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code type_error;
    if (!entry.is_regular_file(type_error) || !is_atomic_write_temporary(entry.path().filename().string())) continue;
    if (fs::remove(entry.path(), type_error)) ++removed;
  }
  return removed;
}

void write_directory_atomic(const std::string& dir, const std::function<void(const std::string&)>& fill) {
  const fs::path target = fs::path(dir).lexically_normal();
  std::string tmp = target.string() + ".tmp-XXXXXX";
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (!::mkdtemp(tmp.data())) throw file_error(dir, std::string("cannot create folder: ") + std::strerror(errno));
  ::chmod(tmp.c_str(), 0777 & ~process_umask());
  try {
    fill(tmp);
    sync_directory(tmp);
    move_directory_into_place(tmp, target.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

std::string json_text(const nlohmann::json& value, int indent) { return value.dump(indent) + "\n"; }

void write_json_atomic(const std::string& path, const nlohmann::json& value, int indent) {
  write_file_atomic(path, json_text(value, indent));
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
        if (!has_image_extension(entry.path().string())) continue;
        // An entry whose type cannot be read (a symlink loop, a dangling link) is kept, to be reported as a
        // failed item of the batch like a missing file; only folders and other non-files are skipped.
        std::error_code type_error;
        const bool regular = entry.is_regular_file(type_error);
        if (regular || type_error) found.push_back(entry.path().string());
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

std::string content_hash(const std::vector<std::pair<std::string, std::string>>& files) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  const auto feed = [&](const std::string& bytes) {
    for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ull;
  };
  for (const auto& [name, content] : files) {
    feed(name + '\0');
    feed(content);
  }
  char text[32];
  std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::string content_hash(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> names;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file(ec)) names.push_back(e.path());
    std::sort(names.begin(), names.end());
    for (const auto& file : names) files.emplace_back(file.filename().string(), read_file(file.string()));
  } else {
    files.emplace_back("", read_file(path));
  }
  return content_hash(files);
}

}  // namespace maskterial
