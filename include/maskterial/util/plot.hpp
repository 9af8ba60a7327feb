#pragma once
// Line plots rendered with OpenCV, for results people look at (training curves).
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace maskterial {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  cv::Scalar colour;
};

// White canvas with axes, tick labels, a legend and one polyline per series (empty series are skipped).
cv::Mat render_line_plot(const std::vector<PlotSeries>& series, const std::string& title, const std::string& x_label,
                         cv::Size size = {800, 480});

}  // namespace maskterial
