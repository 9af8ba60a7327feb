#include "maskterial/store/rerank.hpp"

#include <chrono>

#include "maskterial/score/evidence.hpp"
#include "maskterial/score/flake_score.hpp"
#include "maskterial/store/rank_change.hpp"
#include "maskterial/util/clock.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::store {

nlohmann::json rerank_scan(ScanStore& store, const ScanInfo& scan) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<RerankRow> rows = store.rerank_rows(scan.id);
  std::vector<score::Example> examples;
  size_t positive = 0;
  for (const RerankRow& row : rows) {
    if (row.verdict == Verdict::None || row.evidence.size() != score::evidence_names().size()) continue;
    // A relabel says the candidate is a flake, of another class: a positive example for the flake score.
    const bool is_positive = row.verdict == Verdict::Accept || row.relabelled;
    examples.push_back({row.evidence, is_positive});
    positive += is_positive;
  }
  score::FlakeScoreFitOptions fit_options;
  fit_options.min_examples_per_kind = kMinVerdictsPerKind;
  const size_t needed = static_cast<size_t>(fit_options.min_examples_per_kind);
  if (positive < needed || examples.size() - positive < needed)
    throw Error("scan '" + scan.name + "': re-ranking needs at least " + std::to_string(needed) +
                " accepted and " + std::to_string(needed) + " rejected candidates (has " + std::to_string(positive) +
                " and " + std::to_string(examples.size() - positive) + ")");
  // The prior is the model the scan was detected with, never a previous re-rank's: re-ranking twice with the same
  // verdicts gives the same order, and no verdict is counted twice.
  std::optional<score::FlakeScoreModel> prior;
  const nlohmann::json detected =
      scan.settings.is_object() ? scan.settings.value(kDetectorScoreModel, nlohmann::json()) : nlohmann::json();
  if (detected.is_object())
    prior = score::FlakeScoreModel::from_json(detected, "the scan's flake score");
  const score::FlakeScoreModel model = score::FlakeScoreModel::fit(examples, prior ? &*prior : nullptr, fit_options);
  std::vector<double> before, after;
  before.reserve(rows.size());
  after.reserve(rows.size());
  for (RerankRow& row : rows) {
    before.push_back(row.score);
    if (row.evidence.size() == score::evidence_names().size()) row.score = model.probability(row.evidence);
    after.push_back(row.score);
  }
  const nlohmann::json summary = {
      {"time", utc_now()},
      {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
      {"candidates", rows.size()},
      {"positive", positive},
      {"negative", examples.size() - positive},
      {"top_n", kRerankTopN},
      {"moved_into_top_n", moved_into_top(before, after, kRerankTopN)},
      {"spearman", spearman(before, after)},
      {"kendall_tau", kendall_tau_b(before, after)}};
  store.save_rerank(scan.id, rows, model.to_json(), summary);
  return summary;
}

}  // namespace maskterial::store
