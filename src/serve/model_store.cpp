#include "maskterial/serve/model_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "classification_backend.hpp"
#include "http_helpers.hpp"
#include "maskterial/core/embedded_models.hpp"
#include "segmentation_backend.hpp"
#include "maskterial/serve/http_error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr const char* kStagingPrefix = ".staging-";
constexpr const char* kTrashPrefix = ".trash-";
constexpr const char* kLockFile = ".lock";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); !from.empty() && at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The regular files of a model directory; files deleted while it is listed are left out.
nlohmann::json files_of(const fs::path& dir) {
  nlohmann::json files = nlohmann::json::array();
  std::error_code ec;
  std::vector<std::pair<std::string, uintmax_t>> found;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code entry_error;
    if (!e.is_regular_file(entry_error)) continue;
    const uintmax_t size = e.file_size(entry_error);
    if (!entry_error) found.emplace_back(e.path().filename().string(), size);
  }
  std::sort(found.begin(), found.end());
  for (const auto& [name, size] : found) files.push_back({{"name", name}, {"size", size}});
  return files;
}

}  // namespace

ModelKind parse_model_kind(const std::string& text) {
  if (text == "classification") return ModelKind::Classification;
  if (text == "segmentation") return ModelKind::Segmentation;
  throw HttpError(404, "unknown model kind '" + text + "' (kinds: classification, segmentation)");
}

const char* to_string(ModelKind kind) {
  return kind == ModelKind::Classification ? "classification" : "segmentation";
}

ModelStore::ModelStore(fs::path root, fs::path builtin_segmentation_dir)
    : root_(std::move(root)), builtin_files_(builtin_classification_model_files()) {
  for (ModelKind kind : {ModelKind::Classification, ModelKind::Segmentation}) {
    std::error_code ec;
    fs::create_directories(kind_dir(kind), ec);
    if (ec) throw file_error(kind_dir(kind).string(), "cannot create the models folder: " + ec.message());
  }
  // Every server on this folder holds a shared lock; leftovers are only removed by one that finds itself
  // alone (an exclusive lock), since another server's staging directories are its uploads in progress.
  lock_fd_ = ::open((root_ / kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw file_error((root_ / kLockFile).string(), "cannot create the lock file");
  const bool alone = ::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0;
  ::flock(lock_fd_, LOCK_SH);
  if (!alone) spdlog::info("another server uses {}: leftovers of interrupted uploads are kept", root_.string());

  Entry builtin;
  builtin.builtin = true;
  builtin.classification = builtin_classification_model();
  builtin.hash = default_gmm_hash();
  classification_[kBuiltinClassificationModel] = builtin;
  std::error_code ec;
  if (fs::is_directory(builtin_segmentation_dir, ec)) {
    const std::string name = builtin_segmentation_dir.filename().string();
    Entry shipped = load_entry(ModelKind::Segmentation, builtin_segmentation_dir, builtin_segmentation_dir.string());
    shipped.builtin = true;
    if (!shipped.error.empty()) spdlog::warn("{}", shipped.error);
    segmentation_[name] = std::move(shipped);
    builtin_segmentation_ = name;
    builtin_segmentation_dir_ = builtin_segmentation_dir;
  } else {
    spdlog::warn("no shipped segmentation model at {}: predictions need segmentation_model", builtin_segmentation_dir.string());
  }
  for (ModelKind kind : {ModelKind::Classification, ModelKind::Segmentation}) load_folder(kind, alone);
}

ModelStore::~ModelStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void ModelStore::load_folder(ModelKind kind, bool remove_leftovers) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kind_dir(kind), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kStagingPrefix, 0) == 0 || name.rfind(kTrashPrefix, 0) == 0) {
      if (remove_leftovers) {
        spdlog::info("removing {} (left by an interrupted upload)", e.path().string());
        fs::remove_all(e.path(), ec);
      }
      continue;
    }
    std::error_code type_error;  // a symlink loop or an unreadable entry is a broken model, not a crash
    if (!e.is_directory(type_error) && !type_error) continue;
    try {
      check_model_name(name);
    } catch (const HttpError& error) {
      spdlog::warn("{}: skipped, {}", e.path().string(), error.what());
      continue;
    }
    if (entries(kind).count(name)) {
      spdlog::warn("{}: skipped, the name is a built-in model's", e.path().string());
      continue;
    }
    Entry entry = load_entry(kind, e.path(), std::string(to_string(kind)) + "/" + name);
    if (!entry.error.empty()) spdlog::warn("{}", entry.error);
    entries(kind)[name] = std::move(entry);
  }
}

