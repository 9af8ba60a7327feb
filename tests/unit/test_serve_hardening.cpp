// The server against hostile or broken input: model folders that do not load, images whose header claims
// more than the decoder should allocate, bodies without a length, slow clients, a second server on the same
// models folder. Each of these once crashed, stalled or exhausted the server.
#include <gtest/gtest.h>

#include <caffe2/serialize/inline_container.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/segment/mask2former/segmenter.hpp"
#include "maskterial/serve/model_store.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/files.hpp"
#include "segmenter_test_models.hpp"
#include "serve_test_client.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::serve;
using namespace maskterial::serve::test;
using namespace std::string_literals;

namespace {
const std::string kExample = std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images/graphene_1.jpg";
const std::string kAmmFixture = std::string(MASKTERIAL_TEST_DATA) + "/amm_maskterial";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A tiny segmentation model directory (loads and predicts in milliseconds).
fs::path tiny_segmentation_model(const fs::path& dir) {
  segment::Segmenter(segment::Mask2Former(test_models::tiny_segmenter_options())).save(dir.string());
  return dir;
}

// The files of the MaskTerial AMM fixture, one replaced.
ModelFiles amm_files_with(const std::string& replaced, const std::string& content) {
  ModelFiles files;
  for (const char* f : {"meta_data.json", "model.pth", "loc.npy", "cov.npy"})
    files.emplace_back(f, f == replaced ? content : read_file(kAmmFixture + "/" + f));
  return files;
}

std::string self_referential_checkpoint(const fs::path& scratch) {
  const fs::path path = scratch / "self.pth";
  const std::string pickle = "\x80\x02}q\x00X\x05\x00\x00\x00modelq\x01h\x00s."s;  // d = {}; d["model"] = d
  caffe2::serialize::PyTorchStreamWriter writer(path.string());
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  writer.writeEndOfFile();
  return read_file(path.string());
}

std::string long_header_npy() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < 15000; ++i) header += "1, ";
  header += "), }\n";
  return std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8) + header;
}

// The broken model directories the server must survive, by name: files.
std::vector<std::pair<std::string, ModelFiles>> broken_models(const fs::path& scratch) {
  return {{"type-number", {{"model.json", R"({"type": 5})"}}},
          {"kind-number", {{"model.json", R"({"kind": 7})"}}},
          {"files-number", {{"model.json", R"({"format": "maskterial", "type": "gmm", "files": [1]})"}}},
          {"self-pickle", amm_files_with("model.pth", self_referential_checkpoint(scratch))},
          {"long-npy", amm_files_with("loc.npy", long_header_npy())}};
}

std::string encoded(const std::string& ext, const cv::Mat& image, const std::vector<int>& params = {}) {
  std::vector<uchar> bytes;
  cv::imencode(ext, image, bytes, params);
  return std::string(bytes.begin(), bytes.end());
}

void put_be16(std::string& b, size_t at, int v) {
  b[at] = static_cast<char>(v >> 8);
  b[at + 1] = static_cast<char>(v & 0xff);
}

// A raw TCP connection to the server.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

ServerOptions options_for(const fs::path& dir) {
  ServerOptions options;
  options.models_dir = dir;
  options.workers = 2;
  options.max_image_pixels = 3'000'000;
  return options;
}

}  // namespace

