//! A cohort made ready for the models: loaded once (KiTS23 folder, manifest, or feature table
//! + labels), embeddings joined, masks measured; and each model's feature table and folds.

use crate::engine::failure::CaseFailure;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use renal_cohort::Cohort;
use renal_imaging::{CaseMeasurements, LabelScheme};

use crate::engine::experiment::{Embeddings, SizeSource, EMBEDDING_PREFIX};
use crate::engine::features::{self, FeatureSpec, FeatureTable};
use crate::engine::plan::ModelPlan;

/// A loaded cohort with its measurements and the clinical features it has.
pub struct Prepared {
    pub source: PathBuf,
    pub cohort: Cohort,
    pub meas: BTreeMap<String, CaseMeasurements>,
    pub clinical: Vec<String>,
    pub has_embeddings: bool,
}

/// Makes a loaded cohort ready: feature-table columns become embedding-like inputs, given
/// embeddings are joined by case id, and every mask is measured (decoded once).
pub fn prepare(
    source: &Path,
    cohort: Cohort,
    from_tables: bool,
    embeddings: Option<&Path>,
) -> Result<Prepared> {
    prepare_measured(source, cohort, from_tables, embeddings, None)
}

/// [`prepare`] with the masks already measured (`measured`: per case, from a
/// [`crate::engine::measure::mask_pass`] that also made the image inputs): no mask is decoded
/// again.
pub fn prepare_measured(
    source: &Path,
    mut cohort: Cohort,
    from_tables: bool,
    embeddings: Option<&Path>,
    measured: Option<Vec<(String, Result<CaseMeasurements, CaseFailure>)>>,
) -> Result<Prepared> {
    let mut has_embeddings = from_tables;
    if from_tables {
        // Feature-table cohorts: every numeric column is an embedding-like input.
        for c in &mut cohort.cases {
            c.extra = std::mem::take(&mut c.extra)
                .into_iter()
                .map(|(k, v)| (format!("{EMBEDDING_PREFIX}{k}"), v))
                .collect();
        }
    }
    if let Some(e) = embeddings {
        let table = renal_cohort::read_feature_table(e)
            .with_context(|| format!("reading embeddings {}", e.display()))?;
        renal_cohort::join_features(&mut cohort, &table, EMBEDDING_PREFIX, e);
        has_embeddings = true;
    }
    let meas = match measured {
        Some(m) => crate::engine::measure::apply_measurements(&mut cohort, m),
        None => crate::engine::measure::measure_cohort(&mut cohort, LabelScheme::default()),
    };
    let clinical = FeatureSpec::all_clinical_and_size(&cohort).clinical;
    Ok(Prepared {
        source: source.to_path_buf(),
        cohort,
        meas,
        clinical,
        has_embeddings,
    })
}

/// Loads the cohort at `path` (KiTS23 folder or manifest) and prepares it.
pub fn load_and_prepare(
    path: &Path,
    embeddings: Option<&Path>,
    opts: &crate::engine::data::CohortOptions,
) -> Result<Prepared> {
    let cohort = crate::engine::data::load(path, opts)?;
    prepare(path, cohort, false, embeddings)
}

/// The feature spec of a planned model.
pub fn model_features(plan: &ModelPlan, prepared: &Prepared) -> FeatureSpec {
    FeatureSpec {
        clinical: plan
            .clinical
            .iter()
            .filter(|c| prepared.clinical.contains(c))
            .cloned()
            .collect(),
        size: match plan.spec.size {
            SizeSource::Mask if prepared.meas.is_empty() => SizeSource::None,
            s => s,
        },
        extra_prefix: (plan.spec.embeddings != Embeddings::None)
            .then(|| EMBEDDING_PREFIX.to_string()),
        shape: plan.spec.shape,
    }
}

/// Builds a model's table, applying `log_size`.
pub fn model_table(plan: &ModelPlan, prepared: &Prepared) -> Result<FeatureTable> {
    let mut t = features::build(
        &prepared.cohort,
        &prepared.meas,
        &model_features(plan, prepared),
    )?;
    if plan.spec.log_size {
        features::apply_log_size(&mut t);
    }
    Ok(t)
}

/// Why a model cannot run on this cohort, if it cannot.
pub fn skip_reason(plan: &ModelPlan, prepared: &Prepared) -> Option<String> {
    if plan.spec.embeddings != Embeddings::None && !prepared.has_embeddings {
        return Some(
            "needs image embeddings: none given (--embeddings) and none computed yet".into(),
        );
    }
    if plan.spec.shape && prepared.meas.is_empty() {
        return Some(format!(
            "model `{}`: `shape` needs masks: no case has a measurable mask (a features-only cohort?)",
            plan.spec.name
        ));
    }
    if plan.spec.size == SizeSource::Mask && prepared.meas.is_empty() {
        return Some("needs the tumor size: no case has a measurable mask".into());
    }
    let has_radiographic = || {
        prepared
            .cohort
            .cases
            .iter()
            .any(|c| c.clinical.radiographic_size_mm().is_some())
    };
    if plan.spec.size == SizeSource::Radiographic && !has_radiographic() {
        return Some("needs the radiographic size: no case records one".into());
    }
    if !plan.clinical.is_empty() && prepared.clinical.is_empty() {
        return Some("needs clinical features: the cohort has none".into());
    }
    None
}

/// Converts predefined splits (case ids) into row folds of a table; every row must be tested
/// exactly once.
pub fn fold_plan(
    splits: &renal_cohort::Splits,
    table: &FeatureTable,
) -> Result<renal_learn::FoldPlan> {
    let row: BTreeMap<&str, usize> = table
        .case_ids
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let rows = |ids: &[String]| -> Result<Vec<usize>> {
        ids.iter()
            .map(|id| {
                row.get(id.as_str())
                    .copied()
                    .with_context(|| format!("split case `{id}` is not in the analysed cohort"))
            })
            .collect()
    };
    let mut tested = vec![false; table.case_ids.len()];
    let mut outer = Vec::new();
    for f in &splits.outer {
        let test = rows(&f.test)?;
        test.iter().for_each(|&r| tested[r] = true);
        let inner = f
            .inner
            .iter()
            .map(|i| Ok((rows(&i.train)?, rows(&i.val)?)))
            .collect::<Result<Vec<_>>>()?;
        outer.push(renal_learn::OuterPlan {
            train: rows(&f.train)?,
            test,
            inner,
        });
    }
    if let Some(i) = tested.iter().position(|t| !t) {
        bail!(
            "case `{}` is in no test fold of the split file",
            table.case_ids[i]
        );
    }
    Ok(renal_learn::FoldPlan { outer })
}
