#include "maskterial/segment/mask2former/hungarian.hpp"

#include <cmath>
#include <limits>

#include "maskterial/util/error.hpp"

namespace maskterial::segment {
namespace {

// n <= m. Rows are added one at a time; each addition grows a shortest augmenting path (Dijkstra on reduced
// costs kept non-negative by the potentials u, v). Index 0 is a virtual column that roots the path.
std::vector<int> assign_rows(const std::vector<double>& cost, int n, int m) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0), v(m + 1, 0);
  std::vector<int> row_of(m + 1, 0), previous(m + 1, 0);  // row_of[j]: row (1-based) assigned to column j
  for (int i = 1; i <= n; ++i) {
    row_of[0] = i;
    int j0 = 0;
    std::vector<double> min_to(m + 1, inf);
    std::vector<char> used(m + 1, 0);
    do {
      used[j0] = 1;
      const int i0 = row_of[j0];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double reduced = cost[static_cast<size_t>(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
        if (reduced < min_to[j]) min_to[j] = reduced, previous[j] = j0;
        if (min_to[j] < delta) delta = min_to[j], j1 = j;
      }
      for (int j = 0; j <= m; ++j) {
        if (used[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          min_to[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    do {  // flip the augmenting path
      const int j1 = previous[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> column(n, -1);
  for (int j = 1; j <= m; ++j)
    if (row_of[j] != 0) column[row_of[j] - 1] = j - 1;
  return column;
}

}  // namespace

std::vector<int> solve_assignment(const std::vector<double>& cost, int rows, int cols) {
  if (rows < 0 || cols < 0 || cost.size() != static_cast<size_t>(rows) * static_cast<size_t>(cols))
    throw Error("assignment: cost matrix size does not match " + std::to_string(rows) + " x " + std::to_string(cols));
  for (double c : cost)
    if (!std::isfinite(c)) throw Error("assignment: cost matrix has a non-finite entry");
  if (rows == 0 || cols == 0) return std::vector<int>(rows, -1);
  if (rows <= cols) return assign_rows(cost, rows, cols);
  // More rows than columns: assign every column to a row on the transposed matrix.
  std::vector<double> transposed(cost.size());
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) transposed[static_cast<size_t>(c) * rows + r] = cost[static_cast<size_t>(r) * cols + c];
  const std::vector<int> row_of_column = assign_rows(transposed, cols, rows);
  std::vector<int> column(rows, -1);
  for (int c = 0; c < cols; ++c) column[row_of_column[c]] = c;
  return column;
}

}  // namespace maskterial::segment
