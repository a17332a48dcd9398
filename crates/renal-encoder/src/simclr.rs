//! SimCLR training, checkpoints and embedding.
//!
//! Each step draws two augmented views of a batch, encodes and projects them, and minimises the
//! NT-Xent loss: for every view, cross-entropy of its cosine similarities to the other `2N - 1`
//! views (divided by the temperature) with its partner view as the target. The optimiser is Adam
//! with PyTorch's update order and L2 weight decay; its moments are kept in named tensors so a
//! checkpoint holds the full training state and a resumed run equals an uninterrupted one.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use renal_stats::Rng;
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

use crate::augment;
use crate::config::EncoderConfig;
use crate::protocol::{self, Dataset, TrainReport};
use crate::resnet::{Projection, ResNet18};
use crate::{format_error, input_error, EncoderError, Result};

/// The cases `rows` as a `[n, C, S, S]` tensor.
fn batch(ds: &Dataset, rows: &[usize], device: Device) -> Tensor {
    let plane = ds.channels * ds.size * ds.size;
    let mut v = Vec::with_capacity(rows.len() * plane);
    for &r in rows {
        v.extend_from_slice(&ds.data[r * plane..(r + 1) * plane]);
    }
    let s = ds.size as i64;
    Tensor::from_slice(&v)
        .view([rows.len() as i64, ds.channels as i64, s, s])
        .to_device(device)
}

/// [`protocol::atomic`] for this crate's errors.
fn atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    protocol::atomic(path, write)
}

/// [`protocol::io`] for this crate's errors.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EncoderError + '_ {
    protocol::io(path)
}

/// A SimCLR encoder: the ResNet and its projection head, with their configuration.
pub struct Encoder {
    pub cfg: EncoderConfig,
    pub vs: nn::VarStore,
    net: ResNet18,
    head: Projection,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("cfg", &self.cfg).finish()
    }
}

static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub const WEIGHTS: &str = "encoder.safetensors";
pub const CONFIG: &str = "encoder.json";

impl Encoder {
    /// A freshly initialised encoder (weights seeded by `cfg.seed`).
    pub fn new(cfg: &EncoderConfig, device: Device) -> Result<Self> {
        cfg.validate()?;
        tch::set_num_threads(cfg.threads as i32);
        // libtorch's generator is global: seeding and drawing the initial weights must not
        // interleave with another encoder being built on another thread.
        let _init = INIT.lock().unwrap_or_else(|p| p.into_inner());
        tch::manual_seed(cfg.seed as i64);
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let net = ResNet18::new(
            &(&root / "encoder"),
            cfg.in_channels as i64,
            cfg.width as i64,
        );
        let head = Projection::new(
            &(&root / "projection"),
            cfg.features() as i64,
            cfg.projection_hidden as i64,
            cfg.projection_dim as i64,
        );
        Ok(Encoder {
            cfg: cfg.clone(),
            vs,
            net,
            head,
        })
    }

    /// Saves `encoder.safetensors` and `encoder.json` (the configuration) in `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        atomic(&dir.join(WEIGHTS), |tmp| {
            // safetensors is chosen by the file extension.
            let t = tmp.with_extension("safetensors");
            self.vs.save(&t)?;
            std::fs::rename(&t, tmp).map_err(io(tmp))
        })?;
        let json = serde_json::to_string_pretty(&self.cfg)
            .map_err(|e| format_error(dir.join(CONFIG), e.to_string()))?;
        atomic(&dir.join(CONFIG), |tmp| {
            std::fs::write(tmp, json).map_err(io(tmp))
        })
    }

    /// Loads an encoder saved by [`Encoder::save`].
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        let cfg = EncoderConfig::load(&dir.join(CONFIG))?;
        let mut e = Encoder::new(&cfg, device)?;
        e.vs.load(dir.join(WEIGHTS))?;
        Ok(e)
    }

    /// The representation (`8 * width` features) of every case, in eval mode.
    pub fn embed(&self, ds: &Dataset) -> Result<Vec<Vec<f32>>> {
        ds.check(self.cfg.in_channels)?;
        tch::set_num_threads(self.cfg.threads as i32);
        let _guard = tch::no_grad_guard();
        let mut out = Vec::with_capacity(ds.len());
        let rows: Vec<usize> = (0..ds.len()).collect();
        for chunk in rows.chunks(64) {
            let x = augment::resize(
                &batch(ds, chunk, self.vs.device()),
                self.cfg.image_size as i64,
            );
            let h = self
                .net
                .forward_t(&x, false)
                .to_kind(Kind::Float)
                .to_device(Device::Cpu);
            let f = self.cfg.features();
            let v = Vec::<f32>::try_from(h.flatten(0, -1))?;
            for i in 0..chunk.len() {
                out.push(v[i * f..(i + 1) * f].to_vec());
            }
        }
        Ok(out)
    }

    /// NT-Xent loss of two views.
    fn loss(&self, v1: &Tensor, v2: &Tensor) -> Tensor {
        let n = v1.size()[0];
        let z = Tensor::cat(&[v1, v2], 0);
        let z = self.head.forward(&self.net.forward_t(&z, true));
        let norm = z
            .pow_tensor_scalar(2)
            .sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
            .sqrt()
            .clamp_min(1e-12);
        let z = z / norm;
        let sim = z.mm(&z.tr()) / self.cfg.temperature;
        let eye = Tensor::eye(2 * n, (Kind::Float, sim.device()));
        let sim = sim - eye * 1e9;
        // Row i's positive is its other view, i + n modulo 2n (built on the device: a host copy
        // here would stall the queue of a GPU).
        let t = (Tensor::arange(2 * n, (Kind::Int64, sim.device())) + n).remainder(2 * n);
        sim.cross_entropy_for_logits(&t)
    }
}

