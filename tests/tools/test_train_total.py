"""tools/train_total.py: a budget across interruptions counts the time behind the checkpoint."""
import json

from tools.train_total import spent_seconds


def test_spent_is_the_time_behind_the_checkpoint_not_a_discarded_epoch(tmp_path):
    assert spent_seconds(tmp_path / "not-started") == 0.0
    (tmp_path / "summary.json").write_text(json.dumps({"wall_seconds": 900.0, "checkpoint_wall_seconds": 600.0}))
    assert spent_seconds(tmp_path) == 600.0
    (tmp_path / "summary.json").write_text(json.dumps({"wall_seconds": 900.0}))  # written before the field existed
    assert spent_seconds(tmp_path) == 900.0
