// ScanStore on one SQLite file. One connection, its use serialised by a mutex: SQLite has one writer at a
// time anyway, and every request is short (a page of candidates, one image's results), so concurrent
// reviewers wait a few milliseconds at most and never lose a verdict. Other processes on the same file
// (a scanner beside the server) are waited for by the busy timeout.
#include <algorithm>
#include <cstring>
#include <mutex>

#include "maskterial/store/scan_store.hpp"
#include "maskterial/util/error.hpp"
#include "sqlite.hpp"
#include "sqlite_schema.hpp"

namespace maskterial::store {

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::Accept: return "accept";
    case Verdict::Reject: return "reject";
    case Verdict::None: break;
  }
  return "";
}

Verdict parse_verdict(const std::string& text) {
  if (text == "accept") return Verdict::Accept;
  if (text == "reject") return Verdict::Reject;
  if (text == "none") return Verdict::None;
  throw Error("verdict '" + text + "': expected accept, reject or none");
}

int scan_store_schema_version() { return sqlite::schema_version(); }

namespace {

using sqlite::Statement;
using sqlite::Transaction;

// Evidence vectors as a BLOB of float32 values (little-endian, as every machine maskterial builds for).
std::string evidence_blob(const std::vector<float>& evidence) {
  return std::string(reinterpret_cast<const char*>(evidence.data()), evidence.size() * sizeof(float));
}

std::vector<float> evidence_of(const std::string& blob) {
  std::vector<float> out(blob.size() / sizeof(float));
  if (!out.empty()) std::memcpy(out.data(), blob.data(), out.size() * sizeof(float));
  return out;
}

std::optional<std::string> verdict_text(Verdict verdict) {
  if (verdict == Verdict::None) return std::nullopt;
  return std::string(to_string(verdict));
}

nlohmann::json json_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json() : nlohmann::json::parse(text, nullptr, false);
}

// The page query, one per sort key and order (SQL text is fixed; filters are bound parameters, NULL = no
// filter). The page's ids come from the sort key's index alone (INDEXED BY keeps the planner on it), so
// skipping a deep offset walks index entries without reading rows or joining images; only the page's own
// rows are read in full.
#define MT_CANDIDATE_COLUMNS                                                                                     \
  "SELECT c.id, c.image_id, i.name, i.path, i.width, i.height, c.class_id, c.class_name, c.detected_class, "    \
  "c.score, c.detector_score, c.uncertainty, c.area_px, c.area_um2, c.bbox_x, c.bbox_y, c.bbox_w, c.bbox_h, "   \
  "c.center_x, c.center_y, c.mean_contrast, c.evidence, c.verdict, c.verdict_time, i.stage_x_um, i.stage_y_um "
#define MT_CANDIDATE_FILTERS                                                                      \
  " WHERE c.scan_id = ?1 AND (?2 IS NULL OR c.class_name = ?2) "                                  \
  "AND (?3 IS NULL OR c.score >= ?3) AND (?4 IS NULL OR c.area_um2 >= ?4) "                      \
  "AND (?5 IS NULL OR (?5 = 'none' AND c.verdict IS NULL) OR c.verdict = ?5) "                   \
  "AND (?8 IS NULL OR c.uncertainty <= ?8) "
#define MT_PAGE(index, key, order)                                                                        \
  MT_CANDIDATE_COLUMNS "FROM (SELECT c.id FROM candidates c INDEXED BY " index MT_CANDIDATE_FILTERS        \
                       "ORDER BY c." key " " order ", c.id " order " LIMIT ?6 OFFSET ?7) page "            \
                       "JOIN candidates c ON c.id = page.id JOIN images i ON i.id = c.image_id "            \
                       "ORDER BY c." key " " order ", c.id " order

const char* page_query(SortKey sort, bool descending) {
  switch (sort) {
    case SortKey::Area:
      return descending ? MT_PAGE("candidates_scan_area", "area_um2", "DESC") : MT_PAGE("candidates_scan_area", "area_um2", "ASC");
    case SortKey::Uncertainty:
      return descending ? MT_PAGE("candidates_scan_uncertainty", "uncertainty", "DESC")
                        : MT_PAGE("candidates_scan_uncertainty", "uncertainty", "ASC");
    case SortKey::Score: break;
  }
  return descending ? MT_PAGE("candidates_scan_score", "score", "DESC") : MT_PAGE("candidates_scan_score", "score", "ASC");
}

#define MT_SCAN_COLUMNS "SELECT id, name, created, folders, settings, um_per_px, score_model, last_rerank FROM scans"
#define MT_IMAGE_COLUMNS \
  "SELECT id, path, name, done, width, height, background, error, stage_x_um, stage_y_um FROM images"

