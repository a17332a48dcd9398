//! A cohort's per-case work split into shards that run anywhere (one process each, e.g. the
//! tasks of a Slurm array job) and write into a shared work folder; [`merge`] gathers them
//! into exactly the files one `cohort` run writes.
//!
//! Work folder layout:
//! - `config.json`: what every shard of this folder must share (data, label settings, tool
//!   version); a shard with another configuration is refused, naming the differing setting;
//! - `cases/<case>.json`: one case's result (its measurements or why they failed, and its
//!   annotators' shapes), written atomically, with the sha256 of its inputs: a case whose file
//!   holds the same inputs' digest is not redone, so a killed shard is simply run again. It
//!   also holds the sha256 of the folder's configuration and of its own content: the merge
//!   (and a shard deciding what is done) refuses a result made under another configuration
//!   (another `--label-map`), one altered after it was written, and one whose values no
//!   measurement of its grid can give ([`check_measurements`]); those cases are redone;
//! - with a trained encoder (`--encoder-dir`), each case's result also holds its image input's
//!   embedding, computed with the encoder frozen, one image at a time in plain Rust (so a
//!   case's embedding does not depend on which cases share its shard); the merge writes
//!   `embeddings.csv` as `embed --encoder-dir` does in one process;
//! - `shards/<i>-of-<n>/`: `log.csv` (each case done, skipped or failed, and its time) and
//!   `failures.csv` (cases whose work failed, with the reason: listed, never fatal), and
//!   `done.json` written last.
//!
//! Cases go to shards deterministically: by mask file size, largest first, each to the shard
//! with the least bytes so far (ties: lowest shard, then case id), so shards get similar work.

use crate::engine::failure::CaseFailure;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use renal_cohort::Cohort;
use renal_imaging::{CaseMeasurements, LabelScheme};
use serde::{Deserialize, Serialize};

use crate::engine::images::{cohort_case_image, read_case_mask, ImageSpec};
use crate::engine::measure::{annotator_groups, measure_case, rate_instance, InstanceRatings};
use crate::engine::shard_images::StoredImage;
use crate::output::{write_csv, write_json};
use renal_imaging::preprocess::CaseImage;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Why a shard could not be read from the command line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("--shard `{0}`: expected I/N, e.g. 0/6")]
    Form(String),
    #[error("--shard `{given}`: `{part}` is not a shard {what}")]
    Number {
        given: String,
        part: String,
        what: &'static str,
    },
    #[error("--shard `{0}`: the shard count must be at least 1")]
    NoShards(String),
    #[error("--shard `{given}`: shards are numbered 0 to {last} (`{index}` is out of range)")]
    OutOfRange {
        given: String,
        index: usize,
        last: usize,
    },
    #[error("give --shard I/N or --shards N, not both")]
    Both,
    #[error("--shards N without --shard: the shard number comes from $SLURM_ARRAY_TASK_ID, which is not set (not a Slurm array task); give --shard I/N")]
    NotAnArrayTask,
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    /// Parses `I/N`, 0 <= I < N.
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| ShardError::Form(s.to_string()))?;
        let number = |part: &str, what| {
            part.trim()
                .parse::<usize>()
                .map_err(|_| ShardError::Number {
                    given: s.to_string(),
                    part: part.to_string(),
                    what,
                })
        };
        let (index, count) = (number(i, "number")?, number(n, "count")?);
        if count == 0 {
            return Err(ShardError::NoShards(s.to_string()));
        }
        if index >= count {
            return Err(ShardError::OutOfRange {
                given: s.to_string(),
                index,
                last: count - 1,
            });
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The shard of this process: `--shard I/N`, or `--shards N` with the index from
    /// `$SLURM_ARRAY_TASK_ID` (a Slurm array task).
    pub fn from_args(
        shard: Option<Shard>,
        shards: Option<usize>,
    ) -> Result<Option<Shard>, ShardError> {
        match (shard, shards) {
            (Some(s), None) => Ok(Some(s)),
            (Some(_), Some(_)) => Err(ShardError::Both),
            (None, Some(n)) => {
                let id =
                    std::env::var("SLURM_ARRAY_TASK_ID").map_err(|_| ShardError::NotAnArrayTask)?;
                format!("{id}/{n}").parse().map(Some)
            }
            (None, None) => Ok(None),
        }
    }

    fn dir(&self, work: &Path) -> PathBuf {
        work.join("shards")
            .join(format!("{}-of-{}", self.index, self.count))
    }
}

