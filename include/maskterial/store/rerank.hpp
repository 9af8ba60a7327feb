#pragma once
// Every verdict teaches: re-ranking refits the scan's flake score from its verdicts (accept = positive example,
// reject = negative, a relabel = positive) starting from the model the scan was detected with, and rescores
// every stored candidate from its stored evidence, in one transaction. No image is read again.
#include <cstddef>

#include <nlohmann/json.hpp>

#include "maskterial/store/scan_store.hpp"

namespace maskterial::store {

constexpr size_t kRerankTopN = 50;  // "moved into the top N" of the summary
// Where a scan's settings keep the flake-score model its detector scored with (JSON; null when it had none).
constexpr const char* kDetectorScoreModel = "flake_score_model";

// Returns (and stores as the scan's last_rerank) {"time", "seconds", "candidates", "positive", "negative",
// "top_n", "moved_into_top_n", "spearman", "kendall_tau"}. Throws Error when the scan has too few accepted or
// rejected candidates to fit (score::FlakeScoreFitOptions::min_examples_per_kind of each).
nlohmann::json rerank_scan(ScanStore& store, const ScanInfo& scan);

// A reviewer's verdicts are deliberate, not sampled: one of each kind already says which way the evidence points,
// where a fit on a detector's candidates wants a few (score::FlakeScoreFitOptions).
constexpr int kMinVerdictsPerKind = 1;

}  // namespace maskterial::store
