//! Minimal SVG charts (no fonts or system libraries needed): line charts, scatter plots with
//! error bars, horizontal bar charts. Coordinates are data units mapped to a fixed canvas.

use std::fmt::Write;

use crate::escape;

/// A colour-blind-safe palette (Okabe-Ito).
pub const PALETTE: [&str; 10] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
    "#999999", "#882255",
];

/// One series of a chart.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Optional vertical error bars (low, high) per point.
    pub errors: Option<Vec<(f64, f64)>>,
    /// Draw as a line (true) or as dots (false).
    pub line: bool,
    /// A reference strategy (treat all, treat none): drawn dashed in black or grey, colours
    /// no model series ever takes.
    pub reference: bool,
}

/// The colours of model series: the palette without black and grey (kept for references).
const MODEL_COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#882255",
];
/// Dash patterns that tell apart models beyond the eight colours (solid first).
const MODEL_DASHES: [&str; 3] = ["", "6 3", "2 2"];
/// The colours of reference series.
const REFERENCE_COLOURS: [&str; 2] = ["#000000", "#999999"];

/// The colour and dash pattern of each series: models take the model colours (then the same
/// colours dashed), references black and grey dashed; so no model looks like a reference and
/// no two of the first 24 models look alike.
pub fn series_styles(series: &[Series]) -> Vec<(&'static str, &'static str)> {
    let (mut m, mut r) = (0usize, 0usize);
    series
        .iter()
        .map(|se| {
            if se.reference {
                r += 1;
                (REFERENCE_COLOURS[(r - 1) % 2], "8 4")
            } else {
                m += 1;
                let k = m - 1;
                (
                    MODEL_COLOURS[k % MODEL_COLOURS.len()],
                    MODEL_DASHES[(k / MODEL_COLOURS.len()) % MODEL_DASHES.len()],
                )
            }
        })
        .collect()
}

/// A chart with axes, grid, legend and optional reference line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub series: Vec<Series>,
    /// Straight reference segments (x0, y0, x1, y1), drawn dashed grey.
    pub references: Vec<(f64, f64, f64, f64)>,
}

const W: f64 = 640.0;
const H: f64 = 420.0;
const ML: f64 = 60.0;
const MR: f64 = 250.0;
const MT: f64 = 30.0;
const MB: f64 = 50.0;

fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).abs().max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(mag * 10.0);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

impl Chart {
    fn px(&self, x: f64) -> f64 {
        ML + (x - self.x_range.0) / (self.x_range.1 - self.x_range.0) * (W - ML - MR)
    }
    fn py(&self, y: f64) -> f64 {
        H - MB - (y - self.y_range.0) / (self.y_range.1 - self.y_range.0) * (H - MT - MB)
    }

    /// Renders the chart as an inline `<svg>` element.
    pub fn render(&self) -> String {
        self.render_as(&format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
            escape(&self.title)
        ))
    }

    /// The chart under its own opening tag (a panel nested in a larger figure).
    fn render_as(&self, open: &str) -> String {
        let mut s = String::from(open);
        let _ = write!(
            s,
            r##"<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>"##
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="18" font-size="14" font-family="sans-serif" text-anchor="middle">{}</text>"#,
            (ML + W - MR) / 2.0,
            escape(&self.title)
        );
        self.axes(&mut s);
        self.reference_lines(&mut s);
        let styles = series_styles(&self.series);
        for (i, (se, style)) in self.series.iter().zip(styles).enumerate() {
            self.series_marks(&mut s, i, se, style);
        }
        s.push_str("</svg>");
        s
    }

    /// Grid lines with tick labels, the frame and the axis labels.
    fn axes(&self, s: &mut String) {
        for t in ticks(self.x_range.0, self.x_range.1) {
            let x = self.px(t);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" y1="{MT}" x2="{x:.1}" y2="{:.1}" stroke="#eeeeee"/><text x="{x:.1}" y="{:.1}" font-size="11" font-family="sans-serif" text-anchor="middle">{}</text>"##,
                H - MB,
                H - MB + 15.0,
                fmt_tick(t)
            );
        }
        for t in ticks(self.y_range.0, self.y_range.1) {
            let y = self.py(t);
            let _ = write!(
                s,
                r##"<line x1="{ML}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eeeeee"/><text x="{:.1}" y="{:.1}" font-size="11" font-family="sans-serif" text-anchor="end">{}</text>"##,
                W - MR,
                ML - 5.0,
                y + 4.0,
                fmt_tick(t)
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{ML}" y="{MT}" width="{:.1}" height="{:.1}" fill="none" stroke="#333333"/>"##,
            W - ML - MR,
            H - MT - MB
        );
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" font-family="sans-serif" text-anchor="middle">{}</text>"#,
            (ML + W - MR) / 2.0,
            H - 10.0,
            escape(&self.x_label)
        );
        let _ = write!(
            s,
            r#"<text x="14" y="{:.1}" font-size="12" font-family="sans-serif" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
            (MT + H - MB) / 2.0,
            (MT + H - MB) / 2.0,
            escape(&self.y_label)
        );
    }

    /// Dashed reference lines.
    fn reference_lines(&self, s: &mut String) {
        for &(x0, y0, x1, y1) in &self.references {
            let _ = write!(
                s,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888888" stroke-dasharray="4 4"/>"##,
                self.px(x0),
                self.py(y0),
                self.px(x1),
                self.py(y1)
            );
        }
    }

    /// One series: its line or points, error bars and legend entry.
    fn series_marks(&self, s: &mut String, i: usize, se: &Series, (c, dash): (&str, &str)) {
        let dash_attr = if dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{dash}""#)
        };
        if se.line && se.points.len() > 1 {
            let pts: Vec<String> = se
                .points
                .iter()
                .map(|&(x, y)| format!("{:.2},{:.2}", self.px(x), self.py(y)))
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="1.8"{dash_attr} points="{}"/>"#,
                pts.join(" ")
            );
        } else {
            for &(x, y) in &se.points {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.2}" cy="{:.2}" r="3" fill="{c}"/>"#,
                    self.px(x),
                    self.py(y)
                );
            }
        }
        if let Some(errs) = &se.errors {
            for (&(x, _), &(lo, hi)) in se.points.iter().zip(errs) {
                let _ = write!(
                    s,
                    r#"<line x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}" stroke="{c}" stroke-width="1"/>"#,
                    self.px(x),
                    self.py(lo),
                    self.px(x),
                    self.py(hi)
                );
            }
        }
        let ly = MT + 10.0 + 16.0 * i as f64;
        let _ = write!(
            s,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{c}" stroke-width="3"{dash_attr}/><text x="{:.1}" y="{:.1}" font-size="11" font-family="sans-serif">{}</text>"#,
            W - MR + 6.0,
            ly - 2.0,
            W - MR + 22.0,
            ly - 2.0,
            W - MR + 26.0,
            ly + 1.0,
            escape(&se.label)
        );
    }
}

