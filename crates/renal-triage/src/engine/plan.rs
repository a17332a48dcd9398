//! An experiment's models compiled against a cohort: each model's input columns and its
//! candidate pipelines (the in-fold preprocessing, the learner grid, the calibration), an
//! ensemble's members, and the nested CV of the experiment's settings.

use anyhow::{bail, Context, Result};
use renal_learn::{
    CalibrationParams, Columns, Components, ForestParams, GbmParams, LearnerParams, LogisticParams,
    MaxFeatures, MlpParams, NestedCv, PipelineParams, Step, VoteMember, VoteParams,
};

use crate::engine::experiment::{
    resolve_max_features, ClinicalSpec, Embeddings, Experiment, Learner, ModelSpec, SizeSource,
    EMBEDDING_PREFIX,
};
use crate::engine::features::{
    LOG_RADIOGRAPHIC_SIZE, LOG_SIZE, RADIOGRAPHIC_SIZE, SHAPE_COLUMNS, SIZE,
};
use crate::engine::tasks::binary_task;

/// A model compiled against a cohort: its input columns and candidate pipelines.
#[derive(Debug, Clone)]
pub struct ModelPlan {
    pub spec: ModelSpec,
    /// Clinical columns (resolved names).
    pub clinical: Vec<String>,
    pub candidates: Vec<PipelineParams>,
}

/// The in-fold preprocessing of a model before any selection: imputation, then the scaling
/// and PCA its settings ask for (the defaults keep the order they always had).
fn preprocessing(spec: &ModelSpec) -> Vec<Step> {
    if matches!(spec.learner, Learner::Rf | Learner::Gbm) && spec.standardize == Some(true) {
        tracing::warn!(model = %spec.name, "`standardize` has no effect on trees (splits do not depend on the scale); ignored");
    }
    let mut steps = vec![Step::MedianImpute];
    let (standardize, pca) = (spec.standardizes(), spec.embeddings == Embeddings::Pca);
    let pca_standardize = spec.pca_standardizes();
    // Standardizing everything before the PCA serves both (the order of the defaults).
    if standardize && (pca_standardize || !pca) {
        steps.push(Step::Standardize);
    } else if pca_standardize {
        steps.push(Step::StandardizeColumns {
            columns: Columns::Prefix(EMBEDDING_PREFIX.into()),
        });
    }
    if pca {
        let k = spec.pca_components.unwrap_or(20);
        steps.push(Step::Pca {
            columns: Columns::Prefix(EMBEDDING_PREFIX.into()),
            components: Components::Count(k),
        });
        if standardize && !pca_standardize {
            steps.push(Step::Standardize);
        }
    }
    steps
}

impl Experiment {
    /// The nested CV of the experiment's settings.
    pub fn nested_cv(&self) -> NestedCv {
        let s = &self.experiment;
        NestedCv {
            outer_folds: s.outer_folds,
            inner_folds: s.inner_folds,
            seed: s.seed,
            tasks: s.tasks.iter().map(|t| binary_task(*t)).collect(),
            operating: s
                .tasks
                .iter()
                .map(|t| s.operating_points.get(t).copied())
                .collect(),
        }
    }

    /// Compiles `spec` given the clinical features available in the cohort.
    pub fn plan(&self, spec: &ModelSpec, available_clinical: &[String]) -> Result<ModelPlan> {
        if spec.learner == Learner::Ensemble {
            return self.plan_ensemble(spec, available_clinical);
        }
        let clinical: Vec<String> = match &spec.clinical {
            ClinicalSpec::Mode(m) if m == "none" => Vec::new(),
            ClinicalSpec::Mode(_) => available_clinical.to_vec(),
            ClinicalSpec::Names(n) => n.clone(),
        };
        let seed = self.experiment.seed;
        let mut steps = preprocessing(spec);
        // With no clinical feature at all the model is skipped (see `skip_reason`).
        if let Some(k) = spec.top_k.filter(|_| !clinical.is_empty()) {
            if k > clinical.len() {
                bail!(
                    "model `{}`: `top_k` = {k} but only {} clinical features are available",
                    spec.name,
                    clinical.len()
                );
            }
            let forest = ForestParams::default().n_trees(250).seed(seed);
            steps.push(Step::SelectTopK {
                columns: Columns::Names(clinical.clone()),
                k,
                forest,
            });
        }
        let candidates = self
            .learners(spec.learner)?
            .into_iter()
            .map(|learner| PipelineParams {
                steps: steps.clone(),
                learner,
                calibrate: self.calibration(spec),
            })
            .collect();
        Ok(ModelPlan {
            spec: spec.clone(),
            clinical,
            candidates,
        })
    }

    /// The calibration of a model's pipelines, if it asks for one.
    fn calibration(&self, spec: &ModelSpec) -> Option<CalibrationParams> {
        spec.calibrate.map(|method| CalibrationParams {
            method,
            folds: spec.calibrate_folds.unwrap_or(self.experiment.inner_folds),
            seed: self.experiment.seed.wrapping_add(0xCA1B),
        })
    }

