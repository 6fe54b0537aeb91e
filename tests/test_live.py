"""Live views read cheaply: LTTB keeps a chart's shape in a bounded number of points, and a follower
reads only the metric rows written since its last read (none when nothing changed)."""

from __future__ import annotations

import math

import pytest

from genlab.store.live import MetricsFollower, lttb


def test_lttb_bounds_the_points_and_keeps_endpoints_and_extrema():
    xs = list(range(100_000))
    ys = [math.sin(x / 500) for x in xs]
    ys[31_337], ys[77_777] = 25.0, -40.0  # a spike and a dip
    sx, sy = lttb(xs, ys, 1000)
    assert len(sx) == len(sy) == 1000
    assert (sx[0], sy[0]) == (0, ys[0]) and (sx[-1], sy[-1]) == (99_999, ys[-1])
    assert max(sy) == 25.0 and min(sy) == -40.0
    assert sx == sorted(sx) and len(set(sx)) == len(sx)


def test_lttb_passes_short_series_through_and_drops_missing_values():
    assert lttb([1, 2, 3], [0.5, None, float("nan")], 1000) == ([1], [0.5])
    assert lttb([1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0], 10) == ([1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0])
    with pytest.raises(ValueError):
        lttb([1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0], 2)


def test_follower_reads_only_new_rows_and_nothing_when_nothing_changed(any_store):
    store = any_store
    from genlab.core.parsing import parse_config

    run = store.create_run(parse_config({"family": "vae"}))
    other = store.create_run(parse_config({"family": "vae"}))
    for step in range(0, 50, 10):
        store.log_metrics(run.id, step, {"train/loss": 1.0 / (step + 1), "lr": 0.1})
    store.log_metrics(other.id, 0, {"train/loss": 9.0})
    follower = MetricsFollower(store, run.id)
    assert follower.refresh() == 10
    assert follower.series("train/loss") == ([0, 10, 20, 30, 40], [1.0, 1 / 11, 1 / 21, 1 / 31, 1 / 41])
    stamp = store.metrics_stamp(run.id)
    assert follower.refresh() == 0 and follower.after == stamp  # nothing new: no rows read
    store.log_metrics(other.id, 10, {"train/loss": 8.0})  # another run's writes are not this run's news
    assert follower.refresh() == 0
    store.log_metrics(run.id, 50, {"train/loss": 0.01})
    store.log_metrics(run.id, 40, {"train/loss": 0.5})  # a resumed run logs step 40 again
    assert follower.refresh() == 2
    assert follower.series("train/loss")[1][-2:] == [0.5, 0.01]
    assert follower.keys() == ["lr", "train/loss"] and follower.version == 2


def test_metric_stamp_is_one_index_lookup(store):
    with store.db.read() as con:
        rows = con.exec_driver_sql("EXPLAIN QUERY PLAN SELECT MAX(id) FROM metrics WHERE run_id=?", ("x",))
        plan = " ".join(str(r[-1]) for r in rows)
    assert "metrics_run_id" in plan and "SCAN" not in plan
