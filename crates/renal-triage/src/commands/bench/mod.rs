//! `renal-triage bench measure`: times loading and measuring every mask of a cohort against the
//! decompression alone (the floor for any reader of gzip NIfTI), measured in the same run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod ct;
mod forest;
mod linear;
mod pacs;
mod shard;
mod study;
pub mod support;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use rayon::prelude::*;
use renal_imaging::LabelScheme;
use serde_json::json;
use support::{peak_memory_mib, run_script};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Subcommand, Debug)]
pub enum Which {
    /// Load and measure every mask (sizes, shapes, components).
    Measure {
        #[arg(long)]
        data: Option<PathBuf>,
        /// Only the first N cases.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Random-forest nested CV (9-point grid, 5x5) on `--table` or a synthetic table; with
    /// `--sklearn`, the same workload in scikit-learn (scripts/bench_sklearn_cv.py) in the same run.
    Cv {
        #[command(flatten)]
        table: support::TableArgs,
        #[arg(long, default_value_t = 500)]
        trees: usize,
        /// Also time scikit-learn (needs python3 with scikit-learn).
        #[arg(long)]
        sklearn: bool,
    },
    /// The study's linear head (512 -> 3, Adam) under nested 5x5 CV on `--table` or a
    /// synthetic table;
    /// with `--python`, numpy and PyTorch (scripts/bench_linear_head.py) in the same run.
    Mlp {
        #[command(flatten)]
        table: support::TableArgs,
        #[arg(long, default_value_t = linear::HEAD_EPOCHS)]
        epochs: usize,
        #[arg(long, default_value_t = linear::HEAD_BATCH)]
        batch: usize,
        #[arg(long)]
        python: bool,
    },
    /// Logistic regression with a C grid (the study's five values by default), standardised
    /// inside the folds, under nested 5x5 CV; with `--sklearn`, scikit-learn's lbfgs
    /// (scripts/bench_sklearn_logistic.py) in the same run.
    Logistic {
        #[command(flatten)]
        table: support::TableArgs,
        // The default is `linear::STUDY_C` written out for the help (a test checks they agree).
        #[arg(long, value_delimiter = ',', default_value = "0.001,0.01,0.1,1,10")]
        c: Vec<f64>,
        #[arg(long)]
        sklearn: bool,
    },
    /// The study's whole learning run on one table (`--table`, or the synthetic 448 x 512 with
    /// the spectrum of real embeddings): the linear head, the forest (9-point grid, 500 trees)
    /// and logistic regression (the five C), each under nested 5x5 CV; with `--python`, each
    /// one's twin (PyTorch and numpy, scikit-learn) on the same table in the same run, and the
    /// ratios per learner and for the whole.
    Study {
        #[command(flatten)]
        table: support::TableArgs,
        #[arg(long, default_value_t = 500)]
        trees: usize,
        #[arg(long)]
        python: bool,
    },
    /// The full non-image reproduction (measurements, all models, DeLong, bootstrap, report),
    /// with per-stage times and peak memory.
    Reproduce {
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long)]
        experiment: Option<PathBuf>,
        /// Also run the same reproduction in Python (scripts/bench_sklearn_reproduce.py:
        /// nibabel, scikit-image, scikit-learn; one thread) in the same run, from the same cases.
        #[arg(long)]
        sklearn: bool,
    },
    /// Cold start: `renal-triage predict` for one case as a fresh process, repeated.
    Predict {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        mask: PathBuf,
        #[arg(long, default_value_t = 10)]
        repeats: usize,
    },
    /// Load: concurrent predict requests against `serve` on loopback.
    Load {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        mask: PathBuf,
        #[arg(long, default_value_t = 500)]
        requests: usize,
        /// Requests in flight at once (default: all of them); one warm-up request first.
        #[arg(long)]
        concurrency: Option<usize>,
        /// An image model's encoder started per request instead of kept alive.
        #[arg(long)]
        encoder_per_request: bool,
        /// Who runs an image model's encoder (the libtorch process, or plain Rust).
        #[arg(long, value_enum, default_value_t = crate::model::image::EncoderBackend::Libtorch)]
        encoder_backend: crate::model::image::EncoderBackend,
        /// Require a bearer token (as `serve --token-file`), every request sending it.
        #[arg(long)]
        auth: bool,
    },
    /// Studies per minute pulled from a DICOMweb archive against the archive's own download
    /// of the same instances (Orthanc), in the same run (scripts/bench_pacs.sh starts one).
    Pacs(pacs::PacsBenchArgs),
    /// Encoder training step (batch, two views, forward, backward, Adam), images/s at each
    /// size, and the same step in PyTorch (scripts/bench_pytorch_encoder.py) in the same run.
    Encoder(crate::engine::encoder_client::BenchArgs),
    /// Sharding: the per-case throughput of one shard process (1 thread) against the
    /// single-process cohort measurement (1 thread) on the same cases, and the merge time for
    /// the cohort and for a synthetic work folder of `--synthetic` cases.
    Shard {
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value_t = 50_000)]
        synthetic: usize,
    },
    /// The CT path on a phantom around a real mask (512 x 512 x N, four phases): phantom
    /// generation, NIfTI and DICOM writing and reading, and the study's preprocessing; then
    /// (unless `--decode false`) the decoding of the same 512 x 512 series (32 slices through
    /// the tumor) in each compressed transfer syntax against the uncompressed read and against
    /// pydicom (pylibjpeg, pyjpegls) and dcmtk's decoders on the same files
    /// (scripts/bench_dicom_decode.py).
    Ct {
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value = "case_00000")]
        case: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        decode: bool,
    },
    /// Paired DeLong test on n scores.
    Delong {
        #[arg(long, default_value_t = 100_000)]
        n: usize,
    },
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    match args.which {
        Which::Measure { data, limit } => measure(data, limit),
        Which::Cv {
            table,
            trees,
            sklearn,
        } => forest::cv(&table, trees, sklearn),
        Which::Delong { n } => delong(n),
        Which::Mlp {
            table,
            epochs,
            batch,
            python,
        } => linear::mlp(&table, epochs, batch, python),
        Which::Logistic { table, c, sklearn } => linear::logistic(&table, &c, sklearn),
        Which::Study {
            table,
            trees,
            python,
        } => study::study(&table, trees, python),
        Which::Reproduce {
            data,
            experiment,
            sklearn,
        } => reproduce(data, experiment, sklearn),
        Which::Encoder(a) => encoder(&a),
        Which::Pacs(a) => pacs::run(a),
        Which::Ct { data, case, decode } => ct::ct(data, &case, decode),
        Which::Shard { data, synthetic } => shard::shard(data, synthetic),
        Which::Predict {
            model,
            mask,
            repeats,
        } => cold_start(&model, &mask, repeats),
        Which::Load {
            model,
            mask,
            requests,
            concurrency,
            encoder_per_request,
            encoder_backend,
            auth,
        } => load(
            &model,
            &mask,
            (requests, concurrency.unwrap_or(requests)),
            encoder_per_request,
            encoder_backend,
            auth,
        ),
    }
}