/// Adam with PyTorch's update and L2 weight decay, over flat buffers: `new` moves every
/// trainable variable, and its gradient, into one contiguous buffer each (the variables become
/// views), so that a step is about ten kernels whatever the number of parameters, as with
/// PyTorch's multi-tensor (`foreach`) Adam. Moments are saved per variable name.
struct Adam {
    lr: f64,
    wd: f64,
    step: i64,
    params: Tensor,
    grads: Tensor,
    m: Tensor,
    v: Tensor,
    /// Name, offset and shape of every trainable variable in the flat buffers (by name).
    slots: Vec<(String, i64, Vec<i64>)>,
    /// Elements updated per pass: all on a GPU (few kernel launches), cache-sized on the CPU.
    chunk: i64,
}

const B1: f64 = 0.9;
const B2: f64 = 0.999;
const EPS: f64 = 1e-8;
/// Each variable starts at a multiple of this many elements (256 bytes in f32), the alignment
/// cuDNN and cuBLAS expect of a weight.
const ALIGN: i64 = 64;
/// Elements per chunk of the CPU update (256 KiB of f32 per buffer).
const CPU_CHUNK: i64 = 1 << 16;

impl Adam {
    fn new(vs: &nn::VarStore, lr: f64, wd: f64) -> Result<Self> {
        let mut vars: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let mut slots = Vec::with_capacity(vars.len());
        let mut total = 0i64;
        for (name, t) in &vars {
            if t.kind() != Kind::Float {
                return Err(input_error(format!(
                    "variable {name} is {:?}; the optimiser expects float32",
                    t.kind()
                )));
            }
            slots.push((name.clone(), total, t.size()));
            total += (t.numel() as i64 + ALIGN - 1) / ALIGN * ALIGN;
        }
        let opts = (Kind::Float, vs.device());
        let params = Tensor::zeros([total], opts);
        let grads = Tensor::zeros([total], opts);
        // Every variable gets a gradient tensor (zeros), which is then re-pointed into `grads`;
        // backward accumulates into an existing gradient in place.
        let touch = vars
            .iter()
            .map(|(_, t)| t.sum(Kind::Float) * 0.0)
            .reduce(|a, b| a + b);
        if let Some(touch) = touch {
            touch.backward();
        }
        let _guard = tch::no_grad_guard();
        for ((_, t), (_, off, shape)) in vars.iter_mut().zip(&slots) {
            let view = slot(&params, *off, shape)?;
            view.shallow_clone().f_copy_(t)?;
            t.f_set_data(&view)?;
            let mut g = t.grad();
            g.f_set_data(&slot(&grads, *off, shape)?)?;
        }
        let _ = grads.shallow_clone().f_zero_()?;
        Ok(Adam {
            lr,
            wd,
            step: 0,
            m: params.zeros_like(),
            v: params.zeros_like(),
            chunk: if params.device().is_cuda() {
                i64::MAX
            } else {
                CPU_CHUNK
            },
            params,
            grads,
            slots,
        })
    }

