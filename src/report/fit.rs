//! A parametric approximation of an applied EQ curve: bells and shelves that an engineer can
//! dial into any parametric EQ, with the error of the approximation.
//!
//! Filters are the crate's one biquad ([`crate::render::biquad::Biquad`]): the second-order
//! sections of R. Bristow-Johnson's *Cookbook formulae for audio EQ biquad filter
//! coefficients* (the "Audio EQ Cookbook", W3C Audio WG note,
//! <https://www.w3.org/TR/audio-eq-cookbook/>): peaking EQ (gain at `freq_hz`, bandwidth set
//! by `q`), low and high shelf (total gain `gain_db`, `freq_hz` the midpoint where the shelf
//! reaches half its gain in dB, `q` the cookbook's shelf Q; 0.707 is the steepest shelf
//! without overshoot), and the second-order high-pass (Q 0.707: Butterworth, 12 dB/octave).
//! Magnitudes are evaluated from the digital transfer function at the render's sample rate,
//! so an EQ that follows the cookbook reproduces the curve exactly as fitted.
//!
//! Fitting (on the points given, typically the whole band the renderer EQs, see
//! [`crate::report::notes`]):
//!
//! 1. greedy: the residual (curve minus the filters so far) is matched by every candidate
//!    bell (each grid frequency, a few Qs) and shelf (each grid frequency), each with its
//!    least-squares gain; the candidate that removes the most squared error is added;
//! 2. refinement: all parameters (log frequency, gain, log Q) are refined together by
//!    Levenberg-Marquardt least squares (K. Levenberg 1944, D. Marquardt 1963; as in
//!    W. H. Press et al., *Numerical Recipes*, 3rd ed., sec. 15.5.2) with a numerical Jacobian
//!    (one filter's parameters move only that filter's response) and the parameters held
//!    inside sensible bounds;
//! 3. repeat until the largest error is under [`GOOD_ENOUGH_DB`] or [`MAX_FILTERS`] filters
//!    are used: a simple curve keeps a handful, a curve with many turns gets the filters it
//!    needs.
//!
//! A fixed high-pass (the renderer's mono-bass filter on the side channel) can be given; it is
//! part of the model but not fitted. Everything runs in a fixed order in `f64`: the same curve
//! always gives the same filters.

use serde::Serialize;

use crate::render::biquad::Biquad;

/// Most filters per curve. The band gains have 31 degrees of freedom (a bell has 3); with
/// 16 the fit of every curve tested stays under [`GOOD_ENOUGH_DB`].
pub const MAX_FILTERS: usize = 16;
/// The fit stops adding filters once the largest error is below this, dB: small enough that
/// the third-octave band levels of a master rebuilt from the filters land within 0.25 dB of
/// lathe's own (the band averages the error).
pub const GOOD_ENOUGH_DB: f64 = 0.1;
/// Filters whose gain ends below this after refinement are dropped, dB.
const NEGLIGIBLE_GAIN_DB: f64 = 0.05;
/// Parameter bounds.
const MIN_Q: f64 = 0.3;
const MAX_BELL_Q: f64 = 8.0;
const MAX_SHELF_Q: f64 = 1.5;
const MAX_GAIN_DB: f64 = 30.0;
const MIN_FREQ_HZ: f64 = 10.0;
/// Qs tried for bells in the greedy step.
const BELL_QS: [f64; 6] = [0.4, 0.7, 1.0, 1.5, 2.5, 4.0];
/// Levenberg-Marquardt iterations after each added filter.
const LM_ITERATIONS: usize = 60;
/// Two filters of one kind closer than this (octaves) and with Qs within this (natural log)
/// are one filter split in two: they are merged.
const TWIN_OCTAVES: f64 = 0.25;
const TWIN_LOG_Q: f64 = 0.4;
/// Most cascaded Butterworth sections tried for the fixed high-pass.
const MAX_HIGHPASS_SECTIONS: usize = 3;
/// Weight of the gain penalty (ridge) per dB of filter gain, in dB of residual: it keeps the
/// fit from using pairs of large opposing filters where one small one says the same; it
/// changes a lone filter's gain by well under 1 % (a bell spans some 20 points of the grid).
const GAIN_PENALTY: f64 = 0.2;
/// Filter gains stay within the curve's largest magnitude plus this, dB.
const GAIN_HEADROOM_DB: f64 = 3.0;

/// A filter type of the RBJ cookbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    Bell,
    LowShelf,
    HighShelf,
    HighPass,
}

