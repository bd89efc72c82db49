//! libtorch through tch trains on CPU: a small MLP fitted to sin(3x) with Adam loses at least
//! an order of magnitude of loss, deterministically for a fixed seed.

use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

fn fit(seed: i64) -> (f64, f64) {
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let net = nn::seq()
        .add(nn::linear(&root / "l1", 1, 64, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(&root / "l2", 64, 64, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(&root / "l3", 64, 1, Default::default()));
    let mut adam = nn::Adam::default().build(&vs, 3e-3).unwrap();
    let x = Tensor::linspace(-2.0, 2.0, 256, (Kind::Float, Device::Cpu)).unsqueeze(1);
    let y = (&x * 3.0).sin();
    let loss_of = |net: &nn::Sequential| net.forward(&x).mse_loss(&y, tch::Reduction::Mean);
    let first = loss_of(&net).double_value(&[]);
    for _ in 0..1500 {
        adam.backward_step(&loss_of(&net));
    }
    (first, loss_of(&net).double_value(&[]))
}

#[test]
fn mlp_loss_falls_by_an_order_of_magnitude() {
    tch::set_num_threads(1);
    let (first, last) = fit(0);
    println!("MSE {first:.4} -> {last:.6}");
    assert!(last < first / 10.0, "loss fell only from {first} to {last}");
    assert_eq!(fit(0), (first, last), "same seed, same threads: same losses");
}
