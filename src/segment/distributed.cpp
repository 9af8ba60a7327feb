#include "maskterial/segment/distributed.hpp"

#include <cstdlib>

#include "maskterial/util/error.hpp"

#if defined(USE_C10D_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace maskterial::segment {
namespace {

std::pair<std::string, int> parse_master(const std::string& master) {
  const size_t colon = master.rfind(':');
  if (colon == std::string::npos || colon == 0) throw Error("--master must be HOST:PORT, got '" + master + "'");
  char* end = nullptr;
  const long port = std::strtol(master.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) throw Error("--master: bad port in '" + master + "'");
  return {master.substr(0, colon), static_cast<int>(port)};
}

}  // namespace

#if defined(USE_C10D_GLOO)

// The concrete process groups are held by their own types: libtorch 1.x derives them from ProcessGroup,
// 2.x from Backend, and both have the same collective calls.
struct DistributedGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#if defined(USE_C10D_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  torch::Device device = torch::kCPU;

  template <class Call>
  void run(const Call& call) {
#if defined(USE_C10D_NCCL)
    if (nccl) return call(*nccl);
#endif
    call(*gloo);
  }
  void all_reduce_sum(torch::Tensor& tensor) {
    std::vector<torch::Tensor> tensors{tensor};
    run([&](auto& group) { group.allreduce(tensors)->wait(); });
  }
};

bool DistributedGroup::available() { return true; }

DistributedGroup::DistributedGroup(int world_size, int rank, const std::string& master, torch::Device device,
                                   std::chrono::seconds timeout)
    : impl_(std::make_unique<Impl>()), world_size_(world_size), rank_(rank) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw Error("distributed: rank " + std::to_string(rank) + " is not in a world of size " + std::to_string(world_size));
  const auto [host, port] = parse_master(master);
  impl_->device = device;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(port);
    store_options.isServer = rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(world_size);
    store_options.waitWorkers = true;
    store_options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    impl_->store = c10::make_intrusive<c10d::TCPStore>(host, store_options);
    if (device.is_cuda()) {
#if defined(USE_C10D_NCCL)
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, rank, world_size);
#else
      throw Error("distributed: this build has no NCCL backend for CUDA devices");
#endif
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create();
      options->timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
      // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; loopback masters stay on loopback.
      if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      else if (host == "127.0.0.1" || host == "localhost")
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, rank, world_size, options);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("distributed: joining rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " at " +
                master + " failed: " + e.what());
  }
}

DistributedGroup::~DistributedGroup() = default;

void DistributedGroup::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (world_size_ == 1 || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  for (const torch::Tensor& t : tensors) {  // one by one: they differ in type (float weights, integer counters)
    std::vector<torch::Tensor> buffer{t.detach().contiguous()};
    impl_->run([&](auto& group) { group.broadcast(buffer)->wait(); });
    if (!buffer[0].is_same(t)) t.detach().copy_(buffer[0]);
  }
}

void DistributedGroup::average_gradients(const std::vector<torch::Tensor>& parameters) {
  if (world_size_ == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return;
  // One all-reduce over a flat copy of all gradients instead of one per tensor.
  std::vector<torch::Tensor> parts;
  for (const torch::Tensor& g : grads) parts.push_back(g.reshape(-1));
  torch::Tensor flat = torch::cat(parts);
  impl_->all_reduce_sum(flat);
  flat.div_(world_size_);
  int64_t offset = 0;
  for (torch::Tensor& g : grads) {
    g.copy_(flat.narrow(0, offset, g.numel()).view(g.sizes()));
    offset += g.numel();
  }
}

double DistributedGroup::sum(double value) {
  if (world_size_ == 1) return value;
  torch::Tensor t = torch::tensor({value}, torch::kFloat64).to(impl_->device);
  impl_->all_reduce_sum(t);
  return t.to(torch::kCPU).item<double>();
}

#else  // no c10d backend in this build

struct DistributedGroup::Impl {};

bool DistributedGroup::available() { return false; }

DistributedGroup::DistributedGroup(int world_size, int rank, const std::string& master, torch::Device, std::chrono::seconds)
    : world_size_(world_size), rank_(rank) {
  parse_master(master);
  throw Error("distributed training is not available: maskterial was built without c10d Gloo (install libgloo-dev "
              "and rebuild)");
}

DistributedGroup::~DistributedGroup() = default;
void DistributedGroup::broadcast(const std::vector<torch::Tensor>&) {}
void DistributedGroup::average_gradients(const std::vector<torch::Tensor>&) {}
double DistributedGroup::sum(double value) { return value; }

#endif

}  // namespace maskterial::segment