TEST(ServeHardening, BrokenModelFoldersAreListedWithTheirErrorAndUploadsOfThemAre422) {
  const ScratchDir scratch("mt_serve_broken");
  const fs::path models = scratch.path() / "models";
  const auto broken = broken_models(scratch.path());
  for (const auto& [name, files] : broken)
    for (const auto& [file, content] : files) write_file_atomic((models / "classification" / name / file).string(), content);
  fs::create_directories(models / "classification");
  fs::create_symlink(models / "classification" / "loop", models / "classification" / "loop");
  fs::create_directories(models / "classification" / "loop-inside");
  fs::create_symlink(models / "classification" / "loop-inside" / "model.json",
                     models / "classification" / "loop-inside" / "model.json");

  LiveServer server(options_for(models));  // used to exit (rc 3) or crash at start-up
  auto client = server.client();
  std::map<std::string, nlohmann::json> listed;
  const nlohmann::json models_list = body_json(client.Get("/api/models"));
  for (const auto& m : models_list["classification"]) listed[m["name"].get<std::string>()] = m;
  std::vector<std::string> names = {"loop", "loop-inside"};
  for (const auto& [name, files] : broken) names.push_back(name);
  for (const auto& name : names) {
    ASSERT_TRUE(listed.count(name)) << name;
    EXPECT_EQ(listed[name]["status"], "error") << name;
    EXPECT_NE(listed[name]["error"].get<std::string>().find("classification/" + name), std::string::npos)
        << listed[name]["error"];
    const auto r = predict(client, read_file(kExample), "a.jpg",
                           {text_part("classification_model", name), text_part("segmentation_model", "none")});
    EXPECT_EQ(status_of(r), 409) << name << ": " << error_of(r);
  }
  for (const auto& [name, files] : broken) {
    httplib::MultipartFormDataItems form;
    for (const auto& [file, content] : files) form.push_back(file_part(file, content, file));
    const auto r = client.Put("/api/models/classification/up-" + name, form);
    EXPECT_EQ(status_of(r), 422) << name << ": " << error_of(r);
  }
  EXPECT_EQ(status_of(client.Get("/api/health")), 200);
}

TEST(ServeHardening, ImagesAreSizedByTheirDecodersLibraryBeforeDecoding) {
  const ScratchDir scratch("mt_serve_headers");
  LiveServer server(options_for(scratch.path()));
  auto client = server.client();
  const cv::Mat small(64, 64, CV_8UC3, cv::Scalar(90, 80, 70));
  const auto refused = [&](const std::string& bytes, const std::string& name, int status, const std::string& words) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = predict(client, bytes, name, {text_part("segmentation_model", "none")});
    EXPECT_EQ(status_of(r), status) << name << ": " << error_of(r);
    EXPECT_NE(error_of(r).find(words), std::string::npos) << error_of(r);
    EXPECT_LT(seconds_since(start), 2.0) << name << " was decoded";
  };
  // A JPEG claiming 8000x8000 with a stray byte before a marker, which libjpeg skips (a hand-written marker
  // walk gave up there and let the image be decoded).
  std::string jpeg = encoded(".jpg", small);
  const size_t sof = jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  put_be16(jpeg, sof + 5, 8000);
  put_be16(jpeg, sof + 7, 8000);
  const size_t after_app0 = 4 + ((static_cast<uint8_t>(jpeg[4]) << 8) | static_cast<uint8_t>(jpeg[5]));
  jpeg.insert(after_app0, 1, '\0');
  refused(jpeg, "stray.jpg", 413, "8000x8000");
  // WebP claiming 16383x16383 (VP8 frame header: 14-bit sides after the start code).
  std::string webp = encoded(".webp", small, {cv::IMWRITE_WEBP_QUALITY, 90});  // lossy: a VP8 frame
  const size_t start_code = webp.find("\x9d\x01\x2a");
  ASSERT_NE(start_code, std::string::npos);
  for (size_t at : {start_code + 3, start_code + 5}) {
    webp[at] = static_cast<char>(0xff);
    webp[at + 1] = static_cast<char>(0x3f);
  }
  refused(webp, "bomb.webp", 413, "16383x16383");
  // Formats whose size is not read are not decoded at all.
  refused("P6\n4000 4000\n255\n" + std::string(1000, '\x7f'), "bomb.ppm", 415, "unsupported image format");
  refused(std::string("\0\0\0\x0cjP  \r\n\x87\n", 12) + std::string(1000, '\0'), "bomb.jp2", 415, "unsupported image format");
  refused("plain text", "notes.jpg", 415, "notes.jpg");
  // What is small enough is decoded as before.
  const auto ok = predict(client, encoded(".webp", cv::imread(kExample)), "ok.webp", {text_part("segmentation_model", "none")});
  EXPECT_EQ(status_of(ok), 200) << error_of(ok);
}

