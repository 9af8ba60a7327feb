#include "maskterial/store/rank_change.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <numeric>

namespace maskterial::store {
namespace {

std::vector<double> mean_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return v[i] < v[j]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = (i + j) / 2.0;
    i = j + 1;
  }
  return ranks;
}

// Pairs tied within each run of equal values of v, in sorted order of some permutation.
uint64_t tied_pairs(const std::vector<double>& sorted) {
  uint64_t ties = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    ties += static_cast<uint64_t>(j - i) * (j - i - 1) / 2;
    i = j;
  }
  return ties;
}

// Sorts v ascending, returning the number of swaps (inversions) a stable merge sort makes.
uint64_t merge_count(std::vector<double>& v) {
  uint64_t swaps = 0;
  std::vector<double> buffer(v.size());
  for (size_t width = 1; width < v.size(); width *= 2) {
    for (size_t lo = 0; lo < v.size(); lo += 2 * width) {
      const size_t mid = std::min(lo + width, v.size()), hi = std::min(lo + 2 * width, v.size());
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (v[j] < v[i]) {
          swaps += mid - i;
          buffer[k++] = v[j++];
        } else {
          buffer[k++] = v[i++];
        }
      }
      while (i < mid) buffer[k++] = v[i++];
      while (j < hi) buffer[k++] = v[j++];
    }
    v.swap(buffer);
  }
  return swaps;
}

}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = std::min(a.size(), b.size());
  if (n < 2) return 0;
  const std::vector<double> ra = mean_ranks(a), rb = mean_ranks(b);
  const double mean = (n - 1) / 2.0;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0;
}

double kendall_tau_b(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = std::min(a.size(), b.size());
  if (n < 2) return 0;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return a[i] != a[j] ? a[i] < a[j] : b[i] < b[j]; });
  std::vector<double> sa(n), sb(n);
  for (size_t k = 0; k < n; ++k) sa[k] = a[order[k]], sb[k] = b[order[k]];
  const uint64_t ties_a = tied_pairs(sa);
  uint64_t ties_both = 0;  // pairs tied in a and in b
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && sa[j] == sa[i] && sb[j] == sb[i]) ++j;
    ties_both += static_cast<uint64_t>(j - i) * (j - i - 1) / 2;
    i = j;
  }
  const uint64_t discordant = merge_count(sb);  // sb is sorted afterwards
  const uint64_t ties_b = tied_pairs(sb);
  const double pairs = static_cast<double>(n) * (n - 1) / 2;
  const double concordant_minus_discordant =
      pairs - static_cast<double>(ties_a) - static_cast<double>(ties_b) + static_cast<double>(ties_both) -
      2.0 * static_cast<double>(discordant);
  const double denominator = std::sqrt((pairs - ties_a) * (pairs - ties_b));
  return denominator > 0 ? concordant_minus_discordant / denominator : 0;
}

size_t moved_into_top(const std::vector<double>& before, const std::vector<double>& after, size_t n) {
  const auto top = [n](const std::vector<double>& v) {
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return v[i] > v[j]; });
    order.resize(std::min(n, order.size()));
    std::sort(order.begin(), order.end());
    return order;
  };
  const std::vector<size_t> old_top = top(before), new_top = top(after);
  std::vector<size_t> entered;
  std::set_difference(new_top.begin(), new_top.end(), old_top.begin(), old_top.end(), std::back_inserter(entered));
  return entered.size();
}

}  // namespace maskterial::store
