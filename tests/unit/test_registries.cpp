// The loader registries (inference core) and the trainer registries (training library) name the same types.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "maskterial/classify/registry.hpp"
#include "maskterial/classify/trainers.hpp"
#include "maskterial/segment/registry.hpp"
#include "maskterial/segment/trainers.hpp"
#include "maskterial/util/error.hpp"

using namespace maskterial;

template <typename Entries, typename Name>
std::set<std::string> names_of(const Entries& entries, Name name) {
  std::set<std::string> names;
  for (const auto& e : entries) EXPECT_TRUE(names.insert(name(e)).second) << name(e) << " is registered twice";
  return names;
}

TEST(Registries, EveryClassifierTypeHasOneTrainer) {
  const auto types = names_of(classifier_types(), [](const ClassifierType& t) { return t.name; });
  const auto trainers = names_of(classifier_trainers(), [](const ClassifierTrainer& t) { return t.type; });
  EXPECT_EQ(types, trainers);
  EXPECT_EQ(types, (std::set<std::string>{"amm", "gmm", "mlp"}));
  for (const ClassifierType& t : classifier_types()) {
    EXPECT_FALSE(t.description.empty()) << t.name;
    EXPECT_TRUE(t.load) << t.name;
    EXPECT_TRUE(classifier_trainer(t.name).fit) << t.name;
  }
  EXPECT_EQ(classifier_trainer(kDefaultClassifierType).type, "amm");
}

TEST(Registries, EverySegmenterTypeHasOneFineTuner) {
  const auto types = names_of(segment::segmenter_types(), [](const segment::SegmenterType& t) { return t.name; });
  const auto trainers = names_of(segment::segmenter_trainers(), [](const segment::SegmenterTrainer& t) { return t.type; });
  EXPECT_EQ(types, trainers);
  for (const segment::SegmenterTrainer& t : segment::segmenter_trainers()) {
    EXPECT_TRUE(t.finetune) << t.type;
    EXPECT_GT(t.finetuning_defaults().iterations, 0) << t.type;
    EXPECT_GT(t.finetuning_crop, 0) << t.type;
  }
}

TEST(Registries, UnknownTypesListTheKnownOnes) {
  for (const auto& lookup : {+[] { classifier_trainer("svm"); }, +[] { classifier_type("svm"); }}) {
    try {
      lookup();
      ADD_FAILURE() << "no error for an unknown classifier type";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("amm, mlp, gmm"), std::string::npos) << e.what();
    }
  }
  try {
    segment::segmenter_trainer("unet");
    ADD_FAILURE() << "no error for an unknown segmentation model type";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mask2former"), std::string::npos) << e.what();
  }
}
