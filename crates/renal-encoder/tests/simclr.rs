//! Training, determinism, checkpoint/resume and save/load of the SimCLR encoder (tiny network).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a panic is a failed test

use renal_encoder::{train, Dataset, Encoder, EncoderConfig};
use tch::Device;

/// Synthetic two-channel cases: a disc of random radius and position, and its ring.
fn dataset(n: usize, size: usize) -> Dataset {
    let mut data = Vec::new();
    for i in 0..n {
        let r = 3.0 + (i % 7) as f64;
        let (cx, cy) = (10.0 + (i % 5) as f64 * 2.0, 12.0 + (i % 3) as f64 * 3.0);
        for ch in 0..2 {
            for y in 0..size {
                for x in 0..size {
                    let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
                    let v = if ch == 0 { d < r } else { (d - r).abs() < 1.5 };
                    data.push(if v { 1.0 } else { 0.0 });
                }
            }
        }
    }
    Dataset {
        ids: (0..n).map(|i| format!("case_{i:05}")).collect(),
        channels: 2,
        size,
        data,
        missing: vec![vec![false, false]; n],
    }
}

fn cfg(epochs: usize) -> EncoderConfig {
    EncoderConfig {
        epochs,
        ..EncoderConfig::tiny(2)
    }
}

#[test]
fn same_seed_same_embeddings_and_the_loss_is_finite() {
    let ds = dataset(12, 32);
    let (a, ra) = train(&cfg(2), &ds, Device::Cpu, None, |_, _| {}).unwrap();
    let (b, _) = train(&cfg(2), &ds, Device::Cpu, None, |_, _| {}).unwrap();
    let (ea, eb) = (a.embed(&ds).unwrap(), b.embed(&ds).unwrap());
    assert_eq!(ea, eb);
    assert_eq!(ea.len(), 12);
    assert_eq!(ea[0].len(), 64); // 8 x width 8
    assert_eq!(ra.losses.len(), 2);
    assert!(ra.losses.iter().all(|l| l.is_finite() && *l > 0.0));
    // Another seed gives other weights.
    let other = EncoderConfig { seed: 7, ..cfg(2) };
    let (c, _) = train(&other, &ds, Device::Cpu, None, |_, _| {}).unwrap();
    assert_ne!(c.embed(&ds).unwrap(), ea);
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    let ds = dataset(10, 32);
    let (full, rf) = train(&cfg(3), &ds, Device::Cpu, None, |_, _| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, r1) = train(&cfg(2), &ds, Device::Cpu, Some(dir.path()), |_, _| {}).unwrap();
    assert_eq!(r1.resumed_from, None);
    let (resumed, r2) = train(&cfg(3), &ds, Device::Cpu, Some(dir.path()), |_, _| {}).unwrap();
    assert_eq!(r2.resumed_from, Some(2));
    assert_eq!(r2.losses, rf.losses);
    assert_eq!(resumed.embed(&ds).unwrap(), full.embed(&ds).unwrap());
}

#[test]
fn saved_weights_and_config_load_back_to_the_same_embeddings() {
    let ds = dataset(8, 32);
    let (enc, _) = train(&cfg(1), &ds, Device::Cpu, None, |_, _| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    enc.save(dir.path()).unwrap();
    assert!(dir.path().join("encoder.safetensors").is_file());
    assert!(dir.path().join("encoder.json").is_file());
    let back = Encoder::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(back.cfg, enc.cfg);
    assert_eq!(back.embed(&ds).unwrap(), enc.embed(&ds).unwrap());
}

#[test]
fn the_paper_network_outputs_512_features() {
    let c = EncoderConfig::paper(4, true);
    assert_eq!(c.features(), 512);
    let e = Encoder::new(
        &EncoderConfig {
            image_size: 64,
            ..c
        },
        Device::Cpu,
    )
    .unwrap();
    let ds = Dataset {
        ids: vec!["a".into()],
        channels: 4,
        size: 64,
        data: vec![0.5; 4 * 64 * 64],
        missing: vec![vec![false; 4]],
    };
    assert_eq!(e.embed(&ds).unwrap()[0].len(), 512);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let mut ds = dataset(4, 32);
    ds.data[5] = f32::NAN;
    let e = train(&cfg(1), &ds, Device::Cpu, None, |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("case_00000"), "{e}");
    let ds = dataset(1, 32);
    assert!(train(&cfg(1), &ds, Device::Cpu, None, |_, _| {}).is_err());
    let ds = dataset(4, 32);
    let three = EncoderConfig::tiny(3);
    assert!(train(&three, &ds, Device::Cpu, None, |_, _| {}).is_err());
}
