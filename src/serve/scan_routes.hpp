#pragma once
// The scan review API (/api/scans...; docs/scan.md): scans of folders under the scan root, run as background
// jobs, their candidates paged and filtered for the review page, verdicts, re-rank and export. Without a scan
// database (serve --scans) every route answers 404 saying how to start the server with one.
#include <filesystem>
#include <memory>

#include <httplib.h>

#include "maskterial/serve/model_store.hpp"
#include "maskterial/store/scan_store.hpp"
#include "scan_jobs.hpp"

namespace maskterial::serve {

constexpr int64_t kMaxCandidatePage = 500;

struct ScanContext {
  store::ScanStore* scans;  // null: the server has no scan database
  ScanJobs* jobs;
  ModelStore& models;
  std::filesystem::path scan_root;
};

// Registers the routes; they must come before the server's catch-all page route. context must outlive http.
void add_scan_routes(httplib::Server& http, const ScanContext& context);

}  // namespace maskterial::serve
