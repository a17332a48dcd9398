//! The report: tables and figures rendered into one self-contained HTML file (inline CSS and
//! SVG, no script, no network). This crate computes nothing: it lays out what it is given, and
//! every table names the CSV it comes from so a reader can trace each number.

pub mod svg;

use std::fmt::Write;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A table; `marked` cells (row, column) are highlighted (e.g. significant differences).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The file the numbers come from (relative to the report).
    pub source: Option<String>,
    pub marked: Vec<(usize, usize)>,
}

/// One block of a section, in order.
#[derive(Debug, Clone, serde::Serialize)]
pub enum Block {
    Text(String),
    Pre(String),
    Table(Table),
    /// Caption, inline SVG, source file.
    Figure {
        caption: String,
        svg: String,
        source: Option<String>,
    },
    /// A definition list (term, answer), e.g. the TRIPOD+AI items.
    Items(Vec<(String, String)>),
    /// A PNG image embedded in the page (caption, PNG bytes, source file).
    Image {
        caption: String,
        png: Vec<u8>,
        source: Option<String>,
    },
}

/// A figure: content (SVG or an image element), caption and source file.
fn figure(out: &mut String, content: &str, caption: &str, source: Option<&str>) {
    let _ = write!(out, "<figure>{content}<figcaption>{}", escape(caption));
    if let Some(src) = source {
        let _ = write!(
            out,
            " <span class=\"src\">Source: <code>{}</code></span>",
            escape(src)
        );
    }
    out.push_str("</figcaption></figure>");
}

/// Standard base64 (RFC 4648, with padding), for embedding images in the page.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (c.get(1).copied().unwrap_or(0) as u32) << 8
            | c.get(2).copied().unwrap_or(0) as u32;
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
    pub footer: String,
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}caption{text-align:left;font-weight:600;padding:.3em 0}\
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
td.mark{background:#ffe9a8;font-weight:600}.src{color:#666;font-size:.8em}pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em}\
figure{margin:1em 0}figcaption{font-size:.9em;color:#444}dl{display:grid;grid-template-columns:16em 1fr;gap:.3em 1em}dt{font-weight:600}\
nav a{margin-right:1em}";

fn table_html(t: &Table, out: &mut String) {
    out.push_str("<table>");
    let _ = write!(out, "<caption>{}</caption><thead><tr>", escape(&t.caption));
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for (r, row) in t.rows.iter().enumerate() {
        out.push_str("<tr>");
        for (c, cell) in row.iter().enumerate() {
            let class = if t.marked.contains(&(r, c)) {
                " class=\"mark\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if let Some(s) = &t.source {
        let _ = write!(
            out,
            "<p class=\"src\">Source: <code>{}</code></p>",
            escape(s)
        );
    }
}

/// Renders the whole report.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(out, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>", escape(&r.title));
    let _ = write!(
        out,
        "<h1>{}</h1><p>{}</p><nav>",
        escape(&r.title),
        escape(&r.subtitle)
    );
    for s in &r.sections {
        let _ = write!(
            out,
            "<a href=\"#{}\">{}</a>",
            escape(&s.id),
            escape(&s.title)
        );
    }
    out.push_str("</nav>");
    for s in &r.sections {
        let _ = write!(
            out,
            "<section id=\"{}\"><h2>{}</h2>",
            escape(&s.id),
            escape(&s.title)
        );
        for b in &s.blocks {
            match b {
                Block::Text(t) => {
                    let _ = write!(out, "<p>{}</p>", escape(t));
                }
                Block::Pre(t) => {
                    let _ = write!(out, "<pre>{}</pre>", escape(t));
                }
                Block::Table(t) => table_html(t, &mut out),
                Block::Figure {
                    caption,
                    svg,
                    source,
                } => figure(&mut out, svg, caption, source.as_deref()),
                Block::Image {
                    caption,
                    png,
                    source,
                } => {
                    let img = format!(
                        "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
                        escape(caption),
                        base64(png)
                    );
                    figure(&mut out, &img, caption, source.as_deref());
                }
                Block::Items(items) => {
                    out.push_str("<dl>");
                    for (k, v) in items {
                        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
                    }
                    out.push_str("</dl>");
                }
            }
        }
        out.push_str("</section>");
    }
    let _ = writeln!(
        out,
        "<footer><p class=\"src\">{}</p></footer></body></html>",
        escape(&r.footer)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        // RFC 4648, section 10.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn renders_tables_with_marks_and_escapes() {
        let r = Report {
            title: "T".into(),
            subtitle: "s".into(),
            sections: vec![Section {
                id: "a".into(),
                title: "A".into(),
                blocks: vec![
                    Block::Table(Table {
                        caption: "c".into(),
                        header: vec!["x".into()],
                        rows: vec![vec!["<1>".into()]],
                        source: Some("t.csv".into()),
                        marked: vec![(0, 0)],
                    }),
                    Block::Items(vec![("k".into(), "v".into())]),
                ],
            }],
            footer: "f".into(),
        };
        let h = render(&r);
        assert!(h.contains("<td class=\"mark\">&lt;1&gt;</td>"));
        assert!(h.contains("Source: <code>t.csv</code>"));
        assert!(!h.contains("<script"));
        assert!(h.starts_with("<!DOCTYPE html>"));
    }
}