fs::path ModelStore::kind_dir(ModelKind kind) const { return root_ / to_string(kind); }

ModelStore::Entry ModelStore::load_entry(ModelKind kind, const fs::path& dir, const std::string& display_name) const {
  Entry entry;
  entry.dir = dir;
  try {
    if (kind == ModelKind::Classification) {
      entry.classification = load_classification_model(dir);
    } else {
      auto model = std::make_shared<SegmentationModel>(dir);
      entry.segmentation = model;
    }
    entry.hash = content_hash(dir.string());
  } catch (const std::exception& e) {
    // Any failure, not only the loaders' own errors (a JSON type error, a file system error, bad_alloc), makes
    // a broken model, never a server that stops. Messages show the model's name, not the (temporary) path.
    entry.classification.reset();
    entry.segmentation.reset();
    // Clients see the message; a libtorch stack trace goes to the log only.
    const std::string full = replace_all(e.what(), dir.string(), display_name);
    entry.error = without_backtrace(full);
    if (entry.error.find(display_name) == std::string::npos) entry.error = display_name + ": " + entry.error;
    if (entry.error.size() < full.size()) spdlog::warn("{} (in full): {}", display_name, full);
  }
  return entry;
}

ModelStore::Entry ModelStore::entry(ModelKind kind, const std::string& name) const {
  check_model_name(name);
  std::lock_guard<std::mutex> lock(entries_mutex_);
  const auto& map = entries(kind);
  const auto it = map.find(name);
  if (it == map.end()) throw HttpError(404, std::string("no ") + to_string(kind) + " model named '" + name + "'");
  return it->second;
}

nlohmann::json ModelStore::list() const {
  nlohmann::json out = {{"classification", nlohmann::json::array()}, {"segmentation", nlohmann::json::array()}};
  for (ModelKind kind : {ModelKind::Classification, ModelKind::Segmentation}) {
    std::vector<std::string> names;
    {
      std::lock_guard<std::mutex> lock(entries_mutex_);
      for (const auto& [name, entry] : entries(kind)) names.push_back(name);
    }
    for (const auto& name : names) {
      try {
        out[to_string(kind)].push_back(describe(kind, name));
      } catch (const HttpError&) {
        // deleted in between
      }
    }
  }
  return out;
}

nlohmann::json ModelStore::describe(ModelKind kind, const std::string& name) const {
  const Entry e = entry(kind, name);
  nlohmann::json d = {{"name", name}, {"kind", to_string(kind)}, {"builtin", e.builtin}};
  if (e.classification) {
    d["type"] = e.classification->type;
    d["description"] = e.classification->description;
    d["classes"] = e.classification->class_names();
  } else if (e.segmentation) {
    d["type"] = e.segmentation->type();
    d["description"] = e.segmentation->description();
  }
  d["status"] = e.loaded() ? "ready" : "error";
  if (!e.loaded()) d["error"] = e.error;
  if (!e.hash.empty()) d["hash"] = e.hash;
  if (kind == ModelKind::Segmentation && name == builtin_segmentation_) d["default"] = true;
  if (e.dir.empty()) {
    d["files"] = nlohmann::json::array();
    for (const auto& [file_name, content] : builtin_files_) d["files"].push_back({{"name", file_name}, {"size", content.size()}});
  } else {
    d["files"] = files_of(e.dir);
  }
  return d;
}

std::string ModelStore::file(ModelKind kind, const std::string& name, const std::string& file_name) const {
  check_file_name(file_name);
  const Entry e = entry(kind, name);
  if (e.dir.empty()) {
    for (const auto& [builtin_name, content] : builtin_files_)
      if (builtin_name == file_name) return content;
  } else {
    for (const auto& f : files_of(e.dir))
      if (f["name"] == file_name) return read_file((e.dir / file_name).string());
  }
  throw HttpError(404, "model '" + name + "' has no file '" + file_name + "'");
}

std::shared_ptr<const ClassificationModel> ModelStore::classification_model(const std::string& name) const {
  const Entry e = entry(ModelKind::Classification, name);
  if (!e.loaded()) throw HttpError(409, "classification model '" + name + "' failed to load: " + e.error);
  return e.classification;
}

