#pragma once
// Scans kept in a database: a scan's images, every candidate flake found in them (with a small thumbnail) and
// every review verdict. One interface, so that a facility can later point many scanners at one server
// database; SQLite (WAL, one file) is the embedded implementation. Every method is one transaction and
// thread-safe; a crash at any moment leaves the committed transactions whole.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace maskterial::store {

struct ScanInfo {
  int64_t id = 0;
  std::string name;
  std::string created;            // UTC, ISO 8601
  nlohmann::json folders = nlohmann::json::array();
  nlohmann::json settings;        // how the candidates were found (models, thresholds)
  double um_per_px = 0;
  nlohmann::json score_model;     // the flake-score model the current scores come from (null: the detector's)
  nlohmann::json last_rerank;     // null until the first re-rank
};

struct ScanCounts {
  int64_t images_total = 0, images_done = 0, images_failed = 0;
  int64_t candidates = 0, reviewed = 0, accepted = 0, rejected = 0;
};

struct ImageRecord {
  int64_t id = 0;
  std::string path;
  std::string name;  // file name
  bool done = false;
  int width = 0, height = 0;
  std::array<double, 3> background_bgr{};
  std::string error;
  std::optional<double> stage_x_um, stage_y_um;  // stage position of the image centre
};

// What a finished image brings: its size, background and candidates, or the reason it failed.
struct ImageResult {
  int width = 0, height = 0;
  std::array<double, 3> background_bgr{};
  std::string error;  // non-empty: the image could not be processed (it is not retried)
};

enum class Verdict { None, Accept, Reject };
const char* to_string(Verdict verdict);  // "accept", "reject", "" for none

struct Candidate {
  int64_t id = 0;  // assigned by the store
  int64_t image_id = 0;
  std::string image_name, image_path;  // filled when read
  int image_width = 0, image_height = 0;
  int class_id = 0;
  std::string class_name;      // current class: a relabel replaces the detected one
  std::string detected_class;
  double score = 0;            // current ranking score (re-rank changes it)
  double detector_score = 0;   // as detected
  double uncertainty = 0;
  int64_t area_px = 0;
  double area_um2 = 0;
  std::array<double, 4> bbox{};  // x, y, w, h px
  std::array<int, 2> center{};
  std::array<double, 3> mean_contrast_bgr{};
  std::vector<float> evidence;  // the flake score's evidence (score/flake_score.hpp evidence_names())
  nlohmann::json rle;           // COCO RLE {"size", "counts"}; read only where asked (export)
  std::string thumbnail_jpeg;   // written with the candidate; read through thumbnail()
  Verdict verdict = Verdict::None;
  std::string verdict_time;
  std::optional<double> stage_x_um, stage_y_um;  // filled when read, from the image's stage position
};

enum class SortKey { Score, Area, Uncertainty };

struct CandidateQuery {
  int64_t offset = 0;
  int64_t limit = 50;
  SortKey sort = SortKey::Score;
  bool descending = true;
  std::optional<std::string> class_name;
  std::optional<double> min_score, min_area_um2, max_uncertainty;
  std::optional<Verdict> verdict;  // Verdict::None = not reviewed yet
  bool with_shapes = false;        // also read the RLE (exports)
};

struct CandidatePage {
  int64_t total = 0;  // matching the filters, before offset/limit
  std::vector<Candidate> candidates;
};

// What re-ranking reads of a candidate and writes back.
struct RerankRow {
  int64_t id = 0;
  std::vector<float> evidence;
  Verdict verdict = Verdict::None;
  bool relabelled = false;
  double score = 0;
};

class ScanStore {
 public:
  virtual ~ScanStore() = default;

  // The scan of that name, created with these settings if absent (settings of an existing scan are kept).
  virtual ScanInfo open_scan(const std::string& name, const nlohmann::json& folders, const nlohmann::json& settings,
                             double um_per_px, const nlohmann::json& score_model) = 0;
  virtual std::optional<ScanInfo> find_scan(const std::string& name) = 0;
  virtual std::vector<ScanInfo> list_scans() = 0;
  virtual ScanCounts counts(int64_t scan_id) = 0;
  virtual bool delete_scan(const std::string& name) = 0;  // false if there was none

  // Registers images (by path; known ones are left as they are).
  virtual void add_images(int64_t scan_id, const std::vector<ImageRecord>& images) = 0;
  virtual std::vector<ImageRecord> pending_images(int64_t scan_id) = 0;  // not done, in path order
  virtual std::optional<ImageRecord> image(int64_t scan_id, int64_t image_id) = 0;
  // Stores an image's result and candidates in one transaction (replacing any earlier ones) and marks it done.
  virtual void save_image(int64_t scan_id, int64_t image_id, const ImageResult& result,
                          const std::vector<Candidate>& candidates) = 0;

  virtual CandidatePage candidates(int64_t scan_id, const CandidateQuery& query) = 0;
  virtual std::optional<Candidate> candidate(int64_t scan_id, int64_t id) = 0;
  virtual std::optional<std::string> thumbnail(int64_t scan_id, int64_t id) = 0;
  // Sets (or with Verdict::None clears) the verdict and, when given, the class; each change is also kept in the
  // verdict history. false if the candidate is not in the scan.
  virtual bool set_verdict(int64_t scan_id, int64_t id, Verdict verdict,
                           const std::optional<std::string>& class_name) = 0;

  virtual std::vector<RerankRow> rerank_rows(int64_t scan_id) = 0;  // every candidate, by id
  // New scores (by id), the refitted model and the summary, in one transaction.
  virtual void save_rerank(int64_t scan_id, const std::vector<RerankRow>& rows, const nlohmann::json& score_model,
                           const nlohmann::json& summary) = 0;
};

// Opens (creating if missing) an SQLite scan database and migrates its schema to the current version. Throws
// Error naming the file when it cannot be opened, is not a scan database, or is from a newer maskterial.
std::unique_ptr<ScanStore> open_sqlite_scan_store(const std::string& path);
// The schema version this build writes (PRAGMA user_version).
int scan_store_schema_version();

// Parses "accept", "reject" or "none"; throws Error otherwise.
Verdict parse_verdict(const std::string& text);

}  // namespace maskterial::store