    /// One update from the accumulated gradients, which are then zeroed, `chunk` elements at a
    /// time.
    fn apply(&mut self) {
        self.step += 1;
        let bc1 = 1.0 - B1.powi(self.step as i32);
        let bc2 = 1.0 - B2.powi(self.step as i32);
        let _guard = tch::no_grad_guard();
        let total = self.params.size()[0];
        let chunk = self.chunk.max(1);
        let mut off = 0;
        while off < total {
            let len = chunk.min(total - off);
            let part = |t: &Tensor| t.narrow(0, off, len);
            let (p, g, mut m, mut v) = (
                part(&self.params),
                part(&self.grads),
                part(&self.m),
                part(&self.v),
            );
            // PyTorch's Adam, in place.
            let g = if self.wd > 0.0 { &g + &p * self.wd } else { g };
            let _ = m.f_lerp_(&g, 1.0 - B1);
            let _ = v.f_mul_scalar_(B2);
            let _ = v.f_addcmul_(&(&g * (1.0 - B2)), &g);
            let mut denom = v.sqrt();
            let _ = denom.f_div_scalar_(bc2.sqrt());
            let _ = denom.f_add_scalar_(EPS);
            let _ = p
                .shallow_clone()
                .f_addcdiv_(&(&m * (-self.lr / bc1)), &denom);
            off += len;
        }
        let _ = self.grads.f_zero_();
    }

    fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, Tensor)> = Vec::new();
        for (name, off, shape) in &self.slots {
            named.push((format!("m.{name}"), slot(&self.m, *off, shape)?));
            named.push((format!("v.{name}"), slot(&self.v, *off, shape)?));
        }
        atomic(path, |tmp| {
            let t = tmp.with_extension("safetensors");
            Tensor::write_safetensors(&named, &t)?;
            std::fs::rename(&t, tmp).map_err(io(tmp))
        })
    }

    fn load(&mut self, path: &Path, step: i64) -> Result<()> {
        let read: BTreeMap<String, Tensor> = Tensor::read_safetensors(path)?.into_iter().collect();
        let bad = |detail: String| format_error(path.to_path_buf(), detail);
        if read.len() != 2 * self.slots.len() {
            return Err(bad(format!(
                "{} optimiser moments for {} variables",
                read.len(),
                self.slots.len()
            )));
        }
        let _guard = tch::no_grad_guard();
        for (name, off, shape) in &self.slots {
            for (prefix, flat) in [("m", &self.m), ("v", &self.v)] {
                let key = format!("{prefix}.{name}");
                let t = read
                    .get(&key)
                    .ok_or_else(|| bad(format!("no moment {key}")))?;
                if t.size() != *shape || t.kind() != Kind::Float {
                    return Err(bad(format!(
                        "moment {key} is {:?} {:?}, expected Float {shape:?}",
                        t.kind(),
                        t.size()
                    )));
                }
                slot(flat, *off, shape)?.f_copy_(t)?;
            }
        }
        self.step = step;
        Ok(())
    }
}

/// The view of one variable (`shape`, starting at element `off`) in a flat buffer.
fn slot(flat: &Tensor, off: i64, shape: &[i64]) -> Result<Tensor> {
    let n: i64 = shape.iter().product();
    Ok(flat.f_narrow(0, off, n)?.f_view(shape)?)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    config: EncoderConfig,
    epochs_done: usize,
    step: i64,
    losses: Vec<f64>,
    cases: Vec<String>,
}

const STATE: &str = "checkpoint.json";
const CKPT: &str = "checkpoint.safetensors";
const ADAM: &str = "adam.safetensors";

/// Where a resumed run starts: the finished epochs' losses and the optimiser step.
struct Resume {
    losses: Vec<f64>,
    epochs_done: usize,
    step: i64,
}

/// Restores the weights from `dir` when its checkpoint is of the same run (a longer schedule
/// may continue a shorter one: all settings but the number of epochs, and the same cases in the
/// same order). The weights are restored before the optimiser moves them into its flat buffer.
fn resume(
    enc: &mut Encoder,
    cfg: &EncoderConfig,
    ds: &Dataset,
    dir: &Path,
) -> Result<Option<Resume>> {
    let Ok(text) = std::fs::read_to_string(dir.join(STATE)) else {
        return Ok(None);
    };
    let Ok(s) = serde_json::from_str::<State>(&text) else {
        return Ok(None);
    };
    let same = EncoderConfig {
        epochs: 0,
        ..s.config.clone()
    } == EncoderConfig {
        epochs: 0,
        ..cfg.clone()
    };
    if !(same && s.cases == ds.ids && s.epochs_done <= cfg.epochs) {
        return Ok(None);
    }
    enc.vs.load(dir.join(CKPT))?;
    tracing::info!(
        epoch = s.epochs_done,
        "resuming encoder training from checkpoint"
    );
    Ok(Some(Resume {
        losses: s.losses,
        epochs_done: s.epochs_done,
        step: s.step,
    }))
}

