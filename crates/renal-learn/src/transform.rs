//! Transformers, each fit on training rows only and then applied to any rows: median
//! imputation, min-max scaling to (0, 1), standardisation, PCA (by component count or explained
//! variance fraction) and selection of the top-k features by random-forest importance. PCA and
//! selection act on a column group (e.g. the image embeddings, or the clinical features) and pass
//! the other columns through.

use crate::error::{LearnError, Result};
use crate::forest::{ForestParams, RandomForest};
use crate::matrix::Matrix;

/// Which columns a step acts on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Columns {
    All,
    /// Columns whose name starts with the prefix.
    Prefix(String),
    /// Columns by name.
    Names(Vec<String>),
}

impl Columns {
    pub fn resolve(&self, x: &Matrix) -> Vec<usize> {
        (0..x.cols)
            .filter(|&j| match self {
                Columns::All => true,
                Columns::Prefix(p) => x.names[j].starts_with(p.as_str()),
                Columns::Names(n) => n.contains(&x.names[j]),
            })
            .collect()
    }
}

/// How many principal components to keep.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Components {
    Count(usize),
    /// The fewest components explaining at least this fraction of the variance.
    Variance(f64),
}

/// A preprocessing step (unfitted).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    MedianImpute,
    MinMax,
    Standardize,
    /// Standardize only these columns (the others pass unchanged).
    StandardizeColumns {
        columns: Columns,
    },
    Pca {
        columns: Columns,
        components: Components,
    },
    SelectTopK {
        columns: Columns,
        k: usize,
        forest: ForestParams,
    },
}

/// A fitted step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fitted {
    MedianImpute {
        medians: Vec<f64>,
    },
    MinMax {
        min: Vec<f64>,
        scale: Vec<f64>,
    },
    Standardize {
        mean: Vec<f64>,
        sd: Vec<f64>,
    },
    Pca(Pca),
    Select {
        group: Vec<usize>,
        kept: Vec<usize>,
        importances: Vec<(String, f64)>,
    },
}

