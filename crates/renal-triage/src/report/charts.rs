//! The report's figures: ROC curves, calibration curves and the Bland-Altman plot.

use renal_cohort::Task;
use renal_report::svg::{Chart, Series};

use crate::engine::cohort_outputs::{Agreement, SizeAgreement};
use crate::engine::decision_curve::DecisionCurve;
use crate::engine::reproduce::Outcome;

pub(super) fn roc_chart(o: &Outcome, task: Task) -> Chart {
    let series = o
        .metrics
        .iter()
        .filter_map(|(name, ms)| ms.iter().find(|m| m.task == task).map(|m| (name, m)))
        .map(|(name, m)| Series {
            label: format!("{name} ({:.3})", m.auc),
            points: m
                .roc_fpr
                .iter()
                .copied()
                .zip(m.roc_tpr.iter().copied())
                .collect(),
            errors: None,
            line: true,
            reference: false,
        })
        .collect();
    Chart {
        title: format!("ROC, {}", task.words()),
        x_label: "1 - specificity".into(),
        y_label: "sensitivity".into(),
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
        series,
        references: vec![(0.0, 0.0, 1.0, 1.0)],
    }
}

/// Calibration as small multiples: one panel per model (its bins with bootstrap 95% CIs
/// against the diagonal), so that no curve hides another.
pub(super) fn calibration_panels(o: &Outcome, task: Task) -> String {
    let charts: Vec<Chart> = o
        .metrics
        .iter()
        .filter_map(|(name, ms)| ms.iter().find(|m| m.task == task).map(|m| (name, m)))
        .map(|(name, m)| {
            let mut pts = Vec::new();
            let mut errs = Vec::new();
            for b in 0..m.calibration_count.len() {
                if let (Some(p), Some(obs)) =
                    (m.calibration_predicted[b], m.calibration_observed[b])
                {
                    pts.push((p, obs));
                    let ci = m.calibration_ci95[b].unwrap_or([obs, obs]);
                    errs.push((ci[0], ci[1]));
                }
            }
            Chart {
                title: format!("{name} (Brier {:.3})", m.brier),
                x_label: "mean predicted probability".into(),
                y_label: "observed frequency".into(),
                x_range: (0.0, 1.0),
                y_range: (0.0, 1.0),
                series: vec![Series {
                    label: name.clone(),
                    points: pts,
                    errors: Some(errs),
                    line: true,
                    reference: false,
                }],
                references: vec![(0.0, 0.0, 1.0, 1.0)],
            }
        })
        .collect();
    renal_report::svg::small_multiples(
        &format!(
            "Calibration, {} (10 bins, bootstrap 95% CI; one panel per model)",
            task.words()
        ),
        &charts,
        2,
    )
}

/// Net benefit against the threshold probability: each model, treat-all and treat-none.
pub(super) fn decision_chart(c: &DecisionCurve) -> Chart {
    let y_min = -0.05;
    let y_max = (c.prevalence * 1.1).max(0.05);
    let clip = |nb: &[f64]| -> Vec<(f64, f64)> {
        c.thresholds
            .iter()
            .copied()
            .zip(nb.iter().copied())
            .filter(|(_, v)| *v >= y_min)
            .collect()
    };
    let line = |label: String, points, reference| Series {
        label,
        points,
        errors: None,
        line: true,
        reference,
    };
    let mut series: Vec<Series> = c
        .models
        .iter()
        .map(|(name, nb)| line(name.clone(), clip(nb), false))
        .collect();
    series.push(line("treat all".into(), clip(&c.treat_all), true));
    series.push(line(
        "treat none".into(),
        vec![(0.0, 0.0), (1.0, 0.0)],
        true,
    ));
    Chart {
        title: format!(
            "Decision curve, {} (n = {}, prevalence {:.2})",
            c.task.words(),
            c.n,
            c.prevalence
        ),
        x_label: "threshold probability".into(),
        y_label: "net benefit".into(),
        x_range: (0.0, 1.0),
        y_range: (y_min, y_max),
        series,
        references: vec![],
    }
}

/// The Bland-Altman plot of the computed vs radiographic size, when it was computed.
pub(super) fn bland_altman_chart(agreement: &Agreement) -> Option<Chart> {
    let SizeAgreement::Computed {
        pairs,
        bland_altman: ba,
        ..
    } = &agreement.size
    else {
        return None;
    };
    let pts: Vec<(f64, f64)> = pairs
        .iter()
        .filter(|[a, b]| a.is_finite() && b.is_finite())
        .map(|[a, b]| ((a + b) / 2.0, a - b))
        .collect();
    let bias = ba.bias_mm;
    let [lo, hi] = ba.limits_of_agreement_mm;
    if !(bias.is_finite() && lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let xmax = pts.iter().map(|p| p.0).fold(10.0f64, f64::max) * 1.05;
    let ymax = pts
        .iter()
        .map(|p| p.1.abs())
        .fold(hi.abs().max(lo.abs()), f64::max)
        * 1.1;
    Some(Chart {
        title: "Tumor size: computed vs radiologist (Bland-Altman)".into(),
        x_label: "mean of the two measurements (mm)".into(),
        y_label: "computed - radiologist (mm)".into(),
        x_range: (0.0, xmax),
        y_range: (-ymax, ymax),
        series: vec![Series {
            label: format!("cases (bias {bias:+.1} mm)"),
            points: pts,
            errors: None,
            line: false,
            reference: false,
        }],
        references: vec![
            (0.0, bias, xmax, bias),
            (0.0, lo, xmax, lo),
            (0.0, hi, xmax, hi),
        ],
    })
}