impl FilterKind {
    /// Words for the engineer's notes.
    pub fn describe(self) -> &'static str {
        match self {
            FilterKind::Bell => "bell",
            FilterKind::LowShelf => "low shelf",
            FilterKind::HighShelf => "high shelf",
            FilterKind::HighPass => "high-pass",
        }
    }
}

/// One filter of the approximation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Filter {
    pub kind: FilterKind,
    pub freq_hz: f64,
    /// Gain at `freq_hz` (bell) or of the whole shelf; 0 for a high-pass.
    pub gain_db: f64,
    pub q: f64,
}

impl Filter {
    /// The cookbook biquad of this filter at `sample_rate_hz`.
    pub fn biquad(&self, sample_rate_hz: f64) -> Biquad {
        let (f, g, q, fs) = (self.freq_hz, self.gain_db, self.q, sample_rate_hz);
        match self.kind {
            FilterKind::Bell => Biquad::peaking(f, g, q, fs),
            FilterKind::LowShelf => Biquad::low_shelf(f, g, q, fs),
            FilterKind::HighShelf => Biquad::high_shelf(f, g, q, fs),
            FilterKind::HighPass => Biquad::high_pass(f, q, fs),
        }
    }

    /// Magnitude response in dB at `freq_hz` (floored at -200 dB).
    pub fn response_db(&self, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        self.biquad(sample_rate_hz)
            .response_db(freq_hz, sample_rate_hz)
    }
}

/// The approximation of one curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EqFit {
    /// Fitted filters, by frequency; the fixed high-pass (if any) comes first.
    pub filters: Vec<Filter>,
    /// Largest absolute difference between the filters' response and the curve on the fit
    /// range, dB.
    pub max_error_db: f64,
    /// RMS difference on the fit range (points log-spaced), dB.
    pub rms_error_db: f64,
    pub fit_low_hz: f64,
    pub fit_high_hz: f64,
    pub sample_rate_hz: u32,
}

impl EqFit {
    /// The fit's response (all filters) in dB at `freq_hz`.
    pub fn response_db(&self, freq_hz: f64) -> f64 {
        let fs = f64::from(self.sample_rate_hz);
        self.filters
            .iter()
            .map(|f| f.response_db(freq_hz, fs))
            .sum()
    }

    /// True when nothing was fitted (a flat curve).
    pub fn is_flat(&self) -> bool {
        self.filters.is_empty()
    }

    /// A fit with no filters (nothing to approximate).
    pub fn flat(sample_rate_hz: u32) -> Self {
        Self {
            filters: Vec::new(),
            max_error_db: 0.0,
            rms_error_db: 0.0,
            fit_low_hz: 0.0,
            fit_high_hz: 0.0,
            sample_rate_hz,
        }
    }
}

/// The band the fit covers: the whole band the renderer's EQ sets, from the lower edge of the
/// lowest third-octave band (20 Hz) to the upper edge of the highest (20 kHz), held under
/// 0.49 fs (the cookbook filters are digital: near Nyquist only the digital response counts).
pub fn fit_range_hz(sample_rate_hz: u32) -> (f64, f64) {
    let centres = crate::analysis::spectrum::third_octave_centres_hz();
    let edges = crate::analysis::spectrum::third_octave_edges_hz;
    let lo = edges(centres[0]).0;
    let hi = edges(centres[centres.len() - 1]).1;
    (lo, hi.min(0.49 * f64::from(sample_rate_hz)))
}

