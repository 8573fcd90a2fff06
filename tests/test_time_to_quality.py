"""benchmarks.time_to_quality: epochs and seconds to reach validation levels, per run and group."""

import json

from benchmarks.time_to_quality import main, reached


def _run(folder, values, seconds_per_epoch):
    folder.mkdir(parents=True)
    history = [
        {"epoch": i, "val/jaccard": v, "time_s": (i + 1) * seconds_per_epoch}
        for i, v in enumerate(values)
    ]
    (folder / "metrics.json").write_text(json.dumps({"status": "completed", "history": history}))


def test_reached_is_the_first_epoch_at_the_level():
    history = [{"epoch": 0, "m": 0.1}, {"epoch": 1, "m": None}, {"epoch": 2, "m": 0.9}]
    assert reached(history, "m", 0.5)["epoch"] == 2
    assert reached(history, "m", 0.95) is None


def test_groups_of_runs_give_epochs_and_seconds_to_each_level(tmp_path, capsys):
    # A dead start (zeros for 3 epochs) against a run that learns from the first epoch.
    _run(tmp_path / "before" / "fold0", [0.0, 0.0, 0.0, 0.6, 0.82, 0.86], 10.0)
    _run(tmp_path / "before" / "fold1", [0.0, 0.0, 0.5, 0.7, 0.79, 0.84], 10.0)
    _run(tmp_path / "after" / "fold0", [0.5, 0.81, 0.86, 0.87, 0.88, 0.88], 12.0)
    code = main(
        [
            "--runs", str(tmp_path / "before"), "--label", "before",
            "--runs", str(tmp_path / "after"), "--label", "after",
            "--levels", "0.8", "0.85", "--out", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    assert code == 0
    text = (tmp_path / "out" / "time_to_quality.md").read_text()
    rows = {tuple(c.strip() for c in line.split("|")[1:3]): line for line in text.splitlines()}
    assert "| 5 | 50.0 | 6 | 60.0 |" in rows[("before", "fold0")]
    assert "| 6 | 60.0 | not reached | not reached |" in rows[("before", "fold1")]
    assert "| 2 | 24.0 | 3 | 36.0 |" in rows[("after", "fold0")]
    assert "5.5 (2/2 reached) | 55.0 | 6.0 (1/2 reached) | 60.0" in text
    assert (tmp_path / "out" / "time_to_quality.png").stat().st_size > 1000
    assert "seconds to 0.85" in capsys.readouterr().out
