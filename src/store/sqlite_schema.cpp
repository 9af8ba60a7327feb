#include "sqlite_schema.hpp"

#include <string>

#include "maskterial/util/error.hpp"

namespace maskterial::store::sqlite {
namespace {

// Migration i brings a database from user_version i to i + 1 (and says so, last). Append new ones; never edit a
// published one.
const char* const kMigrations[] = {
    // 1: scans, images, candidates (the large columns apart), verdict history.
    R"sql(
CREATE TABLE scans (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  folders TEXT NOT NULL,
  settings TEXT NOT NULL,
  um_per_px REAL NOT NULL,
  score_model TEXT,
  last_rerank TEXT
);
CREATE TABLE images (
  id INTEGER PRIMARY KEY,
  scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  name TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  background TEXT,
  error TEXT,
  stage_x_um REAL,
  stage_y_um REAL,
  UNIQUE (scan_id, path)
);
CREATE INDEX images_scan_done ON images (scan_id, done);
CREATE TABLE candidates (
  id INTEGER PRIMARY KEY,
  scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  class_id INTEGER NOT NULL,
  class_name TEXT NOT NULL,
  detected_class TEXT NOT NULL,
  score REAL NOT NULL,
  detector_score REAL NOT NULL,
  uncertainty REAL NOT NULL,
  area_px INTEGER NOT NULL,
  area_um2 REAL NOT NULL,
  bbox_x REAL NOT NULL, bbox_y REAL NOT NULL, bbox_w REAL NOT NULL, bbox_h REAL NOT NULL,
  center_x INTEGER NOT NULL, center_y INTEGER NOT NULL,
  mean_contrast TEXT NOT NULL,
  evidence BLOB,
  verdict TEXT CHECK (verdict IN ('accept', 'reject')),
  verdict_time TEXT
);
CREATE INDEX candidates_scan_score ON candidates (scan_id, score);
CREATE INDEX candidates_scan_area ON candidates (scan_id, area_um2);
CREATE INDEX candidates_scan_uncertainty ON candidates (scan_id, uncertainty);
CREATE INDEX candidates_scan_class ON candidates (scan_id, class_name);
CREATE INDEX candidates_scan_verdict ON candidates (scan_id, verdict);
CREATE INDEX candidates_image ON candidates (image_id);
CREATE TABLE candidate_shapes (
  candidate_id INTEGER PRIMARY KEY REFERENCES candidates(id) ON DELETE CASCADE,
  rle TEXT NOT NULL,
  thumbnail BLOB
);
CREATE TABLE verdicts (
  id INTEGER PRIMARY KEY,
  candidate_id INTEGER NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
  verdict TEXT,
  class_name TEXT,
  time TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX verdicts_candidate ON verdicts (candidate_id);
PRAGMA user_version = 1;
)sql",
    // 2: the sort keys' indexes carry every filter column, so a filtered page (class 2 sorted by score, at
    // any depth) is answered from the index alone, without reading 200,000 rows.
    R"sql(
DROP INDEX candidates_scan_score;
DROP INDEX candidates_scan_area;
DROP INDEX candidates_scan_uncertainty;
CREATE INDEX candidates_scan_score ON candidates (scan_id, score, class_name, area_um2, uncertainty, verdict);
CREATE INDEX candidates_scan_area ON candidates (scan_id, area_um2, class_name, score, uncertainty, verdict);
CREATE INDEX candidates_scan_uncertainty ON candidates (scan_id, uncertainty, class_name, score, area_um2, verdict);
PRAGMA user_version = 2;
)sql",
};

constexpr int kVersion = static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);

int user_version(Database& db) {
  Statement query(db, "PRAGMA user_version");
  return query.step() ? static_cast<int>(query.int64(0)) : 0;
}

}  // namespace

int schema_version() { return kVersion; }

void open_and_migrate(Database& db) {
  // WAL: readers never block the writer, and a crash at any moment leaves the last committed transaction.
  // synchronous=NORMAL is durable across process crashes (kill -9) in WAL mode; only a power cut may lose the
  // last few commits, never the file's integrity.
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA foreign_keys=ON");
  int version = user_version(db);
  if (version > kVersion)
    throw file_error(db.path(), "scan database of schema version " + std::to_string(version) +
                                    ", newer than this maskterial reads (" + std::to_string(kVersion) + "); update maskterial");
  if (version == 0) {
    Statement tables(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
    if (tables.step() && tables.int64(0) > 0)
      throw file_error(db.path(), "an SQLite database, but not a maskterial scan database");
  }
  for (; version < kVersion; ++version) {
    Transaction transaction(db);
    db.exec(kMigrations[version]);
    transaction.commit();
  }
}

}  // namespace maskterial::store::sqlite
