//! Building blocks shared by the report's sections: a study table as a report table, and an
//! SVG figure written under `figures/`.

use std::path::Path;

use anyhow::{Context, Result};
use renal_report::{Block, Table};

use crate::engine::tables::TableData;

pub(super) fn table(t: &TableData, dir: &str) -> Block {
    Block::Table(Table {
        caption: t.caption.clone(),
        header: t.header.clone(),
        rows: t.rows.clone(),
        source: Some(format!("{dir}/{}", t.file)),
        marked: t.marked.clone(),
    })
}

pub(super) fn write_svg(out: &Path, name: &str, svg: &str) -> Result<()> {
    let p = out.join("figures").join(name);
    renal_cohort::io::write_atomic(&p, svg.as_bytes())
        .with_context(|| format!("writing {}", p.display()))
}