TEST(ServeHardening, BodiesWithoutALengthAreCappedOnEveryRoute) {
  const ScratchDir scratch("mt_serve_chunked");
  ServerOptions options = options_for(scratch.path());
  options.max_image_bytes = size_t{1} << 20;
  LiveServer server(options);
  auto client = server.client();
  const auto chunked = [&](const std::string& path, size_t bytes) {
    return client.Post(path.c_str(),
                       [bytes, sent = size_t{0}](size_t, httplib::DataSink& sink) mutable {
                         const std::string block(std::min<size_t>(64 << 10, bytes - sent), 'x');
                         if (!block.empty() && !sink.write(block.data(), block.size())) return false;
                         sent += block.size();
                         if (sent >= bytes) sink.done();
                         return true;
                       },
                       "application/octet-stream");
  };
  // Routes without uploads refuse a chunked body before reading it (it used to be read whole, up to 1 GB).
  const auto small = chunked("/api/health", 100);
  EXPECT_EQ(status_of(small), 413) << error_of(small);
  EXPECT_NE(error_of(small).find("takes no upload"), std::string::npos);
  chunked("/api/models", size_t{32} << 20);  // the server closes instead of reading 32 MB
  // Upload routes count what arrives whatever the encoding.
  const auto image = chunked("/api/predict", size_t{3} << 20);
  EXPECT_TRUE(status_of(image) == 413 || status_of(image) == -1) << status_of(image);
  EXPECT_EQ(status_of(client.Get("/api/health")), 200);
}

