// PCA-based MSPC; see mspc.h.
#include "agent/detect/mspc.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace weir::detect {

void CovarianceAccumulator::Add(std::span<const double> row) {
  ++n_;
  delta_.resize(p_);
  const double inv_n = 1.0 / static_cast<double>(n_);
  for (size_t i = 0; i < p_; ++i) {
    delta_[i] = row[i] - mean_[i];
    mean_[i] += delta_[i] * inv_n;
  }
  // Co-moments with the pre-update delta on one side and the post-update on the other.
  for (size_t i = 0; i < p_; ++i) {
    const double after = row[i] - mean_[i];
    for (size_t j = 0; j < p_; ++j) m2_[i * p_ + j] += after * delta_[j];
  }
}

std::vector<double> CovarianceAccumulator::Covariance() const {
  std::vector<double> c(p_ * p_, 0.0);
  if (n_ < 2) return c;
  const double d = static_cast<double>(n_ - 1);
  for (size_t i = 0; i < p_; ++i) {
    for (size_t j = 0; j < p_; ++j) c[i * p_ + j] = 0.5 * (m2_[i * p_ + j] + m2_[j * p_ + i]) / d;
  }
  return c;
}

void SymmetricEigen(std::vector<double> a, size_t n, std::vector<double>* values,
                    std::vector<double>* vectors) {
  std::vector<double>& v = *vectors;
  v.assign(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    }
    if (off < 1e-30) break;
    for (size_t p = 0; p < n; ++p) {
      for (size_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (size_t k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (size_t k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (size_t k = 0; k < n; ++k) {  // V <- V J
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return a[x * n + x] > a[y * n + y]; });
  values->resize(n);
  std::vector<double> sorted(n * n);
  for (size_t col = 0; col < n; ++col) {
    (*values)[col] = a[order[col] * n + order[col]];
    for (size_t i = 0; i < n; ++i) sorted[i * n + col] = v[i * n + order[col]];
  }
  v = std::move(sorted);
}

double NormalQuantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  p = std::clamp(p, 1e-300, 1 - 1e-16);
  auto tail = [&](double q) {
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  };
  constexpr double kLow = 0.02425;
  if (p < kLow) return tail(std::sqrt(-2 * std::log(p)));
  if (p > 1 - kLow) return -tail(std::sqrt(-2 * std::log1p(-p)));
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double ChiSquareQuantile(double dof, double p) {
  const double z = NormalQuantile(p);
  const double h = 2.0 / (9.0 * dof);
  const double base = std::max(0.0, 1 - h + z * std::sqrt(h));
  return dof * base * base * base;
}

PcaModel PcaModel::Fit(const CovarianceAccumulator& acc, double variance, double alpha) {
  PcaModel m;
  const size_t p = acc.dims();
  m.p_ = p;
  m.mean_ = acc.mean();
  const std::vector<double> cov = acc.Covariance();
  m.sd_.resize(p);
  for (size_t j = 0; j < p; ++j) {
    const double floor = 1e-9 * std::max(1.0, std::fabs(m.mean_[j]));
    m.sd_[j] = std::max(std::sqrt(std::max(0.0, cov[j * p + j])), floor);
  }
  std::vector<double> corr(p * p);
  for (size_t i = 0; i < p; ++i) {
    for (size_t j = 0; j < p; ++j) corr[i * p + j] = cov[i * p + j] / (m.sd_[i] * m.sd_[j]);
    corr[i * p + i] = 1.0;  // also for a constant sensor: it stands alone, variance 1
  }
  std::vector<double> vectors;
  SymmetricEigen(std::move(corr), p, &m.lambda_, &vectors);
  for (double& l : m.lambda_) l = std::max(l, 1e-9);
  const double trace = std::accumulate(m.lambda_.begin(), m.lambda_.end(), 0.0);
  double explained = 0;
  size_t k = 0;
  while (k < p && explained < variance * trace) explained += m.lambda_[k++];
  if (p > 1) k = std::min(k, p - 1);
  m.k_ = std::max<size_t>(k, 1);
  m.loadings_.resize(p * m.k_);
  for (size_t j = 0; j < p; ++j) {
    for (size_t a = 0; a < m.k_; ++a) m.loadings_[j * m.k_ + a] = vectors[j * p + a];
  }
  m.alpha_ = alpha;
  m.t2_limit_ = ChiSquareQuantile(static_cast<double>(m.k_), 1 - alpha);
  double theta1 = 0, theta2 = 0;
  for (size_t a = m.k_; a < p; ++a) {
    theta1 += m.lambda_[a];
    theta2 += m.lambda_[a] * m.lambda_[a];
  }
  if (theta1 > 0 && theta2 > 0) {
    const double g = theta2 / theta1, h = theta1 * theta1 / theta2;
    m.q_limit_ = g * ChiSquareQuantile(h, 1 - alpha);
  } else {
    m.q_limit_ = 1e-9;
  }
  m.z_.resize(p);
  m.t_.resize(m.k_);
  return m;
}

MspcScore PcaModel::Score(std::span<const double> row, std::span<const bool> present,
                          std::vector<double>* contributions) const {
  for (size_t j = 0; j < p_; ++j) z_[j] = present[j] ? (row[j] - mean_[j]) / sd_[j] : 0.0;
  MspcScore s;
  for (size_t a = 0; a < k_; ++a) {
    double t = 0;
    for (size_t j = 0; j < p_; ++j) t += loadings_[j * k_ + a] * z_[j];
    t_[a] = t;
    s.t2 += t * t / lambda_[a];
  }
  contributions->assign(p_, 0.0);
  std::vector<double>& c = *contributions;
  for (size_t j = 0; j < p_; ++j) {
    double fitted = 0;
    for (size_t a = 0; a < k_; ++a) fitted += loadings_[j * k_ + a] * t_[a];
    const double e = present[j] ? z_[j] - fitted : 0.0;
    s.q += e * e;
    c[j] = e * e;  // Q contributions; replaced below when T² leads
  }
  s.t2_ratio = s.t2 / t2_limit_;
  s.q_ratio = s.q / q_limit_;
  if (s.t2_ratio > s.q_ratio) {
    for (size_t j = 0; j < p_; ++j) {
      double cj = 0;
      for (size_t a = 0; a < k_; ++a) cj += t_[a] / lambda_[a] * loadings_[j * k_ + a] * z_[j];
      c[j] = std::max(0.0, cj);
    }
  }
  return s;
}

void PcaModel::Moments::Add(double x) {
  ++n;
  const double d = x - mean;
  mean += d / static_cast<double>(n);
  m2 += d * (x - mean);
  max = std::max(max, x);
}

namespace {

double EmpiricalLimit(const PcaModel::Moments& m, double alpha) {
  const double var = m.variance();
  if (m.n < 2 || !(m.mean > 0) || !(var > 0)) return 0;
  const double g = var / (2 * m.mean), h = 2 * m.mean * m.mean / var;
  return g * ChiSquareQuantile(h, 1 - alpha);
}

}  // namespace

void PcaModel::Calibrate(const Moments& t2, const Moments& q) {
  t2_limit_ = std::max({t2_limit_, EmpiricalLimit(t2, alpha_), t2.max});
  q_limit_ = std::max({q_limit_, EmpiricalLimit(q, alpha_), q.max});
}

size_t PcaModel::HeapBytes() const {
  return sizeof(double) * (mean_.capacity() + sd_.capacity() + loadings_.capacity() +
                           lambda_.capacity() + z_.capacity() + t_.capacity());
}

}  // namespace weir::detect