/// Saves the weights, the optimiser's moments and the run's state after an epoch (each file
/// atomically; the state last, so a present state means the other files are complete).
fn save_checkpoint(dir: &Path, enc: &Encoder, adam: &Adam, state: &State) -> Result<()> {
    atomic(&dir.join(CKPT), |tmp| {
        let t = tmp.with_extension("safetensors");
        enc.vs.save(&t)?;
        std::fs::rename(&t, tmp).map_err(io(tmp))
    })?;
    adam.save(&dir.join(ADAM))?;
    let json = serde_json::to_string_pretty(state)
        .map_err(|e| format_error(dir.join(STATE), e.to_string()))?;
    atomic(&dir.join(STATE), |tmp| {
        std::fs::write(tmp, json).map_err(io(tmp))
    })
}

/// One epoch over the cases in a seeded order; returns the mean loss and the images seen.
fn train_epoch(
    enc: &Encoder,
    adam: &mut Adam,
    cfg: &EncoderConfig,
    ds: &Dataset,
    device: Device,
    epoch: usize,
) -> (f64, usize) {
    let size = cfg.image_size as i64;
    let mut rng = Rng::derive(cfg.seed, epoch as u64 + 1);
    let mut order: Vec<usize> = (0..ds.len()).collect();
    rng.shuffle(&mut order);
    let (mut sum, mut batches, mut images) = (0.0, 0, 0);
    for chunk in order.chunks(cfg.batch_size) {
        if chunk.len() < 2 {
            continue;
        }
        let x = batch(ds, chunk, device);
        let miss: Vec<Vec<bool>> = chunk.iter().map(|&r| ds.missing[r].clone()).collect();
        let a = &cfg.augment;
        let v1 = augment::view(&x, &miss, &cfg.intensity_channels, a, size, &mut rng);
        let v2 = augment::view(&x, &miss, &cfg.intensity_channels, a, size, &mut rng);
        let loss = enc.loss(&v1, &v2);
        loss.backward();
        adam.apply();
        sum += loss.double_value(&[]);
        batches += 1;
        images += 2 * chunk.len();
    }
    (sum / batches.max(1) as f64, images)
}