/// Small multiples: one panel per chart, `cols` to a row, each at half size, under a title.
pub fn small_multiples(title: &str, charts: &[Chart], cols: usize) -> String {
    let cols = cols.max(1);
    let (pw, ph) = (W / 2.0, H / 2.0);
    let rows = charts.len().div_ceil(cols).max(1);
    let (w, h) = (pw * cols as f64, 28.0 + ph * rows as f64);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{0}"><rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/><text x="{1}" y="18" font-size="14" font-family="sans-serif" text-anchor="middle">{0}</text>"##,
        escape(title),
        w / 2.0
    );
    for (i, c) in charts.iter().enumerate() {
        let (x, y) = (pw * (i % cols) as f64, 28.0 + ph * (i / cols) as f64);
        s.push_str(&c.render_as(&format!(
            r#"<svg x="{x}" y="{y}" width="{pw}" height="{ph}" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
            escape(&c.title)
        )));
    }
    s.push_str("</svg>");
    s
}

/// A horizontal bar chart (e.g. feature importances), bars sorted as given.
pub fn bar_chart(title: &str, bars: &[(String, f64)], x_label: &str) -> String {
    let n = bars.len().max(1);
    let h = 40.0 + 18.0 * n as f64 + 30.0;
    let left = 300.0;
    let width = 680.0;
    let max = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-12);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" width="{width}" height="{h}" role="img" aria-label="{}"><rect x="0" y="0" width="{width}" height="{h}" fill="#ffffff"/>"##,
        escape(title)
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="18" font-size="14" font-family="sans-serif" text-anchor="middle">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    for (i, (name, v)) in bars.iter().enumerate() {
        let y = 32.0 + 18.0 * i as f64;
        let bw = v / max * (width - left - 70.0);
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" font-family="sans-serif" text-anchor="end">{}</text><rect x="{left}" y="{:.1}" width="{bw:.1}" height="13" fill="#0072B2"/><text x="{:.1}" y="{:.1}" font-size="10" font-family="sans-serif">{v:.3}</text>"##,
            left - 6.0,
            y + 10.0,
            escape(name),
            y,
            left + bw + 4.0,
            y + 10.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{:.1}" font-size="12" font-family="sans-serif" text-anchor="middle">{}</text></svg>"#,
        (left + width) / 2.0,
        h - 8.0,
        escape(x_label)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            ticks(0.0, 1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(fmt_tick(0.6000000000000001), "0.6");
    }

    #[test]
    fn chart_is_well_formed_svg() {
        let c = Chart {
            title: "ROC <test>".into(),
            x_label: "1 - specificity".into(),
            y_label: "sensitivity".into(),
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
            series: vec![Series {
                label: "M1 & co".into(),
                points: vec![(0.0, 0.0), (0.5, 0.8), (1.0, 1.0)],
                errors: None,
                line: true,
                reference: false,
            }],
            references: vec![(0.0, 0.0, 1.0, 1.0)],
        };
        let s = c.render();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("ROC &lt;test&gt;") && s.contains("M1 &amp; co"));
        assert_eq!(s.matches("<polyline").count(), 1);
        let m = small_multiples("Calibration", &[c.clone(), c], 2);
        assert_eq!(m.matches("<svg").count(), 3);
        assert_eq!(m.matches("</svg>").count(), 3);
    }

    /// Twenty models and the two references of a decision curve: no model takes a
    /// reference's look, and no two models look alike.
    #[test]
    fn models_never_share_a_look_with_each_other_or_a_reference() {
        let mk = |reference| Series {
            label: String::new(),
            points: vec![],
            errors: None,
            line: true,
            reference,
        };
        let mut series: Vec<Series> = (0..20).map(|_| mk(false)).collect();
        series.push(mk(true));
        series.push(mk(true));
        let st = series_styles(&series);
        let (models, refs) = st.split_at(20);
        for (i, a) in models.iter().enumerate() {
            assert!(
                !REFERENCE_COLOURS.contains(&a.0),
                "model {i} in a reference colour"
            );
            for b in &models[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_ne!(refs[0], refs[1]);
    }
}
