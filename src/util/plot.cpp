#include "maskterial/util/plot.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <opencv2/imgproc.hpp>

namespace maskterial {

cv::Mat render_line_plot(const std::vector<PlotSeries>& series, const std::string& title, const std::string& x_label,
                         cv::Size size) {
  cv::Mat canvas(size, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Rect area(70, 40, size.width - 100, size.height - 100);
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (!(x1 > x0)) x1 = x0 + 1;
  if (!(y1 > y0)) y1 = y0 + 1;
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  const auto to_px = [&](double x, double y) {
    return cv::Point(area.x + static_cast<int>((x - x0) / (x1 - x0) * area.width),
                     area.y + area.height - static_cast<int>((y - y0) / (y1 - y0) * area.height));
  };
  const cv::Scalar grey(120, 120, 120), black(0, 0, 0);
  cv::rectangle(canvas, area, grey, 1);
  for (int t = 0; t <= 4; ++t) {
    char text[32];
    const double yv = y0 + (y1 - y0) * t / 4, xv = x0 + (x1 - x0) * t / 4;
    std::snprintf(text, sizeof text, "%.3g", yv);
    cv::putText(canvas, text, {5, to_px(x0, yv).y + 4}, cv::FONT_HERSHEY_SIMPLEX, 0.4, black, 1, cv::LINE_AA);
    std::snprintf(text, sizeof text, "%.4g", xv);
    cv::putText(canvas, text, {to_px(xv, y0).x - 15, area.br().y + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.4, black, 1,
                cv::LINE_AA);
  }
  cv::putText(canvas, title, {area.x, 25}, cv::FONT_HERSHEY_SIMPLEX, 0.6, black, 1, cv::LINE_AA);
  cv::putText(canvas, x_label, {area.x + area.width / 2 - 30, size.height - 15}, cv::FONT_HERSHEY_SIMPLEX, 0.45,
              black, 1, cv::LINE_AA);
  int legend_width = 0;  // the legend sits inside the top right corner, as wide as its longest name
  for (const auto& s : series)
    legend_width = std::max(legend_width, cv::getTextSize(s.name, cv::FONT_HERSHEY_SIMPLEX, 0.45, 1, nullptr).width);
  const int legend_x = area.br().x - legend_width - 40;
  int legend_y = area.y + 18;
  for (const auto& s : series) {
    std::vector<cv::Point> points;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(s.y[i])) points.push_back(to_px(s.x[i], s.y[i]));
    if (points.empty()) continue;
    cv::polylines(canvas, points, false, s.colour, 2, cv::LINE_AA);
    if (points.size() <= 20)  // few points: mark each (a single one would not show as a line)
      for (const cv::Point& p : points) cv::circle(canvas, p, 3, s.colour, cv::FILLED, cv::LINE_AA);
    cv::line(canvas, {legend_x, legend_y - 4}, {legend_x + 25, legend_y - 4}, s.colour, 2);
    cv::putText(canvas, s.name, {legend_x + 32, legend_y}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
    legend_y += 18;
  }
  return canvas;
}

}  // namespace maskterial