/// A fitted PCA on a column group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pca {
    pub group: Vec<usize>,
    pub mean: Vec<f64>,
    /// n_components x group size, row-major; rows are unit vectors.
    pub components: Vec<f64>,
    pub n_components: usize,
    pub explained_variance: Vec<f64>,
    pub explained_variance_ratio: Vec<f64>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn fit_pca(x: &Matrix, group: Vec<usize>, components: Components) -> Result<Pca> {
    let n = x.rows;
    let p = group.len();
    if n < 2 || p == 0 {
        return Err(LearnError::Param {
            name: "pca",
            detail: format!("{n} rows and {p} columns: nothing to decompose"),
        });
    }
    let mut mean = vec![0.0; p];
    for i in 0..n {
        for (m, &j) in mean.iter_mut().zip(&group) {
            *m += x.get(i, j);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centered = nalgebra::DMatrix::from_fn(n, p, |i, c| x.get(i, group[c]) - mean[c]);
    let svd = centered.svd(false, true);
    let vt = svd.v_t.ok_or_else(|| LearnError::Param {
        name: "pca",
        detail: "SVD did not converge".into(),
    })?;
    let s = svd.singular_values;
    // Order by decreasing singular value.
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    let var: Vec<f64> = order
        .iter()
        .map(|&i| s[i] * s[i] / (n as f64 - 1.0))
        .collect();
    let total_var: f64 = (0..p)
        .map(|c| {
            (0..n)
                .map(|i| (x.get(i, group[c]) - mean[c]).powi(2))
                .sum::<f64>()
                / (n as f64 - 1.0)
        })
        .sum();
    let ratio: Vec<f64> = var.iter().map(|v| v / total_var).collect();
    let k = match components {
        Components::Count(k) => {
            if k == 0 || k > order.len() {
                return Err(LearnError::Param {
                    name: "pca components",
                    detail: format!("{k} not in 1..={}", order.len()),
                });
            }
            k
        }
        Components::Variance(f) => {
            if !(f > 0.0 && f <= 1.0) {
                return Err(LearnError::Param {
                    name: "pca variance",
                    detail: format!("{f} not in (0, 1]"),
                });
            }
            let mut acc = 0.0;
            let mut k = order.len();
            for (i, r) in ratio.iter().enumerate() {
                acc += r;
                if acc >= f - 1e-12 {
                    k = i + 1;
                    break;
                }
            }
            k
        }
    };
    let mut comps = vec![0.0; k * p];
    for (r, &i) in order.iter().take(k).enumerate() {
        let row: Vec<f64> = (0..p).map(|c| vt[(i, c)]).collect();
        // scikit-learn's svd_flip (V-based): the largest |entry| of each component is positive.
        let big = row
            .iter()
            .cloned()
            .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
        let sign = if big < 0.0 { -1.0 } else { 1.0 };
        for c in 0..p {
            comps[r * p + c] = sign * row[c];
        }
    }
    Ok(Pca {
        group,
        mean,
        components: comps,
        n_components: k,
        explained_variance: var[..k].to_vec(),
        explained_variance_ratio: ratio[..k].to_vec(),
    })
}

/// The singular values of `x` with every column centred and scaled to unit variance (constant
/// columns left at zero), largest first, and their condition number: the largest over the
/// smallest of the first `min(rows - 1, cols)` (centring takes one rank away). This is what an
/// L2-penalised linear learner on standardised features sees; embeddings of correlated columns
/// with a few dominant directions have condition numbers in the hundreds to thousands.
pub fn standardized_spectrum(x: &Matrix) -> Result<(Vec<f64>, f64)> {
    let (n, p) = (x.rows, x.cols);
    if n < 3 || p == 0 {
        return Err(LearnError::Param {
            name: "spectrum",
            detail: format!("{n} rows and {p} columns: nothing to decompose"),
        });
    }
    let standardized = Step::Standardize.fit(x, &[], 0)?.transform(x)?;
    let z = nalgebra::DMatrix::from_row_slice(n, p, &standardized.data);
    let mut s: Vec<f64> = z.singular_values().iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    let rank = (n - 1).min(p);
    let cond = s[0] / s[rank - 1];
    Ok((s, cond))
}

/// Replaces the group columns by `new` (placed first), keeping the other columns after them.
fn replace_group(x: &Matrix, group: &[usize], new: Matrix) -> Matrix {
    let rest: Vec<usize> = (0..x.cols).filter(|j| !group.contains(j)).collect();
    new.hstack(&x.select_cols(&rest))
}

impl Step {
    /// Fits the step on `x` (training rows only); `y` is used by supervised selection.
    pub fn fit(&self, x: &Matrix, y: &[usize], n_classes: usize) -> Result<Fitted> {
        if x.rows == 0 {
            return Err(LearnError::Empty);
        }
        Ok(match self {
            Step::MedianImpute => {
                let medians = (0..x.cols)
                    .map(|j| median(x.column(j)).unwrap_or(0.0))
                    .collect();
                Fitted::MedianImpute { medians }
            }
            Step::MinMax | Step::Standardize => {
                x.check_finite()?;
                let mut a = Vec::with_capacity(x.cols);
                let mut b = Vec::with_capacity(x.cols);
                for j in 0..x.cols {
                    let col = x.column(j);
                    if matches!(self, Step::MinMax) {
                        let lo = col.iter().cloned().fold(f64::INFINITY, f64::min);
                        let hi = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        a.push(lo);
                        // A column constant on the training rows maps to 0 (scikit-learn's rule).
                        b.push(if hi > lo { hi - lo } else { 1.0 });
                    } else {
                        let m = col.iter().sum::<f64>() / col.len() as f64;
                        let sd = (col.iter().map(|v| (v - m).powi(2)).sum::<f64>()
                            / col.len() as f64)
                            .sqrt();
                        a.push(m);
                        b.push(if sd > 0.0 { sd } else { 1.0 });
                    }
                }
                if matches!(self, Step::MinMax) {
                    Fitted::MinMax { min: a, scale: b }
                } else {
                    Fitted::Standardize { mean: a, sd: b }
                }
            }
            Step::StandardizeColumns { columns } => {
                let group = columns.resolve(x);
                let sub = Step::Standardize.fit(&x.select_cols(&group), y, n_classes)?;
                let (m, d) = match sub {
                    Fitted::Standardize { mean, sd } => (mean, sd),
                    _ => {
                        return Err(LearnError::Param {
                            name: "standardize columns",
                            detail: "the column fit is not a standardization".into(),
                        })
                    }
                };
                // Identity (0, 1) outside the group: (v - 0) / 1 is v exactly.
                let (mut mean, mut sd) = (vec![0.0; x.cols], vec![1.0; x.cols]);
                for (k, &j) in group.iter().enumerate() {
                    mean[j] = m[k];
                    sd[j] = d[k];
                }
                Fitted::Standardize { mean, sd }
            }
            Step::Pca {
                columns,
                components,
            } => {
                x.check_finite()?;
                Fitted::Pca(fit_pca(x, columns.resolve(x), *components)?)
            }
            Step::SelectTopK { columns, k, forest } => {
                let group = columns.resolve(x);
                if *k == 0 || *k > group.len() {
                    return Err(LearnError::Param {
                        name: "select k",
                        detail: format!("{k} not in 1..={}", group.len()),
                    });
                }
                let sub = x.select_cols(&group);
                let rf = RandomForest::fit(forest, &sub, y, n_classes)?;
                let imp = rf.feature_importances();
                let mut order: Vec<usize> = (0..group.len()).collect();
                order.sort_by(|&a, &b| imp[b].total_cmp(&imp[a]).then(a.cmp(&b)));
                let mut kept: Vec<usize> = order[..*k].to_vec();
                kept.sort_unstable();
                let importances = (0..group.len())
                    .map(|i| (sub.names[i].clone(), imp[i]))
                    .collect();
                Fitted::Select {
                    group,
                    kept,
                    importances,
                }
            }
        })
    }
}

impl Fitted {
    /// Applies the fitted step to any rows.
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        let expect = |n: usize| -> Result<()> {
            if x.cols != n {
                return Err(LearnError::Columns {
                    what: "transform",
                    expected: n,
                    got: x.cols,
                });
            }
            Ok(())
        };
        Ok(match self {
            Fitted::MedianImpute { medians } => {
                expect(medians.len())?;
                let mut out = x.clone();
                for i in 0..x.rows {
                    for j in 0..x.cols {
                        if out.data[i * x.cols + j].is_nan() {
                            out.data[i * x.cols + j] = medians[j];
                        }
                    }
                }
                out
            }
            Fitted::MinMax { min: a, scale: b } | Fitted::Standardize { mean: a, sd: b } => {
                expect(a.len())?;
                let mut out = x.clone();
                for i in 0..x.rows {
                    for j in 0..x.cols {
                        let v = &mut out.data[i * x.cols + j];
                        *v = (*v - a[j]) / b[j];
                    }
                }
                out
            }
            Fitted::Pca(p) => {
                let g = p.group.len();
                if p.group.iter().any(|&j| j >= x.cols) {
                    return Err(LearnError::Columns {
                        what: "pca transform",
                        expected: p.group.len(),
                        got: x.cols,
                    });
                }
                let mut data = Vec::with_capacity(x.rows * p.n_components);
                for i in 0..x.rows {
                    for c in 0..p.n_components {
                        let comp = &p.components[c * g..(c + 1) * g];
                        data.push(
                            p.group
                                .iter()
                                .zip(comp)
                                .zip(&p.mean)
                                .map(|((&j, w), m)| (x.get(i, j) - m) * w)
                                .sum(),
                        );
                    }
                }
                let names = (0..p.n_components).map(|c| format!("pc{c}")).collect();
                replace_group(
                    x,
                    &p.group,
                    Matrix::new(x.rows, p.n_components, data, names),
                )
            }
            Fitted::Select { group, kept, .. } => {
                if group.iter().any(|&j| j >= x.cols) {
                    return Err(LearnError::Columns {
                        what: "select transform",
                        expected: group.len(),
                        got: x.cols,
                    });
                }
                let cols: Vec<usize> = kept.iter().map(|&i| group[i]).collect();
                replace_group(x, group, x.select_cols(&cols))
            }
        })
    }
}

/// Errors on the first column that is constant over all rows (a feature that can carry no
/// information), naming it.
pub fn check_no_constant(x: &Matrix) -> Result<()> {
    for j in 0..x.cols {
        let col: Vec<f64> = x.column(j).into_iter().filter(|v| !v.is_nan()).collect();
        if col.windows(2).all(|w| w[0] == w[1]) {
            return Err(LearnError::Constant {
                feature: x.names[j].clone(),
                column: j,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: &[Vec<f64>]) -> Matrix {
        Matrix::from_rows(rows, None).unwrap()
    }

    /// Only the named columns are standardized (mean 2, population SD 1 for 1, 2, 3 by hand);
    /// the others pass unchanged, bit for bit.
    #[test]
    fn standardize_columns_leaves_the_other_columns_unchanged() {
        let mut x = m(&[
            vec![1.0, 0.1, 10.0],
            vec![2.0, 0.2, 20.0],
            vec![3.0, 0.7, 60.0],
        ]);
        x.names = vec!["emb_a".into(), "age".into(), "emb_b".into()];
        let f = Step::StandardizeColumns {
            columns: Columns::Prefix("emb_".into()),
        }
        .fit(&x, &[0, 1, 2], 3)
        .unwrap();
        let z = f.transform(&x).unwrap();
        let sd = (2.0f64 / 3.0).sqrt();
        for i in 0..3 {
            assert!((z.get(i, 0) - (x.get(i, 0) - 2.0) / sd).abs() < 1e-12);
            assert_eq!(z.get(i, 1).to_bits(), x.get(i, 1).to_bits());
        }
        let col2: Vec<f64> = (0..3).map(|i| z.get(i, 2)).collect();
        assert!(col2.iter().sum::<f64>().abs() < 1e-12);
    }

    #[test]
    fn impute_scale_standardize_by_hand() {
        let x = m(&[
            vec![1.0, f64::NAN],
            vec![3.0, 4.0],
            vec![5.0, 8.0],
            vec![f64::NAN, 6.0],
        ]);
        let f = Step::MedianImpute.fit(&x, &[], 0).unwrap();
        let xi = f.transform(&x).unwrap();
        assert_eq!(xi.get(0, 1), 6.0); // median of 4, 8, 6
        assert_eq!(xi.get(3, 0), 3.0); // median of 1, 3, 5
        let s = Step::MinMax
            .fit(&xi, &[], 0)
            .unwrap()
            .transform(&xi)
            .unwrap();
        assert_eq!(s.column(0), vec![0.0, 0.5, 1.0, 0.5]);
        let z = Step::Standardize
            .fit(&xi, &[], 0)
            .unwrap()
            .transform(&xi)
            .unwrap();
        let c = z.column(1);
        assert!(c.iter().sum::<f64>().abs() < 1e-12);
        assert!((c.iter().map(|v| v * v).sum::<f64>() / 4.0 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn pca_of_points_on_a_line() {
        // Points on the line (t, 2t): one component (1, 2)/sqrt(5) explains all variance.
        let x = m(&[
            vec![0.0, 0.0],
            vec![1.0, 2.0],
            vec![2.0, 4.0],
            vec![3.0, 6.0],
        ]);
        let f = Step::Pca {
            columns: Columns::All,
            components: Components::Variance(0.99),
        }
        .fit(&x, &[], 0)
        .unwrap();
        let Fitted::Pca(p) = &f else { panic!() };
        assert_eq!(p.n_components, 1);
        assert!((p.components[0] - 1.0 / 5f64.sqrt()).abs() < 1e-12);
        assert!((p.components[1] - 2.0 / 5f64.sqrt()).abs() < 1e-12);
        assert!((p.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
        // Variance of t*sqrt(5) for t = 0..3: 5 * var(t) = 5 * 5/3.
        assert!((p.explained_variance[0] - 25.0 / 3.0).abs() < 1e-9);
        let t = f.transform(&x).unwrap();
        assert!((t.get(3, 0) - 1.5 * 5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn constant_column_is_named() {
        let mut x = m(&[vec![1.0, 2.0], vec![1.0, 3.0]]);
        x.names = vec!["comorbidity_aids".into(), "age".into()];
        let e = check_no_constant(&x).unwrap_err();
        assert!(e.to_string().contains("comorbidity_aids"));
    }
}
