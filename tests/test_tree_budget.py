"""What git carries leaves room for the GPU scripts' data: the device tool carries the tree and the bundle in 64 MiB."""
import subprocess

import pytest

from benchmarks.gpu_bundle import REPO, TREE_BUDGET


def test_the_committed_tree_leaves_the_gpu_bundle_its_room():
    listed = subprocess.run(["git", "ls-files", "-z", "--cached"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode:
        pytest.skip("not a git checkout")
    sizes = {name: (REPO / name).stat().st_size for name in listed.stdout.split("\0")
             if name and (REPO / name).is_file()}
    largest = sorted(sizes, key=sizes.get, reverse=True)[:5]
    assert sum(sizes.values()) <= TREE_BUDGET, (
        f"git carries {sum(sizes.values()) / 2**20:.1f} MiB, over {TREE_BUDGET / 2**20:.0f} MiB; largest: "
        + ", ".join(f"{name} ({sizes[name] / 2**20:.1f} MiB)" for name in largest))