/// Bytes of a case's input files (mask and annotators), for balancing.
fn case_bytes(c: &renal_cohort::Case) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    c.images.mask.as_deref().map(size).unwrap_or(0)
        + c.images
            .annotations
            .iter()
            .map(|a| size(&a.path))
            .sum::<u64>()
}

/// Each case's shard, in cohort order (see the module documentation).
pub fn assign(cohort: &Cohort, count: usize) -> Vec<usize> {
    let mut order: Vec<(u64, usize)> = cohort
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| (case_bytes(c), i))
        .collect();
    order.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| cohort.cases[a.1].id.cmp(&cohort.cases[b.1].id))
    });
    let mut load = vec![0u64; count];
    let mut out = vec![0usize; cohort.cases.len()];
    for (bytes, i) in order {
        let s = (0..count).min_by_key(|&s| (load[s], s)).unwrap_or(0);
        load[s] += bytes.max(1);
        out[i] = s;
    }
    out
}

/// What every shard of a work folder shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkConfig {
    pub tool_version: String,
    pub data: String,
    pub blank_modifier: renal_cohort::BlankModifier,
    pub label_map: Option<renal_imaging::LabelMap>,
    pub cases: usize,
    /// The frozen encoder (its folder and its weights' sha256), when the shards embed.
    #[serde(default)]
    pub encoder: Option<(String, String)>,
    /// How the shards make each case's image input for the encoder's training, when they do
    /// (`--images`): fixed once for the folder (the first shard's, from the whole cohort).
    #[serde(default)]
    pub images: Option<ImageSpec>,
}

impl WorkConfig {
    /// How the shards read the cohort.
    pub fn cohort_options(&self) -> crate::engine::data::CohortOptions {
        crate::engine::data::CohortOptions {
            blank_modifier: self.blank_modifier,
            label_map: self.label_map.clone(),
        }
    }

