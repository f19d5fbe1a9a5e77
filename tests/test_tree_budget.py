"""What git carries leaves room for the GPU scripts' data: the device tool carries the tree and the bundle in 64 MiB."""
import subprocess

import pytest

from benchmarks.gpu_bundle import TREE_BUDGET, tree_file_sizes


def test_the_committed_tree_leaves_the_gpu_bundle_its_room():
    try:
        sizes = tree_file_sizes(untracked=False)  # as committed: a session's untracked files are its own concern
    except subprocess.CalledProcessError:
        pytest.skip("not a git checkout")
    largest = sorted(sizes, key=sizes.get, reverse=True)[:5]
    assert sum(sizes.values()) <= TREE_BUDGET, (
        f"git carries {sum(sizes.values()) / 2**20:.1f} MiB, over {TREE_BUDGET / 2**20:.0f} MiB; largest: "
        + ", ".join(f"{name} ({sizes[name] / 2**20:.1f} MiB)" for name in largest))
