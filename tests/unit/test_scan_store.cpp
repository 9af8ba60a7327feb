// The scan database: schema and migrations, candidates stored per image and read back filtered, sorted and
// paged, verdicts (also from many threads and connections at once), stage positions, exports, rank changes.
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "maskterial/store/rank_change.hpp"
#include "maskterial/store/rerank.hpp"
#include "maskterial/store/scan_export.hpp"
#include "maskterial/store/scan_runner.hpp"
#include "maskterial/store/scan_store.hpp"
#include "maskterial/store/stage_positions.hpp"
#include "maskterial/util/error.hpp"
#include "scan_test_data.hpp"
#include "serve_test_client.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::store;
using maskterial::serve::test::ScratchDir;
using maskterial::store::test::fill;
using maskterial::store::test::kUmPerPx;
using maskterial::store::test::make_candidate;

namespace {

std::vector<int64_t> ids_of(const CandidatePage& page) {
  std::vector<int64_t> ids;
  for (const auto& c : page.candidates) ids.push_back(c.id);
  return ids;
}

}  // namespace

TEST(ScanStore, CreatesTheSchemaAndKeepsDataAcrossReopening) {
  const ScratchDir dir("mt_scan_store");
  const std::string path = (dir.path() / "scans.sqlite").string();
  {
    const auto store = open_sqlite_scan_store(path);
    fill(*store, 3, 4);
  }
  const auto store = open_sqlite_scan_store(path);
  const std::optional<ScanInfo> scan = store->find_scan("chip");
  ASSERT_TRUE(scan);
  EXPECT_EQ(scan->um_per_px, kUmPerPx);
  EXPECT_EQ(scan->folders, nlohmann::json::array({"/data/chip"}));
  const ScanCounts counts = store->counts(scan->id);
  EXPECT_EQ(counts.images_total, 3);
  EXPECT_EQ(counts.images_done, 3);
  EXPECT_EQ(counts.candidates, 12);
  EXPECT_TRUE(store->pending_images(scan->id).empty());

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), scan_store_schema_version());
  sqlite3_finalize(stmt);
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// A database written by the first schema (sort indexes without the filter columns) is migrated on open and
// its pages come back the same.
TEST(ScanStore, MigratesAVersionOneDatabaseAndKeepsItsCandidates) {
  const ScratchDir dir("mt_scan_store_migrate");
  const std::string path = (dir.path() / "scans.sqlite").string();
  std::vector<int64_t> before;
  {
    const auto store = open_sqlite_scan_store(path);
    fill(*store, 4, 5);
    before = ids_of(store->candidates(store->find_scan("chip")->id, {}));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP INDEX candidates_scan_score; DROP INDEX candidates_scan_area; "
                         "DROP INDEX candidates_scan_uncertainty; "
                         "CREATE INDEX candidates_scan_score ON candidates (scan_id, score); "
                         "CREATE INDEX candidates_scan_area ON candidates (scan_id, area_um2); "
                         "CREATE INDEX candidates_scan_uncertainty ON candidates (scan_id, uncertainty); "
                         "PRAGMA user_version = 1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const auto store = open_sqlite_scan_store(path);
  EXPECT_EQ(ids_of(store->candidates(store->find_scan("chip")->id, {})), before);
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_index_info('candidates_scan_score')", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 6);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(ScanStore, RefusesForeignAndNewerDatabasesNamingTheFile) {
  const ScratchDir dir("mt_scan_store_foreign");
  const std::string foreign = (dir.path() / "other.sqlite").string(), newer = (dir.path() / "newer.sqlite").string();
  for (const auto& [path, sql] : {std::pair{foreign, "CREATE TABLE t (x)"}, std::pair{newer, "PRAGMA user_version = 999"}}) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  const std::string junk = (dir.path() / "junk.sqlite").string();
  std::ofstream(junk) << "this is not a database at all, just some text that is long enough to look like a header";
  for (const std::string& path : {foreign, newer, junk}) {
    try {
      open_sqlite_scan_store(path);
      ADD_FAILURE() << path << " was opened";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

TEST(ScanStore, ReprocessingAnImageReplacesItsCandidates) {
  const ScratchDir dir("mt_scan_store_replace");
  const auto store = open_sqlite_scan_store((dir.path() / "s.sqlite").string());
  const ScanInfo scan = fill(*store, 1, 5);
  const int64_t image_id = store->candidates(scan.id, {}).candidates.front().image_id;
  store->save_image(scan.id, image_id, {200, 100, {}, ""}, {make_candidate(7)});
  EXPECT_EQ(store->candidates(scan.id, {}).total, 1);
  EXPECT_EQ(store->thumbnail(scan.id, store->candidates(scan.id, {}).candidates[0].id), "jpeg bytes 7");
}

TEST(ScanStore, FiltersSortsAndPagesStably) {
  const ScratchDir dir("mt_scan_store_query");
  const auto store = open_sqlite_scan_store((dir.path() / "s.sqlite").string());
  const ScanInfo scan = fill(*store, 10, 10);
  fill(*store, 2, 3, "other");  // another scan's candidates never show up

  CandidateQuery all;
  all.limit = 1000;
  const CandidatePage everything = store->candidates(scan.id, all);
  ASSERT_EQ(everything.total, 100);
  ASSERT_EQ(everything.candidates.size(), 100u);
  for (size_t i = 1; i < everything.candidates.size(); ++i) {
    const auto &a = everything.candidates[i - 1], &b = everything.candidates[i];
    EXPECT_TRUE(a.score > b.score || (a.score == b.score && a.id > b.id)) << i;
  }
  // Pages of 7 put together are the whole list, in the same order.
  std::vector<int64_t> paged;
  for (int64_t offset = 0; offset < 100; offset += 7) {
    CandidateQuery q;
    q.offset = offset;
    q.limit = 7;
    const CandidatePage page = store->candidates(scan.id, q);
    EXPECT_EQ(page.total, 100);
    for (int64_t id : ids_of(page)) paged.push_back(id);
  }
  EXPECT_EQ(paged, ids_of(everything));

  CandidateQuery filtered = all;
  filtered.class_name = "2";
  filtered.min_score = 0.5;
  filtered.min_area_um2 = 300 * kUmPerPx * kUmPerPx;
  filtered.sort = SortKey::Area;
  filtered.descending = false;
  const CandidatePage some = store->candidates(scan.id, filtered);
  int64_t expected = 0;
  for (const auto& c : everything.candidates)
    expected += c.class_name == "2" && c.score >= 0.5 && c.area_um2 >= 300 * kUmPerPx * kUmPerPx;
  EXPECT_EQ(some.total, expected);
  ASSERT_GT(some.total, 0);
  for (size_t i = 1; i < some.candidates.size(); ++i) EXPECT_LE(some.candidates[i - 1].area_um2, some.candidates[i].area_um2);

  CandidateQuery certain = all;
  certain.max_uncertainty = everything.candidates[everything.candidates.size() / 2].uncertainty;
  int64_t expected_certain = 0;
  for (const auto& c : everything.candidates) expected_certain += c.uncertainty <= *certain.max_uncertainty;
  const CandidatePage certain_page = store->candidates(scan.id, certain);
  EXPECT_EQ(certain_page.total, expected_certain);
  ASSERT_GT(certain_page.total, 0);
  EXPECT_LT(certain_page.total, everything.total);
  for (const auto& c : certain_page.candidates) EXPECT_LE(c.uncertainty, *certain.max_uncertainty);

  const Candidate& c = everything.candidates.front();
  EXPECT_DOUBLE_EQ(c.area_um2, c.area_px * kUmPerPx * kUmPerPx);
  ASSERT_TRUE(c.stage_x_um && c.stage_y_um);
  const auto image = store->image(scan.id, c.image_id);
  EXPECT_DOUBLE_EQ(*c.stage_x_um, *image->stage_x_um + (c.center[0] - 100) * kUmPerPx);
  EXPECT_DOUBLE_EQ(*c.stage_y_um, -500 + (c.center[1] - 50) * kUmPerPx);
  EXPECT_EQ(c.evidence.size(), score::evidence_names().size());
}

TEST(ScanStore, VerdictsFilterRelabelAndKeepTheirHistory) {
  const ScratchDir dir("mt_scan_store_verdicts");
  const auto store = open_sqlite_scan_store((dir.path() / "s.sqlite").string());
  const ScanInfo scan = fill(*store, 2, 5);
  const std::vector<int64_t> ids = ids_of(store->candidates(scan.id, {}));
  ASSERT_TRUE(store->set_verdict(scan.id, ids[0], Verdict::Accept, std::nullopt));
  ASSERT_TRUE(store->set_verdict(scan.id, ids[1], Verdict::Reject, std::nullopt));
  ASSERT_TRUE(store->set_verdict(scan.id, ids[2], Verdict::Accept, std::string("4")));
  ASSERT_TRUE(store->set_verdict(scan.id, ids[3], Verdict::Accept, std::nullopt));
  ASSERT_TRUE(store->set_verdict(scan.id, ids[3], Verdict::None, std::nullopt));  // taken back
  EXPECT_FALSE(store->set_verdict(scan.id, 999999, Verdict::Accept, std::nullopt));

  CandidateQuery q;
  q.verdict = Verdict::Accept;
  EXPECT_EQ(ids_of(store->candidates(scan.id, q)).size(), 2u);
  q.verdict = Verdict::Reject;
  EXPECT_EQ(ids_of(store->candidates(scan.id, q)), std::vector<int64_t>{ids[1]});
  q.verdict = Verdict::None;
  EXPECT_EQ(store->candidates(scan.id, q).total, 7);
  const Candidate relabelled = *store->candidate(scan.id, ids[2]);
  EXPECT_EQ(relabelled.class_name, "4");
  EXPECT_NE(relabelled.detected_class, "4");
  EXPECT_FALSE(relabelled.verdict_time.empty());
  const ScanCounts counts = store->counts(scan.id);
  EXPECT_EQ(counts.accepted, 2);
  EXPECT_EQ(counts.rejected, 1);
  EXPECT_EQ(counts.reviewed, 3);
  const std::vector<RerankRow> rows = store->rerank_rows(scan.id);
  ASSERT_EQ(rows.size(), 10u);
  const auto row = std::find_if(rows.begin(), rows.end(), [&](const RerankRow& r) { return r.id == ids[2]; });
  EXPECT_TRUE(row->relabelled);
  EXPECT_EQ(row->verdict, Verdict::Accept);

  sqlite3* db = nullptr;
  sqlite3_open((dir.path() / "s.sqlite").c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM verdicts", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 5);  // every change, the one taken back included
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// Reviewers on several threads, through two connections (a server and a second process), never lose a verdict.
TEST(ScanStore, ConcurrentVerdictsAreAllKept) {
  const ScratchDir dir("mt_scan_store_concurrent");
  const std::string path = (dir.path() / "s.sqlite").string();
  const auto first = open_sqlite_scan_store(path);
  const auto second = open_sqlite_scan_store(path);
  const ScanInfo scan = fill(*first, 20, 20);
  CandidateQuery all;
  all.limit = -1;
  const std::vector<int64_t> ids = ids_of(first->candidates(scan.id, all));
  std::vector<std::thread> reviewers;
  constexpr size_t kReviewers = 8;
  for (size_t r = 0; r < kReviewers; ++r)
    reviewers.emplace_back([&, r] {
      ScanStore& store = r % 2 ? *second : *first;
      for (size_t i = r; i < ids.size(); i += kReviewers)
        store.set_verdict(scan.id, ids[i], i % 3 ? Verdict::Accept : Verdict::Reject, std::nullopt);
    });
  for (auto& t : reviewers) t.join();
  const ScanCounts counts = second->counts(scan.id);
  EXPECT_EQ(counts.reviewed, static_cast<int64_t>(ids.size()));
  EXPECT_EQ(counts.rejected, static_cast<int64_t>((ids.size() + 2) / 3));
}

TEST(ScanStore, SavesRerankedScoresAndTheModel) {
  const ScratchDir dir("mt_scan_store_rerank");
  const auto store = open_sqlite_scan_store((dir.path() / "s.sqlite").string());
  const ScanInfo scan = fill(*store, 2, 5);
  std::vector<RerankRow> rows = store->rerank_rows(scan.id);
  for (RerankRow& row : rows) row.score = 1.0 / static_cast<double>(row.id);
  store->save_rerank(scan.id, rows, {{"model", 1}}, {{"moved_into_top_n", 3}});
  const ScanInfo after = *store->find_scan("chip");
  EXPECT_EQ(after.score_model, nlohmann::json({{"model", 1}}));
  EXPECT_EQ(after.last_rerank["moved_into_top_n"], 3);
  const Candidate best = store->candidates(scan.id, {}).candidates.front();
  EXPECT_EQ(best.id, rows.front().id);
  EXPECT_NE(best.score, best.detector_score);
}

// Verdicts teach: accepting the odd candidates (whose first evidence value is high) and rejecting some even ones
// brings every odd candidate above every even one, the same way twice.
TEST(Rerank, RefitsFromVerdictsAndRescoresEveryCandidate) {
  const ScratchDir dir("mt_scan_rerank");
  const auto store = open_sqlite_scan_store((dir.path() / "s.sqlite").string());
  const ScanInfo scan = fill(*store, 10, 10);
  EXPECT_THROW(rerank_scan(*store, scan), Error);  // no verdicts
  CandidateQuery all;
  all.limit = -1;
  const std::vector<Candidate> before = store->candidates(scan.id, all).candidates;
  for (size_t i = 0; i < 20; ++i)
    store->set_verdict(scan.id, before[i].id, before[i].evidence[0] >= 1 ? Verdict::Accept : Verdict::Reject, std::nullopt);
  const nlohmann::json summary = rerank_scan(*store, scan);
  EXPECT_EQ(summary["candidates"], 100);
  EXPECT_EQ(summary["positive"].get<int>() + summary["negative"].get<int>(), 20);
  for (const char* field : {"moved_into_top_n", "spearman", "kendall_tau", "seconds", "time"})
    EXPECT_TRUE(summary.contains(field)) << field;
  const std::vector<Candidate> after = store->candidates(scan.id, all).candidates;
  for (size_t i = 0; i < 50; ++i) EXPECT_GE(after[i].evidence[0], 1.0f) << i;
  EXPECT_FALSE(store->find_scan("chip")->score_model.is_null());
  EXPECT_EQ(store->find_scan("chip")->last_rerank, summary);

  rerank_scan(*store, *store->find_scan("chip"));
  const std::vector<Candidate> again = store->candidates(scan.id, all).candidates;
  for (size_t i = 0; i < after.size(); ++i) EXPECT_DOUBLE_EQ(again[i].score, after[i].score) << i;
}

TEST(ScanStore, DeletingAScanRemovesEverythingOfIt) {
  const ScratchDir dir("mt_scan_store_delete");
  const auto store = open_sqlite_scan_store((dir.path() / "s.sqlite").string());
  const ScanInfo scan = fill(*store, 2, 5);
  const ScanInfo other = fill(*store, 1, 2, "other");
  EXPECT_TRUE(store->delete_scan("chip"));
  EXPECT_FALSE(store->delete_scan("chip"));
  EXPECT_FALSE(store->find_scan("chip"));
  EXPECT_EQ(store->counts(scan.id).candidates, 0);
  EXPECT_EQ(store->counts(other.id).candidates, 2);
}

TEST(ScanExport, WritesCsvJsonAndCocoOfAllOrTheAcceptedCandidates) {
  const ScratchDir dir("mt_scan_export");
  const auto store = open_sqlite_scan_store((dir.path() / "s.sqlite").string());
  const ScanInfo scan = fill(*store, 2, 3);
  const std::vector<int64_t> ids = ids_of(store->candidates(scan.id, {}));
  store->set_verdict(scan.id, ids[1], Verdict::Accept, std::nullopt);

  const nlohmann::json json = nlohmann::json::parse(export_scan(*store, scan, ExportFormat::Json, false));
  EXPECT_EQ(json["scan"]["name"], "chip");
  ASSERT_EQ(json["candidates"].size(), 6u);
  for (const char* field : {"id", "image", "class", "score", "uncertainty", "area_px", "area_um2", "bbox", "center",
                            "verdict", "stage_x_um", "segmentation", "evidence"})
    EXPECT_TRUE(json["candidates"][0].contains(field)) << field;
  const nlohmann::json accepted = nlohmann::json::parse(export_scan(*store, scan, ExportFormat::Json, true));
  ASSERT_EQ(accepted["candidates"].size(), 1u);
  EXPECT_EQ(accepted["candidates"][0]["id"], ids[1]);
  EXPECT_EQ(accepted["candidates"][0]["verdict"], "accept");

  const std::string csv = export_scan(*store, scan, ExportFormat::Csv, true);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);
  EXPECT_EQ(csv.rfind("id,image,class,", 0), 0u);
  EXPECT_NE(csv.find(",accept,"), std::string::npos);

  const nlohmann::json coco = nlohmann::json::parse(export_scan(*store, scan, ExportFormat::Coco, false));
  EXPECT_EQ(coco["images"].size(), 2u);
  EXPECT_EQ(coco["annotations"].size(), 6u);
  EXPECT_TRUE(coco["annotations"][0].contains("score"));
  EXPECT_TRUE(coco["annotations"][0]["segmentation"].contains("counts"));
  EXPECT_THROW(parse_export_format("xml"), Error);
}

TEST(StagePositions, ComeFromImageNamesOrAPositionsFile) {
  EXPECT_EQ(stage_position_from_name("chip3_X12.5_Y-3.0.jpg"), (StagePosition{12.5, -3.0}));
  EXPECT_EQ(stage_position_from_name("x-4_y7.png"), (StagePosition{-4, 7}));
  EXPECT_FALSE(stage_position_from_name("image_12.jpg"));
  EXPECT_FALSE(stage_position_from_name("MAX1_Y2.jpg"));

  const ScratchDir dir("mt_stage_positions");
  std::ofstream(dir.path() / kPositionsFile) << "image,x_um,y_um\na.jpg,1.5,-2\nb.jpg,oops,3\nc.jpg,4,5\r\n";
  const auto positions = read_stage_positions(dir.path().string());
  ASSERT_EQ(positions.size(), 2u);
  EXPECT_EQ(positions.at("a.jpg"), (StagePosition{1.5, -2}));
  EXPECT_EQ(positions.at("c.jpg"), (StagePosition{4, 5}));
  EXPECT_TRUE(read_stage_positions((dir.path() / "none").string()).empty());

  // register_images takes the file's position over the name's.
  const auto store = open_sqlite_scan_store((dir.path() / "s.sqlite").string());
  const ScanInfo scan = store->open_scan("p", nlohmann::json::array(), {}, 1, nullptr);
  register_images(*store, scan.id, {(dir.path() / "a.jpg").string(), (dir.path() / "d_X9_Y8.jpg").string(),
                                    (dir.path() / "e.jpg").string()});
  const auto images = store->pending_images(scan.id);
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0].stage_x_um, 1.5);
  EXPECT_EQ(images[1].stage_x_um, 9);
  EXPECT_FALSE(images[2].stage_x_um);
}

TEST(RankChange, MatchesTheDefinitionsOnRandomRankingsWithTies) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> value(0, 9);  // many ties
  std::vector<double> a(300), b(300);
  for (size_t i = 0; i < a.size(); ++i) a[i] = value(rng), b[i] = a[i] + value(rng) - 4.5 * (i % 2);
  // tau-b by its definition, over all pairs
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0) ties_a += 1;
      if (db == 0) ties_b += 1;
      if (da * db > 0) concordant += 1;
      if (da * db < 0) discordant += 1;
    }
  const double pairs = a.size() * (a.size() - 1) / 2.0;
  EXPECT_NEAR(kendall_tau_b(a, b), (concordant - discordant) / std::sqrt((pairs - ties_a) * (pairs - ties_b)), 1e-12);
  EXPECT_NEAR(kendall_tau_b(a, a), 1.0, 1e-12);
  EXPECT_NEAR(spearman(a, a), 1.0, 1e-12);
  std::vector<double> reversed(a.size());
  std::transform(a.begin(), a.end(), reversed.begin(), [](double x) { return -x; });
  EXPECT_NEAR(spearman(a, reversed), -1.0, 1e-12);
  EXPECT_NEAR(kendall_tau_b(a, reversed), -1.0, 1e-12);
  EXPECT_EQ(moved_into_top({5, 4, 3, 2, 1}, {1, 2, 3, 4, 5}, 2), 2u);
  EXPECT_EQ(moved_into_top({5, 4, 3, 2, 1}, {4, 5, 1, 1, 1}, 2), 0u);
}