std::shared_ptr<const SegmentationModel> ModelStore::segmentation_model(const std::string& name) const {
  const Entry e = entry(ModelKind::Segmentation, name);
  if (!e.loaded()) throw HttpError(409, "segmentation model '" + name + "' failed to load: " + e.error);
  return e.segmentation;
}

std::string ModelStore::default_segmentation_model() const {
  if (builtin_segmentation_.empty())
    throw HttpError(409, "the default segmentation model is missing (no shipped model found; set MASKTERIAL_MODELS "
                         "to the models folder); choose one with 'segmentation_model', or 'none' for flakes from "
                         "the classifier alone");
  return builtin_segmentation_;
}

nlohmann::json ModelStore::provenance(ModelKind kind, const std::string& name) const {
  const Entry e = entry(kind, name);
  return {{"name", name}, {"hash", e.hash}, {"builtin", e.builtin}};
}

void ModelStore::check_installable(ModelKind kind, const std::string& name, bool overwrite) const {
  check_model_name(name);
  if (kind == ModelKind::Segmentation && name == kNoSegmentationModel)
    throw HttpError(400, "'none' is reserved: it asks for no segmentation model");
  std::lock_guard<std::mutex> lock(entries_mutex_);
  const auto& map = entries(kind);
  const auto it = map.find(name);
  if (it == map.end()) return;
  if (it->second.builtin) throw HttpError(403, "'" + name + "' is built in and read-only");
  if (!overwrite)
    throw HttpError(409, std::string(to_string(kind)) + " model '" + name +
                             "' exists; delete it first or ask for overwrite=1");
}

fs::path ModelStore::unique_sibling(ModelKind kind, const char* prefix, const std::string& name) {
  // Unique per server (pid) and per call (counter); callers hold write_mutex_ or make_staging_directory's lock.
  return kind_dir(kind) / (std::string(prefix) + name + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(++staging_counter_));
}

fs::path ModelStore::make_staging_directory(ModelKind kind, const std::string& name) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  const fs::path dir = unique_sibling(kind, kStagingPrefix, name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

nlohmann::json ModelStore::install(ModelKind kind, const std::string& name, const ModelFiles& files, bool overwrite) {
  check_installable(kind, name, overwrite);
  if (files.empty()) throw HttpError(400, "the upload holds no model file");
  for (const auto& [file_name, content] : files) check_file_name(file_name);
  const fs::path staging = make_staging_directory(kind, name);
  try {
    for (const auto& [file_name, content] : files) write_file_atomic((staging / file_name).string(), content);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
  return install_directory(kind, name, staging, overwrite);
}

nlohmann::json ModelStore::install_directory(ModelKind kind, const std::string& name, const fs::path& dir,
                                             bool overwrite) {
  try {
    check_installable(kind, name, overwrite);
    Entry entry = load_entry(kind, dir, std::string(to_string(kind)) + "/" + name);
    if (!entry.loaded()) throw HttpError(422, "model not accepted: " + entry.error);
    {
      std::lock_guard<std::mutex> write_lock(write_mutex_);
      check_installable(kind, name, overwrite);  // another upload may have taken the name meanwhile
      const fs::path target = kind_dir(kind) / name;
      move_directory_into_place(dir.string(), target.string());
      entry.dir = target;
      if (entry.segmentation) std::const_pointer_cast<SegmentationModel>(entry.segmentation)->set_dir(target);
      std::lock_guard<std::mutex> lock(entries_mutex_);
      entries(kind)[name] = std::move(entry);
    }
    spdlog::info("installed {} model '{}'", to_string(kind), name);
    return describe(kind, name);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    throw;
  }
}

void ModelStore::remove(ModelKind kind, const std::string& name) {
  check_model_name(name);
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  {
    std::lock_guard<std::mutex> lock(entries_mutex_);
    auto& map = entries(kind);
    const auto it = map.find(name);
    if (it == map.end()) throw HttpError(404, std::string("no ") + to_string(kind) + " model named '" + name + "'");
    if (it->second.builtin) throw HttpError(403, "'" + name + "' is built in and cannot be deleted");
    map.erase(it);
  }
  const fs::path trash = unique_sibling(kind, kTrashPrefix, name);
  std::error_code ec;  // a broken model's folder may already be gone
  fs::rename(kind_dir(kind) / name, trash, ec);
  fs::remove_all(trash, ec);
  spdlog::info("deleted {} model '{}'", to_string(kind), name);
}

}  // namespace maskterial::serve
