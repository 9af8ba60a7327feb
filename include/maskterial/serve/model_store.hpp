#pragma once
// The models a server offers, kept in a directory: ROOT/classification/<name>/ and ROOT/segmentation/<name>/,
// plus the built-in graphene GMM and the shipped segmentation model (read-only). Loaded models are immutable and handed out as
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
class SegmentationModel;     // src/serve/segmentation_backend.hpp

enum class ModelKind { Classification, Segmentation };

// "classification" or "segmentation"; anything else throws HttpError 404.
ModelKind parse_model_kind(const std::string& text);
const char* to_string(ModelKind kind);

// Names become directory and file names, so they are 1-64 (files: 1-128) characters of [A-Za-z0-9._-]
// starting with a letter or digit: no separators, no "..", no hidden files. Throw HttpError 400 otherwise.
void check_model_name(const std::string& name);
void check_file_name(const std::string& name);

constexpr const char* kBuiltinClassificationModel = "graphene-2dmatgmm";
// The segmentation_model a request names to find flakes from the classifier alone.
constexpr const char* kNoSegmentationModel = "none";

using ModelFiles = std::vector<std::pair<std::string, std::string>>;  // file name, content

class ModelStore {
 public:
  // Creates the kind folders if missing, removes leftovers of interrupted uploads (only when no other server
  // uses the folder: they may be its uploads in progress) and loads every model. A model that does not load,
  // for whatever reason, is still listed, with its error, so it can be replaced or deleted.
  // builtin_segmentation_dir: the shipped segmentation model `detect` uses by default, offered read-only
  // under its folder's name (absent if the folder is missing).
  ModelStore(std::filesystem::path root, std::filesystem::path builtin_segmentation_dir);
  ~ModelStore();

  const std::filesystem::path& root() const { return root_; }

  nlohmann::json list() const;  // {"classification": [description...], "segmentation": [...]}
  nlohmann::json describe(ModelKind kind, const std::string& name) const;  // HttpError 404 if unknown
  std::string file(ModelKind kind, const std::string& name, const std::string& file_name) const;
  // HttpError 404 if unknown, 409 if the model exists but failed to load.
  std::shared_ptr<const ClassificationModel> classification_model(const std::string& name) const;
  std::shared_ptr<const SegmentationModel> segmentation_model(const std::string& name) const;
  // The name of the segmentation model used when a request names none (detect's default); HttpError 409
  // when the shipped model is missing.
  std::string default_segmentation_model() const;
  // "name" and "hash" (of its files) of a model, for the provenance of predictions.
  nlohmann::json provenance(ModelKind kind, const std::string& name) const;

  // Throws HttpError 400 (bad name), 403 (built-in) or 409 (exists and !overwrite) if `name` cannot be
  // installed; install and training jobs check this before doing any work.
  void check_installable(ModelKind kind, const std::string& name, bool overwrite) const;
  // Writes the files into a temporary directory, loads them (HttpError 422 with the loader's message if that
  // fails), then moves the directory into place. Returns the new model's description.
  nlohmann::json install(ModelKind kind, const std::string& name, const ModelFiles& files, bool overwrite);
  // Same for a directory already written (by a training job) inside root()/<kind>/; it is moved, not copied.
  nlohmann::json install_directory(ModelKind kind, const std::string& name, const std::filesystem::path& dir,
                                   bool overwrite);
  // A fresh, empty directory on the models' file system for building a model to install.
  std::filesystem::path make_staging_directory(ModelKind kind, const std::string& name);
  void remove(ModelKind kind, const std::string& name);  // HttpError 403 built-in, 404 unknown

 private:
  struct Entry {
    std::shared_ptr<const ClassificationModel> classification;  // one of the two, or none if loading failed
    std::shared_ptr<const SegmentationModel> segmentation;
    std::string error;
    std::string hash;
    bool builtin = false;
    std::filesystem::path dir;  // its files; empty for the built-in classification model (files in memory)
    bool loaded() const { return classification || segmentation; }
  };
  std::filesystem::path kind_dir(ModelKind kind) const;
  std::map<std::string, Entry>& entries(ModelKind kind) { return kind == ModelKind::Classification ? classification_ : segmentation_; }
  const std::map<std::string, Entry>& entries(ModelKind kind) const {
    return kind == ModelKind::Classification ? classification_ : segmentation_;
  }
  Entry entry(ModelKind kind, const std::string& name) const;  // a copy; HttpError 404
  Entry load_entry(ModelKind kind, const std::filesystem::path& dir, const std::string& display_name) const;
  void load_folder(ModelKind kind, bool remove_leftovers);
  std::filesystem::path unique_sibling(ModelKind kind, const char* prefix, const std::string& name);

  std::filesystem::path root_;
  ModelFiles builtin_files_;
  std::string builtin_segmentation_;  // name, empty when the shipped model is missing
  std::filesystem::path builtin_segmentation_dir_;
  int lock_fd_ = -1;                  // flock on root/.lock, shared while this store lives
  mutable std::mutex entries_mutex_;  // guards the maps (held briefly, never during disk I/O)
  std::map<std::string, Entry> classification_, segmentation_;
  std::mutex write_mutex_;            // one install or remove at a time
  size_t staging_counter_ = 0;        // guarded by write_mutex_
};

}  // namespace maskterial::serve