    /// Writes the configuration into a new work folder, or checks it against the folder's.
    pub fn claim(&self, work: &Path) -> Result<()> {
        let path = work.join("config.json");
        if !path.exists() {
            std::fs::create_dir_all(work)
                .with_context(|| format!("creating work folder {}", work.display()))?;
            return write_json(&path, self);
        }
        let theirs: WorkConfig = serde_json::from_str(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{}: not a work folder's configuration", path.display()))?;
        let mine = serde_json::to_value(self)?;
        let other = serde_json::to_value(&theirs)?;
        for (k, v) in mine.as_object().into_iter().flatten() {
            if other.get(k) != Some(v) {
                bail!(
                    "work folder {} was written with another configuration: `{k}` is {} there, {} here. Use another --work folder, or the same settings",
                    work.display(),
                    other.get(k).unwrap_or(&serde_json::Value::Null),
                    v
                );
            }
        }
        Ok(())
    }

    /// The configuration of an existing work folder.
    pub fn load(work: &Path) -> Result<WorkConfig> {
        let path = work.join("config.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: no config.json (not a work folder, or no shard ran yet)",
                work.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// sha256 of the configuration as written in `config.json`.
    pub fn digest(&self) -> String {
        renal_cohort::io::sha256_hex(&serde_json::to_vec(self).unwrap_or_default())
    }
}

/// One case's result in a work folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub case_id: String,
    /// sha256 of the configuration and of every input file's bytes.
    pub inputs_sha256: String,
    pub measured: Result<CaseMeasurements, CaseFailure>,
    /// The case's complete annotator groups: instance and its ratings (`None`: a mask could
    /// not be read, the instance is left out as in a single run).
    pub annotators: CaseRatings,
    /// The embedding of the case's image input (or why there is none), with an encoder.
    #[serde(default)]
    pub embedding: Option<Result<Vec<f64>, CaseFailure>>,
    /// The case's image input for the encoder's training (its pixels in `images/<case>.f32`),
    /// or why there is none, when the shards make them.
    #[serde(default)]
    pub image: Option<Result<StoredImage, CaseFailure>>,
    /// sha256 of the work folder's configuration the result was made under.
    #[serde(default)]
    pub config_sha256: String,
    /// sha256 of this result's JSON with this field empty: a file altered after the shard
    /// wrote it does not match.
    #[serde(default)]
    pub result_sha256: String,
}

impl CaseResult {
    /// The digest of the result's content (everything but `result_sha256`).
    fn content_digest(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["result_sha256"] = serde_json::Value::from("");
        renal_cohort::io::sha256_hex(&serde_json::to_vec(&v).unwrap_or_default())
    }

    /// Seals the result: its configuration's and its own digest.
    fn seal(mut self, config: &WorkConfig) -> CaseResult {
        self.config_sha256 = config.digest();
        self.result_sha256 = self.content_digest();
        self
    }

    /// Why a result read back cannot be used as it is (`None`: it can): made under another
    /// configuration, altered since it was written, or holding impossible measurements.
    fn fault(&self, config: &WorkConfig) -> Option<String> {
        if self.config_sha256 != config.digest() {
            return Some("made under another configuration of the work folder (another --label-map or data?)".into());
        }
        if self.result_sha256 != self.content_digest() {
            return Some("its result file was altered after the shard wrote it".into());
        }
        match &self.measured {
            Ok(m) => check_measurements(m).err().map(|e| e.to_string()),
            Err(_) => None,
        }
    }
}

/// Checks that measurements are what a measurement of their grid can give: every number
/// finite; each shape's voxel volume its voxel count times the voxel's volume; the components'
/// voxels adding up to the tumor's; every diameter positive and at most the grid's diagonal;
/// the axial diameter at most the 3D one (plus a voxel).
pub(crate) fn check_measurements(m: &CaseMeasurements) -> Result<(), CaseFailure> {
    let voxel_mm3: f64 = m.spacing_mm.iter().product();
    let diagonal = (0..3)
        .map(|i| (m.dims[i] as f64 * m.spacing_mm[i]).powi(2))
        .sum::<f64>()
        .sqrt();
    if !m.spacing_mm.iter().all(|s| s.is_finite() && *s > 0.0) || !diagonal.is_finite() {
        return Err(CaseFailure::Implausible(format!(
            "implausible grid {:?} at {:?} mm",
            m.dims, m.spacing_mm
        )));
    }
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    let shape_ok = |s: &renal_imaging::ShapeFeatures| {
        let d = [
            s.maximum_3d_diameter_mm,
            s.maximum_2d_diameter_mm[0],
            s.maximum_2d_diameter_mm[1],
            s.maximum_2d_diameter_mm[2],
        ];
        close(s.voxel_volume_mm3, s.voxel_count as f64 * voxel_mm3)
            && d.iter()
                .all(|v| v.is_finite() && *v >= 0.0 && *v <= diagonal * 1.000001)
            && [s.mesh_volume_mm3, s.surface_area_mm2, s.sphericity]
                .iter()
                .all(|v| v.is_finite())
    };
    let count: usize = m.components.iter().map(|c| c.shape.voxel_count).sum();
    if m.components.is_empty()
        || count != m.voxels_tumor
        || m.whole_tumor.voxel_count != m.voxels_tumor
        || !shape_ok(&m.whole_tumor)
        || ![
            m.kidney_parenchyma_ml,
            m.kidney_volume_ml,
            m.tumor_kidney_ratio,
        ]
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0)
    {
        return Err(CaseFailure::Implausible("its measurements do not add up (voxel counts, volumes or sizes that no measurement of its grid gives)".into()));
    }
    let max_spacing = m.spacing_mm.iter().cloned().fold(0.0, f64::max);
    for c in &m.components {
        let ok = shape_ok(&c.shape)
            && c.axial_diameter_mm.is_finite()
            && c.axial_diameter_mm >= 0.0
            && c.axial_diameter_mm <= c.shape.maximum_3d_diameter_mm + max_spacing
            && c.centroid_world_mm.iter().all(|v| v.is_finite());
        if !ok {
            return Err(CaseFailure::Implausible(format!(
                "component {}: a diameter of {} mm (3D {} mm) in a grid whose diagonal is {diagonal:.1} mm: not a measurement of this grid",
                c.rank, c.axial_diameter_mm, c.shape.maximum_3d_diameter_mm
            )));
        }
    }
    Ok(())
}

fn case_file(work: &Path, id: &str) -> PathBuf {
    work.join("cases").join(format!("{id}.json"))
}

/// A case's result in a work folder (`None`: absent or unreadable).
pub fn read_case_result(work: &Path, id: &str) -> Option<CaseResult> {
    std::fs::read_to_string(case_file(work, id))
        .ok()
        .and_then(|t| serde_json::from_str::<CaseResult>(&t).ok())
        .filter(|r| r.case_id == id)
}

/// The digest of a case's inputs under a configuration.
fn inputs_digest(config: &WorkConfig, c: &renal_cohort::Case) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(config)?);
    let map = c.images.label_map.as_ref().map(|m| m.to_string());
    h.update(map.as_deref().unwrap_or("").as_bytes());
    let files = c
        .images
        .mask
        .iter()
        .chain(c.images.phases.iter().map(|(_, p)| p))
        .chain(c.images.annotations.iter().map(|a| &a.path));
    // Contents, not paths: the same files seen through another mount point are the same
    // inputs. A missing file hashes as empty (its case fails, and is redone once it exists).
    for p in files {
        h.update(
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .as_bytes(),
        );
        if p.is_file() {
            h.update(
                renal_cohort::io::sha256_file(p)
                    .unwrap_or_default()
                    .as_bytes(),
            );
        }
        h.update(b"\0");
    }
    Ok(format!("{:x}", h.finalize()))
}

