//! Intraclass correlation coefficients (Shrout & Fleiss 1979; McGraw & Wong 1996).
//!
//! Ratings are a targets x raters matrix with no missing cells. Forms:
//! ICC(1,1) one-way random; ICC(2,1) two-way random, absolute agreement; ICC(3,1) two-way mixed,
//! consistency; and their k-rater averages. F tests and 95% CIs follow pingouin 0.6
//! (`intraclass_corr`), which uses the Shrout-Fleiss / McGraw-Wong F-based intervals.
//!
//! # References
//! Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater reliability.
//! Psychological Bulletin 86(2):420-428.

use crate::dist::{f_ppf, f_sf};
use crate::error::{check_finite, Result, StatsError};

/// Two-way ANOVA mean squares of a targets x raters matrix.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MeanSquares {
    pub n_targets: usize,
    pub k_raters: usize,
    /// Between targets (S&F's BMS).
    pub msr: f64,
    /// Between raters (JMS).
    pub msc: f64,
    /// Residual (EMS).
    pub mse: f64,
    /// Within targets, raters and residual pooled (WMS).
    pub msw: f64,
}

/// The six ICC forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum IccForm {
    Icc1,
    Icc2,
    Icc3,
    Icc1k,
    Icc2k,
    Icc3k,
}

impl IccForm {
    pub const ALL: [IccForm; 6] = [
        IccForm::Icc1,
        IccForm::Icc2,
        IccForm::Icc3,
        IccForm::Icc1k,
        IccForm::Icc2k,
        IccForm::Icc3k,
    ];

    /// Shrout & Fleiss name, e.g. `ICC(3,1)`.
    pub fn name(self) -> &'static str {
        match self {
            IccForm::Icc1 => "ICC(1,1)",
            IccForm::Icc2 => "ICC(2,1)",
            IccForm::Icc3 => "ICC(3,1)",
            IccForm::Icc1k => "ICC(1,k)",
            IccForm::Icc2k => "ICC(2,k)",
            IccForm::Icc3k => "ICC(3,k)",
        }
    }
}

/// One ICC with its F test and 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Icc {
    pub form: IccForm,
    pub icc: f64,
    pub f: f64,
    pub df1: f64,
    pub df2: f64,
    pub pval: f64,
    pub ci95: [f64; 2],
}

/// Mean squares of `rows` (one row per target, one column per rater).
pub fn mean_squares(rows: &[Vec<f64>]) -> Result<MeanSquares> {
    let n = rows.len();
    if n < 2 {
        return Err(StatsError::TooFew {
            what: "ICC targets",
            needed: 2,
            got: n,
        });
    }
    let k = rows[0].len();
    if k < 2 {
        return Err(StatsError::TooFew {
            what: "ICC raters",
            needed: 2,
            got: k,
        });
    }
    for (r, row) in rows.iter().enumerate() {
        if row.len() != k {
            return Err(StatsError::Ragged {
                what: "ICC ratings",
                row: r,
                got: row.len(),
                expected: k,
            });
        }
        check_finite("ICC ratings", row)?;
    }
    let (nf, kf) = (n as f64, k as f64);
    let grand = rows.iter().flatten().sum::<f64>() / (nf * kf);
    let row_means: Vec<f64> = rows.iter().map(|r| r.iter().sum::<f64>() / kf).collect();
    let col_means: Vec<f64> = (0..k)
        .map(|c| rows.iter().map(|r| r[c]).sum::<f64>() / nf)
        .collect();
    let ssr: f64 = kf * row_means.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    let ssc: f64 = nf * col_means.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    // Residual from its own definition rather than SST - SSR - SSC, to avoid cancellation.
    let mut sse = 0.0;
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sse += (v - row_means[r] - col_means[c] + grand).powi(2);
        }
    }
    Ok(MeanSquares {
        n_targets: n,
        k_raters: k,
        msr: ssr / (nf - 1.0),
        msc: ssc / (kf - 1.0),
        mse: sse / ((nf - 1.0) * (kf - 1.0)),
        msw: (ssc + sse) / (nf * (kf - 1.0)),
    })
}

