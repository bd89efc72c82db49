#!/usr/bin/env python3
"""Realistic one-line faults in the learners' updates, applied as patches to the working tree, and
which of the tests `.ci/run` runs catch each one.

    python3 tools/faults.py list
    python3 tools/faults.py run [--only NAME ...] [--all-detectors]

`run` applies one fault at a time (each a literal edit that must match exactly once), rebuilds
the release binary, runs the detectors, cheapest first, and restores the file, whatever happens:
- the update-equivalence tests (`cargo test --release --test equivalence_*`): every learner's
  update against a restatement of its authors' code, loss by loss and parameter by parameter;
- `cargo test --release --lib`: the learners' and the protocol's unit tests;
- `metarl numerics`, which `tests/numerics.rs` runs: five PEARL and five TCL gradient steps
  against the recorded fingerprints, bit for bit;
- `metarl regress --exact --only ALGO` for the algorithm the fault is in, as `tests/regress.rs`
  runs it (the quick case's seed 0, bit for bit, then its band).
It stops at the first detector that catches a fault unless --all-detectors, prints fault ->
caught by, and a summary line. Run it on a clean tree; it takes about a minute per fault (the
rebuild) plus the detectors it needs.
"""
import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (name, algorithm whose regress case exercises it, file, original text, faulty text)
FAULTS = [
    ("sac-target-v-frozen", "pearl", "src/algos/sac.rs",
     "soft_update(&self.target_vf_params, &self.vf_params, self.settings.soft_target_tau);",
     "soft_update(&self.target_vf_params, &self.vf_params, 0.0);"),
    ("sac-z-detached-in-q", "pearl", "src/algos/sac.rs",
     "let q1_pred = self.qf1.forward(&Tensor::cat(&[&obs, &actions, &task_z], 1));",
     "let q1_pred = self.qf1.forward(&Tensor::cat(&[&obs, &actions, &z_fixed], 1));"),
    ("sac-discount-x0.95", "pearl", "src/algos/sac.rs",
     "(1.0 - terminals) * self.settings.discount * target_v",
     "(1.0 - terminals) * self.settings.discount * 0.95 * target_v"),
    ("sac-q1-instead-of-min", "pearl", "src/algos/sac.rs",
     "let min_q_new = self.qf1.forward(&policy_input).minimum(&self.qf2.forward(&policy_input));",
     "let min_q_new = self.qf1.forward(&policy_input);"),
    ("sac-no-policy-regularisation", "pearl", "src/algos/sac.rs",
     " + mean_square(&mean) * reg + mean_square(&log_std) * reg;",
     ";"),
    ("sac-reward-scale-ignored", "pearl", "src/algos/sac.rs",
     "rewards * self.settings.reward_scale +",
     "rewards +"),
    ("pearl-kl-weight-ignored", "pearl", "src/algos/sac.rs",
     "Some(kl) => &qf_loss + kl * self.kl_lambda,",
     "Some(kl) => &qf_loss + kl,"),
    ("onpolicy-gae-lambda-ignored", "maml-trpo", "src/algos/onpolicy.rs",
     "discount_cumsum(&deltas, discount * lambda)",
     "discount_cumsum(&deltas, discount)"),
    ("maml-advantages-not-standardised", "maml-trpo", "src/protocol/onpolicy/maml.rs",
     "        standardize(&mut advantages);\n",
     ""),
    ("td3-no-policy-delay", "mcat", "src/algos/td3.rs",
     "self.critic_steps % self.settings.policy_delay.max(1) == 0",
     "self.critic_steps % 1 == 0"),
    ("td3-no-target-noise", "mcat", "src/algos/td3.rs",
     "(target_action + (noise * policy_noise).clamp(-noise_clip, noise_clip)).clamp(-1.0, 1.0)",
     "(target_action + (noise * 0.0 * policy_noise).clamp(-noise_clip, noise_clip)).clamp(-1.0, 1.0)"),
    ("behaviour-sac-garage-temperature-loss", "focal", "src/algos/sac_v2.rs",
     "SacV2Convention::PytorchSac => (row_log_alpha.exp() * (-log_pi.detach() - target_entropy)).mean(Kind::Float),",
     "SacV2Convention::PytorchSac => (-&row_log_alpha * (log_pi.detach() + target_entropy)).mean(Kind::Float),"),
    ("behaviour-sac-targets-every-update", "focal", "src/algos/sac_v2.rs",
     "if updates_before % self.settings.target_update_every.max(1) as i64 == 0 {",
     "if updates_before % 1 == 0 {"),
    ("brac-alpha-frozen", "focal", "src/algos/brac.rs",
     "let next = self.alpha.double_value(&[]) + s.alpha_lr * (divergence - s.target_divergence);",
     "let next = self.alpha.double_value(&[]);"),
    ("context-dense-reward-instead-of-sparse", "pearl", "src/protocol/meta_train.rs",
     "let reward = if sparse_rewards { &batch.sparse_rewards } else { &batch.rewards };",
     "let reward = &batch.rewards;"),
    ("window-crop-key-at-the-query-start", "tcl", "src/protocol/buffer.rs",
     "let key_start = (query_start + rng.gen_range(1..bound)) % bound;",
     "let key_start = (query_start + 0 * rng.gen_range(1..bound)) % bound;"),
]


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, **kw)


def equivalence_tests():
    return sorted(p.stem for p in (REPO / "tests").glob("equivalence_*.rs"))


def detectors(algo):
    """(name, command) of each detector, cheapest first."""
    tests = [arg for name in equivalence_tests() for arg in ("--test", name)]
    return [
        ("update equivalence (tests/equivalence_*.rs)", ["cargo", "test", "--release", *tests]),
        ("unit tests (cargo test --lib)", ["cargo", "test", "--release", "--lib"]),
        ("metarl numerics (tests/numerics.rs)", ["target/release/metarl", "numerics"]),
        (f"regress --exact --only {algo} (tests/regress.rs)",
         ["target/release/metarl", "regress", "--exact", "--only", algo, "--jobs", "2", "--out", "/tmp/metarl-faults"]),
    ]


def caught_by(algo, all_detectors):
    caught = []
    for name, command in detectors(algo):
        if run(command).returncode != 0:
            caught.append(name)
            if not all_detectors:
                break
    return caught


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "run"])
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--all-detectors", action="store_true")
    args = parser.parse_args()
    faults = [f for f in FAULTS if not args.only or f[0] in args.only]
    if args.command == "list":
        for name, algo, path, _, _ in faults:
            print(f"{name:<40} {algo:<10} {path}")
        return 0
    caught_count = 0
    for name, algo, path, old, new in faults:
        file = REPO / path
        original = file.read_text()
        if original.count(old) != 1:
            print(f"{name}: the text to break is not in {path} exactly once; update tools/faults.py", file=sys.stderr)
            return 2
        try:
            file.write_text(original.replace(old, new))
            build = run(["cargo", "build", "--release"])
            if build.returncode != 0:
                print(f"{name:<40} does not compile:\n{build.stderr[-2000:]}")
                continue
            caught = caught_by(algo, args.all_detectors)
        finally:
            file.write_text(original)
        caught_count += bool(caught)
        print(f"{name:<40} {'caught by ' + ', '.join(caught) if caught else 'NOT CAUGHT'}", flush=True)
    print(f"{caught_count} of {len(faults)} faults caught")
    run(["cargo", "build", "--release"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
