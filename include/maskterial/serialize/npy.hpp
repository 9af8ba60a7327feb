#pragma once
// NumPy .npy files (format 1.0–3.0), the tensor files of MaskTerial's model directories (loc.npy, cov.npy).
// Little-endian float32/float64/int64/int32/uint8 arrays in C or Fortran order are read; float32 C-order
// arrays are written (what np.save writes for a float32 array).
#include <string>

#include <torch/torch.h>

namespace maskterial::npy {

// Throws Error naming the file on a bad magic, header, dtype or truncated data.
torch::Tensor load(const std::string& path);
torch::Tensor parse(const std::string& bytes, const std::string& source_name);

// Contiguous float32 copy of the tensor, written atomically.
void save(const std::string& path, const torch::Tensor& tensor);
std::string serialize(const torch::Tensor& tensor);

}  // namespace maskterial::npy