/// Trains an encoder on `ds` (no labels). With `checkpoint_dir`, the full state is saved after
/// every epoch and a run with the same configuration and cases resumes from it.
pub fn train(
    cfg: &EncoderConfig,
    ds: &Dataset,
    device: Device,
    checkpoint_dir: Option<&Path>,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<(Encoder, TrainReport)> {
    ds.check(cfg.in_channels)?;
    if ds.len() < 2 {
        return Err(input_error(format!(
            "{} case(s): contrastive training needs at least 2",
            ds.len()
        )));
    }
    let mut enc = Encoder::new(cfg, device)?;
    let resumed = match checkpoint_dir {
        Some(dir) => resume(&mut enc, cfg, ds, dir)?,
        None => None,
    };
    let mut adam = Adam::new(&enc.vs, cfg.lr, cfg.weight_decay)?;
    if let (Some(dir), Some(r)) = (checkpoint_dir, &resumed) {
        adam.load(&dir.join(ADAM), r.step)?;
    }
    let resumed_from = resumed.as_ref().map(|r| r.epochs_done);
    let mut losses = resumed.map(|r| r.losses).unwrap_or_default();
    let t0 = Instant::now();
    let mut images = 0usize;
    for epoch in resumed_from.unwrap_or(0)..cfg.epochs {
        let (mean, seen) = train_epoch(&enc, &mut adam, cfg, ds, device, epoch);
        images += seen;
        losses.push(mean);
        on_epoch(epoch, mean);
        if let Some(dir) = checkpoint_dir {
            let state = State {
                config: cfg.clone(),
                epochs_done: epoch + 1,
                step: adam.step,
                losses: losses.clone(),
                cases: ds.ids.clone(),
            };
            save_checkpoint(dir, &enc, &adam, &state)?;
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let report = TrainReport {
        losses,
        resumed_from,
        steps: adam.step,
        seconds,
        images_per_second: if seconds > 0.0 {
            images as f64 / seconds
        } else {
            0.0
        },
        cases: ds.ids.clone(),
        device: format!("{device:?}"),
    };
    Ok((enc, report))
}

/// Speed of the training step, from [`bench_step`].
#[derive(Debug, Clone, PartialEq)]
pub struct StepBench {
    /// Training images per second (two views of each case count as two images).
    pub images_per_second: f64,
    /// The element type of the encoder's output in the benchmark's forward pass (`Half` where
    /// autocast engaged, `Float` otherwise).
    pub forward_kind: String,
}

/// Times one training step (two views of a batch, forward, backward, Adam) on random images:
/// images per second over `steps` steps after one warm-up step. `amp`: forward and loss under
/// libtorch's autocast (mixed precision; float16 on CUDA).
pub fn bench_step(
    cfg: &EncoderConfig,
    device: Device,
    steps: usize,
    amp: bool,
) -> Result<StepBench> {
    let enc = Encoder::new(cfg, device)?;
    let mut adam = Adam::new(&enc.vs, cfg.lr, cfg.weight_decay)?;
    let b = cfg.batch_size as i64;
    let s = cfg.image_size as i64;
    let c = cfg.in_channels as i64;
    let x1 = Tensor::rand([b, c, s, s], (Kind::Float, device));
    let x2 = Tensor::rand([b, c, s, s], (Kind::Float, device));
    let mut run = |enc: &Encoder| {
        let loss = tch::autocast(amp, || enc.loss(&x1, &x2)).to_kind(Kind::Float);
        loss.backward();
        adam.apply();
        loss.double_value(&[])
    };
    run(&enc);
    if device.is_cuda() {
        tch::Cuda::synchronize(0);
    }
    let t0 = Instant::now();
    for _ in 0..steps {
        run(&enc);
    }
    if device.is_cuda() {
        tch::Cuda::synchronize(0);
    }
    let images_per_second = (2 * b as usize * steps) as f64 / t0.elapsed().as_secs_f64();
    let forward_kind = tch::no_grad(|| {
        tch::autocast(amp, || {
            format!("{:?}", enc.net.forward_t(&x1, false).kind())
        })
    });
    Ok(StepBench {
        images_per_second,
        forward_kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam against the textbook update (Kingma & Ba 2015, with L2 added to the gradient as in
    /// PyTorch's `weight_decay`), computed by hand in f64 for a linear loss `sum(c * p)` over
    /// two variables of different shapes (both views into the optimiser's flat buffers).
    #[test]
    fn adam_matches_the_textbook_update() {
        // In one pass, and in chunks that cut through a variable.
        for chunk in [i64::MAX, 5] {
            adam_case(chunk);
        }
    }

    fn adam_case(chunk: i64) {
        let vs = nn::VarStore::new(Device::Cpu);
        let init = [0.5f64, -1.0, 2.0, 0.25, -0.75, 1.5, 3.0];
        let c = [0.3f64, -2.0, 0.01, 1.0, -0.5, 0.2, 4.0];
        let f32s = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let a = vs
            .root()
            .var_copy("a", &Tensor::from_slice(&f32s(&init[..3])));
        let b = vs
            .root()
            .var_copy("b", &Tensor::from_slice(&f32s(&init[3..])).view([2, 2]));
        let ca = Tensor::from_slice(&f32s(&c[..3]));
        let cb = Tensor::from_slice(&f32s(&c[3..])).view([2, 2]);
        let (lr, wd) = (0.1, 0.01);
        let mut adam = Adam::new(&vs, lr, wd).unwrap();
        adam.chunk = chunk;
        let mut want = init;
        let (mut m, mut v) = ([0.0f64; 7], [0.0f64; 7]);
        for t in 1..=3 {
            ((&a * &ca).sum(Kind::Float) + (&b * &cb).sum(Kind::Float)).backward();
            adam.apply();
            for i in 0..7 {
                let g = c[i] + wd * want[i];
                m[i] = B1 * m[i] + (1.0 - B1) * g;
                v[i] = B2 * v[i] + (1.0 - B2) * g * g;
                let mh = m[i] / (1.0 - B1.powi(t));
                let vh = v[i] / (1.0 - B2.powi(t));
                want[i] -= lr * mh / (vh.sqrt() + EPS);
            }
        }
        let mut got = Vec::<f32>::try_from(&a).unwrap();
        got.extend(Vec::<f32>::try_from(&b.view([-1])).unwrap());
        assert_eq!(b.size(), [2, 2]);
        for i in 0..7 {
            assert!(
                (got[i] as f64 - want[i]).abs() < 1e-5,
                "{i}: {} vs {}",
                got[i],
                want[i]
            );
        }
        // The gradients were consumed: the next step starts from zero.
        assert_eq!(adam.grads.abs().sum(Kind::Float).double_value(&[]), 0.0);
    }
}
