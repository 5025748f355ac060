"""Package sizes: the shared layer and each function, zipped and unzipped, as `sam build`
packages them.

From `.aws-sam/build` when `make build` has made it; otherwise the same build targets `sam build`
runs (layers/shared/Makefile's build-SharedLayer, each function's own Makefile) are run here into
a scratch folder, pip installing the layer's requirements for Lambda's platform from whatever
index pip is configured with (no network needed with a local one). Zips are made the way SAM
uploads them (deflate, every file), with fixed timestamps so the size depends on content only.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from bench.common import FUNCTIONS_DIR, LAYER_DIR, PYTHON, ROOT, BenchError, bench_functions

SAM_BUILD_DIR = ROOT / ".aws-sam" / "build"
LAYER_ID = "SharedLayer"
# Lambda's quotas: function and all its layers unzipped; a zip uploaded directly.
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
LAMBDA_ZIPPED_UPLOAD_LIMIT = 50 * 1024 * 1024
BUILD_TIMEOUT = 600


def measure(folder: Path) -> dict[str, int]:
    """Files, unzipped bytes and zipped bytes of everything under ``folder``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    if not files:
        raise BenchError(f"{folder} holds no files")
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory(prefix="bench-zip-") as scratch:
        archive = Path(scratch) / "package.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for path in files:
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
                bundle.writestr(info, path.read_bytes())
        zipped = archive.stat().st_size
    return {"files": len(files), "unzipped_bytes": unzipped, "zipped_bytes": zipped}


def largest_parts(site: Path, top: int = 8) -> list[dict[str, Any]]:
    """The biggest top-level entries of a layer's python/ folder (packages, modules)."""
    parts: list[tuple[int, str]] = []
    for entry in site.iterdir():
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        parts.append((sum(p.stat().st_size for p in files), entry.name))
    parts.sort(key=lambda part: (-part[0], part[1]))
    return [{"name": name, "unzipped_bytes": size} for size, name in parts[:top]]


def _make(directory: Path, target: str, artifacts: Path, **variables: str) -> None:
    """``make -C directory target ARTIFACTS_DIR=artifacts`` as `sam build` runs it: not a
    sub-make of ours (`make bench`), so none of our make's flags or jobserver."""
    environment = {
        k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }
    artifacts.mkdir(parents=True, exist_ok=True)
    assignments = [f"{name}={value}" for name, value in variables.items()]
    command = ["make", "--no-print-directory", "-C", str(directory), target]
    command += [f"ARTIFACTS_DIR={artifacts}", *assignments]
    completed = subprocess.run(  # noqa: S603 - make, with our own targets
        command,
        env=environment,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(
            f"make {target} in {directory} failed ({completed.returncode}):\n"
            f"{(completed.stdout + completed.stderr)[-3000:]}"
        )


def _functions_total(layer: dict[str, Any], functions: dict[str, Any]) -> None:
    for entry in functions.values():
        total = entry["unzipped_bytes"] + layer["unzipped_bytes"]
        entry["with_layer_unzipped_bytes"] = total
        entry["share_of_unzipped_limit"] = round(total / LAMBDA_UNZIPPED_LIMIT, 3)


def run_sizes() -> dict[str, Any]:
    functions = bench_functions()
    from_sam = (SAM_BUILD_DIR / LAYER_ID / "python").is_dir() and all(
        f.logical_id and (SAM_BUILD_DIR / f.logical_id / "app.py").is_file() for f in functions
    )
    with tempfile.TemporaryDirectory(prefix="bench-sizes-") as scratch:
        if from_sam:
            layer_dir = SAM_BUILD_DIR / LAYER_ID
            function_dirs = {f.name: SAM_BUILD_DIR / str(f.logical_id) for f in functions}
        else:
            # The targets only read the source tree; what they build lands in the scratch folder.
            layer_dir = Path(scratch) / LAYER_ID
            _make(LAYER_DIR, f"build-{LAYER_ID}", layer_dir, PIP=f"{PYTHON} -m pip")
            function_dirs = {}
            for function in functions:
                target = function.logical_id or function.name
                function_dirs[function.name] = Path(scratch) / target
                _make(
                    FUNCTIONS_DIR / function.name, f"build-{target}", function_dirs[function.name]
                )
        layer: dict[str, Any] = {**measure(layer_dir)}
        layer["largest"] = largest_parts(layer_dir / "python")
        sizes = {name: measure(folder) for name, folder in sorted(function_dirs.items())}
    _functions_total(layer, sizes)
    return {
        "source": ".aws-sam/build (make build)" if from_sam else "the sam build targets, run here",
        "lambda_unzipped_limit_bytes": LAMBDA_UNZIPPED_LIMIT,
        "lambda_zipped_upload_limit_bytes": LAMBDA_ZIPPED_UPLOAD_LIMIT,
        "layer": layer,
        "functions": sizes,
    }
