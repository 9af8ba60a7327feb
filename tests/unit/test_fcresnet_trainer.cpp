// FCResNetTrainer against libtorch autograd on the same network, batch and dropout masks: loss, gradients
// (through the spectral factor), power-iteration buffers and Adam's updates over two steps.
#include <gtest/gtest.h>

#include "maskterial/classify/fcresnet_trainer.hpp"
#include "maskterial/util/error.hpp"

using namespace maskterial;

namespace {

struct Batch {
  std::vector<float> data;
  std::vector<int64_t> labels, index;
};

// 300 samples (two full chunks and a ragged one), drawn from 400 rows with repeats, as training batches are.
Batch random_batch(int classes) {
  torch::manual_seed(7);
  Batch b;
  const torch::Tensor x = torch::randn({400, 3});
  b.data.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  const torch::Tensor y = torch::randint(classes, {400}, torch::kInt64);
  b.labels.assign(y.data_ptr<int64_t>(), y.data_ptr<int64_t>() + 400);
  const torch::Tensor i = torch::randint(400, {300}, torch::kInt64);
  b.index.assign(i.data_ptr<int64_t>(), i.data_ptr<int64_t>() + 300);
  return b;
}

torch::Tensor as_tensor(const std::vector<float>& v, torch::IntArrayRef shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
}

// The module's training forward with the trainer's dropout masks instead of torch's.
torch::Tensor reference_loss(FCResNet& net, const FCResNetTrainer& trainer, int64_t step, const Batch& b) {
  const FCResNetOptions& o = net->options();
  const auto modules = net->named_modules();
  const auto linear = [&](const std::string& name, const torch::Tensor& z) {
    const auto& m = modules[name];
    if (auto* s = m->as<SpectralLinearImpl>()) return s->forward(z);
    return m->as<torch::nn::LinearImpl>()->forward(z);
  };
  const torch::Tensor idx = torch::tensor(b.index, torch::kInt64);
  const torch::Tensor x = torch::from_blob(const_cast<float*>(b.data.data()), {400, 3}).index_select(0, idx);
  const torch::Tensor y = torch::tensor(b.labels, torch::kInt64).index_select(0, idx);
  torch::Tensor z = linear("first", x);
  for (int block = 0; block < o.depth; ++block) {
    torch::Tensor mask = torch::empty({static_cast<int64_t>(b.index.size()), o.embedding_dim});
    for (int64_t s = 0; s < mask.size(0); ++s)
      for (int j = 0; j < o.embedding_dim; ++j) mask[s][j] = trainer.dropout_keeps(step, block, s, j) ? 1.0f : 0.0f;
    z = z + torch::elu(linear("residuals." + std::to_string(block), z)) * mask / (1 - o.dropout_rate);
  }
  return torch::nn::functional::cross_entropy(linear("last", z), y);
}

void expect_close(const torch::Tensor& expected, const torch::Tensor& got, const std::string& what) {
  const double scale = expected.abs().max().item<double>();
  EXPECT_LT((expected - got).abs().max().item<double>(), 2e-5 * std::max(scale, 1e-3)) << what;
}

void check_against_autograd(bool spectral, const std::string& instruction_set) {
  FCResNetOptions o;
  o.num_classes = 3;
  o.spectral_normalization = spectral;
  torch::manual_seed(1);
  FCResNet net(o);
  {
    torch::NoGradGuard no_grad;  // σ well above coeff in the residual layers, below it in the first
    for (auto& p : net->named_parameters())
      if (p.key().find("weight") != std::string::npos && p.key().rfind("last", 0) != 0)
        p.value().mul_(p.key().rfind("first", 0) == 0 ? 0.1 : 4.0);
  }
  const Batch b = random_batch(o.num_classes);
  FCResNetTrainer trainer(net, 0.01, 5, instruction_set);
  net->train();
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(0.01));
  for (int64_t step = 0; step < 2; ++step) {
    adam.zero_grad();
    const torch::Tensor loss = reference_loss(net, trainer, step, b);
    loss.backward();
    adam.step();
    const double got_loss = trainer.step(b.data.data(), b.labels.data(), b.index.data(), b.index.size(), true);
    EXPECT_NEAR(got_loss, loss.item<double>(), 1e-5);

    FCResNet copy(o);
    trainer.copy_to(copy);
    const auto expected = net->named_parameters();
    const auto got = copy->named_parameters();
    const auto expected_buffers = net->named_buffers();
    const auto got_buffers = copy->named_buffers();
    for (size_t i = 0; i < trainer.layers().size(); ++i) {
      const TrainerLayer& layer = trainer.layers()[i];
      const std::string name = i == 0 ? "first" : i + 1 == trainer.layers().size() ? "last"
                                                                                  : "residuals." + std::to_string(i - 1);
      const std::string weight = name + (layer.spectral ? ".weight_orig" : ".weight");
      const std::string at = " (" + name + ", step " + std::to_string(step) + ")";
      expect_close(expected[weight].grad(), as_tensor(layer.grad_weight, {layer.out, layer.in}), "weight gradient" + at);
      expect_close(expected[name + ".bias"].grad(), as_tensor(layer.grad_bias, {layer.out}), "bias gradient" + at);
      expect_close(expected[weight].detach(), got[weight], "weight after Adam" + at);
      expect_close(expected[name + ".bias"].detach(), got[name + ".bias"], "bias after Adam" + at);
      if (!layer.spectral) continue;
      expect_close(expected_buffers[name + ".weight_u"], got_buffers[name + ".weight_u"], "u" + at);
      expect_close(expected_buffers[name + ".weight_sigma"], got_buffers[name + ".weight_sigma"], "sigma" + at);
    }
  }
}

}  // namespace