TEST(ServeHardening, SlowClientsAreCutOffAndCannotHoldTheConnectionThreads) {
  const ScratchDir scratch("mt_serve_slow");
  ServerOptions options = options_for(scratch.path());
  options.connections = 8;
  options.client_grace_s = 1;
  LiveServer server(options);
  // Twice as many slow clients as connection threads, each sending a header byte every 300 ms (httplib's read
  // timeout of 5 s alone never fires).
  std::atomic<bool> stop{false};
  std::atomic<int> cut_off{0};
  std::vector<std::thread> slow;
  for (int i = 0; i < 16; ++i)
    slow.emplace_back([&] {
      const int fd = connect_to(server.port());
      if (fd < 0) return;
      const std::string start = "GET /api/health HTTP/1.1\r\nHost: x\r\n";
      ::send(fd, start.data(), start.size(), MSG_NOSIGNAL);
      while (!stop) {
        if (::send(fd, "X", 1, MSG_NOSIGNAL) != 1) {
          ++cut_off;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      ::close(fd);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(4, 0);
  client.set_connection_timeout(4, 0);
  const auto start = std::chrono::steady_clock::now();
  const auto health = client.Get("/api/health");
  const double waited = seconds_since(start);
  EXPECT_EQ(status_of(health), 200);
  EXPECT_LT(waited, 4.0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  for (auto& t : slow) t.join();
  EXPECT_GT(cut_off.load(), 0);  // the server closed on them
}

TEST(ServeHardening, ASecondServerKeepsTheFirstServersStagingDirectories) {
  const ScratchDir scratch("mt_serve_two");
  const fs::path staging = scratch.path() / "classification" / ".staging-upload-1-1";
  {
    LiveServer first(options_for(scratch.path()));
    fs::create_directories(staging);  // the first server's upload in progress
    { LiveServer second(options_for(scratch.path())); }
    EXPECT_TRUE(fs::exists(staging));
  }
  LiveServer alone(options_for(scratch.path()));  // now a leftover: removed
  EXPECT_FALSE(fs::exists(staging));
}

TEST(ServeHardening, SeveralWorkersUseOneComputeThreadEach) {
  const ScratchDir scratch("mt_serve_threads");
  set_compute_threads(2);
  LiveServer server(options_for(scratch.path()));
  EXPECT_EQ(compute_threads(), 1);
}

TEST(ServeHardening, ListingAModelWhoseFilesChangeNeverFails) {
  const ScratchDir scratch("mt_serve_listing");
  const fs::path model = tiny_segmentation_model(scratch.path() / "segmentation" / "tiny");
  LiveServer server(options_for(scratch.path()));
  auto client = server.client();
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (int i = 0; !stop; ++i) {
      const fs::path extra = model / ("extra" + std::to_string(i % 50));
      write_file_atomic(extra.string(), "x");
      std::error_code ec;
      fs::remove(extra, ec);
    }
  });
  int failures = 0;
  for (int i = 0; i < 400; ++i) failures += status_of(client.Get("/api/models/segmentation/tiny")) != 200;
  stop = true;
  churn.join();
  EXPECT_EQ(failures, 0);
}

TEST(ServeHardening, SegmentationModelsAreUploadedListedUsedDownloadedAndDeleted) {
  const ScratchDir scratch("mt_serve_segmentation");
  const fs::path tiny = tiny_segmentation_model(scratch.path() / "tiny");
  ServerOptions options = options_for(scratch.path() / "models");
  options.default_segmentation_model = tiny;  // offered read-only, used when a request names none
  LiveServer server(options);
  auto client = server.client();
  httplib::MultipartFormDataItems form;
  for (const auto& e : fs::directory_iterator(tiny))
    form.push_back(file_part(e.path().filename().string(), read_file(e.path().string()), e.path().filename().string()));
  const auto put = client.Put("/api/models/segmentation/mine", form);
  ASSERT_EQ(status_of(put), 201) << error_of(put);
  EXPECT_EQ(body_json(put)["type"], "mask2former");
  const auto listed = body_json(client.Get("/api/models"))["segmentation"];
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["name"], "mine");
  EXPECT_EQ(listed[1]["name"], "tiny");
  EXPECT_TRUE(listed[1]["builtin"].get<bool>());
  EXPECT_TRUE(listed[1]["default"].get<bool>());
  EXPECT_EQ(client.Get("/api/models/segmentation/mine/files/model.json")->body, read_file((tiny / "model.json").string()));

  for (const std::string& name : {"mine", ""}) {
    const auto r = predict(client, read_file(kExample), "a.jpg",
                           {text_part("segmentation_model", name), text_part("score_threshold", "0.2")});
    ASSERT_EQ(status_of(r), 200) << error_of(r);
    const auto got = body_json(r);
    EXPECT_EQ(got["models"]["segmentation"]["name"], name.empty() ? "tiny" : name);
    EXPECT_EQ(got["models"]["segmentation"]["hash"], content_hash(tiny.string()));
    EXPECT_EQ(got["settings"]["score_threshold"], 0.2);
  }
  // A classification model is no segmentation model; 'none' is reserved; the built-in one is read-only.
  const auto wrong = client.Put("/api/models/segmentation/wrong", read_file(kAmmFixture + "/meta_data.json"), "application/json");
  EXPECT_EQ(status_of(wrong), 422) << error_of(wrong);
  EXPECT_EQ(status_of(client.Put("/api/models/segmentation/none", form)), 400);
  EXPECT_EQ(status_of(client.Delete("/api/models/segmentation/tiny")), 403);
  EXPECT_EQ(status_of(predict(client, read_file(kExample), "a.jpg",
                              {text_part("segmentation_model", "mine"), text_part("postprocessing", "2dmatgmm")})), 400);
  ASSERT_EQ(status_of(client.Delete("/api/models/segmentation/mine")), 200);
  EXPECT_EQ(status_of(predict(client, read_file(kExample), "a.jpg", {text_part("segmentation_model", "mine")})), 404);
}
