#pragma once
// What the process computes with, for `maskterial doctor` and bug reports: CPU and its features, the BLAS
// library, kernel family and self-check (blas_runtime.hpp), thread counts of libtorch, OpenBLAS and
// OpenCV, oneDNN's version and instruction set, and the FCResNet trainer's kernel.
#include <string>

namespace maskterial {

std::string runtime_report();  // "name: value" lines

}  // namespace maskterial
