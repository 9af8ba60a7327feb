#pragma once
// Supervised fit of the Gaussian classifier: one Gaussian per labelled class of prepared contrast samples,
// as MaskTerial's train_GMM_head (sample mean, unbiased covariance like torch.cov / np.cov).
#include <string>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/classify/training_data.hpp"

namespace maskterial {

// Classes in ascending label order, named by their label ("1", "2", ...). Label 0 (background) takes part in
// data preparation but is not a class of the classifier. Throws Error if no class other than 0 is present, a
// class has fewer than 2 samples, or a covariance stays singular after a 1e-9 * trace ridge (which is only
// added when the plain covariance is not positive definite, e.g. a channel without spread).
GmmClassifier fit_gmm(const ContrastSamples& samples);

}  // namespace maskterial
