"""What comes back from the GPU machine (benchmarks/gpu_zoo.py), and how it goes into resultados/.

The device tool brings back at most 8 files of 16 MiB, 64 MiB in all, from $OUT. So the run folders travel as one
tar split into parts (zoo.tar.00, .01, …): every run's folder without checkpoint/, tensorboard/ and generators, in
order of value, then generator.keras where it is under 20 MiB (larger ones stay out of git anyway) while room is
left. generator.h5, the same weights in the original project's format, is rebuilt here on import.
"""
from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path

PART_BYTES, RETURN_FILES = 16 * 2**20 - 2**16, 8
RETURN_BYTES = 64 * 2**20 - 2**20  # 1 MiB of the 64 for zoo.json, zoo.md and zoo.log
GENERATOR_MIB = 20  # larger generators are not sent back (nor committed: .gitignore)
SKIPPED_PARTS = ("checkpoint", "tensorboard")


class UsageError(Exception):
    """Input the user can fix: one line on stderr, exit code 2."""


def _tar_bytes(path: Path) -> int:
    return 1536 + -(-path.stat().st_size // 512) * 512  # header (+ a long-name header) and padded data


def plan_pack(order: list[str], runs: Path, capacity: int) -> tuple[list[tuple[Path, str]], dict]:
    """(files and their names in the tar, {run: what came back}): every run's folder without checkpoints,
    generators and TensorBoard logs, in order of value; then generator.keras where under 20 MiB, while room is left."""
    files, notes, total = [], {}, 10240 + 1024  # the tar's end blocks and record padding
    for run in order:
        folder = runs / run
        found = [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(("generator.", "."))
                 and p.relative_to(folder).parts[0] not in SKIPPED_PARTS]
        size = sum(_tar_bytes(p) for p in found)
        if found and total + size <= capacity:
            files += [(p, f"{run}/{p.relative_to(folder).as_posix()}") for p in found]
            total += size
            notes[run] = {"folder": True, "generator": "none"}
        elif found:
            notes[run] = {"folder": False, "generator": "none"}
    for run in [r for r in order if notes.get(r, {}).get("folder")]:
        generator = runs / run / "generator.keras"
        if not generator.is_file():
            continue
        mib = generator.stat().st_size / 2**20
        if mib > GENERATOR_MIB:
            notes[run]["generator"] = f"left behind ({mib:.0f} MiB, over {GENERATOR_MIB})"
        elif total + _tar_bytes(generator) > capacity:
            notes[run]["generator"] = f"left behind ({mib:.0f} MiB, no room left)"
        else:
            files.append((generator, f"{run}/generator.keras"))
            total += _tar_bytes(generator)
            notes[run]["generator"] = f"back ({mib:.1f} MiB)"
    return files, notes


def write_parts(files: list[tuple[Path, str]], out: Path, work: Path) -> list[str]:
    """One tar of the files, split into out/zoo.tar.00, .01, … of at most PART_BYTES each."""
    archive = work / "zoo.tar"
    with tarfile.open(archive, "w", format=tarfile.GNU_FORMAT) as tar:
        for path, name in files:
            tar.add(path, arcname=name)
    names = []
    with open(archive, "rb") as source:
        while chunk := source.read(PART_BYTES):
            names.append(f"zoo.tar.{len(names):02d}")
            (out / names[-1]).write_bytes(chunk)
    return names


def import_results(folder: Path, results: Path, replace: bool, known_runs, protected: Path) -> None:
    """Copy the run folders of zoo.tar.NN in `folder` into `results`, rebuild generator.h5, rewrite the index.

    Runs already in `results` are refused, or with `replace` moved to a new temporary folder (named) first.
    A dry run's folders never go into `protected` (the repository's resultados/)."""
    parts = sorted(folder.glob("zoo.tar.[0-9][0-9]"))
    if not parts:
        raise UsageError(f"no zoo.tar.NN in {folder}: give the folder the device tool returned (files_at)")
    facts = json.loads((folder / "zoo.json").read_text()) if (folder / "zoo.json").is_file() else {}
    if facts.get("dry_run") and results.resolve() == protected.resolve():
        raise UsageError(f"{folder} holds a dry run (tiny models): it does not go into {results}")
    with tempfile.TemporaryDirectory(prefix="gpu_zoo_import_") as staging:
        archive = Path(staging) / "zoo.tar"
        with open(archive, "wb") as whole:
            for part in parts:
                whole.write(part.read_bytes())
        with tarfile.open(archive) as tar:
            runs = sorted({"/".join(Path(name).parts[:2]) for name in tar.getnames()})
            if not set(runs) <= set(known_runs):
                raise UsageError(f"{folder} holds folders that are not zoo runs: "
                                 f"{', '.join(sorted(set(runs) - set(known_runs)))}")
            taken = [run for run in runs if (results / run).exists()]
            if taken and not replace:
                raise UsageError(f"{', '.join(taken)} already in {results}; pass --replace to move them aside")
            tar.extractall(Path(staging) / "runs", filter="data")
        backup = Path(tempfile.mkdtemp(prefix="gpu_zoo_replaced_")) if taken else None
        for run in runs:
            if run in taken:
                (backup / run).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(results / run, backup / run)
            (results / run).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(Path(staging) / "runs" / run, results / run)
            print(f"imported {results / run}")
    if backup:
        print(f"the folders they replace are in {backup}")
    _rebuild_h5([results / run for run in runs])
    from cgan.results_index import write_index

    print(f"wrote {write_index(results)}")
    for run in runs:
        if (results / run / "generator.keras").is_file():
            print(f"  cgan evaluate --run {results / run}   # scores against the full test set, here")


def _rebuild_h5(folders: list[Path]) -> None:
    """generator.h5 (the original project's format) from generator.keras: it was not sent back twice."""
    todo = [f for f in folders if (f / "generator.keras").is_file() and not (f / "generator.h5").is_file()]
    if not todo:
        return
    from cgan.runtime import ensure_backend

    ensure_backend()
    from cgan.generate import load_generator
    from cgan.runs import atomic_write

    for folder in todo:
        atomic_write(folder / "generator.h5", load_generator(folder / "generator.keras").save)
