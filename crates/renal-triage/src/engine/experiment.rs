//! Experiment files (TOML): the models of a study by their inputs and learner, the
//! hyperparameter grids and the cross-validation settings. Unknown keys and impossible
//! combinations are errors naming the key.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use renal_cohort::{check_feature, Task};
use renal_learn::{CalibrationMethod, MaxFeatures};
use renal_stats::ThresholdRule;
use serde::{Deserialize, Serialize};

/// The study's experiment, compiled in so that `reproduce` runs on a bare checkout too.
pub const PAPER_TOML: &str = include_str!("../../../../experiments/paper.toml");

/// Prefix of joined image-embedding columns in feature tables.
pub const EMBEDDING_PREFIX: &str = "emb_";

fn d_seed() -> u64 {
    20260
}
fn d5() -> usize {
    5
}
fn d_boot() -> usize {
    1000
}
fn d_bins() -> usize {
    10
}
fn d_tasks() -> Vec<Task> {
    vec![Task::MalignantVsBenign, Task::AggressiveVsRest]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub name: String,
    #[serde(default = "d_seed")]
    pub seed: u64,
    #[serde(default = "d5")]
    pub outer_folds: usize,
    #[serde(default = "d5")]
    pub inner_folds: usize,
    #[serde(default = "d_boot")]
    pub bootstrap: usize,
    #[serde(default = "d_bins")]
    pub calibration_bins: usize,
    #[serde(default = "d_tasks")]
    pub tasks: Vec<Task>,
    /// Per task, a threshold chosen for the clinical question besides the study's Youden
    /// threshold, learned on the inner folds as Youden's is (see `docs/triage.md`).
    #[serde(default = "d_operating")]
    pub operating_points: BTreeMap<Task, ThresholdRule>,
}

/// The default operating points: malignant vs benign at a sensitivity of 95% (the clinical
/// question is whether a mass can be safely watched, a rule-out: missing a cancer costs more
/// than a biopsy or surgery of a benign mass); aggressive vs the rest at Youden's balance
/// (both indolent and aggressive cancers are treated; the call modulates urgency and extent,
/// where neither error dominates).
pub fn d_operating() -> BTreeMap<Task, ThresholdRule> {
    BTreeMap::from([
        (Task::MalignantVsBenign, ThresholdRule::Sensitivity(0.95)),
        (Task::AggressiveVsRest, ThresholdRule::Youden),
    ])
}

/// `max_features` as written: "sqrt", "all", a fraction, or `{ count = k }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaxFeaturesSpec {
    Named(String),
    Fraction(f64),
    Count { count: usize },
}

