#include "maskterial/serve/model_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "classification_backend.hpp"
#include "maskterial/serve/http_error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr const char* kStagingPrefix = ".staging-";
constexpr const char* kTrashPrefix = ".trash-";

void check_name(const std::string& name, size_t max_length, const char* what) {
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  };
  bool ok = !name.empty() && name.size() <= max_length && name.find("..") == std::string::npos &&
            std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && allowed(c);
  if (!ok)
    throw HttpError(400, std::string("invalid ") + what + " '" + name + "': use 1-" + std::to_string(max_length) +
                             " characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, no '..'");
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); !from.empty() && at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// Swaps two directory entries atomically (Linux renameat2); where the file system cannot, falls back to
// moving the old one aside first (a request arriving in between sees "not found", never a broken model).
void replace_directory(const fs::path& fresh, const fs::path& target, const fs::path& trash) {
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    fs::rename(fresh, trash);  // `fresh` now names the old model
    return;
  }
  fs::rename(target, trash);
  fs::rename(fresh, target);
}

nlohmann::json files_of(const fs::path& dir) {
  nlohmann::json files = nlohmann::json::array();
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) entries.push_back(e);
  std::sort(entries.begin(), entries.end());
  for (const auto& e : entries) files.push_back({{"name", e.path().filename().string()}, {"size", e.file_size()}});
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

void check_model_name(const std::string& name) { check_name(name, 64, "model name"); }
void check_file_name(const std::string& name) { check_name(name, 128, "file name"); }

ModelStore::ModelStore(fs::path root) : root_(std::move(root)), builtin_files_(builtin_classification_model_files()) {
  for (ModelKind kind : {ModelKind::Classification, ModelKind::Segmentation}) {
    std::error_code ec;
    fs::create_directories(kind_dir(kind), ec);
    if (ec) throw file_error(kind_dir(kind).string(), "cannot create the models folder: " + ec.message());
  }
  Entry builtin;
  builtin.builtin = true;
  builtin.model = builtin_classification_model();
  classification_[kBuiltinClassificationModel] = builtin;

  for (ModelKind kind : {ModelKind::Classification, ModelKind::Segmentation}) {
    for (const auto& e : fs::directory_iterator(kind_dir(kind))) {
      const std::string name = e.path().filename().string();
      if (name.rfind(kStagingPrefix, 0) == 0 || name.rfind(kTrashPrefix, 0) == 0) {
        spdlog::info("removing {} (left by an interrupted upload)", e.path().string());
        fs::remove_all(e.path());
        continue;
      }
      if (!e.is_directory()) continue;
      try {
        check_model_name(name);
      } catch (const HttpError& error) {
        spdlog::warn("{}: skipped, {}", e.path().string(), error.what());
        continue;
      }
      if (kind == ModelKind::Segmentation) {
        spdlog::warn("{}: skipped, this build has no segmentation models yet", e.path().string());
        continue;
      }
      if (name == kBuiltinClassificationModel) {
        spdlog::warn("{}: skipped, the name is the built-in model's", e.path().string());
        continue;
      }
      Entry entry = load_entry(e.path(), std::string(to_string(kind)) + "/" + name);
      if (!entry.error.empty()) spdlog::warn("{}", entry.error);
      classification_[name] = std::move(entry);
    }
  }
}

ModelStore::~ModelStore() = default;

fs::path ModelStore::kind_dir(ModelKind kind) const { return root_ / to_string(kind); }

ModelStore::Entry ModelStore::load_entry(const fs::path& dir, const std::string& display_name) const {
  Entry entry;
  try {
    entry.model = load_classification_model(dir);
  } catch (const Error& e) {
    // Messages name the file; show it under the model's name, not the server's (possibly temporary) path.
    entry.error = replace_all(e.what(), dir.string(), display_name);
  }
  return entry;
}

nlohmann::json ModelStore::list() const {
  nlohmann::json out = {{"classification", nlohmann::json::array()}, {"segmentation", nlohmann::json::array()}};
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(entries_mutex_);
    for (const auto& [name, entry] : classification_) names.push_back(name);
  }
  for (const auto& name : names) {
    try {
      out["classification"].push_back(describe(ModelKind::Classification, name));
    } catch (const HttpError&) {
      // deleted in between
    }
  }
  return out;
}

