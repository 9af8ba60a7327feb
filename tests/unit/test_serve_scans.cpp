// The scan review API (docs/scan.md) on an in-process server: a made-up scan paged, filtered and reviewed
// (also by many reviewers at once), bad queries answered 400, exports, deletion; and a real scan of a shared
// image through POST /api/scans, reviewed and re-ranked.
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "maskterial/store/scan_store.hpp"
#include "scan_test_data.hpp"
#include "serve_test_client.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::serve::test;

namespace {

// Server options with a scan database (holding a made-up scan "chip" of images x per_image candidates, if any)
// and a scan root, in a scratch folder.
struct ScanServer {
  explicit ScanServer(const std::string& name, int images = 0, int per_image = 0) : scratch(name) {
    fs::create_directories(root());
    options.models_dir = scratch.path() / "models";
    options.scans_db = scratch.path() / "scans.sqlite";
    options.scan_root = root();
    options.workers = 1;
    if (images > 0) store::test::fill(*store::open_sqlite_scan_store(options.scans_db.string()), images, per_image);
  }
  fs::path root() const { return scratch.path() / "root"; }
  ScratchDir scratch;
  serve::ServerOptions options;
};

nlohmann::json get_json(httplib::Client& client, const std::string& path, int expected = 200) {
  const auto r = client.Get(path.c_str());
  EXPECT_EQ(status_of(r), expected) << path << ": " << (r ? r->body.substr(0, 300) : "");
  return r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
}

httplib::Result put_verdict(httplib::Client& client, const std::string& scan, int64_t id, const nlohmann::json& body) {
  return client.Put(("/api/scans/" + scan + "/candidates/" + std::to_string(id)).c_str(), body.dump(), "application/json");
}

}  // namespace

TEST(ServeScans, PagesFiltersAndRefusesBadQueries) {
  ScanServer s("mt_serve_scans_query", 5, 10);
  LiveServer server(s.options);
  auto client = server.client();
  const nlohmann::json scans = get_json(client, "/api/scans");
  ASSERT_EQ(scans["scans"].size(), 1u);
  EXPECT_EQ(scans["scans"][0]["name"], "chip");
  EXPECT_EQ(scans["scans"][0]["candidates"], 50);
  EXPECT_EQ(scans["scans"][0]["images_done"], 5);
  EXPECT_EQ(scans["scans"][0]["state"], "idle");

  std::vector<int64_t> ids;
  for (int offset = 0; offset < 50; offset += 20) {
    const nlohmann::json page = get_json(client, "/api/scans/chip/candidates?limit=20&offset=" + std::to_string(offset));
    EXPECT_EQ(page["total"], 50);
    for (const auto& c : page["candidates"]) ids.push_back(c["id"]);
  }
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 50u);
  const nlohmann::json first = get_json(client, "/api/scans/chip/candidates?limit=1")["candidates"][0];
  for (const char* field : {"id", "image", "image_id", "class", "score", "uncertainty", "area_um2", "area_px", "bbox",
                            "center", "verdict", "stage_x_um", "stage_y_um"})
    EXPECT_TRUE(first.contains(field)) << field;

  const nlohmann::json filtered =
      get_json(client, "/api/scans/chip/candidates?class=2&min_score=0.5&sort=area&order=asc&limit=500");
  ASSERT_GT(filtered["total"].get<int>(), 0);
  for (const auto& c : filtered["candidates"]) {
    EXPECT_EQ(c["class"], "2");
    EXPECT_GE(c["score"].get<double>(), 0.5);
  }

  for (const char* bad : {"limit=0", "limit=501", "limit=abc", "offset=-1", "offset=1.5", "sort=name", "order=up",
                          "min_score=2", "min_area_um2=-1", "verdict=maybe", "min_score=nan",
                          "max_uncertainty=-1"}) {
    const auto r = client.Get((std::string("/api/scans/chip/candidates?") + bad).c_str());
    EXPECT_EQ(status_of(r), 400) << bad;
    EXPECT_NE(error_of(r), "(no response)") << bad;
  }
  EXPECT_EQ(status_of(client.Get("/api/scans/nope/candidates")), 404);
  EXPECT_EQ(status_of(client.Get("/api/scans/bad%20name/candidates")), 400);
  EXPECT_EQ(status_of(client.Get("/api/scans/chip/candidates/abc")), 400);
  EXPECT_EQ(status_of(client.Get("/api/scans/chip/candidates/999999")), 404);

  const auto thumbnail = client.Get(("/api/scans/chip/candidates/" + std::to_string(ids[0]) + "/thumbnail").c_str());
  ASSERT_EQ(status_of(thumbnail), 200);
  EXPECT_EQ(thumbnail->get_header_value("Content-Type"), "image/jpeg");
}