/// A case's instances and their annotator ratings.
type CaseRatings = Vec<(u32, Option<InstanceRatings>)>;

/// A case's embedding, or why it has none.
pub type Embedding = Result<Vec<f64>, CaseFailure>;

/// One case's work: its measurements (or why not), its annotator ratings, its embedding, its
/// image input.
struct CaseWork {
    measured: Result<CaseMeasurements, CaseFailure>,
    annotators: CaseRatings,
    embedding: Option<Embedding>,
    image: Option<Result<CaseImage, CaseFailure>>,
}

/// What a shard does for each case beyond measuring it.
#[derive(Clone, Copy, Default)]
pub struct Extras<'a> {
    /// Embed each case with this frozen encoder.
    pub encoder: Option<&'a dyn CaseEmbedder>,
    /// Make each case's image input (for the encoder's training) as this says.
    pub images: Option<&'a ImageSpec>,
}

/// One case's work, with a panic contained as a failure.
fn work_case(c: &renal_cohort::Case, groups: &[(u32, Vec<PathBuf>)], x: Extras) -> CaseWork {
    let run = || {
        let decoded = read_case_mask(&c.images);
        let embedding = x.encoder.map(|e| {
            decoded
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|v| e.embed(c, v))
        });
        let image = x.images.map(|spec| {
            decoded
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|v| cohort_case_image(c, v, spec))
        });
        let measured = decoded.and_then(|v| measure_case(c, &v, LabelScheme::default()));
        let annotators = groups
            .iter()
            .map(|(i, paths)| (*i, rate_instance(&c.id, *i, paths)))
            .collect();
        CaseWork {
            measured,
            annotators,
            embedding,
            image,
        }
    };
    crate::engine::contain::contain(&c.id, || Ok::<_, CaseFailure>(run())).unwrap_or_else(|why| {
        CaseWork {
            measured: Err(why.clone()),
            annotators: Vec::new(),
            embedding: x.encoder.map(|_| Err(why.clone())),
            image: x.images.map(|_| Err(why)),
        }
    })
}