// Every kernel this CPU can run (the best one is what training uses).
std::vector<std::string> runnable_instruction_sets() {
  std::vector<std::string> out;
  for (const char* isa : {"generic", "avx2", "avx512"}) {
    try {
      FCResNetTrainer(FCResNet(FCResNetOptions{}), 0.01, 0, isa);
      out.push_back(isa);
    } catch (const Error&) {
    }
  }
  return out;
}

TEST(FCResNetTrainer, SpectralNetworkMatchesAutogradAndAdam) {
  for (const std::string& isa : runnable_instruction_sets()) {
    SCOPED_TRACE(isa);
    check_against_autograd(true, isa);
  }
}

TEST(FCResNetTrainer, PlainNetworkMatchesAutogradAndAdam) {
  for (const std::string& isa : runnable_instruction_sets()) {
    SCOPED_TRACE(isa);
    check_against_autograd(false, isa);
  }
}

TEST(FCResNetTrainer, RefusesAnInstructionSetItHasNoKernelFor) {
  EXPECT_THROW(FCResNetTrainer(FCResNet(FCResNetOptions{}), 0.01, 0, "sse9"), Error);
  EXPECT_NE(std::string(FCResNetTrainer::best_instruction_set()), "");
}

TEST(FCResNetTrainer, DropoutKeepsOneMinusPAndChangesEveryStepAndBlock) {
  FCResNetOptions o;
  o.dropout_rate = 0.1;
  FCResNetTrainer trainer(FCResNet(o), 0.01, 3);
  size_t kept = 0, same_next_step = 0, same_next_block = 0;
  const int64_t samples = 20000;
  for (int64_t s = 0; s < samples; ++s)
    for (int j = 0; j < o.embedding_dim; ++j) {
      const bool keep = trainer.dropout_keeps(0, 0, s, j);
      kept += keep;
      same_next_step += keep == trainer.dropout_keeps(1, 0, s, j);
      same_next_block += keep == trainer.dropout_keeps(0, 1, s, j);
    }
  const double units = static_cast<double>(samples * o.embedding_dim);
  EXPECT_NEAR(kept / units, 0.9, 0.003);
  // Independent masks agree on 0.9² + 0.1² = 82% of the units.
  EXPECT_NEAR(same_next_step / units, 0.82, 0.005);
  EXPECT_NEAR(same_next_block / units, 0.82, 0.005);
}