TEST(ServeScans, ConcurrentReviewersNeverLoseAVerdict) {
  ScanServer s("mt_serve_scans_verdicts", 10, 20);
  LiveServer server(s.options);
  auto client = server.client();
  std::vector<int64_t> ids;
  const nlohmann::json page = get_json(client, "/api/scans/chip/candidates?limit=500");
  for (const auto& c : page["candidates"]) ids.push_back(c["id"]);
  ASSERT_EQ(ids.size(), 200u);

  constexpr size_t kReviewers = 8;
  std::vector<std::thread> reviewers;
  std::atomic<int> failures{0};
  for (size_t r = 0; r < kReviewers; ++r)
    reviewers.emplace_back([&, r] {
      auto own = server.client();
      for (size_t i = r; i < ids.size(); i += kReviewers)
        if (status_of(put_verdict(own, "chip", ids[i], {{"verdict", i % 4 ? "accept" : "reject"}})) != 200) ++failures;
    });
  for (auto& t : reviewers) t.join();
  EXPECT_EQ(failures, 0);
  const nlohmann::json scan = get_json(client, "/api/scans/chip");
  EXPECT_EQ(scan["reviewed"], 200);
  EXPECT_EQ(scan["rejected"], 50);
  EXPECT_EQ(get_json(client, "/api/scans/chip/candidates?verdict=reject&limit=1")["total"], 50);

  // A relabel, a verdict taken back, and bad bodies.
  const auto relabelled = put_verdict(client, "chip", ids[0], {{"verdict", "accept"}, {"class", "3"}});
  ASSERT_EQ(status_of(relabelled), 200);
  EXPECT_EQ(body_json(relabelled)["class"], "3");
  EXPECT_EQ(body_json(put_verdict(client, "chip", ids[1], {{"verdict", nullptr}}))["verdict"], nullptr);
  EXPECT_EQ(status_of(put_verdict(client, "chip", ids[2], {{"verdict", "maybe"}})), 400);
  EXPECT_EQ(status_of(put_verdict(client, "chip", ids[2], {{"class", "2"}})), 400);
  EXPECT_EQ(status_of(put_verdict(client, "chip", 999999, {{"verdict", "accept"}})), 404);
  EXPECT_EQ(status_of(client.Put("/api/scans/chip/candidates/1", "{not json", "application/json")), 400);

  const auto csv = client.Get("/api/scans/chip/export?format=csv&accepted=1");
  ASSERT_EQ(status_of(csv), 200);
  EXPECT_EQ(std::count(csv->body.begin(), csv->body.end(), '\n'), 1 + 150);  // header + accepted (one taken back, one relabel kept)
  EXPECT_EQ(status_of(client.Get("/api/scans/chip/export?format=xml")), 400);
  const nlohmann::json coco = body_json(client.Get("/api/scans/chip/export?format=coco"));
  EXPECT_EQ(coco["annotations"].size(), 200u);

  // Re-rank from these verdicts: a job, done within seconds, that says how the order changed.
  ASSERT_EQ(status_of(client.Post("/api/scans/chip/rerank", "", "application/json")), 202);
  nlohmann::json scan_after;
  for (int i = 0; i < 200; ++i) {
    scan_after = get_json(client, "/api/scans/chip");
    if (scan_after["state"] != "reranking") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(scan_after["state"], "idle") << scan_after.dump();
  EXPECT_EQ(scan_after["last_rerank"]["candidates"], 200);
  EXPECT_EQ(scan_after["last_rerank"]["positive"], 150);

  EXPECT_EQ(status_of(client.Delete("/api/scans/chip")), 200);
  EXPECT_EQ(status_of(client.Get("/api/scans/chip")), 404);
  EXPECT_EQ(get_json(client, "/api/scans")["scans"].size(), 0u);
}

TEST(ServeScans, CreatingAScanChecksItsNameAndFolder) {
  ScanServer s("mt_serve_scans_create");
  fs::create_directories(s.root() / "empty");
  LiveServer server(s.options);
  auto client = server.client();
  const auto post = [&](const nlohmann::json& body) { return client.Post("/api/scans", body.dump(), "application/json"); };
  EXPECT_EQ(status_of(post({{"name", "bad name"}, {"folder", "empty"}})), 400);
  EXPECT_EQ(status_of(post({{"name", "a"}, {"folder", "../"}})), 400);
  EXPECT_EQ(status_of(post({{"name", "a"}, {"folder", "/etc"}})), 400);
  EXPECT_EQ(status_of(post({{"name", "a"}, {"folder", "missing"}})), 404);
  EXPECT_EQ(status_of(post({{"folder", "empty"}})), 400);
  EXPECT_EQ(status_of(client.Post("/api/scans", "[1]", "application/json")), 400);
  fs::create_symlink("/etc", s.root() / "escape");
  EXPECT_EQ(status_of(post({{"name", "a"}, {"folder", "escape"}})), 400);
  EXPECT_EQ(status_of(client.Post("/api/scans/nope/rerank", "", "application/json")), 404);
}

TEST(ServeScans, RerankWithoutEnoughVerdictsIsRefused) {
  ScanServer s("mt_serve_scans_rerank", 2, 5);
  LiveServer server(s.options);
  auto client = server.client();
  const auto r = client.Post("/api/scans/chip/rerank", "", "application/json");
  EXPECT_EQ(status_of(r), 400);
  EXPECT_NE(error_of(r).find("accepted"), std::string::npos) << error_of(r);
}

TEST(ServeScans, WithoutAScanDatabaseTheRoutesSaySo) {
  const ScratchDir scratch("mt_serve_scans_none");
  serve::ServerOptions options;
  options.models_dir = scratch.path() / "models";
  LiveServer server(options);
  auto client = server.client();
  const auto r = client.Get("/api/scans");
  EXPECT_EQ(status_of(r), 404);
  EXPECT_NE(error_of(r).find("--scans"), std::string::npos);
  const nlohmann::json openapi = body_json(client.Get("/api/openapi.json"));
  for (const char* path : {"/api/scans", "/api/scans/{name}", "/api/scans/{name}/candidates",
                           "/api/scans/{name}/candidates/{id}", "/api/scans/{name}/candidates/{id}/thumbnail",
                           "/api/scans/{name}/images/{image_id}", "/api/scans/{name}/rerank", "/api/scans/{name}/export"})
    EXPECT_TRUE(openapi["paths"].contains(path)) << path;
}

// Slow (the default pipeline on one shared image): a real scan through the API.
TEST(ServeScans, ScansAFolderInTheBackground) {
  const fs::path image = fs::path(MASKTERIAL_SHARED_DATA) / "maskterial-demo/images/GrapheneH";
  REQUIRE_SHARED_DATA(fs::is_directory(image), "the shared GrapheneH images are missing: " + image.string());
  ScanServer s("mt_serve_scans_real");
  fs::create_directories(s.root() / "chip");
  std::vector<fs::path> images(fs::directory_iterator(image), fs::directory_iterator{});  // one pass: an input iterator
  const fs::path first = *std::min_element(images.begin(), images.end());
  fs::copy_file(first, s.root() / "chip" / first.filename());
  LiveServer server(s.options);
  auto client = server.client();
  const auto created = client.Post("/api/scans", R"({"name": "chip", "folder": "chip"})", "application/json");
  ASSERT_EQ(status_of(created), 202) << error_of(created);
  EXPECT_EQ(status_of(client.Post("/api/scans", R"({"name": "other", "folder": "chip"})", "application/json")), 409);
  nlohmann::json scan;
  for (int i = 0; i < 600; ++i) {
    scan = get_json(client, "/api/scans/chip");
    if (scan["state"] != "scanning") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_EQ(scan["state"], "idle") << scan.dump();
  EXPECT_EQ(scan["images_done"], 1);
  ASSERT_GE(scan["candidates"].get<int>(), 1);
  const nlohmann::json page = get_json(client, "/api/scans/chip/candidates?limit=500");
  const auto full = client.Get(("/api/scans/chip/images/" + std::to_string(page["candidates"][0]["image_id"].get<int64_t>())).c_str());
  ASSERT_EQ(status_of(full), 200);
  EXPECT_EQ(full->get_header_value("Content-Type"), "image/jpeg");

  EXPECT_GT(page["total"].get<int>(), 0);
}