/// Fits bells and shelves to `gain_db` sampled at `freq_hz` (ascending). `highpass_hz` adds a
/// fixed Butterworth high-pass (RBJ HPF, Q 0.707) to the model. Points outside
/// [`fit_range_hz`] and non-finite values are ignored.
pub fn fit_curve(
    freq_hz: &[f64],
    gain_db: &[f64],
    sample_rate_hz: u32,
    highpass_hz: Option<f64>,
) -> EqFit {
    let fs = f64::from(sample_rate_hz);
    let (low, high) = fit_range_hz(sample_rate_hz);
    let points: Vec<(f64, f64)> = freq_hz
        .iter()
        .zip(gain_db)
        .filter(|(f, g)| **f >= low && **f <= high && g.is_finite())
        .map(|(&f, &g)| (f, g))
        .collect();
    let fixed: Vec<Filter> = highpass_hz
        .filter(|&f| f.is_finite() && f > 0.0 && f < 0.45 * fs)
        .map(|f| {
            let section = Filter {
                kind: FilterKind::HighPass,
                freq_hz: f,
                gain_db: 0.0,
                q: std::f64::consts::FRAC_1_SQRT_2,
            };
            let n = highpass_sections(&points, &section, fs);
            vec![section; n]
        })
        .unwrap_or_default();
    let freqs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let (cos1, cos2) = freqs
        .iter()
        .map(|&f| {
            let w = 2.0 * std::f64::consts::PI * f / fs;
            (w.cos(), (2.0 * w).cos())
        })
        .unzip();
    let mut problem = Problem {
        freqs,
        cos1,
        cos2,
        target: Vec::new(),
        fs,
        high,
        max_gain_db: 0.0,
    };
    let fixed_response = problem.response(&fixed);
    problem.target = points
        .iter()
        .zip(&fixed_response)
        .map(|(&(_, g), h)| g - h)
        .collect();
    problem.max_gain_db = (max_abs(&problem.target) + GAIN_HEADROOM_DB).min(MAX_GAIN_DB);
    let mut filters: Vec<Filter> = Vec::new();
    if !problem.freqs.is_empty() {
        // Bounded: a merge of twins frees a slot, and the greedy step could refill it with the
        // same twin for ever.
        for _ in 0..2 * MAX_FILTERS {
            if filters.len() >= MAX_FILTERS {
                break;
            }
            let residual = problem.residual(&filters);
            if max_abs(&residual) < GOOD_ENOUGH_DB {
                break;
            }
            let Some(candidate) = problem.best_candidate(&residual) else {
                break;
            };
            filters.push(candidate);
            problem.refine(&mut filters);
            while merge_twins(&mut filters) {
                problem.refine(&mut filters);
            }
        }
        filters.retain(|f| f.gain_db.abs() >= NEGLIGIBLE_GAIN_DB);
        if !filters.is_empty() {
            problem.refine(&mut filters);
        }
    }
    filters.sort_by(|a, b| a.freq_hz.total_cmp(&b.freq_hz));
    let residual = problem.residual(&filters);
    let n = residual.len().max(1) as f64;
    let mut all = fixed;
    all.extend(filters);
    EqFit {
        filters: all,
        max_error_db: max_abs(&residual),
        rms_error_db: (residual.iter().map(|r| r * r).sum::<f64>() / n).sqrt(),
        fit_low_hz: low,
        fit_high_hz: high,
        sample_rate_hz,
    }
}

