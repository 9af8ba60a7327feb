#pragma once
// Data-parallel training across processes through PyTorch's own c10d: every process computes gradients on
// its share of the batch, the gradients are summed (all-reduce) and averaged, so every process takes the same
// optimizer step and the replicas stay identical. Gloo process groups on the CPU; NCCL where libtorch was
// built with CUDA and the model lives on a GPU. Rendezvous through a TCP store hosted by rank 0.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace maskterial::segment {

class DistributedGroup {
 public:
  // Joins the group: world_size processes, this one `rank`, the store at master "HOST:PORT" (rank 0 listens
  // there). Blocks until all have joined or `timeout` passes. Throws Error on bad arguments, a timeout, or a
  // build without c10d support (see available()).
  DistributedGroup(int world_size, int rank, const std::string& master, torch::Device device = torch::kCPU,
                   std::chrono::seconds timeout = std::chrono::seconds(300));
  ~DistributedGroup();
  DistributedGroup(const DistributedGroup&) = delete;
  DistributedGroup& operator=(const DistributedGroup&) = delete;

  // Whether this build has a c10d backend (Gloo; NCCL with CUDA).
  static bool available();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

  // Rank 0's values of these tensors (parameters and buffers) overwrite everyone else's, in place.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // Gradients of the parameters that have one are replaced by their mean over all processes.
  void average_gradients(const std::vector<torch::Tensor>& parameters);
  // Sum of a number over all processes.
  double sum(double value);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int world_size_, rank_;
};

}  // namespace maskterial::segment
