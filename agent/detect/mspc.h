// Multivariate statistical process control (MSPC) for one group of sensors: a PCA model of the
// group's normal state, Hotelling's T² (variation inside the model: the sensors moving together,
// but too far) and SPE/Q (variation outside it: the sensors no longer moving together — a broken
// correlation), control limits for both, and per-sensor contributions.
//
// Learning is two passes over normal data without storing it: CovarianceAccumulator folds in
// rows (Welford), Fit() standardizes, eigen-decomposes the correlation matrix (Jacobi) and keeps
// the components that explain `variance` of it, and sets theoretical limits (T²: chi-square with
// k degrees of freedom; Q: Box's g·chi-square(h) from the residual eigenvalues; both at false
// alarm rate `alpha` per row). Calibrate() then widens each limit from the statistic's moments
// and maximum on further normal rows (held out from the fit), which absorbs what the theory
// assumes away (non-normal noise, model misfit), so plain data stays under its limits.
//
// Value types; not thread-safe; no allocation after Fit() in Score().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weir::detect {

// Running mean and co-moment matrix of p-dimensional rows (Welford), p <= kMaxGroupSensors.
class CovarianceAccumulator {
 public:
  explicit CovarianceAccumulator(size_t p) : p_(p), mean_(p, 0.0), m2_(p * p, 0.0) {}
  void Add(std::span<const double> row);
  size_t dims() const { return p_; }
  uint64_t count() const { return n_; }
  const std::vector<double>& mean() const { return mean_; }
  // Sample covariance (n - 1), row-major p×p; zeros before two rows.
  std::vector<double> Covariance() const;

 private:
  size_t p_;
  uint64_t n_ = 0;
  std::vector<double> mean_, m2_, delta_;
};

// Eigen-decomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations.
// Eigenvalues sorted descending; vectors[i*n + a] is component i of eigenvector a.
void SymmetricEigen(std::vector<double> matrix, size_t n, std::vector<double>* values,
                    std::vector<double>* vectors);

// The upper 1-alpha quantile of the standard normal (Acklam's rational approximation, relative
// error below 1.2e-9) and of chi-square with `dof` degrees of freedom (Wilson–Hilferty).
double NormalQuantile(double p);
double ChiSquareQuantile(double dof, double p);

struct MspcScore {
  double t2 = 0, q = 0;              // the statistics
  double t2_ratio = 0, q_ratio = 0;  // statistic / its control limit
  double ratio() const { return t2_ratio > q_ratio ? t2_ratio : q_ratio; }
};

class PcaModel {
 public:
  // Fits from learning rows. `variance` in (0, 1]: keep the fewest leading components that
  // explain at least this share of the correlation matrix's trace, and at most p - 1 (so Q
  // exists) when p > 1. `alpha` in (0, 1): per-row false alarm rate of the theoretical limits.
  // A sensor constant during learning gets a tiny sd floor: any later change of it is news.
  static PcaModel Fit(const CovarianceAccumulator& acc, double variance, double alpha);

  size_t dims() const { return p_; }
  size_t components() const { return k_; }
  double t2_limit() const { return t2_limit_; }
  double q_limit() const { return q_limit_; }
  const std::vector<double>& eigenvalues() const { return lambda_; }  // all p, descending

  // Scores one row; `present[j]` false means sensor j is missing: it is taken at its learned
  // mean (z = 0, no contribution). Fills `contributions` (size p, >= 0, not normalized): the
  // residual's squares when Q leads, the T² contributions (clipped at 0) when T² leads.
  MspcScore Score(std::span<const double> row, std::span<const bool> present,
                  std::vector<double>* contributions) const;

  // A statistic's moments and maximum over held-out normal rows (calibration).
  struct Moments {
    uint64_t n = 0;
    double mean = 0, m2 = 0, max = 0;
    void Add(double x);
    double variance() const { return n > 1 ? m2 / static_cast<double>(n - 1) : 0; }
  };
  // Sets each limit to the largest of: the theoretical one, the moment-matched one (the held-out
  // statistic fitted as g·chi-square(h) with g = var/(2·mean), h = 2·mean²/var — Nomikos and
  // MacGregor's empirical limit, which absorbs non-normal noise and model misfit — at the
  // model's alpha), and the largest value seen on the held-out rows. Never narrows a limit.
  void Calibrate(const Moments& t2, const Moments& q);

  // Bytes of heap the model holds (for the memory budget).
  size_t HeapBytes() const;

 private:
  size_t p_ = 0, k_ = 0;
  std::vector<double> mean_, sd_;
  std::vector<double> loadings_;  // p×k row-major: loadings_[j*k + a]
  std::vector<double> lambda_;
  double t2_limit_ = 1, q_limit_ = 1;
  double alpha_ = 0.001;
  mutable std::vector<double> z_, t_;  // scratch
};

}  // namespace weir::detect