/// Embeds one case from its decoded mask (the model layer's frozen encoder implements it).
pub trait CaseEmbedder: Sync {
    fn embed(
        &self,
        c: &renal_cohort::Case,
        mask: &renal_imaging::LabelVolume,
    ) -> Result<Vec<f64>, CaseFailure>;
}

/// `embeddings.csv` (`case_id,f0..` of every case with an embedding, in cohort order) and
/// beside it `<stem>_excluded.csv` (case, why not): the same bytes from one process and from
/// a merge.
pub fn write_embedding_outputs(csv: &Path, results: &[(String, Embedding)]) -> Result<()> {
    let ok: Vec<(String, Vec<f64>)> = results
        .iter()
        .filter_map(|(id, r)| r.as_ref().ok().map(|v| (id.clone(), v.clone())))
        .collect();
    write_embeddings(csv, &ok)?;
    let excluded: Vec<Vec<String>> = results
        .iter()
        .filter_map(|(id, r)| r.as_ref().err().map(|e| vec![id.clone(), e.to_string()]))
        .collect();
    let stem = csv.file_stem().unwrap_or_default().to_string_lossy();
    write_csv(
        &csv.with_file_name(format!("{stem}_excluded.csv")),
        &["case_id", "reason"],
        &excluded,
    )
}

