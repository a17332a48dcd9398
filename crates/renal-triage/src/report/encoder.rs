//! The image input and the SimCLR encoder.

use std::path::Path;

use anyhow::{Context, Result};
use renal_report::svg::{Chart, Series};
use renal_report::{Block, Section, Table};

use crate::engine::embedding::EmbedOutcome;
use crate::report::blocks::write_svg;

/// The encoder's NT-Xent loss per epoch.
fn loss_chart(losses: &[f64]) -> String {
    Chart {
        title: "SimCLR NT-Xent loss".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        x_range: (0.0, losses.len().max(1) as f64),
        y_range: (0.0, losses.iter().cloned().fold(1.0, f64::max) * 1.05),
        series: vec![Series {
            label: "training loss".into(),
            points: losses
                .iter()
                .enumerate()
                .map(|(i, l)| ((i + 1) as f64, *l))
                .collect(),
            errors: None,
            line: true,
            reference: false,
        }],
        references: vec![],
    }
    .render()
}

/// The image input and the SimCLR encoder: what the channels are, which cases the encoder saw
/// (no labels), its configuration, loss curve, missing phases and input previews.
pub(super) fn encoder_section(e: &EmbedOutcome, out: &Path) -> Result<Section> {
    let rel = |p: &Path| {
        p.strip_prefix(out)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    };
    let r = &e.report;
    let mut blocks = vec![
        Block::Text(format!("Input: {}.", e.images.input)),
        Block::Text(format!(
            "The encoder was trained without labels (self-supervised) on all {} cases with an image input, the cases whose embeddings feed the image models; {} case(s) had no usable image input and are excluded from those models (listed below and in {}). {} epochs, {} steps, {:.0} s on {} ({:.1} training images/s; two augmented views per case per step).",
            r.cases.len(),
            e.images.excluded.len(),
            rel(&e.dir.join("cases.csv")),
            r.losses.len(),
            r.steps,
            r.seconds,
            r.device,
            r.images_per_second
        )),
    ];
    if let Some(from) = r.resumed_from {
        blocks.push(Block::Text(format!(
            "Training resumed from the checkpoint after epoch {from}."
        )));
    }
    let loss = loss_chart(&r.losses);
    write_svg(out, "encoder_loss.svg", &loss)?;
    blocks.push(Block::Figure {
        caption: "Encoder training loss per epoch".into(),
        svg: loss,
        source: Some(rel(&e.dir.join("loss.csv"))),
    });
    blocks.push(Block::Table(Table {
        caption: "Cases without each channel (a missing phase is a zero channel)".into(),
        header: vec!["channel".into(), "cases missing it".into()],
        rows: e
            .images
            .missing_per_channel
            .iter()
            .map(|(c, n)| vec![c.clone(), n.to_string()])
            .collect(),
        source: Some(rel(&e.dir.join("input.json"))),
        marked: vec![],
    }));
    if !e.images.excluded.is_empty() {
        blocks.push(Block::Table(Table {
            caption: format!("Cases without an image input ({})", e.images.excluded.len()),
            header: vec!["case".into(), "reason".into()],
            rows: e
                .images
                .excluded
                .iter()
                .map(|(c, w)| vec![c.clone(), w.clone()])
                .collect(),
            source: Some(rel(&e.dir.join("cases.csv"))),
            marked: vec![],
        }));
    }
    blocks.push(Block::Pre(
        serde_json::to_string_pretty(&e.config).unwrap_or_default(),
    ));
    for p in e.previews.iter().take(4) {
        let png = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        blocks.push(Block::Image {
            caption: format!(
                "Input of {} (channels left to right: {})",
                p.file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default(),
                e.images.spec.channels.join(", ")
            ),
            png,
            source: Some(rel(p)),
        });
    }
    Ok(Section {
        id: "encoder".into(),
        title: "Image input and SimCLR encoder".into(),
        blocks,
    })
}
