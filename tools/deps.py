#!/usr/bin/env python3
"""The dependency cache: MuJoCo, libtorch, libclang, the Meta-World and Gymnasium assets and the
Python references, all from PyPI wheels pinned by sha256 in deps/requirements.lock.

    python3 tools/deps.py install [--system-packages]
                                         fill the cache (idempotent, safe to interrupt and rerun);
                                         with --system-packages (what `make deps` passes) or under
                                         CI=true, also apt-get install the Debian packages below
                                         that are missing (root only), saying which first
    python3 tools/deps.py check [--deep] verify it; exit 1 with the command that fixes it
    python3 tools/deps.py dir            print the versioned cache directory

Layout: $METARL_DEPS (default ~/.cache/metarl)/<key>/ where <key> hashes the lock file, so a new
pin gets a new directory and an old clone keeps its own. Inside: venv/, stable links (mujoco,
torch, libclang, metaworld_assets, gymnasium_assets), MANIFEST.json (size and sha256 of every
file the build and the envs read) and READY, written last: a directory without READY is an
interrupted install and is rebuilt. The clone gets `.deps` -> that directory, and `metaworld_xml/`
is filled from it and checked against metaworld_xml/MANIFEST.sha256.
"""
import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK_FILE = REPO / "deps" / "requirements.lock"
LAYOUT_VERSION = "1"
FIX = "make deps"
# Files above this size are checked by size only, unless --deep (libtorch_cuda alone is ~1 GB).
QUICK_HASH_LIMIT = 64 << 20

# Stable names inside the cache -> paths inside the venv's site-packages.
LINKS = {
    "mujoco": "mujoco",
    "torch": "torch",
    "libclang": "clang/native",
    "metaworld_assets": "metaworld/assets",
    "gymnasium_assets": "gymnasium/envs/mujoco/assets",
}
# What MANIFEST.json covers, as (link, glob) pairs.
MANIFEST_GLOBS = [
    ("mujoco", "libmujoco.so.*"),
    ("mujoco", "include/mujoco/*.h"),
    ("torch", "lib/*.so*"),
    ("torch", "version.py"),
    ("libclang", "libclang.so"),
    ("metaworld_assets", "**/*"),
    ("gymnasium_assets", "*.xml"),
]


class CacheError(Exception):
    """A problem with the cache; the message names the fix."""


def cache_root() -> Path:
    return Path(os.environ.get("METARL_DEPS", Path.home() / ".cache" / "metarl")).expanduser()


def cache_key() -> str:
    digest = hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()[:12]
    return f"v{LAYOUT_VERSION}-{digest}"


def cache_dir() -> Path:
    return cache_root() / cache_key()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def site_packages(target: Path) -> Path:
    found = sorted((target / "venv" / "lib").glob("python3*/site-packages"))
    if not found:
        raise CacheError(f"{target}/venv has no site-packages: run `{FIX}`")
    return found[0]


def log(msg: str) -> None:
    print(f"[deps] {msg}", flush=True)


def write_manifest(target: Path) -> None:
    entries = {}
    for link, pattern in MANIFEST_GLOBS:
        files = [p for p in sorted((target / link).glob(pattern)) if p.is_file()]
        if not files:
            raise CacheError(f"the install has no {link}/{pattern}: the lock file is incomplete")
        for path in files:
            rel = str(path.relative_to(target))
            entries[rel] = {"size": path.stat().st_size, "sha256": sha256(path)}
    (target / "MANIFEST.json").write_text(json.dumps(entries, indent=1, sort_keys=True))


def verify_cache(target: Path, deep: bool) -> list:
    """Problems with the cache at `target`, each a sentence; empty when it is sound."""
    if not target.is_dir():
        return [f"the dependency cache {target} does not exist"]
    if not (target / "READY").is_file():
        return [f"the dependency cache {target} is incomplete (an install was interrupted)"]
    try:
        manifest = json.loads((target / "MANIFEST.json").read_text())
    except (OSError, ValueError) as e:
        return [f"{target}/MANIFEST.json is unreadable ({e})"]
    problems = []
    for rel, want in manifest.items():
        path = target / rel
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif path.stat().st_size != want["size"]:
            problems.append(f"{path} has the wrong size (corrupted)")
        elif (deep or want["size"] <= QUICK_HASH_LIMIT) and sha256(path) != want["sha256"]:
            problems.append(f"{path} fails its sha256 check (corrupted)")
    return problems


def read_asset_manifest() -> dict:
    manifest = {}
    for line in (REPO / "metaworld_xml" / "MANIFEST.sha256").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, rel = line.split(maxsplit=1)
            manifest[rel] = digest
    return manifest


def fill_metaworld_xml(target: Path) -> None:
    """Copy the Meta-World assets named in the committed manifest into metaworld_xml/."""
    source = target / "metaworld_assets"
    copied = 0
    for rel, digest in read_asset_manifest().items():
        src, dst = source / rel, REPO / "metaworld_xml" / rel
        if dst.is_file() and sha256(dst) == digest:
            continue
        if not src.is_file() or sha256(src) != digest:
            raise CacheError(f"Meta-World asset {rel} in {source} does not match "
                             f"metaworld_xml/MANIFEST.sha256: run `{FIX}`")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copied += 1
    log(f"metaworld_xml/: {copied} files copied, manifest verified")


