#!/usr/bin/env bash
# The inference core stands alone: nothing it needs is defined only in the training or serving library, and it
# holds no cpp-httplib code. Arguments: the three static libraries (core, train, serve).
set -euo pipefail
core=$1 train=$2 serve=$3
defined() { nm -C --defined-only "$1" 2>/dev/null | awk '$2 ~ /^[TWVDBR]$/ {sub(/^[^ ]+ [^ ]+ /, ""); print}' | sort -u; }
needed=$(nm -C -u "$core" 2>/dev/null | awk '{sub(/^ *U /, ""); print}' | sort -u)
leaks=$(comm -12 <(echo "$needed") <(cat <(defined "$train") <(defined "$serve") | sort -u))
if [[ -n "$leaks" ]]; then
  echo "the inference core uses symbols defined only by the training or serving library:"
  echo "$leaks" | head -20
  exit 1
fi
if nm -C "$core" 2>/dev/null | grep -q "httplib::"; then
  echo "the inference core holds cpp-httplib code"
  exit 1
fi
echo "core: $(echo "$needed" | wc -l) undefined symbols, none from the training or serving library"
