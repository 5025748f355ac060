"""Check what `sam build` produced before anyone deploys it.

Lambda runs the layer on CPython 3.13 / arm64, while the build runs on whatever
Python the machine has (3.11 here). A wrong pip flag yields a layer that imports
fine locally and fails with ImportError in Lambda, so this checks the artifacts:

- the layer holds our `payments` package and compiled extensions for aarch64
  CPython 3.13 (each .so is read as ELF, not trusted by its name), and nothing
  built for x86_64 or 3.11;
- boto3/botocore are not bundled (the runtime provides them);
- every function in template.yaml has an artifact folder with app.py;
- the docs function carries the OpenAPI document as a real file, equal to docs/openapi.json.

Usage: python scripts/check_build.py [--build-dir DIR] [--template FILE]
Exits 1 with one line per problem; prints a short summary of the layer otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

LAYER_ID = "SharedLayer"
# A compiled dependency we know the layer must carry: pydantic's core.
REQUIRED_EXTENSION = "pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu.so"
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

ELF_MAGIC = b"\x7fELF"
EM_AARCH64 = 183
EM_X86_64 = 62
MACHINE_NAMES = {EM_AARCH64: "aarch64", EM_X86_64: "x86_64", 3: "i386", 40: "arm"}
CPYTHON_TAG = re.compile(r"cpython-(\d+)")


def elf_machine(path: Path) -> int | None:
    """The ELF e_machine of a file, or None if it is not an ELF file."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        return None
    if header[5] == 1:  # EI_DATA: ELFDATA2LSB
        return int.from_bytes(header[18:20], "little")
    return int.from_bytes(header[18:20], "big")


def function_ids(template: Path) -> list[str]:
    """Logical ids of AWS::Serverless::Function resources, read without a YAML parser.

    Relies on the template's layout: resources at two-space indent and `Type:` on
    a line of its own.
    """
    ids: list[str] = []
    current: str | None = None
    in_resources = False
    for line in template.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\S", line):
            in_resources = line.startswith("Resources:")
            current = None
            continue
        if not in_resources:
            continue
        resource = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if resource:
            current = resource.group(1)
            continue
        if current and re.match(r"^    Type:\s*AWS::Serverless::Function\s*$", line):
            ids.append(current)
    return ids


def check_layer(layer: Path, problems: list[str]) -> list[Path]:
    site = layer / "python"
    if not site.is_dir():
        problems.append(f"{site} is missing: the layer must put its packages under python/")
        return []
    if not (site / "payments" / "__init__.py").is_file():
        problems.append(f"{site / 'payments'} is missing or has no __init__.py")
    pycaches = [p for p in site.rglob("__pycache__") if p.is_dir()]
    if pycaches:
        problems.append(f"__pycache__ folders were bundled, e.g. {pycaches[0].relative_to(site)}")

    for name in RUNTIME_PROVIDED:
        bundled = [p.name for p in site.glob(f"{name}") if p.is_dir()]
        bundled += [p.name for p in site.glob(f"{name}-*.dist-info")]
        if bundled:
            problems.append(
                f"{name} is bundled ({', '.join(bundled)}); the Lambda runtime provides it"
            )

    extensions: list[Path] = []
    for path in sorted(site.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(site)
        tags = CPYTHON_TAG.findall(path.name)
        if any(tag != "313" for tag in tags):
            problems.append(f"{relative} is for CPython {', '.join(tags)}, not 3.13")
        if "x86_64" in path.name or "amd64" in path.name:
            problems.append(f"{relative} is named for x86_64")
        machine = elf_machine(path)
        if machine is None:
            if path.suffix == ".so" or ".so." in path.name:
                problems.append(f"{relative} is named like a shared object but is not ELF")
            continue
        extensions.append(path)
        if machine != EM_AARCH64:
            arch = MACHINE_NAMES.get(machine, f"e_machine {machine}")
            problems.append(f"{relative} is compiled for {arch}, not aarch64")

    if not (site / REQUIRED_EXTENSION).is_file():
        problems.append(
            f"{REQUIRED_EXTENSION} is missing: pip did not install the aarch64 CPython 3.13 wheel"
        )
    return extensions


def check_functions(build_dir: Path, template: Path, problems: list[str]) -> list[str]:
    ids = function_ids(template)
    if not ids:
        problems.append(f"no AWS::Serverless::Function found in {template}")
    for logical_id in ids:
        app = build_dir / logical_id / "app.py"
        if not app.is_file():
            problems.append(f"{app} is missing")
    return ids


DOCS_ID = "DocsFunction"
DOCS_FILES = ("openapi.json", "init.js")


def check_docs(build_dir: Path, template: Path, problems: list[str]) -> None:
    """The docs function serves docs/openapi.json, packaged through a link: the package must hold
    the file itself (a dangling link would answer 500 in AWS)."""
    folder = build_dir / DOCS_ID
    for name in DOCS_FILES:
        path = folder / name
        if path.is_symlink() or not path.is_file():
            problems.append(f"{path} is missing or a link, not a file")
    document = folder / "openapi.json"
    source = template.parent / "docs" / "openapi.json"
    packaged = document.is_file() and not document.is_symlink()
    if packaged and document.read_bytes() != source.read_bytes():
        problems.append(f"{document} differs from {source}")


DASHBOARD_ID = "DashboardFunction"


def check_dashboard(build_dir: Path, template: Path, problems: list[str]) -> None:
    """The dashboard function serves its page's files and the chart library from static/: each
    one it allow-lists must be in the package (the library comes from npm ci at build time)."""
    folder = build_dir / DASHBOARD_ID / "static"
    source = template.parent / "functions" / "dashboard" / "static"
    names = [p.name for p in source.iterdir() if p.is_file()] + ["chart.umd.js"]
    for name in names:
        path = folder / name
        if path.is_symlink() or not path.is_file():
            problems.append(f"{path} is missing or a link, not a file")
    library = folder / "chart.umd.js"
    if library.is_file() and b"Chart.js v4." not in library.read_bytes()[:200]:
        problems.append(f"{library} is not Chart.js 4's UMD build")


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    args = parser.parse_args(argv)

    build_dir: Path = args.build_dir
    if not build_dir.is_dir():
        print(
            f"check_build: {build_dir} does not exist; run `sam build` first",
            file=sys.stderr,
        )
        return 1

    problems: list[str] = []
    layer = build_dir / LAYER_ID
    extensions = check_layer(layer, problems)
    functions = check_functions(build_dir, args.template, problems)
    check_docs(build_dir, args.template, problems)
    check_dashboard(build_dir, args.template, problems)

    if problems:
        print(f"check_build: {len(problems)} problem(s) in {build_dir}:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1

    site = layer / "python"
    size = size_of(layer)
    print(f"check_build: OK ({build_dir})")
    print(
        f"  layer {LAYER_ID}: {size / 2**20:.1f} MiB unzipped, {len(extensions)} compiled file(s):"
    )
    for path in extensions:
        print(f"    {path.relative_to(site)}")
    print(f"  functions with app.py: {', '.join(functions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