/// All six ICC forms with F tests and 95% CIs.
pub fn icc_all(rows: &[Vec<f64>]) -> Result<Vec<Icc>> {
    let ms = mean_squares(rows)?;
    let (n, k) = (ms.n_targets as f64, ms.k_raters as f64);
    let MeanSquares {
        msr, msc, mse, msw, ..
    } = ms;
    if msr == 0.0 && mse == 0.0 && msw == 0.0 {
        return Err(StatsError::Degenerate {
            what: "ICC ratings",
        });
    }
    let q = 0.975;
    let (df1, df1kd, df2kd) = (n - 1.0, n * (k - 1.0), (n - 1.0) * (k - 1.0));

    let icc1 = (msr - msw) / (msr + (k - 1.0) * msw);
    let icc2 = (msr - mse) / (msr + (k - 1.0) * mse + k * (msc - mse) / n);
    let icc3 = (msr - mse) / (msr + (k - 1.0) * mse);
    let icc1k = (msr - msw) / msr;
    let icc2k = (msr - mse) / (msr + (msc - mse) / n);
    let icc3k = (msr - mse) / msr;

    let f1 = msr / msw;
    let f3 = msr / mse;
    let (p1, p3) = (f_sf(f1, df1, df1kd), f_sf(f3, df1, df2kd));

    // ICC(1,·)
    let f1l = f1 / f_ppf(q, df1, df1kd);
    let f1u = f1 * f_ppf(q, df1kd, df1);
    let ci1 = [(f1l - 1.0) / (f1l + k - 1.0), (f1u - 1.0) / (f1u + k - 1.0)];
    let ci1k = [1.0 - 1.0 / f1l, 1.0 - 1.0 / f1u];
    // ICC(3,·)
    let f3l = f3 / f_ppf(q, df1, df2kd);
    let f3u = f3 * f_ppf(q, df2kd, df1);
    let ci3 = [(f3l - 1.0) / (f3l + k - 1.0), (f3u - 1.0) / (f3u + k - 1.0)];
    let ci3k = [1.0 - 1.0 / f3l, 1.0 - 1.0 / f3u];
    // ICC(2,·): Satterthwaite degrees of freedom (McGraw & Wong 1996, as in pingouin).
    let fj = msc / mse;
    let vn =
        (k - 1.0) * (n - 1.0) * (k * icc2 * fj + n * (1.0 + (k - 1.0) * icc2) - k * icc2).powi(2);
    let vd =
        (n - 1.0) * (k * icc2 * fj).powi(2) + (n * (1.0 + (k - 1.0) * icc2) - k * icc2).powi(2);
    let v = vn / vd;
    let f2u = f_ppf(q, n - 1.0, v);
    let f2l = f_ppf(q, v, n - 1.0);
    let l2 = n * (msr - f2u * mse) / (f2u * (k * msc + (k * n - k - n) * mse) + n * msr);
    let u2 = n * (f2l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f2l * msr);
    let ci2 = [l2, u2];
    let ci2k = [
        l2 * k / (1.0 + l2 * (k - 1.0)),
        u2 * k / (1.0 + u2 * (k - 1.0)),
    ];

    let mk = |form, icc, f, df2, pval, ci95| Icc {
        form,
        icc,
        f,
        df1,
        df2,
        pval,
        ci95,
    };
    Ok(vec![
        mk(IccForm::Icc1, icc1, f1, df1kd, p1, ci1),
        mk(IccForm::Icc2, icc2, f3, df2kd, p3, ci2),
        mk(IccForm::Icc3, icc3, f3, df2kd, p3, ci3),
        mk(IccForm::Icc1k, icc1k, f1, df1kd, p1, ci1k),
        mk(IccForm::Icc2k, icc2k, f3, df2kd, p3, ci2k),
        mk(IccForm::Icc3k, icc3k, f3, df2kd, p3, ci3k),
    ])
}

/// One form only.
pub fn icc(rows: &[Vec<f64>], form: IccForm) -> Result<Icc> {
    let all = icc_all(rows)?;
    Ok(all[IccForm::ALL.iter().position(|&f| f == form).unwrap_or(0)])
}
