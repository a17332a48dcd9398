//! The MLP's training trajectory against PyTorch 2.13 in float64 (`shared/golden/mlp-adam`):
//! given the fixture's initial weights and row orders, every parameter, loss and probability
//! must match to 1e-10 (README tolerances).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_learn::mlp::{Linear, Mlp, MlpParams};
use renal_learn::Matrix;
use renal_testdata::{assert_abs, assert_all_abs, read_json, shared};
use serde_json::Value;

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        _ => panic!("unexpected {v}"),
    }
}

fn layers_from(params: &Value, keys: &[String]) -> Vec<Linear> {
    keys.chunks(2)
        .map(|kw| {
            let w = &params[&kw[0]];
            let n_out = w.as_array().unwrap().len();
            let n_in = w[0].as_array().unwrap().len();
            Linear {
                n_in,
                n_out,
                weight: flat(w),
                bias: flat(&params[&kw[1]]),
            }
        })
        .collect()
}

fn check_params(layers: &[Linear], expected: &Value, keys: &[String], what: &str) {
    assert_eq!(layers.len() * 2, keys.len(), "{what}: layer count");
    for (l, kw) in layers.iter().zip(keys.chunks(2)) {
        assert_all_abs(
            &l.weight,
            &flat(&expected[&kw[0]]),
            1e-10,
            &format!("{what} {}", kw[0]),
        );
        assert_all_abs(
            &l.bias,
            &flat(&expected[&kw[1]]),
            1e-10,
            &format!("{what} {}", kw[1]),
        );
    }
}

#[test]
fn mlp_adam_matches_pytorch_step_by_step() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("golden/mlp-adam");
    let exp = read_json(&dir.join("expected.json"));
    let text = std::fs::read_to_string(dir.join("data.csv")).unwrap();
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        rows.push(v[..10].to_vec());
        y.push(v[10] as usize);
    }
    let x = Matrix::from_rows(&rows, None).unwrap();
    let orders: Vec<Vec<usize>> = exp["permutations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        })
        .collect();
    for (name, hidden) in [("A", vec![]), ("B", vec![16])] {
        let m = &exp["models"][name];
        let keys: Vec<String> = m["param_keys_in_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        // The fixture's configuration is what we run (and the optimiser constants we hold).
        let cfg = &exp["config"];
        assert_eq!(cfg["optimizer"], "torch.optim.Adam");
        assert_eq!(cfg["betas"], serde_json::json!([0.9, 0.999]));
        assert_eq!(cfg["eps"].as_f64(), Some(1e-8));
        assert_eq!(cfg["amsgrad"], false);
        assert_eq!(cfg["n_features"].as_u64(), Some(10));
        assert_eq!(cfg["n_classes"].as_u64(), Some(3));
        let params = MlpParams {
            hidden,
            lr: cfg["lr"].as_f64().unwrap(),
            weight_decay: cfg["weight_decay"].as_f64().unwrap(),
            batch_size: cfg["batch_size"].as_u64().unwrap() as usize,
            epochs: cfg["epochs"].as_u64().unwrap() as usize,
            seed: 0,
        };
        assert_eq!(
            (params.lr, params.weight_decay),
            (3e-4, 8e-4),
            "the study's values"
        );
        let init = layers_from(&m["initial_params"], &keys);
        let one = Mlp::fit_with(
            &params,
            &x,
            &y,
            3,
            init.clone(),
            &[orders[0][..16].to_vec()],
        )
        .unwrap();
        check_params(
            &one.layers,
            &m["params_after_step_1"],
            &keys,
            &format!("{name} step 1"),
        );
        let e1 = Mlp::fit_with(&params, &x, &y, 3, init.clone(), &orders[..1]).unwrap();
        check_params(
            &e1.layers,
            &m["params_after_epoch_1"],
            &keys,
            &format!("{name} epoch 1"),
        );
        let fit = Mlp::fit_with(&params, &x, &y, 3, init, &orders).unwrap();
        check_params(
            &fit.layers,
            &m["params_after_epoch_5"],
            &keys,
            &format!("{name} epoch 5"),
        );
        assert_eq!(fit.step_losses.len(), 20);
        let losses = flat(&m["step_losses"]);
        assert_all_abs(
            &fit.step_losses,
            &losses,
            1e-12,
            &format!("{name} step loss"),
        );
        // Epoch means of the step losses (4 steps an epoch).
        let means: Vec<f64> = fit
            .step_losses
            .chunks(4)
            .map(|c| c.iter().sum::<f64>() / 4.0)
            .collect();
        let expected_means = flat(&m["epoch_mean_loss"]);
        assert_all_abs(
            &means,
            &expected_means,
            1e-12,
            &format!("{name} epoch mean loss"),
        );
        let logits = fit.logits(&x).unwrap();
        let expected_logits = flat(&m["final_logits"]);
        assert_all_abs(
            &logits.data,
            &expected_logits,
            1e-10,
            &format!("{name} logits"),
        );
        let p = fit.predict_proba(&x).unwrap();
        let expected_p = flat(&m["final_probabilities"]);
        assert_all_abs(
            &p.data,
            &expected_p,
            1e-10,
            &format!("{name} probabilities"),
        );
        assert_abs(
            fit.loss(&x, &y).unwrap(),
            m["final_full_data_loss"].as_f64().unwrap(),
            1e-12,
            &format!("{name} final loss"),
        );
    }
}
