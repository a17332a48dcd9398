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
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
            escape(&self.title)
        );
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
        for (i, se) in self.series.iter().enumerate() {
            self.series_marks(&mut s, i, se);
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
    fn series_marks(&self, s: &mut String, i: usize, se: &Series) {
        let c = PALETTE[i % PALETTE.len()];
        if se.line && se.points.len() > 1 {
            let pts: Vec<String> = se
                .points
                .iter()
                .map(|&(x, y)| format!("{:.2},{:.2}", self.px(x), self.py(y)))
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="1.8" points="{}"/>"#,
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
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="4" fill="{c}"/><text x="{:.1}" y="{:.1}" font-size="11" font-family="sans-serif">{}</text>"#,
            W - MR + 10.0,
            ly - 4.0,
            W - MR + 26.0,
            ly + 1.0,
            escape(&se.label)
        );
    }
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
            }],
            references: vec![(0.0, 0.0, 1.0, 1.0)],
        };
        let s = c.render();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("ROC &lt;test&gt;") && s.contains("M1 &amp; co"));
        assert_eq!(s.matches("<polyline").count(), 1);
    }
}
