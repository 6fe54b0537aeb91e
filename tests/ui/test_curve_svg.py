"""The Overview's curve picture: a valid SVG whose lines follow the data, for any series a run logs."""

from __future__ import annotations

import base64
import math
import xml.etree.ElementTree as ET

from ui.widgets.curve_svg import HEIGHT, POINTS, TOP, curve_image_html, curve_svg, nice_ticks

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def line_points(root: ET.Element) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, p.split(","))) for p in pl.get("points").split()] for pl in root.iter(f"{NS}polyline")]


def test_each_curve_is_a_line_falling_where_its_values_fall_with_nans_and_gaps_left_out():
    steps = list(range(0, 5000))
    train = [1.0 / (s + 1) for s in steps]
    train[100], train[200] = float("nan"), None
    val = ([2.0, 1.0, 0.5], [0, 2500, 4999])
    root = parse(curve_svg({"validation": (val[1], val[0]), "training": (steps, train)}, "val/loss"))
    lines = line_points(root)
    assert len(lines) == 2 and all(len(pts) <= POINTS for pts in lines)
    v = next(pts for pts in lines if len(pts) == 3)
    assert v[0][0] < v[1][0] < v[2][0] and v[0][1] < v[1][1] < v[2][1]  # steps to the right, lower values lower
    assert all(TOP <= y <= HEIGHT for pts in lines for _, y in pts)
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "val/loss" in texts and "validation" in texts and "training" in texts


def test_one_point_a_flat_line_and_no_values_still_draw():
    one = parse(curve_svg({"validation": ([10], [0.5])}, "val/loss"))
    assert len(list(one.iter(f"{NS}circle"))) == 1
    flat = line_points(parse(curve_svg({"training": ([1, 2, 3], [4.0, 4.0, 4.0])}, "train/loss")))
    assert len({y for _, y in flat[0]}) == 1 and all(math.isfinite(x) for x, _ in flat[0])
    empty = parse(curve_svg({"training": ([1, 2], [None, float("inf")])}, "train/loss"))
    assert "no values yet" in [t.text for t in empty.iter(f"{NS}text")]


def test_ticks_are_round_numbers_covering_the_range():
    assert nice_ticks(0.0, 1.0) == [0.0, 0.5, 1.0] and nice_ticks(-3.2, 150) == [0, 50, 100, 150]
    ticks = nice_ticks(0.013, 0.087)
    assert ticks[0] >= 0.013 and ticks[-1] <= 0.087 and len(ticks) >= 3
    assert all(abs(t / (ticks[1] - ticks[0]) - round(t / (ticks[1] - ticks[0]))) < 1e-6 for t in ticks)


def test_the_picture_is_an_image_whose_title_and_labels_are_escaped():
    tag = curve_image_html({"<b>x</b>": ([1, 2], [1.0, 2.0])}, "a & b")
    assert tag.startswith('<img class="genlab-curve"') and "<b>" not in tag
    svg = base64.b64decode(tag.split("base64,")[1].split('"')[0]).decode()
    assert parse(svg).tag == f"{NS}svg"
