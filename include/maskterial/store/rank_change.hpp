#pragma once
// How a re-rank changed a ranking: rank correlations between the old and the new scores of the same items,
// and how many items entered the top N.
#include <cstddef>
#include <vector>

namespace maskterial::store {

// Spearman's rho (Pearson correlation of the ranks, ties given their mean rank). 0 for fewer than 2 items or a
// constant side.
double spearman(const std::vector<double>& a, const std::vector<double>& b);
// Kendall's tau-b (ties corrected), in O(n log n) by counting discordant pairs with a merge sort (Knight), so
// 200,000 candidates take milliseconds. 0 for fewer than 2 items or a constant side.
double kendall_tau_b(const std::vector<double>& a, const std::vector<double>& b);
// Items in the top n by `after` (highest first) that were not in the top n by `before`.
size_t moved_into_top(const std::vector<double>& before, const std::vector<double>& after, size_t n);

}  // namespace maskterial::store
