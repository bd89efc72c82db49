//! TCL's and CoCOA's gradient step (PEARL's `Sac::train_step` with the contrastive term of
//! `Contrastive::terms` joining the encoder's backward pass, then `Contrastive::after_step`)
//! against the papers' contrastive term on oyster's PEARL step, restated in
//! tools/reference_updates/contrastive.py: five steps from the same weights, batches and noise,
//! every loss and parameter (the key encoder and the bilinear W included) compared after each
//! (tests/exchange/mod.rs). The step is composed as src/protocol/meta_train.rs `context_step`
//! composes it, on given windows instead of ones sampled from the encoder buffers.

mod exchange;

use exchange::{meta_batch, uniform, Exchange};
use metarl::algos::contrastive::{Contrastive, ContrastiveSettings, PearlContext, Similarity};
use metarl::algos::sac::{standard_normal, ContextSettings, Sac, SacSettings, TaskVariable};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

const STEPS: usize = 5;

/// The contrastive learner's key encoder and W, named as in its store (`contrastive.` dropped).
fn put_contrastive(ex: &mut Exchange, prefix: &str, contrastive: &Contrastive) {
    let mut named: Vec<(String, Tensor)> =
        contrastive.state().into_iter().filter_map(|(name, t)| name.strip_prefix("contrastive.").map(|n| (n.to_string(), t))).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in named {
        ex.put(format!("{prefix}/{name}"), &t);
    }
}

