import os
import stat

import pytest

from cgan.io import atomic_write, existing_ancestor, file_sha256, write_json


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "summary.json"
    write_json(target, {"epochs_done": 1})

    def fails(tmp):
        open(tmp, "w").write('{"epochs_do')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, fails)
    assert target.read_text() == '{\n  "epochs_done": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left behind


def test_a_replaced_file_keeps_its_mode_and_a_new_one_gets_the_umasks(tmp_path):
    old = tmp_path / "old.txt"
    old.write_text("old")
    os.chmod(old, 0o600)
    atomic_write(old, lambda tmp: open(tmp, "w").write("new"))
    assert old.read_text() == "new" and stat.S_IMODE(old.stat().st_mode) == 0o600
    umask = os.umask(0)
    os.umask(umask)
    new = tmp_path / "new.txt"
    atomic_write(new, lambda tmp: open(tmp, "w").write("new"))
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask


def test_existing_ancestor_is_the_nearest_folder_that_exists(tmp_path):
    assert existing_ancestor(tmp_path / "a" / "b" / "c") == tmp_path
    assert existing_ancestor(tmp_path) == tmp_path


def test_file_sha256_reads_in_blocks_and_matches_hashlib(tmp_path):
    import hashlib

    data = os.urandom(3 * 2**20 + 5)  # more than two blocks
    (tmp_path / "blob").write_bytes(data)
    assert file_sha256(tmp_path / "blob") == hashlib.sha256(data).hexdigest()