def unversioned_mujoco(target: Path) -> None:
    """`mujoco-unversioned/libmujoco.so` -> the cache's libmujoco.so.3.3.7: the folder mujoco-rs
    (the viewer) links from (.cargo/config.toml's MUJOCO_DYNAMIC_LINK_DIR)."""
    folder = target / "mujoco-unversioned"
    folder.mkdir(exist_ok=True)
    link = folder / "libmujoco.so"
    library = next((target / "mujoco").glob("libmujoco.so.*")).resolve()
    if not (link.is_symlink() and link.resolve() == library):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(library)


def link_clone(target: Path) -> None:
    tmp = REPO / ".deps.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, REPO / ".deps")


def build_cache(target: Path) -> None:
    if target.exists():
        log(f"removing the incomplete or corrupted cache {target}")
        shutil.rmtree(target)
    target.mkdir(parents=True)
    log(f"creating the reference venv in {target}/venv")
    venv.EnvBuilder(with_pip=True, symlinks=True).create(target / "venv")
    python = target / "venv" / "bin" / "python"
    log("installing the hash-locked wheels (torch alone is ~530 MB; a cold cache downloads ~3 GB)")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--require-hashes", "-r", str(LOCK_FILE)], check=True)
    packages = site_packages(target)
    for name, rel in LINKS.items():
        if not (packages / rel).exists():
            raise CacheError(f"{packages / rel} is missing after the install")
        (target / name).symlink_to(packages / rel)
    log("hashing the installed files into MANIFEST.json")
    write_manifest(target)
    (target / "READY").write_text(cache_key() + "\n")


# Debian packages, each checked by a library it provides or a program it installs; apt-get
# installed when asked to (`make deps`, or CI) and root. Rendering needs OSMesa; `metarl view`
# needs X11 and EGL/GLX (loaded at run time); its test runs it under Xvfb, screenshots it with xwd
# and presses its keys with xdotool.
SYSTEM_PACKAGES = {
    "libosmesa6": ("library", "libOSMesa.so.8", "headless rendering"),
    "libegl-mesa0": ("library", "libEGL_mesa.so.0", "the viewer's OpenGL"),
    "libglx-mesa0": ("library", "libGLX_mesa.so.0", "the viewer's OpenGL"),
    "libxkbcommon-x11-0": ("library", "libxkbcommon-x11.so.0", "the viewer's window"),
    "libxcursor1": ("library", "libXcursor.so.1", "the viewer's window"),
    "libxrandr2": ("library", "libXrandr.so.2", "the viewer's window"),
    "libxi6": ("library", "libXi.so.6", "the viewer's window"),
    "xvfb": ("program", "Xvfb", "the viewer's test"),
    "x11-apps": ("program", "xwd", "the viewer's test"),
    "xdotool": ("program", "xdotool", "the viewer's test"),
}


def present(kind: str, name: str) -> bool:
    import ctypes
    if kind == "program":
        return shutil.which(name) is not None
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


def system_packages(install_them: bool) -> None:
    missing = [package for package, (kind, name, _) in SYSTEM_PACKAGES.items() if not present(kind, name)]
    if not missing:
        return
    needs = ", ".join(sorted({SYSTEM_PACKAGES[p][2] for p in missing}))
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if not install_them:
        log(f"missing {', '.join(missing)} ({needs}): `make deps` installs them as root ({' '.join(command)})")
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log(f"missing {', '.join(missing)} ({needs}): run `{' '.join(command)}` as root")
        return
    log(f"installing the Debian package(s) {', '.join(missing)} ({needs}): {' '.join(command)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)


def install(system: bool) -> None:
    system_packages(system or os.environ.get("CI") == "true")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = cache_dir()
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two installs at once wait for each other
        problems = verify_cache(target, deep=False)
        if problems:
            for p in problems:
                log(p)
            build_cache(target)
        else:
            log(f"cache {target} is complete")
        unversioned_mujoco(target)
    link_clone(target)
    fill_metaworld_xml(target)


def check(deep: bool) -> int:
    target = cache_dir()
    problems = verify_cache(target, deep)
    if not problems:
        link = REPO / ".deps"
        if not link.is_symlink() or link.resolve() != target.resolve():
            problems.append(f"{link} does not point at {target}")
        for rel, digest in read_asset_manifest().items():
            path = REPO / "metaworld_xml" / rel
            if not path.is_file() or sha256(path) != digest:
                problems.append(f"metaworld_xml/{rel} is missing or differs from its manifest")
                break
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        print(f"fix: run `{FIX}` (it rebuilds what is missing or corrupted)", file=sys.stderr)
        return 1
    print(f"ok: {target}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    install_parser = sub.add_parser("install", help="fill the cache, link .deps, fill metaworld_xml/")
    install_parser.add_argument("--system-packages", action="store_true",
                                help="also apt-get install missing Debian packages (root): " + ", ".join(SYSTEM_PACKAGES))
    check_parser = sub.add_parser("check", help="verify the cache and the clone's links")
    check_parser.add_argument("--deep", action="store_true", help="sha256 every file, however large")
    sub.add_parser("dir", help="print the versioned cache directory")
    args = parser.parse_args()
    try:
        if args.command == "install":
            install(args.system_packages)
            return 0
        if args.command == "check":
            return check(args.deep)
        print(cache_dir())
        return 0
    except (CacheError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
