//! `renal-triage-encoder`: the only process that loads libtorch (`train`: SimCLR and the
//! embeddings; `embed`: a trained encoder, frozen, on a cohort it has not seen). Called by
//! `renal-triage embed`, `reproduce`, `validate` and `bench encoder`
//! (`renal_triage::engine::encoder_client`), through the files of `renal_encoder::protocol`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::ProgressBar;
use renal_encoder::protocol::{
    atomic, io, read_dataset, write_json, BenchArgs, Device, ProtocolError,
};
use renal_encoder::EncoderConfig;

#[derive(Parser)]
#[command(version, about = "SimCLR encoder process of renal-triage")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train (or resume) on a dataset folder and embed it.
    Train {
        #[arg(long)]
        dataset: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "default")]
        config: String,
        #[arg(long, default_value = "cpu")]
        device: Device,
        /// The channels are CT intensities (intensity jitter applies).
        #[arg(long)]
        intensity: bool,
    },
    /// Embeds a dataset with a trained encoder, frozen (no training, no weight change): an
    /// external cohort, or one new patient.
    Embed {
        #[arg(long)]
        dataset: PathBuf,
        /// The encoder's folder (`encoder.safetensors`, `encoder.json`).
        #[arg(long)]
        encoder: PathBuf,
        /// The embeddings CSV to write (`case_id,f0..`).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "cpu")]
        device: Device,
    },
    /// Serves embeddings with a trained encoder loaded once (libtorch starts once): reads one
    /// JSON request per line on stdin, `{"dataset": DIR, "out": CSV}`, writes the embeddings
    /// to CSV and answers one line, `{"ok": true}` or `{"error": "..."}`; ends at end of input.
    Worker {
        /// The encoder's folder (`encoder.safetensors`, `encoder.json`).
        #[arg(long)]
        encoder: PathBuf,
        #[arg(long, default_value = "cpu")]
        device: Device,
    },
    /// Training images/s of one encoder step (batch, two views, forward, backward, Adam).
    Bench(BenchArgs),
}

/// One request of the worker.
#[derive(serde::Deserialize)]
struct WorkerRequest {
    dataset: PathBuf,
    out: PathBuf,
}

fn worker(encoder: PathBuf, device: Device) -> Result<()> {
    use std::io::{BufRead, Write};
    let dev = renal_encoder::device(device)?;
    let enc = renal_encoder::Encoder::load(&encoder, dev)
        .with_context(|| format!("loading the encoder in {}", encoder.display()))?;
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading a request")?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = serde_json::from_str::<WorkerRequest>(&line)
            .map_err(anyhow::Error::from)
            .and_then(|r| {
                let ds = read_dataset(&r.dataset)?;
                let emb = enc.embed(&ds).context("embedding")?;
                write_embeddings(&r.out, &ds.ids, &emb, enc.cfg.features())
            });
        let reply = match answer {
            Ok(()) => serde_json::json!({"ok": true}),
            Err(e) => serde_json::json!({"error": format!("{e:#}")}),
        };
        let mut out = stdout.lock();
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}

fn embed(dataset: PathBuf, encoder: PathBuf, out: PathBuf, device: Device) -> Result<()> {
    let ds = read_dataset(&dataset)?;
    let dev = renal_encoder::device(device)?;
    let enc = renal_encoder::Encoder::load(&encoder, dev)
        .with_context(|| format!("loading the encoder in {}", encoder.display()))?;
    let emb = enc
        .embed(&ds)
        .with_context(|| format!("embedding {}", dataset.display()))?;
    write_embeddings(&out, &ds.ids, &emb, enc.cfg.features())
}

fn train(
    dataset: PathBuf,
    out: PathBuf,
    config: String,
    device: Device,
    intensity: bool,
) -> Result<()> {
    let ds = read_dataset(&dataset)?;
    let cfg = EncoderConfig::resolve(&config, ds.channels, intensity)
        .with_context(|| format!("encoder configuration `{config}`"))?;
    let dev = renal_encoder::device(device)?;
    let pb = ProgressBar::new(cfg.epochs as u64).with_message("encoder epochs");
    let (enc, report) =
        renal_encoder::train(&cfg, &ds, dev, Some(&out.join("checkpoint")), |e, l| {
            pb.set_position(e as u64 + 1);
            tracing::debug!(epoch = e, loss = l, "encoder epoch");
        })
        .context("training the encoder")?;
    pb.finish_and_clear();
    let emb = enc.embed(&ds).context("embedding")?;
    enc.save(&out).context("saving the encoder")?;
    write_embeddings(&out.join("embeddings.csv"), &ds.ids, &emb, cfg.features())?;
    Ok(write_json(&out.join("train.json"), &report)?)
}

/// `case_id,f0..` (full precision), written through a temporary file and renamed.
fn write_embeddings(
    path: &std::path::Path,
    ids: &[String],
    emb: &[Vec<f32>],
    k: usize,
) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["case_id".to_string()];
    header.extend((0..k).map(|j| format!("f{j}")));
    w.write_record(&header)?;
    for (id, e) in ids.iter().zip(emb) {
        let mut r = vec![id.clone()];
        r.extend(e.iter().map(|v| format!("{v}")));
        w.write_record(&r)?;
    }
    let bytes = w.into_inner().context("encoding the embeddings")?;
    atomic::<ProtocolError>(path, |tmp| std::fs::write(tmp, &bytes).map_err(io(tmp)))?;
    Ok(())
}

fn bench(a: &BenchArgs) -> Result<()> {
    let (batch, channels, steps, device, amp) = (a.batch, a.channels, a.steps, a.device, a.amp);
    let sizes = a.sizes.as_str();
    let dev = renal_encoder::device(device)?;
    let mut results = Vec::new();
    for s in sizes.split(',') {
        let size: usize = s.trim().parse().with_context(|| format!("size `{s}`"))?;
        let cfg = EncoderConfig {
            image_size: size,
            batch_size: batch,
            ..EncoderConfig::paper(channels, true)
        };
        let t0 = Instant::now();
        let r = renal_encoder::bench_step(&cfg, dev, steps, amp)?;
        results.push(serde_json::json!({
            "image_size": size, "batch": batch, "channels": channels, "steps": steps,
            "images_per_s": r.images_per_second, "forward_dtype": r.forward_kind,
            "wall_s": t0.elapsed().as_secs_f64(),
        }));
    }
    println!(
        "{}",
        serde_json::to_string(&serde_json::json!({
            "framework": "renal-encoder (tch, libtorch)", "device": device.to_string(), "amp": amp,
            "threads": EncoderConfig::paper(1, true).threads, "results": results,
        }))?
    );
    Ok(())
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RENAL_TRIAGE_LOG");
    let filter = filter.unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    let r = match Cli::parse().command {
        Cmd::Train {
            dataset,
            out,
            config,
            device,
            intensity,
        } => train(dataset, out, config, device, intensity),
        Cmd::Embed {
            dataset,
            encoder,
            out,
            device,
        } => embed(dataset, encoder, out, device),
        Cmd::Worker { encoder, device } => worker(encoder, device),
        Cmd::Bench(a) => bench(&a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
