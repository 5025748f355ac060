"""One cold-start sample, run as a script in a fresh interpreter (bench/cold.py starts it).

    python bench/_probe.py floor    OUT_FILE WORK_DIR LAYER_DIR
    python bench/_probe.py function OUT_FILE FUNCTION_DIR LAYER_DIR
    python bench/_probe.py compile  OUT_FILE WORK_DIR LAYER_DIR FUNCTION_DIR...
    python bench/_probe.py libraries OUT_FILE WORK_DIR LAYER_DIR MODULE[,MODULE...]

Lambda puts the function's code first on sys.path (and runs in it), the layer next; the floor
gets the same path shape with an empty folder in place of the function's. Timed: ``import app``
(function only) plus ``import boto3; boto3.client("dynamodb")``. Nothing but the standard
library's time, json, os and sys is imported before the clock starts. The elapsed seconds go to
OUT_FILE; under ``-X importtime`` a marker line on stderr shows where the timed part begins.

``libraries`` times importing the given modules (the libraries, third-party and standard, that
one function's own modules import directly; bench/cold.py finds them) instead of ``import app``:
that function's floor of unavoidable imports, without any module of ours.

``compile`` is the untimed warm-up: it imports every function's app.py (each under a name of its
own) and makes the client once, so that the bytecode cache (PYTHONPYCACHEPREFIX) holds every
module the samples import and no sample pays for compiling.
"""

import json
import os
import sys
import time

MARKER = "bench-probe: timed part begins"


def main() -> None:
    mode, out_file, work_dir, layer_dir = sys.argv[1:5]
    sys.path[0] = work_dir  # instead of this script's folder
    sys.path.insert(1, layer_dir)
    os.chdir(work_dir)
    sys.stderr.write(MARKER + "\n")
    sys.stderr.flush()
    started = time.perf_counter()
    if mode == "function":
        __import__("app")
    elif mode == "libraries":
        import importlib

        for name in sys.argv[5].split(","):
            if name:
                importlib.import_module(name)
    elif mode == "compile":
        import importlib.util

        for number, directory in enumerate(sys.argv[5:]):
            path = os.path.join(directory, "app.py")
            spec = importlib.util.spec_from_file_location(f"_bench_app_{number}", path)
            if spec is None or spec.loader is None:
                raise SystemExit(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
    elif mode != "floor":
        raise SystemExit(f"unknown mode {mode!r}")
    import boto3

    boto3.client("dynamodb")
    elapsed = time.perf_counter() - started
    with open(out_file, "w", encoding="utf-8") as handle:
        json.dump({"seconds": elapsed}, handle)


if __name__ == "__main__":
    main()
