#pragma once
// The models a server offers, kept in a directory: ROOT/classification/<name>/ and ROOT/segmentation/<name>/,
// plus the built-in graphene GMM (read-only). Loaded models are immutable and handed out as
// shared_ptr<const ...>: an upload or delete swaps the entry under a lock, and requests that already hold the
// old model finish with it. Uploads are validated by loading them from a temporary directory, which is then
// renamed into place, so a half-written or broken model never appears under its name.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace maskterial::serve {

struct ClassificationModel;  // src/serve/classification_backend.hpp

enum class ModelKind { Classification, Segmentation };

// "classification" or "segmentation"; anything else throws HttpError 404.
ModelKind parse_model_kind(const std::string& text);
const char* to_string(ModelKind kind);

// Names become directory and file names, so they are 1-64 (files: 1-128) characters of [A-Za-z0-9._-]
// starting with a letter or digit: no separators, no "..", no hidden files. Throw HttpError 400 otherwise.
void check_model_name(const std::string& name);
void check_file_name(const std::string& name);

constexpr const char* kBuiltinClassificationModel = "graphene-2dmatgmm";

using ModelFiles = std::vector<std::pair<std::string, std::string>>;  // file name, content

class ModelStore {
 public:
  // Creates the kind folders if missing, removes leftovers of interrupted uploads and loads every model.
  // A model that does not load is still listed, with its error, so it can be replaced or deleted.
  explicit ModelStore(std::filesystem::path root);
  ~ModelStore();

  const std::filesystem::path& root() const { return root_; }

  nlohmann::json list() const;  // {"classification": [description...], "segmentation": [...]}
  nlohmann::json describe(ModelKind kind, const std::string& name) const;  // HttpError 404 if unknown
  std::string file(ModelKind kind, const std::string& name, const std::string& file_name) const;
  // HttpError 404 if unknown, 409 if the model exists but failed to load.
  std::shared_ptr<const ClassificationModel> classification_model(const std::string& name) const;

  // Throws HttpError 400 (bad name), 403 (built-in) or 409 (exists and !overwrite) if `name` cannot be
  // installed; install and training jobs check this before doing any work.
  void check_installable(ModelKind kind, const std::string& name, bool overwrite) const;
  // Writes the files into a temporary directory, loads them (HttpError 422 with the loader's message if that
  // fails), then renames the directory into place. Returns the new model's description.
  nlohmann::json install(ModelKind kind, const std::string& name, const ModelFiles& files, bool overwrite);
  // Same for a directory already written (by a training job) inside root()/<kind>/; it is moved, not copied.
  nlohmann::json install_directory(ModelKind kind, const std::string& name, const std::filesystem::path& dir,
                                   bool overwrite);
  // A fresh, empty directory on the models' file system for building a model to install.
  std::filesystem::path make_staging_directory(ModelKind kind, const std::string& name);
  void remove(ModelKind kind, const std::string& name);  // HttpError 403 built-in, 404 unknown

 private:
  struct Entry {
    std::shared_ptr<const ClassificationModel> model;  // null if loading failed
    std::string error;
    bool builtin = false;
  };
  std::filesystem::path kind_dir(ModelKind kind) const;
  Entry load_entry(const std::filesystem::path& dir, const std::string& display_name) const;

  std::filesystem::path root_;
  ModelFiles builtin_files_;
  mutable std::mutex entries_mutex_;  // guards classification_ (held briefly, never during disk I/O)
  std::map<std::string, Entry> classification_;
  std::mutex write_mutex_;            // one install or remove at a time
  size_t staging_counter_ = 0;        // guarded by write_mutex_
};

}  // namespace maskterial::serve
