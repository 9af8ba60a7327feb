#pragma once
// PyTorch checkpoint files (`torch.save` zip archives) holding a state dict: name -> tensor. libtorch's own
// pickle_load gives up on the OrderedDict that `module.state_dict()` returns, so the archive's data.pkl is
// read by a small unpickler that understands what torch.save writes for tensors and (ordered) dicts, and
// nothing else: any other object is refused with an error naming the file.
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace maskterial {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;  // in file order

// Throws Error naming the file if it is not a torch.save zip archive, is truncated, or holds anything but a
// dict (plain or ordered, possibly nested one level under a key like "model") of tensors.
StateDict load_state_dict(const std::string& path);

// Written with libtorch's pickler as a plain dict that Python's torch.load reads; atomic (temp + rename).
void save_state_dict(const std::string& path, const StateDict& tensors);

// The tensor with that name; throws Error naming the file if it is missing.
const torch::Tensor& find_tensor(const StateDict& dict, const std::string& name, const std::string& source);

}  // namespace maskterial
