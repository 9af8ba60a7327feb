// The CSV of `detect`: every row whole, whatever the class names and values.
#include <gtest/gtest.h>

#include <algorithm>

#include "maskterial/pipeline/outputs.hpp"

using namespace maskterial;

TEST(Outputs, CsvRowsHoldLongClassNamesAndHugeValuesWhole) {
  Detection d;
  d.image = "/data/scan 1.png";
  Flake f;
  f.class_name = std::string(700, 'w') + ",\"quoted\"";
  f.uncertainty = 1e300;  // printed with %.4f: 300 digits
  f.area = 1234;
  d.flakes = {f, f};
  const std::string rows = csv_rows(d, 0.5);
  ASSERT_EQ(std::count(rows.begin(), rows.end(), '\n'), 2);
  const std::string first = rows.substr(0, rows.find('\n'));
  EXPECT_EQ(first.rfind("scan 1.png,0,\"" + std::string(700, 'w') + ",\"\"quoted\"\"\",", 0), 0u) << first.substr(0, 80);
  // Every column the header names: its commas, plus the one inside the quoted class name.
  const std::string header = csv_header();
  EXPECT_EQ(std::count(first.begin(), first.end(), ','), std::count(header.begin(), header.end(), ',') + 1);
  EXPECT_NE(first.find(",308.50,"), std::string::npos);  // area in um^2 = 1234 * 0.25
}
