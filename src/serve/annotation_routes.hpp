#pragma once
// The annotate page's API: region growing under a click (POST /api/annotate/region), the optics model's
// predicted layer contrasts as guides (GET /api/optics/contrast), annotation datasets (/api/datasets...),
// and training and scoring from a stored dataset (POST /api/datasets/{name}/train, /evaluate). The routes
// run on the server's worker pool, training jobs and model store like the detection routes.
#include <functional>
#include <memory>
#include <string>

#include <httplib.h>

#include "annotation_datasets.hpp"
#include "maskterial/serve/model_store.hpp"
#include "maskterial/serve/training_jobs.hpp"
#include "maskterial/serve/worker_pool.hpp"

namespace maskterial::serve {

struct AnnotationContext {
  ModelStore& store;
  TrainingJobs& jobs;
  WorkerPool& pool;
  AnnotationDatasets& datasets;
  size_t max_image_bytes;
  // The server's check of an image's file header against its pixel limit (HttpError 413 / 415).
  std::function<void(const std::string& bytes, const std::string& name)> check_image;
};

// The routes of this file whose bodies are read with a cap of their own (the server refuses large bodies on
// every other route before reading them).
bool is_annotation_upload(const httplib::Request& req);

// Registers the routes; they must come before the server's catch-all page route. context must outlive http.
void add_annotation_routes(httplib::Server& http, const AnnotationContext& context);

}  // namespace maskterial::serve
