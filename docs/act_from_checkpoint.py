"""Act with a trained PEARL policy in PyTorch, from a run folder's checkpoint alone.

    python docs/act_from_checkpoint.py RUN_DIR '[[obs...], ...]' '[[z...], ...]'

prints the deterministic actions tanh(mu) as JSON. Only torch is needed (the `safetensors`
package's `load_file` reads the same file, if installed).
"""
import json, struct, sys, torch


def read_safetensors(path, prefix):
    """The float32 tensors whose names start with `prefix`, read without loading the rest."""
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_len))
        tensors = {}
        for name, info in header.items():
            if name.startswith(prefix):
                start, end = info["data_offsets"]
                f.seek(8 + header_len + start)
                data = bytearray(f.read(end - start))
                tensors[name[len(prefix):]] = torch.frombuffer(data, dtype=torch.float32).reshape(info["shape"])
    return tensors


def act(policy, obs, z):
    """rlkit's TanhGaussianPolicy at its mean: ReLU layers fc0, fc1, ... on [obs, z], tanh(last_fc)."""
    h = torch.cat([obs, z], dim=-1)
    layers = sum(1 for name in policy if name.startswith("fc") and name.endswith(".weight"))
    for i in range(layers):
        h = torch.relu(h @ policy[f"fc{i}.weight"].T + policy[f"fc{i}.bias"])
    return torch.tanh(h @ policy["last_fc.weight"].T + policy["last_fc.bias"])


if __name__ == "__main__":
    policy = read_safetensors(f"{sys.argv[1]}/checkpoint/state.safetensors", "net.policy.")
    obs, z = (torch.tensor(json.loads(arg), dtype=torch.float32) for arg in sys.argv[2:4])
    print(json.dumps(act(policy, obs, z).tolist()))