fn measure(data: Option<PathBuf>, limit: Option<usize>) -> Result<ExitCode> {
    let data = crate::engine::data::resolve(data.as_deref())?;
    let mut cohort = crate::engine::data::load(&data, &Default::default())?;
    if let Some(n) = limit {
        cohort.cases.truncate(n);
    }
    let paths: Vec<PathBuf> = cohort
        .cases
        .iter()
        .filter_map(|c| c.images.mask.clone())
        .collect();
    let t0 = Instant::now();
    let bytes: usize = paths
        .par_iter()
        .map(|p| {
            renal_imaging::nifti::read_maybe_gzip(p)
                .map(|b| b.len())
                .unwrap_or(0)
        })
        .sum();
    let decompress = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let meas = crate::engine::measure::measure_cohort(&mut cohort, LabelScheme::default());
    let measure = t1.elapsed().as_secs_f64();
    let report = json!({
        "bench": "measure",
        "cases": paths.len(),
        "measured": meas.len(),
        "threads": rayon::current_num_threads(),
        "decompressed_bytes": bytes,
        "decompress_only_s": decompress,
        "load_and_measure_s": measure,
        "ratio_to_decompression": measure / decompress,
        "goal": "load_and_measure within 2x of decompress_only",
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// One encoder training step (`renal-triage-encoder bench`) against the same step in PyTorch
/// (scripts/bench_pytorch_encoder.py), in images per second.
fn encoder(a: &crate::engine::encoder_client::BenchArgs) -> Result<ExitCode> {
    let mut args = a.to_args();
    let ours = crate::engine::encoder_client::bench(&args)?;
    let mut report = json!({ "bench": "encoder_step", "renal_triage": ours.clone() });
    // The same step in PyTorch, same threads (the encoder's configured 2 on CPU).
    args.extend(["--threads".to_string(), "2".to_string()]);
    let os: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let refs: Vec<&std::ffi::OsStr> = os.iter().map(|s| s.as_os_str()).collect();
    match run_script("bench_pytorch_encoder.py", &refs) {
        Ok(py) => {
            let ratios: Vec<serde_json::Value> = ours["results"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .zip(py["results"].as_array().cloned().unwrap_or_default())
                .map(|(a, b)| {
                    json!({
                        "image_size": a["image_size"],
                        "ratio_vs_pytorch": a["images_per_s"].as_f64().unwrap_or(0.0)
                            / b["images_per_s"].as_f64().unwrap_or(f64::NAN),
                    })
                })
                .collect();
            report["pytorch"] = py;
            report["ratio"] = json!(ratios);
        }
        Err(why) => report["pytorch"] = json!(format!("not run: {why}")),
    }
    report["goal"] =
        json!("at least 0.95x PyTorch on CPU; at least 0.9x with mixed precision on a GPU");
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

fn delong(n: usize) -> Result<ExitCode> {
    let mut rng = renal_stats::Rng::new(5);
    let y: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
    let a: Vec<f64> = y
        .iter()
        .map(|&t| rng.f64() + if t { 0.3 } else { 0.0 })
        .collect();
    let b: Vec<f64> = y
        .iter()
        .map(|&t| rng.f64() + if t { 0.2 } else { 0.0 })
        .collect();
    // Baseline in the same run: one ROC AUC (a sort and a sweep), the floor of any AUC method.
    let t0 = Instant::now();
    let auc = renal_stats::roc_auc(&y, &a)?;
    let base = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let d = renal_stats::delong_paired(&y, &a, &b, 0.95)?;
    let dt = t1.elapsed().as_secs_f64();
    let report = json!({
        "bench": "delong_paired", "n": n, "delong_s": dt, "roc_auc_s": base,
        "ratio_to_one_auc": dt / base, "auc_a": auc, "difference": d.difference, "z": d.z,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

fn reproduce(
    data: Option<PathBuf>,
    experiment: Option<PathBuf>,
    sklearn: bool,
) -> Result<ExitCode> {
    let out = std::env::temp_dir().join(format!("renal-bench-reproduce-{}", std::process::id()));
    let req = crate::engine::reproduce::Request {
        data,
        experiment,
        embeddings: None,
        splits: None,
        labels: None,
        external: None,
        out: out.clone(),
        seed: None,
        // The non-image reproduction (issue 4's benchmark); `bench encoder` times the encoder.
        encoder: None,
        device: crate::engine::embedding::Device::Cpu,
        cohort: Default::default(),
    };
    let t0 = Instant::now();
    let mut o = crate::engine::reproduce::reproduce(&req)?;
    let tr = Instant::now();
    crate::report::write_report(&o, &out)?;
    o.timings
        .push(("figures_and_report".into(), tr.elapsed().as_secs_f64()));
    let total = t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&out);
    let mut report = json!({
        "bench": "reproduce",
        "cases": o.prepared.cohort.cases.len(),
        "models_run": o.runs.len(),
        "models_skipped": o.skipped.len(),
        "threads": rayon::current_num_threads(),
        "total_s": total,
        "stages_s": o.timings,
        "peak_memory_mib": peak_memory_mib(),
        "models_s": model_times(&o),
        "goal": "under 2048 MiB peak; at least 20x faster than an equivalent scikit-learn pipeline",
    });
    if sklearn {
        let dir = std::env::temp_dir().join(format!("renal-bench-sk-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let table = dir.join("cohort.csv");
        write_python_cohort(&o, &table)?;
        let sk = run_script(
            "bench_sklearn_reproduce.py",
            &[
                table.as_os_str(),
                dir.join("out").as_os_str(),
                o.exp.rf.trees.to_string().as_ref(),
            ],
        );
        let _ = std::fs::remove_dir_all(&dir);
        match sk {
            Ok(sk) => {
                if let Some(skt) = sk["total_s"].as_f64() {
                    report["sklearn_total_s"] = json!(skt);
                    report["speedup_vs_sklearn"] = json!(skt / total);
                }
                report["sklearn"] = sk;
            }
            Err(why) => report["sklearn"] = json!(format!("not run: {why}")),
        }
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Each model's nested-CV time with its learner, and the total per learner (so boosting and
/// the forest are compared in the same run, on the same cohort).
fn model_times(o: &crate::engine::reproduce::Outcome) -> serde_json::Value {
    let mut per_learner: std::collections::BTreeMap<String, f64> = Default::default();
    let models: Vec<serde_json::Value> = o
        .exp
        .models
        .iter()
        .filter_map(|m| {
            let stage = format!("model {}", m.name);
            let s = o.timings.iter().find(|(n, _)| *n == stage)?.1;
            let learner = serde_json::to_value(m.learner).ok()?;
            *per_learner
                .entry(learner.as_str().unwrap_or("?").to_string())
                .or_default() += s;
            Some(json!({"model": m.name, "learner": learner, "seconds": s}))
        })
        .collect();
    json!({"models": models, "by_learner": per_learner})
}

/// The cohort `reproduce` modelled, for the Python comparison: case id, class, label map,
/// annotator masks, and the clinical values (empty when missing). Sizes are not passed: the
/// script measures the masks itself.
fn write_python_cohort(
    o: &crate::engine::reproduce::Outcome,
    path: &std::path::Path,
) -> Result<()> {
    let spec = crate::engine::features::FeatureSpec {
        clinical: o.prepared.clinical.clone(),
        size: crate::engine::features::SizeSource::None,
        extra_prefix: None,
        shape: false,
    };
    let t = crate::engine::features::build(&o.prepared.cohort, &o.prepared.meas, &spec)?;
    let mut w = csv::Writer::from_path(path)?;
    let mut header = vec![
        "case_id".to_string(),
        "y".into(),
        "mask".into(),
        "annotations".into(),
    ];
    header.extend(t.x.names.iter().cloned());
    w.write_record(&header)?;
    for (i, id) in t.case_ids.iter().enumerate() {
        let case = o
            .prepared
            .cohort
            .cases
            .iter()
            .find(|c| &c.id == id)
            .context("case of the feature table not in the cohort")?;
        let mask = case.images.mask.as_ref().context("case without a mask")?;
        let ann: Vec<String> = case
            .images
            .annotations
            .iter()
            .map(|a| format!("{}:{}:{}", a.instance, a.annotator, a.path.display()))
            .collect();
        let mut rec = vec![
            id.clone(),
            t.y[i].to_string(),
            mask.display().to_string(),
            ann.join(";"),
        ];
        rec.extend(t.x.row(i).iter().map(|v| {
            if v.is_nan() {
                String::new()
            } else {
                v.to_string()
            }
        }));
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

fn cold_start(model: &std::path::Path, mask: &std::path::Path, repeats: usize) -> Result<ExitCode> {
    let exe = std::env::current_exe()?;
    let mut times = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let o = std::process::Command::new(&exe)
            .args(["predict", "--model"])
            .arg(model)
            .args(["--set", "age=60", "--set", "sex=male", "--mask"])
            .arg(mask)
            .output()?;
        if !o.status.success() {
            anyhow::bail!("predict failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let report = json!({"bench": "predict_cold_start", "repeats": times.len(), "median_ms": times[times.len() / 2], "max_ms": times[times.len() - 1], "goal_ms": 300});
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

fn load(
    model: &std::path::Path,
    mask: &std::path::Path,
    (requests, in_flight): (usize, usize),
    encoder_per_request: bool,
    encoder: crate::model::image::EncoderBackend,
    auth: bool,
) -> Result<ExitCode> {
    let (bundle, token) = (crate::model::bundle::load_bundle(model)?, "bench-token");
    let image = bundle.manifest.image.is_some();
    let args = crate::server::Config {
        addr: "127.0.0.1:0".into(),
        max_upload_mib: 512,
        timeout_s: 300,
        concurrency: rayon::current_num_threads().max(1),
        encoder_per_request,
        encoder,
        tokens: auth.then(|| crate::server::guard::Tokens::from_tokens(&[token])),
        body_timeout_s: 120,
        max_inflight_mib: 4096,
        max_connections: 4096,
        header_timeout_s: 10,
        rate_per_minute: 0,
        tls: None,
        pacs: None,
    };
    let (_rt, addr) = bench_server(bundle, &args)?;
    let bytes = std::fs::read(mask)?;
    let boundary = "renaltriageloadbench";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"clinical\"\r\n\r\n{{\"age\": 60, \"sex\": \"male\"}}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"mask\"; filename=\"m.nii.gz\"\r\n\r\n").into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let body = std::sync::Arc::new(body);
    let url = format!("http://{addr}/api/v1/predict");
    let ctype = format!("multipart/form-data; boundary={boundary}");
    // The token rides as one more header line.
    let ctype = match auth {
        true => format!("{ctype}\r\nAuthorization: Bearer {token}"),
        false => ctype,
    };
    // Warm-up: the first answer (caches, an image model's encoder) is not timed.
    post_raw(&url, &ctype, &body)?;
    let in_flight = in_flight.clamp(1, requests.max(1));
    let t0 = Instant::now();
    // `in_flight` client threads, each sending its share of the requests one after another.
    let handles: Vec<_> = (0..in_flight)
        .map(|k| {
            let (body, url, ctype) = (body.clone(), url.clone(), ctype.clone());
            let share = requests / in_flight + usize::from(k < requests % in_flight);
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    (0..share)
                        .map(|_| {
                            let t = Instant::now();
                            let ok = post_raw(&url, &ctype, &body)
                                .map(|code| code == 200)
                                .unwrap_or(false);
                            (t.elapsed().as_secs_f64() * 1000.0, ok)
                        })
                        .collect::<Vec<_>>()
                })
        })
        .collect::<std::io::Result<_>>()?;
    let (mut lat, mut errors) = (Vec::new(), 0);
    for h in handles {
        match h.join() {
            Ok(rs) => {
                for (ms, ok) in rs {
                    if ok {
                        lat.push(ms);
                    } else {
                        errors += 1;
                    }
                }
            }
            Err(_) => errors += 1,
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    let report = json!({
        "bench": "serve_load", "requests": requests, "errors": errors, "wall_s": wall,
        "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": lat.last(),
        "throughput_per_s": lat.len() as f64 / wall, "peak_memory_mib": peak_memory_mib(),
        "server_concurrency": args.concurrency, "in_flight": in_flight,
        "image_model": image, "authentication": auth,
        "encoder": if !image { "none" } else if encoder_per_request { "a libtorch process per request" } else if encoder == crate::model::image::EncoderBackend::Rust { "plain Rust in the server's process" } else { "a libtorch process kept alive (worker)" },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A server on loopback with the server's own connection loop, as `serve` runs it; the
/// runtime (keep it alive) and the address.
fn bench_server(
    bundle: crate::model::bundle::Bundle,
    args: &crate::server::Config,
) -> Result<(tokio::runtime::Runtime, std::net::SocketAddr)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = crate::server::router(bundle, args)?;
    let limits = crate::server::listen::Limits {
        max_connections: args.max_connections,
        header_timeout: std::time::Duration::from_secs(args.header_timeout_s),
        handshake_timeout: std::time::Duration::from_secs(10),
        tls: None,
    };
    rt.spawn(async move {
        let _ = crate::server::listen::serve(listener, app, limits, std::future::pending()).await;
    });
    Ok((rt, addr))
}

/// One HTTP/1.1 POST over a plain TCP connection (loopback only); returns the status code.
fn post_raw(url: &str, ctype: &str, body: &[u8]) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host)?;
    write!(s, "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let head = String::from_utf8_lossy(&resp[..resp.len().min(64)]).to_string();
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {head}")))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        which: super::Which,
    }

    #[test]
    fn bench_logistic_defaults_to_the_study_c_grid() {
        let Ok(Cli {
            which: super::Which::Logistic { c, .. },
        }) = Cli::try_parse_from(["bench", "logistic"])
        else {
            panic!("bench logistic did not parse to its own subcommand");
        };
        assert_eq!(c, super::linear::STUDY_C);
    }
}