/// Five TCL/CoCOA steps with `similarity`, PEARL's z from `pearl_context`, CoCOA's query KL weight.
fn contrastive_steps(similarity: Similarity, pearl_context: PearlContext, query_kl_lambda: Option<f64>, shared_pair: bool) {
    let _turn = exchange::one_at_a_time();
    tch::manual_seed(0);
    let (obs_dim, action_dim, latent, tasks, b, context_rows, window) = (3, 2, 2, 4, 8, 6, 5);
    let settings = SacSettings {
        obs_dim, action_dim, z_dim: latent, net_size: 16, discount: 0.99, reward_scale: 5.0, soft_target_tau: 0.005,
        policy_lr: 3e-4, qf_lr: 3e-4, vf_lr: 3e-4, policy_reg_weight: 1e-3,
    };
    let context = ContextSettings { input_dim: obs_dim + action_dim + 1, hidden: vec![16, 16], lr: 1e-3, kl_lambda: 0.1 };
    let contrastive_settings = ContrastiveSettings { similarity, loss_scale: 2.0, temperature: 0.5, key_encoder_tau: 0.25, query_kl_lambda, bilinear_lr: 1e-3 };
    let mut ex = Exchange::new("contrastive");
    let similarity_code = match similarity {
        Similarity::Wasserstein => 0.0,
        Similarity::Bhattacharyya => 1.0,
        Similarity::Bilinear => 2.0,
    };
    for (name, value) in [("latent", latent as f64), ("reward_scale", settings.reward_scale), ("discount", settings.discount), ("soft_target_tau", settings.soft_target_tau),
        ("kl_lambda", context.kl_lambda), ("policy_reg_weight", settings.policy_reg_weight), ("policy_lr", settings.policy_lr), ("qf_lr", settings.qf_lr),
        ("vf_lr", settings.vf_lr), ("context_lr", context.lr), ("similarity", similarity_code), ("loss_scale", contrastive_settings.loss_scale),
        ("temperature", contrastive_settings.temperature), ("key_encoder_tau", contrastive_settings.key_encoder_tau), ("query_kl_lambda", query_kl_lambda.unwrap_or(-1.0)),
        ("bilinear_lr", contrastive_settings.bilinear_lr), ("query_windows", f64::from(u8::from(pearl_context == PearlContext::QueryWindows)))]
    {
        ex.put_scalar(format!("meta/{name}"), value);
    }
    let width = context.input_dim;
    let mut sac = Sac::new(settings, Device::Cpu, Some(context.clone()));
    let mut contrastive = Contrastive::new(contrastive_settings, &sac, &context);
    ex.put_vars("init", &sac.vars);
    put_contrastive(&mut ex, "init", &contrastive);

    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for step in 0..STEPS {
        // meta_train.rs context_step: PEARL's context (Sampled), the window pairs, the RL batch.
        let context = (pearl_context == PearlContext::Sampled).then(|| uniform(&mut rng, &[tasks, context_rows, width]));
        let queries = uniform(&mut rng, &[tasks, window, width]);
        let keys = uniform(&mut rng, &[tasks, window, width]);
        // Trajectories shorter than the window leave padding rows, out of the product.
        let lengths: Vec<i64> = (0..tasks).map(|_| rng.gen_range(2..=window)).collect();
        let mask: Vec<f32> = lengths.iter().flat_map(|&real| (0..window).map(move |row| if row < real { 1.0 } else { 0.0 })).collect();
        let mask = Tensor::from_slice(&mask).view([tasks, window, 1]);
        // Rows 0 and 2 cropped from one trajectory: each key is out of the other's negatives.
        let shared = shared_pair.then(|| Tensor::from_slice(&(0..tasks * tasks).map(|k| matches!((k / tasks, k % tasks), (0, 2) | (2, 0))).collect::<Vec<_>>()).view([tasks, tasks]));
        let query_encoder = sac.encoder.as_ref().expect("PEARL's encoder");
        let terms = contrastive.terms(query_encoder, &queries, &keys, &mask, shared.as_ref());
        let batch = meta_batch(&mut rng, tasks, b, obs_dim, action_dim);
        let task = match &context {
            Some(context) => TaskVariable::ContextAndEncoderLoss(context.shallow_clone(), terms.loss),
            None => TaskVariable::PosteriorAndEncoderLoss(terms.queries.mean, terms.queries.var, terms.loss),
        };
        let mut probe = rng.clone();
        let z_noise = standard_normal(&mut probe, tasks, latent, Device::Cpu);
        let policy_noise = standard_normal(&mut probe, tasks * b, action_dim, Device::Cpu);
        let losses = sac.train_step(&batch, task, &mut rng);
        contrastive.after_step();
        assert_eq!(probe.get_word_pos(), rng.get_word_pos(), "the step drew other noise than z's and the policy's");

        let mut inputs: Vec<(&str, &Tensor)> = vec![("obs", &batch.obs), ("actions", &batch.actions), ("rewards", &batch.rewards), ("next_obs", &batch.next_obs),
            ("terminals", &batch.terminals), ("queries", &queries), ("keys", &keys), ("mask", &mask), ("z_noise", &z_noise), ("policy_noise", &policy_noise)];
        if let Some(context) = &context {
            inputs.push(("context", context));
        }
        let shared_float = shared.as_ref().map(|s| s.to_kind(Kind::Float));
        if let Some(shared) = &shared_float {
            inputs.push(("shared_trajectory", shared));
        }
        for (name, t) in inputs {
            ex.put(format!("step{step}/in/{name}"), t);
        }
        let mut named = vec![("qf_loss", losses.qf_loss), ("vf_loss", losses.vf_loss), ("policy_loss", losses.policy_loss), ("kl_divergence", losses.kl_divergence),
            ("contrastive_loss", terms.info_nce)];
        if let Some(kl) = terms.query_kl {
            named.push(("query_kl", kl));
        }
        for (name, value) in named {
            ex.put_scalar(format!("step{step}/loss/{name}"), value);
        }
        ex.put_vars(&format!("step{step}/param"), &sac.vars);
        put_contrastive(&mut ex, &format!("step{step}/param"), &contrastive);
    }
    ex.check();
}

/// TCL-PEARL (papers/001): the Wasserstein similarity, PEARL's own context.
#[test]
fn tcl_step_matches_the_papers_contrastive_term() {
    contrastive_steps(Similarity::Wasserstein, PearlContext::Sampled, None, true);
}

/// CoCOA (papers/000): the Bhattacharyya similarity and the KL on the queries, PEARL's z from the
/// query windows (papers/001 §4.3(2)).
#[test]
fn cocoa_step_matches_the_papers_contrastive_term() {
    contrastive_steps(Similarity::Bhattacharyya, PearlContext::QueryWindows, Some(0.1), false);
}

/// CoCOA's ablation (papers/000 Table 5.2): the bilinear similarity with its learned W.
#[test]
fn bilinear_step_matches_the_papers_contrastive_term() {
    contrastive_steps(Similarity::Bilinear, PearlContext::Sampled, Some(0.1), true);
}