fn d_trees() -> usize {
    500
}
fn d_mf() -> Vec<MaxFeaturesSpec> {
    vec![MaxFeaturesSpec::Named("sqrt".into())]
}
fn d_leaf() -> Vec<usize> {
    vec![1]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfGrid {
    #[serde(default = "d_trees")]
    pub trees: usize,
    #[serde(default = "d_mf")]
    pub max_features: Vec<MaxFeaturesSpec>,
    #[serde(default = "d_leaf")]
    pub min_samples_leaf: Vec<usize>,
    #[serde(default)]
    pub balanced: bool,
}

impl Default for RfGrid {
    fn default() -> Self {
        RfGrid {
            trees: d_trees(),
            max_features: d_mf(),
            min_samples_leaf: d_leaf(),
            balanced: false,
        }
    }
}

fn d_hidden() -> Vec<Vec<usize>> {
    vec![vec![]]
}
fn d_lr() -> Vec<f64> {
    vec![3e-4]
}
fn d_wd() -> f64 {
    8e-4
}
fn d_epochs() -> Vec<usize> {
    vec![200]
}
fn d_batch() -> usize {
    32
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpGrid {
    #[serde(default = "d_hidden")]
    pub hidden: Vec<Vec<usize>>,
    #[serde(default = "d_lr")]
    pub lr: Vec<f64>,
    #[serde(default = "d_wd")]
    pub weight_decay: f64,
    #[serde(default = "d_epochs")]
    pub epochs: Vec<usize>,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
}

impl Default for MlpGrid {
    fn default() -> Self {
        MlpGrid {
            hidden: d_hidden(),
            lr: d_lr(),
            weight_decay: d_wd(),
            epochs: d_epochs(),
            batch_size: d_batch(),
        }
    }
}

fn d_c() -> Vec<f64> {
    vec![1.0]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticGrid {
    #[serde(default = "d_c")]
    pub c: Vec<f64>,
}

impl Default for LogisticGrid {
    fn default() -> Self {
        LogisticGrid { c: d_c() }
    }
}

fn d_gbm_trees() -> Vec<usize> {
    vec![100]
}
fn d_gbm_lr() -> Vec<f64> {
    vec![0.05, 0.1]
}
fn d_gbm_depth() -> Vec<usize> {
    vec![2, 3]
}
fn d_gbm_leaf() -> Vec<usize> {
    vec![5]
}
fn d_gbm_subsample() -> f64 {
    0.8
}

/// The gradient-boosting grid (every combination is a candidate).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GbmGrid {
    #[serde(default = "d_gbm_trees")]
    pub n_estimators: Vec<usize>,
    #[serde(default = "d_gbm_lr")]
    pub learning_rate: Vec<f64>,
    #[serde(default = "d_gbm_depth")]
    pub max_depth: Vec<usize>,
    #[serde(default = "d_gbm_leaf")]
    pub min_samples_leaf: Vec<usize>,
    #[serde(default = "d_gbm_subsample")]
    pub subsample: f64,
}

impl Default for GbmGrid {
    fn default() -> Self {
        GbmGrid {
            n_estimators: d_gbm_trees(),
            learning_rate: d_gbm_lr(),
            max_depth: d_gbm_depth(),
            min_samples_leaf: d_gbm_leaf(),
            subsample: d_gbm_subsample(),
        }
    }
}

/// Which clinical features a model uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClinicalSpec {
    /// "all", "top" (the `top_k` most important by in-fold RF importance) or "none".
    Mode(String),
    /// Explicit feature names (each must pass the leakage guard).
    Names(Vec<String>),
}

impl Default for ClinicalSpec {
    fn default() -> Self {
        ClinicalSpec::Mode("none".into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Embeddings {
    None,
    All,
    Pca,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Learner {
    Rf,
    Mlp,
    Logistic,
    /// Gradient-boosted trees (`[gbm]` grid).
    Gbm,
    /// Soft vote of the models named in `members` (each tuned in-fold on its own inputs).
    Ensemble,
}

fn d_none_emb() -> Embeddings {
    Embeddings::None
}

/// One model of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub clinical: ClinicalSpec,
    #[serde(default)]
    pub top_k: Option<usize>,
    #[serde(default = "d_none_emb")]
    pub embeddings: Embeddings,
    #[serde(default)]
    pub pca_components: Option<usize>,
    /// The tumor size input: `"mask"`, `"radiographic"` or `"none"` (default).
    #[serde(default)]
    pub size: SizeSource,
    #[serde(default)]
    pub log_size: bool,
    /// The shape group from the mask measurements (volume, sphericity, elongation, flatness,
    /// surface/volume, maximum 3D diameter, tumor/kidney ratio, components, cyst fraction).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shape: bool,
    pub learner: Learner,
    /// Standardize the learner's inputs (z-scores fit in-fold). Default: true for the MLP and
    /// logistic regression, false for the trees (forest, boosting: a warned no-op there).
    /// The study's linear head takes the raw embeddings: `standardize = false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardize: Option<bool>,
    /// Standardize the embeddings before the in-fold PCA (only with `embeddings = "pca"`).
    /// Default: as `standardize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca_standardize: Option<bool>,
    /// Calibrate the probabilities (`"isotonic"` or `"sigmoid"`), fit on folds of the
    /// training rows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrate: Option<CalibrationMethod>,
    /// Folds of the training rows that give the calibration's out-of-fold probabilities
    /// (default: `experiment.inner_folds`; at least 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrate_folds: Option<usize>,
    /// With `learner = "ensemble"`: the models (by name) whose probabilities are averaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
}

impl ModelSpec {
    /// Whether the learner's inputs are standardized (see [`ModelSpec::standardize`]).
    pub fn standardizes(&self) -> bool {
        matches!(self.learner, Learner::Mlp | Learner::Logistic) && self.standardize.unwrap_or(true)
    }

    /// Whether the embeddings are standardized before PCA.
    pub fn pca_standardizes(&self) -> bool {
        self.embeddings == Embeddings::Pca && self.pca_standardize.unwrap_or(self.standardizes())
    }
}

/// Where a model's tumor size comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeSource {
    /// No size input.
    #[default]
    None,
    /// The largest axial diameter measured on the mask (mm).
    Mask,
    /// The radiologist's size from the clinical record (`radiographic_size_cm`, in mm).
    Radiographic,
}

impl<'de> Deserialize<'de> for SizeSource {
    /// `"mask"`, `"radiographic"`, `"none"`; `true` and `false` are read as `"mask"` and
    /// `"none"` (experiment files written before the size had a source).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Flag(true) => Ok(SizeSource::Mask),
            Raw::Flag(false) => Ok(SizeSource::None),
            Raw::Name(n) => match n.as_str() {
                "mask" => Ok(SizeSource::Mask),
                "radiographic" => Ok(SizeSource::Radiographic),
                "none" => Ok(SizeSource::None),
                other => Err(serde::de::Error::custom(format!(
                    "unknown size source `{other}`: expected \"mask\", \"radiographic\" or \"none\""
                ))),
            },
        }
    }
}

/// A whole experiment file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub experiment: Settings,
    #[serde(default)]
    pub rf: RfGrid,
    #[serde(default)]
    pub mlp: MlpGrid,
    #[serde(default)]
    pub logistic: LogisticGrid,
    #[serde(default)]
    pub gbm: GbmGrid,
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// Task names for a message: `malignant_vs_benign, aggressive_vs_rest`.
pub(crate) fn task_list(tasks: &[Task]) -> String {
    tasks
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The experiment a command asks for: its file or the built-in paper experiment, seed
/// overridden.
pub fn load_experiment(path: Option<&std::path::Path>, seed: Option<u64>) -> Result<Experiment> {
    let mut exp = match path {
        Some(p) => Experiment::load(p)?,
        None => Experiment::parse(PAPER_TOML).context("the built-in paper experiment")?,
    };
    if let Some(s) = seed {
        exp.experiment.seed = s;
    }
    Ok(exp)
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading experiment {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in experiment {}", path.display()))
    }

    /// Parses and validates experiment TOML.
    pub fn parse(text: &str) -> Result<Self> {
        let e: Experiment =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim()))?;
        e.validate()?;
        Ok(e)
    }

    fn validate(&self) -> Result<()> {
        let s = &self.experiment;
        if s.outer_folds < 2 || s.inner_folds < 2 {
            bail!("experiment.outer_folds and experiment.inner_folds must be at least 2");
        }
        if s.tasks.is_empty() {
            bail!("experiment.tasks: at least one task");
        }
        for t in self.experiment.operating_points.keys() {
            if !self.experiment.tasks.contains(t) {
                bail!(
                    "experiment.operating_points.{}: not one of the experiment's tasks ({})",
                    t.name(),
                    task_list(&self.experiment.tasks)
                );
            }
        }
        if self.models.is_empty() {
            bail!("no [[model]] in the experiment");
        }
        for (i, f) in self.rf.max_features.iter().enumerate() {
            resolve_max_features(f).with_context(|| format!("rf.max_features[{i}]"))?;
        }
        if self.rf.trees == 0
            || self.rf.min_samples_leaf.is_empty()
            || self.rf.min_samples_leaf.contains(&0)
        {
            bail!("rf.trees and rf.min_samples_leaf must be positive");
        }
        if self.mlp.hidden.is_empty()
            || self.mlp.lr.is_empty()
            || self.mlp.epochs.is_empty()
            || self.mlp.batch_size == 0
        {
            bail!("mlp.hidden, mlp.lr, mlp.epochs must list at least one value and mlp.batch_size be positive");
        }
        if self.logistic.c.is_empty() || self.logistic.c.iter().any(|c| *c <= 0.0) {
            bail!("logistic.c must list positive values");
        }
        let g = &self.gbm;
        if g.n_estimators.is_empty()
            || g.learning_rate.is_empty()
            || g.max_depth.is_empty()
            || g.min_samples_leaf.is_empty()
            || g.n_estimators.contains(&0)
            || g.max_depth.contains(&0)
            || g.min_samples_leaf.contains(&0)
            || g.learning_rate.iter().any(|v| !(*v > 0.0 && *v <= 1.0))
            || !(g.subsample > 0.0 && g.subsample <= 1.0)
        {
            bail!("gbm: n_estimators, max_depth, min_samples_leaf must list positive values, learning_rate values in (0, 1], subsample in (0, 1]");
        }
        let mut names = std::collections::BTreeSet::new();
        for m in &self.models {
            if !names.insert(m.name.clone()) {
                bail!("model `{}` is declared twice", m.name);
            }
            self.validate_model(m)?;
        }
        Ok(())
    }

    /// One model's keys: each combination that cannot run is an error naming the model and
    /// the key.
    fn validate_model(&self, m: &ModelSpec) -> Result<()> {
        let key = |k: &str| format!("model `{}`: `{k}`", m.name);
        match &m.clinical {
            ClinicalSpec::Mode(mode) if !["all", "top", "none"].contains(&mode.as_str()) => {
                bail!("{} = \"{mode}\": expected \"all\", \"top\", \"none\" or a list of feature names", key("clinical"))
            }
            ClinicalSpec::Names(list) => {
                for n in list {
                    check_feature(n).with_context(|| key("clinical"))?;
                    if renal_cohort::is_size_field(n) {
                        bail!(
                            "{}: `{n}` is a tumor size, its own input: use size = \"radiographic\"",
                            key("clinical")
                        );
                    }
                }
            }
            _ => {}
        }
        let top = m.clinical == ClinicalSpec::Mode("top".into());
        match (top, m.top_k) {
            (true, None) => bail!("{} is required with clinical = \"top\"", key("top_k")),
            (false, Some(_)) => bail!(
                "{} is only meaningful with clinical = \"top\"",
                key("top_k")
            ),
            (true, Some(0)) => bail!("{} must be positive", key("top_k")),
            _ => {}
        }
        match (m.embeddings, m.pca_components) {
            (Embeddings::Pca, None) => bail!(
                "{} is required with embeddings = \"pca\"",
                key("pca_components")
            ),
            (Embeddings::Pca, Some(0)) => bail!("{} must be positive", key("pca_components")),
            (Embeddings::None | Embeddings::All, Some(_)) => bail!(
                "{} is only meaningful with embeddings = \"pca\"",
                key("pca_components")
            ),
            _ => {}
        }
        if m.pca_standardize.is_some() && m.embeddings != Embeddings::Pca {
            bail!(
                "{} is only meaningful with embeddings = \"pca\"",
                key("pca_standardize")
            );
        }
        if m.log_size && m.size == SizeSource::None {
            bail!(
                "{} needs a size (size = \"mask\" or \"radiographic\")",
                key("log_size")
            );
        }
        self.validate_learner_keys(m)?;
        if m.learner == Learner::Ensemble {
            return Ok(());
        }
        let no_clinical = m.clinical == ClinicalSpec::Mode("none".into());
        if no_clinical && m.embeddings == Embeddings::None && m.size == SizeSource::None && !m.shape
        {
            bail!(
                "model `{}` has no inputs (clinical, embeddings, size and shape are all off)",
                m.name
            );
        }
        Ok(())
    }

    /// The keys that belong to one learner: `calibrate_folds` (at least 2, with `calibrate`),
    /// `members` (an ensemble's, naming other non-ensemble models; its inputs are theirs).
    fn validate_learner_keys(&self, m: &ModelSpec) -> Result<()> {
        let key = |k: &str| format!("model `{}`: `{k}`", m.name);
        match (m.calibrate, m.calibrate_folds) {
            (None, Some(_)) => bail!(
                "{} is only meaningful with `calibrate`",
                key("calibrate_folds")
            ),
            (Some(_), Some(k)) if k < 2 => bail!(
                "{} = {k}: calibration needs at least 2 folds of the training rows",
                key("calibrate_folds")
            ),
            _ => {}
        }
        let members = m.members.as_deref();
        if m.learner != Learner::Ensemble {
            if members.is_some() {
                bail!(
                    "{} is only meaningful with learner = \"ensemble\"",
                    key("members")
                );
            }
            return Ok(());
        }
        let Some(members) = members.filter(|l| l.len() >= 2) else {
            bail!("{} must name at least 2 models", key("members"));
        };
        let own_inputs = m.clinical != ClinicalSpec::default()
            || m.size != SizeSource::None
            || m.embeddings != Embeddings::None
            || m.shape
            || m.log_size
            || m.top_k.is_some();
        if own_inputs {
            bail!(
                "model `{}`: an ensemble's inputs are its members'; remove its clinical/size/embeddings/shape keys",
                m.name
            );
        }
        let mut sizes = Vec::new();
        for name in members {
            let Some(s) = self.models.iter().find(|x| &x.name == name) else {
                bail!(
                    "{}: no model named `{name}` in the experiment",
                    key("members")
                );
            };
            if s.learner == Learner::Ensemble {
                bail!("{}: `{name}` is itself an ensemble", key("members"));
            }
            if s.size != SizeSource::None {
                sizes.push((s.size, s.log_size));
            }
        }
        sizes.dedup();
        if sizes.len() > 1 {
            bail!(
                "{}: the members use different size inputs (source or log); an ensemble's members share one",
                key("members")
            );
        }
        Ok(())
    }

    /// The experiment as pretty TOML (for the report and the run manifest).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

pub(crate) fn resolve_max_features(f: &MaxFeaturesSpec) -> Result<MaxFeatures> {
    Ok(match f {
        MaxFeaturesSpec::Named(s) if s == "sqrt" => MaxFeatures::Sqrt,
        MaxFeaturesSpec::Named(s) if s == "all" => MaxFeatures::All,
        MaxFeaturesSpec::Named(s) => {
            bail!("`{s}`: expected \"sqrt\", \"all\", a fraction in (0, 1] or {{ count = k }}")
        }
        MaxFeaturesSpec::Fraction(x) if *x > 0.0 && *x <= 1.0 => MaxFeatures::Fraction(*x),
        MaxFeaturesSpec::Fraction(x) => bail!("fraction {x} not in (0, 1]"),
        MaxFeaturesSpec::Count { count } if *count > 0 => MaxFeatures::Count(*count),
        MaxFeaturesSpec::Count { .. } => bail!("count must be positive"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use renal_learn::Step;

    #[test]
    fn the_paper_experiment_parses() {
        let e = Experiment::parse(PAPER_TOML).unwrap();
        assert_eq!(e.models.len(), 10);
        assert_eq!(e.rf.max_features.len() * e.rf.min_samples_leaf.len(), 9);
        let plan = e.plan(&e.models[3], &["age".into(), "bmi".into()]).unwrap();
        assert_eq!(plan.candidates.len(), 9);
    }

    #[test]
    fn unknown_keys_and_impossible_combinations_name_the_key() {
        let base = "[experiment]\nname = \"x\"\n[[model]]\nname = \"m\"\nlearner = \"rf\"\n";
        let err = |extra: &str| {
            format!(
                "{:#}",
                Experiment::parse(&format!("{base}{extra}")).unwrap_err()
            )
        };
        assert!(err("size = true\ncolour = 3\n").contains("colour"));
        assert!(err("clinical = \"top\"\n").contains("top_k"));
        assert!(err("size = true\npca_components = 5\n").contains("pca_components"));
        assert!(err("clinical = \"some\"\n").contains("clinical"));
        assert!(err("").contains("no inputs"));
        assert!(err("clinical = [\"pathologic_size\"]\n").contains("pathologic_size"));
        assert!(err("size = true\nlearner2 = \"mlp\"\n").contains("learner2"));
        let e = format!("{:#}", Experiment::parse("[experiment]\nname = \"x\"\n[rf]\nmax_features = [\"cube\"]\n[[model]]\nname = \"m\"\nsize = true\nlearner = \"rf\"\n").unwrap_err());
        assert!(
            e.contains("rf.max_features[0]") && e.contains("cube"),
            "{e}"
        );
    }

    /// The scaling steps each setting compiles to; the defaults keep the order they always had.
    #[test]
    fn standardize_settings_compile_to_their_steps() {
        let exp = |learner: &str, extra: &str| {
            Experiment::parse(&format!("[experiment]\nname = \"x\"\n[[model]]\nname = \"m\"\nembeddings = \"pca\"\npca_components = 2\nlearner = \"{learner}\"\n{extra}")).unwrap()
        };
        let steps = |e: &Experiment| {
            e.plan(&e.models[0], &[]).unwrap().candidates[0]
                .steps
                .clone()
        };
        let names = |e: &Experiment| -> Vec<&'static str> {
            steps(e)
                .iter()
                .map(|s| match s {
                    Step::MedianImpute => "impute",
                    Step::Standardize => "standardize",
                    Step::StandardizeColumns { .. } => "standardize-embeddings",
                    Step::Pca { .. } => "pca",
                    _ => "other",
                })
                .collect()
        };
        assert_eq!(names(&exp("mlp", "")), ["impute", "standardize", "pca"]);
        assert_eq!(names(&exp("mlp", "standardize = false")), ["impute", "pca"]);
        assert_eq!(
            names(&exp("mlp", "pca_standardize = false")),
            ["impute", "pca", "standardize"]
        );
        assert_eq!(names(&exp("rf", "")), ["impute", "pca"]);
        // On a forest `standardize` is a no-op (warned), `pca_standardize` is honoured.
        assert_eq!(names(&exp("rf", "standardize = true")), ["impute", "pca"]);
        assert_eq!(
            names(&exp("rf", "pca_standardize = true")),
            ["impute", "standardize-embeddings", "pca"]
        );
        // The study's image MLPs take the raw embeddings.
        let paper = Experiment::parse(PAPER_TOML).unwrap();
        for m in paper
            .models
            .iter()
            .filter(|m| m.embeddings != Embeddings::None)
        {
            let raw = m.learner == Learner::Mlp;
            assert!(!m.standardizes(), "{}", m.name);
            assert_eq!(m.standardize, raw.then_some(false), "{}", m.name);
        }
    }

    #[test]
    fn the_size_has_a_source_and_is_never_clinical() {
        let one = |extra: &str| {
            Experiment::parse(&format!(
                "[experiment]\nname = \"x\"\n[[model]]\nname = \"m\"\nlearner = \"rf\"\n{extra}"
            ))
        };
        for (text, want) in [
            ("size = \"mask\"", SizeSource::Mask),
            ("size = true", SizeSource::Mask),
            ("size = \"radiographic\"", SizeSource::Radiographic),
            ("size = \"none\"\nclinical = \"all\"", SizeSource::None),
            ("clinical = \"all\"", SizeSource::None),
        ] {
            assert_eq!(one(text).unwrap().models[0].size, want, "{text}");
        }
        let e = format!("{:#}", one("size = \"ruler\"").unwrap_err());
        assert!(e.contains("ruler") && e.contains("size"), "{e}");
        let e = format!(
            "{:#}",
            one("clinical = [\"age\", \"radiographic_size_cm\"]").unwrap_err()
        );
        assert!(
            e.contains("radiographic_size_cm") && e.contains("size = \"radiographic\""),
            "{e}"
        );
        let e = format!(
            "{:#}",
            one("clinical = \"all\"\nlog_size = true").unwrap_err()
        );
        assert!(e.contains("log_size"), "{e}");
        // The paper's clinical models take no size; its size models the measured one.
        let paper = Experiment::parse(PAPER_TOML).unwrap();
        assert_eq!(paper.models[1].size, SizeSource::None);
        assert_eq!(paper.models[3].size, SizeSource::Mask);
    }
}