    /// The learner grid of a (non-ensemble) learner.
    fn learners(&self, learner: Learner) -> Result<Vec<LearnerParams>> {
        let seed = self.experiment.seed;
        let mut out = Vec::new();
        match learner {
            Learner::Rf => {
                for mf in &self.rf.max_features {
                    for &leaf in &self.rf.min_samples_leaf {
                        let f = ForestParams::default()
                            .n_trees(self.rf.trees)
                            .max_features(resolve_max_features(mf)?)
                            .min_samples_leaf(leaf)
                            .balanced(self.rf.balanced)
                            .seed(seed);
                        out.push(LearnerParams::Forest(f));
                    }
                }
            }
            Learner::Mlp => {
                for h in &self.mlp.hidden {
                    for &lr in &self.mlp.lr {
                        for &epochs in &self.mlp.epochs {
                            out.push(LearnerParams::Mlp(MlpParams {
                                hidden: h.clone(),
                                lr,
                                weight_decay: self.mlp.weight_decay,
                                batch_size: self.mlp.batch_size,
                                epochs,
                                seed,
                            }));
                        }
                    }
                }
            }
            Learner::Logistic => {
                for &c in &self.logistic.c {
                    out.push(LearnerParams::Logistic(LogisticParams {
                        c,
                        ..Default::default()
                    }));
                }
            }
            Learner::Gbm => {
                let g = &self.gbm;
                for &n_estimators in &g.n_estimators {
                    for &learning_rate in &g.learning_rate {
                        for &max_depth in &g.max_depth {
                            for &min_samples_leaf in &g.min_samples_leaf {
                                out.push(LearnerParams::Gbm(GbmParams {
                                    n_estimators,
                                    learning_rate,
                                    max_depth,
                                    min_samples_leaf,
                                    subsample: g.subsample,
                                    seed,
                                }));
                            }
                        }
                    }
                }
            }
            Learner::Ensemble => bail!("an ensemble has no grid of its own"),
        }
        Ok(out)
    }

    /// An ensemble: each member planned as itself, reading its own columns of the union of
    /// the members' inputs; one candidate, the vote (members tuned inside each fit).
    fn plan_ensemble(&self, spec: &ModelSpec, available_clinical: &[String]) -> Result<ModelPlan> {
        let names = spec.members.clone().unwrap_or_default();
        let mut plans = Vec::new();
        for n in &names {
            let m = self
                .models
                .iter()
                .find(|m| &m.name == n)
                .with_context(|| format!("model `{}`: member `{n}` not found", spec.name))?;
            plans.push(self.plan(m, available_clinical)?);
        }
        let mut clinical: Vec<String> = Vec::new();
        for p in &plans {
            for c in &p.clinical {
                if !clinical.contains(c) {
                    clinical.push(c.clone());
                }
            }
        }
        let sized = plans.iter().find(|p| p.spec.size != SizeSource::None);
        let mut eff = spec.clone();
        eff.size = sized.map_or(SizeSource::None, |p| p.spec.size);
        eff.log_size = sized.is_some_and(|p| p.spec.log_size);
        eff.shape = plans.iter().any(|p| p.spec.shape);
        if plans.iter().any(|p| p.spec.embeddings != Embeddings::None) {
            eff.embeddings = Embeddings::All;
        }
        let members = plans
            .into_iter()
            .map(|p| {
                let mut names = p.clinical.clone();
                if p.spec.shape {
                    names.extend(SHAPE_COLUMNS.iter().map(|s| s.to_string()));
                }
                let size = match (p.spec.size, p.spec.log_size) {
                    (SizeSource::Mask, false) => Some(SIZE),
                    (SizeSource::Mask, true) => Some(LOG_SIZE),
                    (SizeSource::Radiographic, false) => Some(RADIOGRAPHIC_SIZE),
                    (SizeSource::Radiographic, true) => Some(LOG_RADIOGRAPHIC_SIZE),
                    (SizeSource::None, _) => None,
                };
                names.extend(size.map(String::from));
                let prefixes = if p.spec.embeddings != Embeddings::None {
                    vec![EMBEDDING_PREFIX.to_string()]
                } else {
                    Vec::new()
                };
                VoteMember {
                    name: p.spec.name,
                    names,
                    prefixes,
                    candidates: p.candidates,
                }
            })
            .collect();
        let vote = PipelineParams {
            steps: Vec::new(),
            learner: LearnerParams::Vote(VoteParams {
                members,
                tune: self.nested_cv(),
            }),
            calibrate: self.calibration(spec),
        };
        Ok(ModelPlan {
            spec: eff,
            clinical,
            candidates: vec![vote],
        })
    }
}

/// The 3 x 3 forest grid of the study's acceptance checks and benchmarks (max_features sqrt,
/// 0.1, 0.3 x min_samples_leaf 1, 3, 5), each candidate after `steps`.
pub fn forest_grid(trees: usize, seed: u64, steps: &[Step]) -> Vec<PipelineParams> {
    let mut g = Vec::new();
    for mf in [
        MaxFeatures::Sqrt,
        MaxFeatures::Fraction(0.1),
        MaxFeatures::Fraction(0.3),
    ] {
        for leaf in [1, 3, 5] {
            let f = ForestParams::default()
                .n_trees(trees)
                .max_features(mf)
                .min_samples_leaf(leaf)
                .seed(seed);
            g.push(PipelineParams {
                calibrate: None,
                steps: steps.to_vec(),
                learner: LearnerParams::Forest(f),
            });
        }
    }
    g
}