nlohmann::json ModelStore::describe(ModelKind kind, const std::string& name) const {
  check_model_name(name);
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(entries_mutex_);
    const auto it = classification_.find(name);
    if (kind != ModelKind::Classification || it == classification_.end())
      throw HttpError(404, std::string("no ") + to_string(kind) + " model named '" + name + "'");
    entry = it->second;
  }
  nlohmann::json d = {{"name", name}, {"kind", to_string(kind)}, {"builtin", entry.builtin}};
  if (entry.model) {
    d["status"] = "ready";
    d["type"] = entry.model->type;
    d["description"] = entry.model->description;
    d["classes"] = entry.model->class_names();
  } else {
    d["status"] = "error";
    d["error"] = entry.error;
  }
  if (entry.builtin) {
    d["files"] = nlohmann::json::array();
    for (const auto& [file_name, content] : builtin_files_) d["files"].push_back({{"name", file_name}, {"size", content.size()}});
  } else {
    d["files"] = files_of(kind_dir(kind) / name);
  }
  return d;
}

std::string ModelStore::file(ModelKind kind, const std::string& name, const std::string& file_name) const {
  check_file_name(file_name);
  const nlohmann::json d = describe(kind, name);
  if (d["builtin"].get<bool>()) {
    for (const auto& [builtin_name, content] : builtin_files_)
      if (builtin_name == file_name) return content;
  } else {
    for (const auto& f : d["files"])
      if (f["name"] == file_name) return read_file((kind_dir(kind) / name / file_name).string());
  }
  throw HttpError(404, "model '" + name + "' has no file '" + file_name + "'");
}

std::shared_ptr<const ClassificationModel> ModelStore::classification_model(const std::string& name) const {
  std::lock_guard<std::mutex> lock(entries_mutex_);
  const auto it = classification_.find(name);
  if (it == classification_.end()) throw HttpError(404, "no classification model named '" + name + "'");
  if (!it->second.model)
    throw HttpError(409, "classification model '" + name + "' failed to load: " + it->second.error);
  return it->second.model;
}

void ModelStore::check_installable(ModelKind kind, const std::string& name, bool overwrite) const {
  check_model_name(name);
  if (kind == ModelKind::Segmentation)
    throw HttpError(422, "segmentation models cannot be loaded by this version of maskterial yet");
  if (name == kBuiltinClassificationModel) throw HttpError(403, "'" + name + "' is built in and read-only");
  std::lock_guard<std::mutex> lock(entries_mutex_);
  if (!overwrite && classification_.count(name))
    throw HttpError(409, std::string(to_string(kind)) + " model '" + name +
                             "' exists; delete it first or ask for overwrite=1");
}

fs::path ModelStore::make_staging_directory(ModelKind kind, const std::string& name) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  const fs::path dir = kind_dir(kind) / (std::string(kStagingPrefix) + name + "-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(++staging_counter_));
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
    fs::remove_all(staging);
    throw;
  }
  return install_directory(kind, name, staging, overwrite);
}

nlohmann::json ModelStore::install_directory(ModelKind kind, const std::string& name, const fs::path& dir,
                                             bool overwrite) {
  try {
    check_installable(kind, name, overwrite);
    Entry entry = load_entry(dir, std::string(to_string(kind)) + "/" + name);
    if (!entry.model) throw HttpError(422, "model not accepted: " + entry.error);
    {
      std::lock_guard<std::mutex> write_lock(write_mutex_);
      check_installable(kind, name, overwrite);  // another upload may have taken the name meanwhile
      const fs::path target = kind_dir(kind) / name;
      if (fs::exists(target)) {
        const fs::path trash = kind_dir(kind) / (std::string(kTrashPrefix) + name + "-" + std::to_string(::getpid()));
        fs::remove_all(trash);
        replace_directory(dir, target, trash);
        fs::remove_all(trash);
      } else {
        fs::rename(dir, target);
      }
      std::lock_guard<std::mutex> lock(entries_mutex_);
      classification_[name] = std::move(entry);
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
    const auto it = classification_.find(name);
    if (kind != ModelKind::Classification || it == classification_.end())
      throw HttpError(404, std::string("no ") + to_string(kind) + " model named '" + name + "'");
    if (it->second.builtin) throw HttpError(403, "'" + name + "' is built in and cannot be deleted");
    classification_.erase(it);
  }
  const fs::path trash = kind_dir(kind) / (std::string(kTrashPrefix) + name + "-" + std::to_string(::getpid()));
  std::error_code ec;  // a broken model's folder may already be gone
  fs::remove_all(trash, ec);
  fs::rename(kind_dir(kind) / name, trash, ec);
  fs::remove_all(trash, ec);
  spdlog::info("deleted {} model '{}'", to_string(kind), name);
}

}  // namespace maskterial::serve
