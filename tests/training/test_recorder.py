"""What a run's summary keeps of the processes that trained it."""
from cgan.training.recorder import SESSION_FACTS, earlier_sessions, run_started_utc

XEON = {"processor": "Intel Xeon", "vector_extension": "AVX-512", "cpu_count": 2, "backend": "tensorflow",
        "accelerator": "none (CPU only)", "keras": "3.15.1"}


def test_a_new_run_has_no_earlier_session():
    assert earlier_sessions({}) == []
    assert earlier_sessions({"epochs_done": 0, "wall_seconds": 3.0, "environment": XEON}) == []


def test_sessions_carry_over_as_they_are():
    recorded = [{"first_epoch": 1, "last_epoch": 4, "wall_seconds": 60.0, **{k: XEON[k] for k in SESSION_FACTS}}]
    assert earlier_sessions({"epochs_done": 4, "sessions": recorded, "environment": {}}) == recorded


def test_a_summary_from_before_sessions_becomes_one_session_with_its_last_hardware():
    (session,) = earlier_sessions({"epochs_done": 120, "wall_seconds": 8492.3, "started_utc": "2026-12-03T06:20:00",
                                   "environment": XEON})
    assert (session["first_epoch"], session["last_epoch"], session["wall_seconds"]) == (1, 120, 8492.3)
    assert session["processor"] == "Intel Xeon" and session["backend"] == "tensorflow"
    assert "keras" not in session and "last process" in session["note"]


def test_a_run_began_when_its_first_process_did():
    sessions = [{"started_utc": "2026-12-03T13:39:50+00:00"}, {"started_utc": "2026-12-03T14:11:41+00:00"}]
    previous = {"epochs_done": 7, "started_utc": "2026-12-03T13:58:52+00:00", "sessions": sessions}
    assert run_started_utc(previous, earlier_sessions(previous)) == "2026-12-03T13:39:50+00:00"
    assert run_started_utc({"started_utc": "2026-12-01T10:00:00"}, []) == "2026-12-01T10:00:00"
    assert run_started_utc({}, []) is None


def test_the_original_format_is_saved_without_keras_advising_against_it(tmp_path, caplog):
    import keras

    from cgan.training.recorder import save_original_format

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with caplog.at_level("WARNING"):
        save_original_format(model, tmp_path / "generator.h5")
    assert "considered legacy" not in caplog.text
    assert keras.models.load_model(tmp_path / "generator.h5").count_params() == model.count_params()
    with caplog.at_level("WARNING"):  # the filter is gone afterwards: the advice is Keras's to give elsewhere
        model.save(tmp_path / "plain.h5")
    assert "considered legacy" in caplog.text