/// `case_id,f0..` rows (Rust's shortest round-trip formatting), written atomically.
fn write_embeddings(path: &Path, rows: &[(String, Vec<f64>)]) -> Result<()> {
    let k = rows.first().map(|r| r.1.len()).unwrap_or(0);
    let mut text = String::from("case_id");
    for j in 0..k {
        text += &format!(",f{j}");
    }
    text.push('\n');
    for (id, e) in rows {
        text += &renal_cohort::io::csv_safe(id);
        for v in e {
            text += &format!(",{v}");
        }
        text.push('\n');
    }
    renal_cohort::io::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Whether a case's result is there, made from the same inputs (and its pixel file, when it
/// has an image input).
fn already_done(work: &Path, id: &str, digest: &str, config: &WorkConfig) -> bool {
    read_case_result(work, id).is_some_and(|r| {
        r.inputs_sha256 == digest
            && r.fault(config).is_none()
            && match &r.image {
                Some(Ok(_)) => crate::engine::shard_images::present(work, id),
                _ => true,
            }
    })
}

/// What one shard did.
#[derive(Debug, Default, Serialize)]
pub struct ShardSummary {
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// Runs shard `shard` of the cohort's per-case work into `work`.
pub fn run_shard(
    cohort: &Cohort,
    config: &WorkConfig,
    shard: Shard,
    work: &Path,
    extras: Extras,
) -> Result<ShardSummary> {
    config.claim(work)?;
    let assigned = assign(cohort, shard.count);
    let (_, groups) = annotator_groups(cohort);
    let mut by_case: BTreeMap<&str, Vec<(u32, Vec<PathBuf>)>> = BTreeMap::new();
    for ((case, instance), paths) in &groups {
        by_case
            .entry(case.as_str())
            .or_default()
            .push((*instance, paths.clone()));
    }
    let dir = shard.dir(work);
    std::fs::create_dir_all(&dir)?;
    std::fs::create_dir_all(work.join("cases"))?;
    let _ = std::fs::remove_file(dir.join("done.json"));
    let mine: Vec<&renal_cohort::Case> = cohort
        .cases
        .iter()
        .zip(&assigned)
        .filter(|(_, s)| **s == shard.index)
        .map(|(c, _)| c)
        .collect();
    let pb = crate::progress::progress(mine.len(), "cases");
    let mut log = Vec::new();
    let mut failures = Vec::new();
    let mut summary = ShardSummary::default();
    for c in mine {
        let t = Instant::now();
        let digest = inputs_digest(config, c)?;
        let path = case_file(work, &c.id);
        let status = if already_done(work, &c.id, &digest, config) {
            summary.skipped += 1;
            "skipped (done, same inputs)".to_string()
        } else {
            let w = work_case(
                c,
                by_case.get(c.id.as_str()).map(Vec::as_slice).unwrap_or(&[]),
                extras,
            );
            let image = match w.image {
                Some(Ok(img)) => Some(Ok(crate::engine::shard_images::store(work, &c.id, &img)?)),
                Some(Err(why)) => Some(Err(why)),
                None => None,
            };
            let measured = w.measured;
            let status = match &measured {
                Ok(_) => {
                    summary.done += 1;
                    "done".to_string()
                }
                Err(why) => {
                    summary.failed += 1;
                    failures.push(vec![c.id.clone(), why.to_string()]);
                    "failed".to_string()
                }
            };
            let r = CaseResult {
                case_id: c.id.clone(),
                inputs_sha256: digest,
                measured,
                annotators: w.annotators,
                embedding: w.embedding,
                image,
                config_sha256: String::new(),
                result_sha256: String::new(),
            }
            .seal(config);
            write_json(&path, &r)?;
            status
        };
        tracing::info!(case = %c.id, shard = shard.index, %status, "case");
        log.push(vec![
            c.id.clone(),
            status,
            format!("{:.3}", t.elapsed().as_secs_f64()),
        ]);
        pb.inc(1);
    }
    pb.finish_and_clear();
    write_csv(
        &dir.join("log.csv"),
        &["case_id", "status", "seconds"],
        &log,
    )?;
    write_csv(&dir.join("failures.csv"), &["case_id", "reason"], &failures)?;
    write_json(&dir.join("done.json"), &summary)?;
    Ok(summary)
}

/// What the shards computed, gathered.
pub struct Gathered {
    pub meas: BTreeMap<String, CaseMeasurements>,
    /// Annotators per instance and the complete instances' ratings.
    pub k: usize,
    pub rated: Vec<InstanceRatings>,
    /// With an encoder: every case's embedding or why it has none, in cohort order.
    pub embeddings: Option<Vec<(String, Embedding)>>,
}

/// The gathered work: measurements by case (failures excluded from the cohort with their
/// reason, as a single run does) and the annotator ratings in a single run's order. Each case
/// needs its result file; with `verify_inputs` its inputs are hashed again and must match the
/// digest the shard recorded (which reads the whole cohort's files once more: a check, not
/// the default at scale).
pub fn gather(
    cohort: &mut Cohort,
    config: &WorkConfig,
    work: &Path,
    verify_inputs: bool,
) -> Result<Gathered> {
    let stored = WorkConfig::load(work)?;
    if &stored != config {
        // Name the differing setting.
        config.claim(work)?;
    }
    let (k, groups) = annotator_groups(cohort);
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for c in &cohort.cases {
        match std::fs::read_to_string(case_file(work, &c.id))
            .ok()
            .and_then(|t| serde_json::from_str::<CaseResult>(&t).ok())
        {
            Some(r) if r.case_id != c.id => {
                missing.push(format!("{} (its file holds {})", c.id, r.case_id))
            }
            Some(r) if r.fault(config).is_some() => missing.push(format!(
                "{} ({})",
                c.id,
                r.fault(config).unwrap_or_default()
            )),
            Some(r) if verify_inputs && r.inputs_sha256 != inputs_digest(config, c)? => {
                missing.push(format!("{} (its inputs changed since)", c.id))
            }
            Some(r) => results.push(r),
            None => missing.push(c.id.clone()),
        }
    }
    if !missing.is_empty() {
        let shards = missing_shards(cohort, work, &missing);
        bail!(
            "the work folder {} is incomplete: {} of {} cases have no usable result ({}{}){}. Run the missing shards again (`slurm submit` resubmits only those)",
            work.display(),
            missing.len(),
            cohort.cases.len(),
            missing.iter().take(10).cloned().collect::<Vec<_>>().join(", "),
            if missing.len() > 10 { ", ..." } else { "" },
            shards
        );
    }
    let mut ratings: BTreeMap<(String, u32), Option<InstanceRatings>> = BTreeMap::new();
    let mut measured = Vec::new();
    let mut embeddings = config.encoder.as_ref().map(|_| Vec::new());
    for r in results {
        if let Some(e) = embeddings.as_mut() {
            let v = r.embedding.clone().unwrap_or_else(|| {
                Err(CaseFailure::Encoder(
                    "no embedding in the case's result".into(),
                ))
            });
            e.push((r.case_id.clone(), v));
        }
        for (i, x) in r.annotators {
            ratings.insert((r.case_id.clone(), i), x);
        }
        measured.push((r.case_id, r.measured));
    }
    let rated: Vec<InstanceRatings> = groups
        .iter()
        .filter_map(|(key, _)| ratings.remove(key).flatten())
        .collect();
    let meas = if cohort.cases.iter().all(|c| c.images.mask.is_none()) {
        BTreeMap::new()
    } else {
        crate::engine::measure::apply_measurements(cohort, measured)
    };
    Ok(Gathered {
        meas,
        k,
        rated,
        embeddings,
    })
}

/// ", missing shards: 2/6, 5/6" from the shard folders' assignment (the count of the shard
/// folders present), or nothing when no shard ran.
fn missing_shards(cohort: &Cohort, work: &Path, missing: &[String]) -> String {
    let counts: Vec<usize> = std::fs::read_dir(work.join("shards"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.split_once("-of-").and_then(|(_, c)| c.parse().ok())
        })
        .collect();
    let Some(&count) = counts.iter().max() else {
        return String::new();
    };
    let assigned = assign(cohort, count);
    let mut shards: Vec<usize> = cohort
        .cases
        .iter()
        .zip(&assigned)
        .filter(|(c, _)| {
            missing
                .iter()
                .any(|m| m == &c.id || m.starts_with(&format!("{} ", c.id)))
        })
        .map(|(_, s)| *s)
        .collect();
    shards.sort();
    shards.dedup();
    format!(
        "; shards with missing cases: {}",
        shards
            .iter()
            .map(|s| format!("{s}/{count}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod shard_arg_tests {
    use super::{Shard, ShardError};

    #[test]
    fn shards_parse_once_with_typed_errors() {
        assert_eq!("2/6".parse::<Shard>(), Ok(Shard { index: 2, count: 6 }));
        assert_eq!(" 0 / 1 ".parse::<Shard>(), Ok(Shard { index: 0, count: 1 }));
        for (bad, want) in [
            ("3", "expected I/N"),
            ("a/6", "`a` is not a shard number"),
            ("1/x", "`x` is not a shard count"),
            ("0/0", "at least 1"),
            ("6/6", "numbered 0 to 5"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(bad), "{bad}: {e}");
        }
        let s = Shard { index: 1, count: 2 };
        assert_eq!(Shard::from_args(Some(s), Some(2)), Err(ShardError::Both));
        assert_eq!(Shard::from_args(Some(s), None), Ok(Some(s)));
        assert_eq!(Shard::from_args(None, None), Ok(None));
    }
}