/// How many Butterworth sections (12 dB/octave each) best explain the curve below the
/// high-pass frequency: 1 (12 dB/octave), 2 (24 dB/octave, Linkwitz-Riley) or 3.
fn highpass_sections(points: &[(f64, f64)], section: &Filter, fs: f64) -> usize {
    let below: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(f, _)| f < section.freq_hz)
        .collect();
    (1..=MAX_HIGHPASS_SECTIONS)
        .map(|n| {
            let err: f64 = below
                .iter()
                .map(|&(f, g)| (g - n as f64 * section.response_db(f, fs)).powi(2))
                .sum();
            (n, err)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(1, |(n, _)| n)
}

/// Merges the first pair of filters of one kind at nearly the same frequency and Q into one
/// with their summed gain; true when it merged. (The gain penalty makes two half-gain twins
/// cheaper than one filter, so the refinement can drift into them.)
fn merge_twins(filters: &mut Vec<Filter>) -> bool {
    for i in 0..filters.len() {
        for j in i + 1..filters.len() {
            let (a, b) = (&filters[i], &filters[j]);
            if a.kind == b.kind
                && (a.freq_hz / b.freq_hz).log2().abs() < TWIN_OCTAVES
                && (a.q / b.q).ln().abs() < TWIN_LOG_Q
            {
                let merged = Filter {
                    kind: a.kind,
                    freq_hz: (a.freq_hz * b.freq_hz).sqrt(),
                    gain_db: a.gain_db + b.gain_db,
                    q: (a.q * b.q).sqrt(),
                };
                filters[i] = merged;
                filters.remove(j);
                return true;
            }
        }
    }
    false
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// The curve to fit (with any fixed filter already taken out).
struct Problem {
    freqs: Vec<f64>,
    /// `cos w` and `cos 2w` of each point: every filter is evaluated on the same grid.
    cos1: Vec<f64>,
    cos2: Vec<f64>,
    target: Vec<f64>,
    fs: f64,
    high: f64,
    /// Bound of the filters' gains, dB.
    max_gain_db: f64,
}

impl Problem {
    /// One filter's response on the grid, dB.
    fn filter_response(&self, filter: &Filter) -> Vec<f64> {
        let b = filter.biquad(self.fs);
        self.cos1
            .iter()
            .zip(&self.cos2)
            .map(|(&c1, &c2)| b.response_db_at(c1, c2))
            .collect()
    }

    fn response(&self, filters: &[Filter]) -> Vec<f64> {
        let mut sum = vec![0.0; self.freqs.len()];
        for f in filters {
            for (s, r) in sum.iter_mut().zip(self.filter_response(f)) {
                *s += r;
            }
        }
        sum
    }

    fn residual(&self, filters: &[Filter]) -> Vec<f64> {
        self.target
            .iter()
            .zip(self.response(filters))
            .map(|(t, r)| t - r)
            .collect()
    }

    /// The candidate filter that removes the most squared error from `residual`. Each
    /// candidate's gain is the least-squares scale of its shape at a unit-ish gain (the
    /// cookbook responses are close to proportional to the gain in dB at these levels).
    fn best_candidate(&self, residual: &[f64]) -> Option<Filter> {
        let mut best: Option<(f64, Filter)> = None;
        let mut consider = |kind: FilterKind, freq_hz: f64, q: f64| {
            // Shape at the sign and rough size of the residual at that frequency.
            let probe_db = 3.0;
            let probe = Filter {
                kind,
                freq_hz,
                gain_db: probe_db,
                q,
            };
            let shape: Vec<f64> = self
                .filter_response(&probe)
                .into_iter()
                .map(|r| r / probe_db)
                .collect();
            let ss: f64 = shape.iter().map(|s| s * s).sum();
            if ss < 1e-9 {
                return;
            }
            let gain = (shape.iter().zip(residual).map(|(s, r)| s * r).sum::<f64>()
                / (ss + GAIN_PENALTY * GAIN_PENALTY))
                .clamp(-self.max_gain_db, self.max_gain_db);
            let candidate = Filter {
                kind,
                freq_hz,
                gain_db: gain,
                q,
            };
            let err: f64 = self
                .filter_response(&candidate)
                .iter()
                .zip(residual)
                .map(|(c, r)| (r - c).powi(2))
                .sum::<f64>()
                + (GAIN_PENALTY * gain).powi(2);
            if best.as_ref().is_none_or(|(e, _)| err < *e) {
                best = Some((err, candidate));
            }
        };
        // Candidate centres: every other point of the grid, inside the fit range.
        for &f in self.freqs.iter().step_by(2) {
            for q in BELL_QS {
                consider(FilterKind::Bell, f, q);
            }
            consider(FilterKind::LowShelf, f, std::f64::consts::FRAC_1_SQRT_2);
            consider(FilterKind::HighShelf, f, std::f64::consts::FRAC_1_SQRT_2);
        }
        let base: f64 = residual.iter().map(|r| r * r).sum();
        best.filter(|(e, _)| *e < base).map(|(_, f)| f)
    }

    /// Parameters: per filter `[ln freq, gain, ln q]`.
    fn to_params(filters: &[Filter]) -> Vec<f64> {
        filters
            .iter()
            .flat_map(|f| [f.freq_hz.ln(), f.gain_db, f.q.ln()])
            .collect()
    }

    fn filter_from(&self, template: &Filter, c: &[f64]) -> Filter {
        let max_q = if template.kind == FilterKind::Bell {
            MAX_BELL_Q
        } else {
            MAX_SHELF_Q
        };
        Filter {
            kind: template.kind,
            freq_hz: c[0]
                .exp()
                .clamp(MIN_FREQ_HZ, self.high.max(MIN_FREQ_HZ * 2.0) * 1.2),
            gain_db: c[1].clamp(-self.max_gain_db, self.max_gain_db),
            q: c[2].exp().clamp(MIN_Q, max_q),
        }
    }

    fn filters_from(&self, template: &[Filter], p: &[f64]) -> Vec<Filter> {
        template
            .iter()
            .zip(p.chunks(3))
            .map(|(t, c)| self.filter_from(t, c))
            .collect()
    }

    /// Squared error plus the gain penalty: what the refinement minimises.
    fn cost(&self, filters: &[Filter]) -> f64 {
        self.residual(filters).iter().map(|r| r * r).sum::<f64>()
            + filters
                .iter()
                .map(|f| (GAIN_PENALTY * f.gain_db).powi(2))
                .sum::<f64>()
    }

    /// Levenberg-Marquardt on all parameters; keeps the filters if nothing improves.
    fn refine(&self, filters: &mut Vec<Filter>) {
        let template = filters.clone();
        let mut p = Self::to_params(filters);
        let mut current = self.filters_from(&template, &p);
        let mut cost = self.cost(&current);
        let mut lambda = 1e-2;
        let n = p.len();
        for _ in 0..LM_ITERATIONS {
            let r = self.residual(&current);
            // Jacobian of the model response (residual = target - model), column by column:
            // a parameter of filter j moves only filter j's response.
            let mut jac = vec![Vec::new(); n];
            for (k, col) in jac.iter_mut().enumerate() {
                let (j, h) = (k / 3, if k % 3 == 1 { 1e-3 } else { 1e-4 });
                let mut c = p[3 * j..3 * j + 3].to_vec();
                c[k % 3] += h;
                let up = self.filter_response(&self.filter_from(&template[j], &c));
                c[k % 3] -= 2.0 * h;
                let down = self.filter_response(&self.filter_from(&template[j], &c));
                *col = up
                    .iter()
                    .zip(&down)
                    .map(|(u, d)| (u - d) / (2.0 * h))
                    .collect();
            }
            // Normal equations: (J^T J + lambda diag(J^T J)) d = J^T r.
            let mut jtj = vec![vec![0.0; n]; n];
            let mut jtr = vec![0.0; n];
            for a in 0..n {
                jtr[a] = jac[a].iter().zip(&r).map(|(x, y)| x * y).sum();
                for b in a..n {
                    let v: f64 = jac[a].iter().zip(&jac[b]).map(|(x, y)| x * y).sum();
                    jtj[a][b] = v;
                    jtj[b][a] = v;
                }
            }
            // Penalty rows: residual -w g, derivative w on each gain.
            for f in 0..n / 3 {
                let k = 3 * f + 1;
                jtr[k] -= GAIN_PENALTY * GAIN_PENALTY * p[k];
                jtj[k][k] += GAIN_PENALTY * GAIN_PENALTY;
            }
            let mut improved = false;
            for _ in 0..8 {
                let mut lhs = jtj.clone();
                for (a, row) in lhs.iter_mut().enumerate() {
                    row[a] += lambda * (jtj[a][a] + 1e-9);
                }
                let Some(d) = solve(lhs, jtr.clone()) else {
                    lambda *= 10.0;
                    continue;
                };
                let trial_p: Vec<f64> = p.iter().zip(&d).map(|(a, b)| a + b).collect();
                let trial = self.filters_from(&template, &trial_p);
                let trial_cost = self.cost(&trial);
                if trial_cost < cost {
                    // Keep the parameters inside their bounds.
                    p = Self::to_params(&trial);
                    current = trial;
                    let gain = cost - trial_cost;
                    cost = trial_cost;
                    lambda = (lambda / 3.0).max(1e-7);
                    improved = gain > 1e-10 * cost.max(1e-12);
                    break;
                }
                lambda *= 10.0;
            }
            if !improved {
                break;
            }
        }
        *filters = current;
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-14 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            if f != 0.0 {
                let (upper, lower) = a.split_at_mut(row);
                for (x, &p) in lower[0][col..].iter_mut().zip(&upper[col][col..]) {
                    *x -= f * p;
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<f64> {
        (0..200)
            .map(|i| 20.0 * 1000f64.powf(i as f64 / 199.0))
            .collect()
    }

    #[test]
    fn recovers_known_filters() {
        let fs = 44_100;
        let truth = [
            Filter {
                kind: FilterKind::Bell,
                freq_hz: 250.0,
                gain_db: -2.0,
                q: 1.2,
            },
            Filter {
                kind: FilterKind::HighShelf,
                freq_hz: 8000.0,
                gain_db: 3.0,
                q: 0.707,
            },
        ];
        let freqs = grid();
        let gains: Vec<f64> = freqs
            .iter()
            .map(|&f| truth.iter().map(|t| t.response_db(f, 44_100.0)).sum())
            .collect();
        let fit = fit_curve(&freqs, &gains, fs, None);
        // The model can represent the curve exactly: the fit stops below GOOD_ENOUGH_DB.
        assert!(fit.max_error_db < GOOD_ENOUGH_DB, "{fit:?}");
        assert!(fit.filters.len() <= 3, "{fit:?}");
    }

    #[test]
    fn flat_curve_needs_no_filters() {
        let freqs = grid();
        let fit = fit_curve(&freqs, &vec![0.0; freqs.len()], 48_000, None);
        assert!(fit.is_flat());
        assert_eq!(fit.max_error_db, 0.0);
    }
}
