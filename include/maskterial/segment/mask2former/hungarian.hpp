#pragma once
// Minimum-cost bipartite assignment (the Hungarian method with potentials, O(n^2 m) for n <= m), as
// scipy.optimize.linear_sum_assignment solves it for Mask2Former's matcher.
#include <vector>

namespace maskterial::segment {

// cost: rows x cols, row-major. Assigns min(rows, cols) pairs with the least total cost; returns, for every
// row, its column or -1 when the row is left out (rows > cols). Throws Error on a non-finite cost.
std::vector<int> solve_assignment(const std::vector<double>& cost, int rows, int cols);

}  // namespace maskterial::segment
