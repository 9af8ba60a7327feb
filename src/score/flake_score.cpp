#include "maskterial/score/flake_score.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/ml.hpp>

#include "maskterial/score/evidence.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::score {
namespace {

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

double FlakeScoreModel::logit(const std::vector<float>& evidence) const {
  if (weights_.empty()) throw Error("flake score: the model has no weights");
  if (evidence.size() != names_.size())
    throw Error("flake score: expected " + std::to_string(names_.size()) + " evidence values, got " +
                std::to_string(evidence.size()));
  double z = bias_;
  for (size_t i = 0; i < names_.size(); ++i) z += weights_[i] * (evidence[i] - mean_[i]) / scale_[i];
  if (prior_) {
    const size_t k = names_.size();
    z += weights_[k] * (prior_->logit(evidence) - mean_[k]) / scale_[k];
  }
  return z;
}

double FlakeScoreModel::probability(const std::vector<float>& evidence) const { return sigmoid(logit(evidence)); }

FlakeScoreModel FlakeScoreModel::fit(const std::vector<Example>& examples, const FlakeScoreModel* prior,
                                     const FlakeScoreFitOptions& options) {
  const std::vector<std::string>& names = evidence_names();
  int positives = 0;
  for (const Example& e : examples) {
    if (e.evidence.size() != names.size())
      throw Error("flake score: an example has " + std::to_string(e.evidence.size()) + " evidence values, expected " +
                  std::to_string(names.size()));
    positives += e.positive;
  }
  const int negatives = static_cast<int>(examples.size()) - positives;
  if (std::min(positives, negatives) < options.min_examples_per_kind)
    return prior ? *prior : FlakeScoreModel{};

  FlakeScoreModel model;
  model.names_ = names;
  if (prior) model.prior_ = std::make_shared<const FlakeScoreModel>(*prior);
  const size_t inputs = names.size() + (prior ? 1 : 0);
  const auto row_of = [&](const Example& e) {
    std::vector<double> row(e.evidence.begin(), e.evidence.end());
    if (prior) row.push_back(prior->logit(e.evidence));
    return row;
  };
  // Standardised inputs, so one learning rate and one L2 penalty suit them all.
  std::vector<std::vector<double>> rows;
  for (const Example& e : examples) rows.push_back(row_of(e));
  model.mean_.assign(inputs, 0.0);
  model.scale_.assign(inputs, 0.0);
  for (const auto& r : rows)
    for (size_t i = 0; i < inputs; ++i) model.mean_[i] += r[i] / static_cast<double>(rows.size());
  for (const auto& r : rows)
    for (size_t i = 0; i < inputs; ++i) model.scale_[i] += std::pow(r[i] - model.mean_[i], 2) / static_cast<double>(rows.size());
  for (double& s : model.scale_) s = s > 1e-12 ? std::sqrt(s) : 1.0;

  // True flakes are few among many candidates: each positive is repeated so both kinds weigh alike, and the
  // bias is shifted back afterwards so the probability stays calibrated to the real proportion.
  const int repeat = std::max(1, static_cast<int>(std::lround(static_cast<double>(negatives) / positives)));
  const int n = negatives + positives * repeat;
  cv::Mat samples(n, static_cast<int>(inputs), CV_32F), responses(n, 1, CV_32F);
  int at = 0;
  for (size_t k = 0; k < rows.size(); ++k)
    for (int copy = 0; copy < (examples[k].positive ? repeat : 1); ++copy, ++at) {
      for (size_t i = 0; i < inputs; ++i)
        samples.at<float>(at, static_cast<int>(i)) = static_cast<float>((rows[k][i] - model.mean_[i]) / model.scale_[i]);
      responses.at<float>(at, 0) = examples[k].positive ? 1.0f : 0.0f;
    }
  const cv::Ptr<cv::ml::LogisticRegression> lr = cv::ml::LogisticRegression::create();
  lr->setLearningRate(options.learning_rate);
  lr->setIterations(options.iterations);
  lr->setRegularization(cv::ml::LogisticRegression::REG_L2);
  lr->setTrainMethod(cv::ml::LogisticRegression::BATCH);
  if (!lr->train(cv::ml::TrainData::create(samples, cv::ml::ROW_SAMPLE, responses)))
    throw Error("flake score: the logistic regression did not train");
  const cv::Mat thetas = lr->get_learnt_thetas();  // [bias, weights...] for P(positive)
  model.bias_ = thetas.at<float>(0, 0) - std::log(static_cast<double>(repeat));
  for (size_t i = 0; i < inputs; ++i) model.weights_.push_back(thetas.at<float>(0, static_cast<int>(i + 1)));
  model.info_ = {{"positives", positives}, {"negatives", negatives}, {"prior", prior != nullptr}};
  return model;
}

nlohmann::json FlakeScoreModel::to_json() const {
  nlohmann::json j = {{"type", "logistic"}, {"evidence", names_}, {"mean", mean_}, {"scale", scale_},
                      {"weights", weights_}, {"bias", bias_}, {"info", info_}};
  if (prior_) j["prior"] = prior_->to_json();
  return j;
}

FlakeScoreModel FlakeScoreModel::from_json(const nlohmann::json& j, const std::string& origin) {
  const auto bad = [&](const std::string& what) { return Error(origin + ": " + what); };
  if (!j.is_object() || j.value("type", "") != "logistic") throw bad("not a flake score model (type \"logistic\")");
  FlakeScoreModel m;
  try {
    m.names_ = j.at("evidence").get<std::vector<std::string>>();
    m.mean_ = j.at("mean").get<std::vector<double>>();
    m.scale_ = j.at("scale").get<std::vector<double>>();
    m.weights_ = j.at("weights").get<std::vector<double>>();
    m.bias_ = j.at("bias").get<double>();
    if (j.contains("prior")) m.prior_ = std::make_shared<const FlakeScoreModel>(from_json(j["prior"], origin + " (prior)"));
    m.info_ = j.value("info", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("malformed: ") + e.what());
  }
  if (m.names_ != evidence_names())
    throw bad("was fitted on other evidence than this version measures; re-fit it (train-classifier)");
  const size_t inputs = m.names_.size() + (m.prior_ ? 1 : 0);
  if (m.mean_.size() != inputs || m.scale_.size() != inputs || m.weights_.size() != inputs)
    throw bad("expected " + std::to_string(inputs) + " means, scales and weights");
  for (size_t i = 0; i < inputs; ++i)
    if (!std::isfinite(m.mean_[i]) || !(m.scale_[i] > 0) || !std::isfinite(m.weights_[i])) throw bad("non-finite weights");
  if (!std::isfinite(m.bias_)) throw bad("non-finite bias");
  return m;
}

void FlakeScoreModel::save(const std::filesystem::path& file) const { write_json_atomic(file.string(), to_json(), 1); }

FlakeScoreModel FlakeScoreModel::load(const std::filesystem::path& file) {
  return from_json(read_json(file.string()), file.string());
}

std::string find_flake_score(const std::string& classifier_dir, const std::string& segmenter_dir) {
  for (const std::string& dir : {classifier_dir, segmenter_dir}) {
    if (dir.empty() || !std::filesystem::is_directory(dir)) continue;
    const std::filesystem::path file = std::filesystem::path(dir) / kFlakeScoreFile;
    if (std::filesystem::is_regular_file(file)) return file.string();
  }
  return "";
}

}  // namespace maskterial::score