constexpr const char* kCountQuery = "SELECT count(*) FROM candidates c" MT_CANDIDATE_FILTERS;
constexpr const char* kOneCandidate =
    MT_CANDIDATE_COLUMNS "FROM candidates c JOIN images i ON i.id = c.image_id WHERE c.scan_id = ?1 AND c.id = ?2";

class SqliteScanStore : public ScanStore {
 public:
  explicit SqliteScanStore(const std::string& path) : db_(path) { sqlite::open_and_migrate(db_); }

  ScanInfo open_scan(const std::string& name, const nlohmann::json& folders, const nlohmann::json& settings,
                     double um_per_px, const nlohmann::json& score_model) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(db_);
    Statement insert(db_, "INSERT OR IGNORE INTO scans (name, folders, settings, um_per_px, score_model) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)");
    insert.bind(1, name).bind(2, folders.dump()).bind(3, settings.dump()).bind(4, um_per_px);
    if (score_model.is_null()) insert.bind_null(5); else insert.bind(5, score_model.dump());
    insert.run();
    // Folders added to an existing scan are remembered too.
    std::optional<ScanInfo> scan = find_locked(name);
    nlohmann::json merged = scan->folders;
    for (const auto& folder : folders)
      if (std::find(merged.begin(), merged.end(), folder) == merged.end()) merged.push_back(folder);
    if (merged != scan->folders) {
      Statement update(db_, "UPDATE scans SET folders = ?2 WHERE id = ?1");
      update.bind(1, scan->id).bind(2, merged.dump()).run();
      scan->folders = merged;
    }
    transaction.commit();
    return *scan;
  }

  std::optional<ScanInfo> find_scan(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return find_locked(name);
  }

  std::vector<ScanInfo> list_scans() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement query(db_, MT_SCAN_COLUMNS " ORDER BY name");
    std::vector<ScanInfo> out;
    while (query.step()) out.push_back(scan_of(query));
    return out;
  }

  ScanCounts counts(int64_t scan_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ScanCounts c;
    Statement images(db_, "SELECT count(*), coalesce(sum(done), 0), coalesce(sum(error IS NOT NULL AND error != ''), 0) "
                          "FROM images WHERE scan_id = ?1");
    images.bind(1, scan_id);
    if (images.step()) c.images_total = images.int64(0), c.images_done = images.int64(1), c.images_failed = images.int64(2);
    Statement candidates(db_, "SELECT count(*), coalesce(sum(verdict = 'accept'), 0), coalesce(sum(verdict = 'reject'), 0) "
                              "FROM candidates WHERE scan_id = ?1");
    candidates.bind(1, scan_id);
    if (candidates.step()) c.candidates = candidates.int64(0), c.accepted = candidates.int64(1), c.rejected = candidates.int64(2);
    c.reviewed = c.accepted + c.rejected;
    return c;
  }

  bool delete_scan(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(db_);
    Statement remove(db_, "DELETE FROM scans WHERE name = ?1");
    remove.bind(1, name).run();
    const bool deleted = sqlite3_changes(db_.handle()) > 0;
    transaction.commit();
    return deleted;
  }

  void add_images(int64_t scan_id, const std::vector<ImageRecord>& images) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(db_);
    Statement insert(db_, "INSERT OR IGNORE INTO images (scan_id, path, name, stage_x_um, stage_y_um) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)");
    for (const ImageRecord& image : images) {
      insert.bind(1, scan_id).bind(2, image.path).bind(3, image.name).bind(4, image.stage_x_um).bind(5, image.stage_y_um);
      insert.run();
      insert.reset();
    }
    transaction.commit();
  }

  std::vector<ImageRecord> pending_images(int64_t scan_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement query(db_, MT_IMAGE_COLUMNS " WHERE scan_id = ?1 AND done = 0 ORDER BY path");
    query.bind(1, scan_id);
    std::vector<ImageRecord> out;
    while (query.step()) out.push_back(image_of(query));
    return out;
  }

  std::optional<ImageRecord> image(int64_t scan_id, int64_t image_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement query(db_, MT_IMAGE_COLUMNS " WHERE scan_id = ?1 AND id = ?2");
    query.bind(1, scan_id).bind(2, image_id);
    if (!query.step()) return std::nullopt;
    return image_of(query);
  }

  void save_image(int64_t scan_id, int64_t image_id, const ImageResult& result,
                  const std::vector<Candidate>& candidates) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const double um_per_px = scan_um_per_px(scan_id);
    Transaction transaction(db_);
    Statement clear(db_, "DELETE FROM candidates WHERE image_id = ?1");
    clear.bind(1, image_id).run();
    Statement insert(db_,
                     "INSERT INTO candidates (scan_id, image_id, class_id, class_name, detected_class, score, "
                     "detector_score, uncertainty, area_px, area_um2, bbox_x, bbox_y, bbox_w, bbox_h, center_x, "
                     "center_y, mean_contrast, evidence) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?17, ?6, ?7, ?8, ?9, ?10, "
                     "?11, ?12, ?13, ?14, ?15, ?16)");
    Statement shape(db_, "INSERT INTO candidate_shapes (candidate_id, rle, thumbnail) VALUES (?1, ?2, ?3)");
    for (const Candidate& c : candidates) {
      insert.bind(1, scan_id).bind(2, image_id).bind(3, c.class_id).bind(4, c.class_name).bind(5, c.score);
      insert.bind(6, c.uncertainty).bind(7, c.area_px).bind(8, static_cast<double>(c.area_px) * um_per_px * um_per_px);
      for (int k = 0; k < 4; ++k) insert.bind(9 + k, c.bbox[k]);
      insert.bind(13, c.center[0]).bind(14, c.center[1]);
      insert.bind(15, nlohmann::json(c.mean_contrast_bgr).dump()).bind_blob(16, evidence_blob(c.evidence));
      insert.bind(17, c.detector_score);
      insert.run();
      insert.reset();
      shape.bind(1, static_cast<int64_t>(sqlite3_last_insert_rowid(db_.handle()))).bind(2, c.rle.dump());
      shape.bind_blob(3, c.thumbnail_jpeg).run();
      shape.reset();
    }
    Statement done(db_, "UPDATE images SET done = 1, width = ?3, height = ?4, background = ?5, error = ?6 "
                        "WHERE scan_id = ?1 AND id = ?2");
    done.bind(1, scan_id).bind(2, image_id).bind(3, result.width).bind(4, result.height);
    done.bind(5, nlohmann::json(result.background_bgr).dump());
    if (result.error.empty()) done.bind_null(6); else done.bind(6, result.error);
    done.run();
    transaction.commit();
  }

  CandidatePage candidates(int64_t scan_id, const CandidateQuery& q) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const double um_per_px = scan_um_per_px(scan_id);
    const std::optional<std::string> verdict =
        q.verdict ? std::optional<std::string>(*q.verdict == Verdict::None ? "none" : to_string(*q.verdict))
                  : std::nullopt;
    const auto bind_filters = [&](Statement& s) {
      s.bind(1, scan_id).bind(2, q.class_name).bind(3, q.min_score).bind(4, q.min_area_um2).bind(5, verdict);
      s.bind(8, q.max_uncertainty);
    };
    CandidatePage page;
    Statement count(db_, kCountQuery);
    bind_filters(count);
    if (count.step()) page.total = count.int64(0);
    Statement query(db_, page_query(q.sort, q.descending));
    bind_filters(query);
    query.bind(6, q.limit).bind(7, q.offset);
    while (query.step()) page.candidates.push_back(candidate_of(query, um_per_px));
    if (q.with_shapes) {
      Statement shape(db_, "SELECT rle FROM candidate_shapes WHERE candidate_id = ?1");
      for (Candidate& c : page.candidates) {
        shape.bind(1, c.id);
        if (shape.step()) c.rle = json_or_null(shape.text(0));
        shape.reset();
      }
    }
    return page;
  }

  std::optional<Candidate> candidate(int64_t scan_id, int64_t id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return candidate_locked(scan_id, id);
  }

  std::optional<std::string> thumbnail(int64_t scan_id, int64_t id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement query(db_, "SELECT s.thumbnail FROM candidate_shapes s JOIN candidates c ON c.id = s.candidate_id "
                         "WHERE c.scan_id = ?1 AND c.id = ?2");
    query.bind(1, scan_id).bind(2, id);
    if (!query.step()) return std::nullopt;
    return query.text(0);
  }

  bool set_verdict(int64_t scan_id, int64_t id, Verdict verdict, const std::optional<std::string>& class_name) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(db_);
    Statement update(db_, "UPDATE candidates SET verdict = ?3, class_name = coalesce(?4, class_name), "
                          "verdict_time = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE scan_id = ?1 AND id = ?2");
    update.bind(1, scan_id).bind(2, id).bind(3, verdict_text(verdict)).bind(4, class_name).run();
    if (sqlite3_changes(db_.handle()) == 0) return false;
    Statement history(db_, "INSERT INTO verdicts (candidate_id, verdict, class_name) VALUES (?1, ?2, ?3)");
    history.bind(1, id).bind(2, verdict_text(verdict)).bind(3, class_name).run();
    transaction.commit();
    return true;
  }

  std::vector<RerankRow> rerank_rows(int64_t scan_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement query(db_, "SELECT id, evidence, verdict, class_name != detected_class, score FROM candidates "
                         "WHERE scan_id = ?1 ORDER BY id");
    query.bind(1, scan_id);
    std::vector<RerankRow> rows;
    while (query.step()) {
      RerankRow row;
      row.id = query.int64(0);
      row.evidence = evidence_of(query.text(1));
      if (!query.is_null(2)) row.verdict = parse_verdict(query.text(2));
      row.relabelled = query.int64(3) != 0;
      row.score = query.real(4);
      rows.push_back(std::move(row));
    }
    return rows;
  }

  void save_rerank(int64_t scan_id, const std::vector<RerankRow>& rows, const nlohmann::json& score_model,
                   const nlohmann::json& summary) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(db_);
    Statement update(db_, "UPDATE candidates SET score = ?3 WHERE scan_id = ?1 AND id = ?2");
    for (const RerankRow& row : rows) {
      update.bind(1, scan_id).bind(2, row.id).bind(3, row.score).run();
      update.reset();
    }
    Statement scan(db_, "UPDATE scans SET score_model = ?2, last_rerank = ?3 WHERE id = ?1");
    scan.bind(1, scan_id).bind(2, score_model.dump()).bind(3, summary.dump()).run();
    transaction.commit();
  }

 private:
  static ScanInfo scan_of(const Statement& s) {
    ScanInfo scan;
    scan.id = s.int64(0);
    scan.name = s.text(1);
    scan.created = s.text(2);
    scan.folders = json_or_null(s.text(3));
    scan.settings = json_or_null(s.text(4));
    scan.um_per_px = s.real(5);
    scan.score_model = json_or_null(s.text(6));
    scan.last_rerank = json_or_null(s.text(7));
    return scan;
  }

  static ImageRecord image_of(const Statement& s) {
    ImageRecord image;
    image.id = s.int64(0);
    image.path = s.text(1);
    image.name = s.text(2);
    image.done = s.int64(3) != 0;
    image.width = static_cast<int>(s.int64(4));
    image.height = static_cast<int>(s.int64(5));
    const nlohmann::json background = json_or_null(s.text(6));
    if (background.is_array() && background.size() == 3)
      for (int k = 0; k < 3; ++k) image.background_bgr[k] = background[k].get<double>();
    image.error = s.text(7);
    image.stage_x_um = s.optional_real(8);
    image.stage_y_um = s.optional_real(9);
    return image;
  }

  static Candidate candidate_of(const Statement& s, double um_per_px) {
    Candidate c;
    c.id = s.int64(0);
    c.image_id = s.int64(1);
    c.image_name = s.text(2);
    c.image_path = s.text(3);
    c.image_width = static_cast<int>(s.int64(4));
    c.image_height = static_cast<int>(s.int64(5));
    c.class_id = static_cast<int>(s.int64(6));
    c.class_name = s.text(7);
    c.detected_class = s.text(8);
    c.score = s.real(9);
    c.detector_score = s.real(10);
    c.uncertainty = s.real(11);
    c.area_px = s.int64(12);
    c.area_um2 = s.real(13);
    for (int k = 0; k < 4; ++k) c.bbox[k] = s.real(14 + k);
    c.center = {static_cast<int>(s.int64(18)), static_cast<int>(s.int64(19))};
    const nlohmann::json contrast = json_or_null(s.text(20));
    if (contrast.is_array() && contrast.size() == 3)
      for (int k = 0; k < 3; ++k) c.mean_contrast_bgr[k] = contrast[k].get<double>();
    c.evidence = evidence_of(s.text(21));
    if (!s.is_null(22)) c.verdict = parse_verdict(s.text(22));
    c.verdict_time = s.text(23);
    // The image's stage position is its centre; the flake lies off it by its centre's offset (x right, y down).
    if (const auto x = s.optional_real(24), y = s.optional_real(25); x && y) {
      c.stage_x_um = *x + (c.center[0] - c.image_width / 2.0) * um_per_px;
      c.stage_y_um = *y + (c.center[1] - c.image_height / 2.0) * um_per_px;
    }
    return c;
  }

  std::optional<ScanInfo> find_locked(const std::string& name) {
    Statement query(db_, MT_SCAN_COLUMNS " WHERE name = ?1");
    query.bind(1, name);
    if (!query.step()) return std::nullopt;
    return scan_of(query);
  }

  double scan_um_per_px(int64_t scan_id) {
    Statement query(db_, "SELECT um_per_px FROM scans WHERE id = ?1");
    query.bind(1, scan_id);
    return query.step() ? query.real(0) : 0.0;
  }

  std::optional<Candidate> candidate_locked(int64_t scan_id, int64_t id) {
    Statement query(db_, kOneCandidate);
    query.bind(1, scan_id).bind(2, id);
    if (!query.step()) return std::nullopt;
    return candidate_of(query, scan_um_per_px(scan_id));
  }

  sqlite::Database db_;
  std::mutex mutex_;
};

}  // namespace

std::unique_ptr<ScanStore> open_sqlite_scan_store(const std::string& path) {
  return std::make_unique<SqliteScanStore>(path);
}

}  // namespace maskterial::store
