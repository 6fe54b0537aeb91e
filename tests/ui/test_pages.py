"""Every page of the app, rendered by Streamlit's AppTest against the real engine and run store."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import yaml
from PIL import Image

from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES
from genlab.safety.gate import load_defaults, screener_status
from tests.ui.conftest import open_tab

PAGES = ["home", "data", "train", "sweeps", "runs", "run", "compare", "playground", "settings"]


def texts(at, kind: str) -> str:
    return "\n".join(str(e.value) for e in getattr(at, kind))


def sample_grids(at) -> list[str]:
    """Sample grids embedded in the page (data URIs, see ui/widgets/images.show_image_inline)."""
    return [m.value for m in at.markdown if 'class="genlab-sample"' in m.value]


def png_bytes(seed: int = 0, size: int = 20, mode: str = "RGB") -> bytes:
    arr = (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


# -- every page, empty store --------------------------------------------------------------------------------


# The empty Playground opens on the pretrained chat and loads SmolLM2 (20 s): it runs with -m slow, beside the
# first-hour browser walk that chats with it; the Playground with a run is tested by default (test_first_hour).
EMPTY_PAGES = [pytest.param(p, marks=pytest.mark.slow) if p == "playground" else p for p in PAGES]


@pytest.mark.parametrize("page", EMPTY_PAGES)
def test_every_page_renders_on_an_empty_store_and_says_what_to_do(app, page):
    at = app(page)
    assert at.title, "each page has a title"
    assert not at.error, texts(at, "error")
    if page in ("runs", "run", "compare", "playground"):
        assert any(w in texts(at, "info") for w in ("No runs yet", "No trained runs yet")), texts(at, "info")
    if page == "playground":  # nothing trained yet: it opens on the offline pretrained chat model, ready to use
        assert at.segmented_control(key="play.source").value == "A pretrained model (no training)"
        assert "untouched pretrained weights" in texts(at, "caption")


def test_the_app_never_imports_torch_or_lightning_for_the_everyday_pages():
    import ast
    from pathlib import Path

    ui = Path(__file__).resolve().parents[2] / "ui"
    for path in ui.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in ("torch", "lightning", "pytorch_lightning"), f"{path}: {name}"


# -- home ----------------------------------------------------------------------------------------------------


def test_home_shows_every_preset_as_a_card_and_customize_opens_it_on_train(app):
    at = app("home")
    keys = [b.key for b in at.button if b.key and b.key.startswith("home.edit.")]
    assert "home.edit.vae_mnist" in keys
    at.button(key="home.edit.vae_mnist").click().run()
    assert [t.value for t in at.title] == ["Train a model"]
    assert "Loaded from preset vae_mnist.yaml" in texts(at, "caption")
    assert at.selectbox(key="train.family").value == "vae"
    assert at.number_input(key="train.form.vae.data.batch_size").value == 128  # the preset's, not the default


def test_home_lists_recent_runs_with_their_status(app, recorded):
    recorded(name="first")
    at = app("home")
    assert "first · vae · completed" in texts(at, "markdown")


# -- train ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_train_form_is_generated_for_every_family_and_round_trips_its_defaults(app, family):
    at = app("train")
    at.selectbox(key="train.family").set_value(family).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at, "error")
    shown = yaml.safe_load(at.code[-1].value)  # the YAML panel shows exactly what would run
    default = FAMILIES[family].default_config().model_dump(mode="json")
    assert parse_config(shown) == parse_config(default | {"logging": shown["logging"]})
    model_fields = FAMILIES[family].config_cls.model_fields["model"].annotation.model_fields
    for name in model_fields:
        assert at.get("number_input") or at.get("selectbox")
        assert any(
            w.key and w.key.endswith(f".model.{name}")
            for kind in ("number_input", "selectbox", "toggle", "text_input", "text_area")
            for w in at.get(kind)
        ), name


def test_train_form_reports_a_bad_combination_with_the_field_to_change(app):
    at = app("train")
    at.selectbox(key="train.family").set_value("dcgan").run()
    at.selectbox(key="train.form.dcgan.model.loss").set_value("wgan-gp").run()
    at.selectbox(key="train.form.dcgan.model.d_norm").set_value("batch").run()
    error = texts(at, "error")
    assert "model.d_norm" in error and "WGAN-GP" in error
    assert not at.exception
    assert not [b for b in at.button if b.key == "train.start"], "no Start button while the config is invalid"


def test_train_form_shortened_below_the_checkpoint_interval_runs_with_a_note(app):
    at = app("train")
    at.number_input(key="train.form.vae.trainer.max_steps").set_value(5).run()
    at.number_input(key="train.form.vae.trainer.checkpoint_every_n_steps").set_value(50).run()
    assert not texts(at, "error")
    assert "saved at the end" in texts(at, "info")
    assert [b for b in at.button if b.key == "train.start"], "the shortened run can start"


def test_train_refuses_a_data_name_that_does_not_exist_before_any_worker_starts(app):
    at = app("train")
    at.selectbox(key="train.form.vae.data.source").set_value("zip").run()  # data.name is still 'mnist'
    error = texts(at, "error")
    assert "no upload or path called 'mnist'" in error and "Data page" in error
    assert not [b for b in at.button if b.key == "train.start"]


def test_train_loads_a_yaml_upload_and_refuses_a_broken_one(app):
    at = app("train")
    good = FAMILIES["vae"].default_config(name="from-yaml", seed=7).to_yaml().encode()
    at.get("file_uploader")[0].upload("mine.yaml", good, "application/x-yaml").run()
    at.button(key="train.load_file").click().run()
    assert at.text_input(key="train.form.vae.name").value == "from-yaml"
    assert at.number_input(key="train.form.vae.seed").value == 7

    at.get("file_uploader")[0].upload("bad.yaml", b"family: vae\nmodel: {latent_dims: 3}\n").run()
    at.button(key="train.load_file").click().run()
    error = texts(at, "error")
    assert "model.latent_dims: unknown key" in error and "latent_dim" in error


def test_train_loads_the_settings_of_a_past_run(app, recorded):
    run = recorded(name="old", lr=0.0123)
    at = app("train")
    at.selectbox(key="train.past_run").set_value(run.id).run()
    at.button(key="train.load_run").click().run()
    assert at.number_input(key="train.form.vae.optim.lr").value == pytest.approx(0.0123)
    assert f"Loaded from run {run.id}" in texts(at, "caption")


def test_train_shows_the_cli_command_and_a_yaml_download(app):
    at = app("train")
    codes = [c.value for c in at.code]
    assert any(c.startswith("python -m genlab train --config") for c in codes)
    assert at.get("download_button")


# -- runs ----------------------------------------------------------------------------------------------------


def test_runs_table_lists_runs_and_filters_by_search_status_and_tag(app, recorded):
    recorded(name="alpha", tags=("baseline",))
    recorded(name="beta", status="failed")
    at = app("runs")
    table = at.dataframe[0].value
    assert list(table["name"]) == ["beta", "alpha"]
    assert {"status", "progress", "value", "tags"} <= set(table.columns)
    at.text_input(key="runs.search").set_value("alp").run()
    assert list(at.dataframe[0].value["name"]) == ["alpha"]
    at.text_input(key="runs.search").set_value("").run()
    at.multiselect(key="runs.status").set_value(["failed"]).run()
    assert list(at.dataframe[0].value["name"]) == ["beta"]
    at.multiselect(key="runs.status").set_value([]).run()
    at.text_input(key="runs.tag").set_value("baseline").run()
    assert list(at.dataframe[0].value["name"]) == ["alpha"]
    at.text_input(key="runs.search").set_value("nothing-like-this").run()
    assert "No run matches these filters" in texts(at, "info")


# -- one run -------------------------------------------------------------------------------------------------


def test_run_page_shows_progress_charts_samples_logs_and_config(app, recorded):
    run = recorded(name="shown")
    at = app("run", id=run.id)
    assert [t.value for t in at.title] == ["shown"]
    assert at.get("progress")[0].proto.value == 100
    curve = [m.value for m in at.markdown if 'class="genlab-curve"' in m.value]
    assert curve and sample_grids(at), "the overview: the monitored curve and the newest samples"
    assert not at.get("plotly_chart"), "the overview's curve is a picture: no plotly.js for a watching browser"
    open_tab(at, "Charts")
    assert at.get("plotly_chart"), "metric charts"
    open_tab(at, "Samples")
    assert at.select_slider(key="run.step").options == ["10", "20"]
    assert sample_grids(at), "a sample grid"
    open_tab(at, "Logs")
    assert any("step 19 loss 481" in c.value for c in at.code), "the log tail"
    open_tab(at, "Config")
    assert any(c.value.startswith("python -m genlab train --config") and run.id in c.value for c in at.code)


def test_live_run_page_draws_at_most_1000_points_per_line_and_adds_new_steps_on_the_next_rerun(app, recorded, store):
    import json

    run = recorded(name="long", status="running", steps=5000, sample_steps=(10,))
    at = open_tab(app("run", id=run.id), "Charts")

    def loss_lines(at) -> list[dict]:
        figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        return [t for f in figs if f["layout"]["title"]["text"] == "train/loss" for t in f["data"]]

    lines = loss_lines(at)
    assert lines and all(len(t["x"]) <= 1000 for t in lines)
    assert all(t["x"][0] == 1 and t["x"][-1] == 5000 for t in lines)  # LTTB keeps both ends
    store.log_metrics(run.id, 5001, {"train/loss": 1.0})
    at.run()
    assert all(t["x"][-1] == 5001 for t in loss_lines(at))


def test_live_refresh_backs_off_while_nothing_changes():
    from ui.widgets.live import interval_for

    assert interval_for(0) == interval_for(60) == 10.0 < interval_for(600) == 20.0


def test_new_metric_points_redraw_the_run_page_at_most_every_half_minute_a_new_sample_at_once():
    from ui.widgets.live import MINOR_EVERY_S, due

    state = {"stamp": ("art 1", "running"), "minor": 100, "drawn": 50.0}
    assert not due(state, ("art 1", "running"), 100, 51.0, MINOR_EVERY_S)  # nothing new
    assert not due(state, ("art 1", "running"), 120, 51.0, MINOR_EVERY_S)  # new points, drawn 1 s ago
    assert due(state, ("art 1", "running"), 120, 50.0 + MINOR_EVERY_S, MINOR_EVERY_S)  # new points, MINOR_EVERY_S on
    assert due(state, ("art 2", "running"), 100, 51.0, MINOR_EVERY_S)  # a new sample grid: at once
    assert due(state, ("art 1", "completed"), 100, 51.0, MINOR_EVERY_S)  # the run ended: at once


def test_run_page_saves_notes_and_tags(app, recorded, store):
    run = recorded(name="noted")
    at = open_tab(app("run", id=run.id), "Notes & tags")
    at.text_area(key="run.notes").set_value("lr too high")
    at.text_input(key="run.tags").set_value("baseline, small")
    at.button(key="FormSubmitter:run.notes_form-Save").click().run()
    saved = store.get(run.id)
    assert saved.notes == "lr too high" and saved.tags == ["baseline", "small"]


def test_run_page_deletes_only_after_confirmation(app, recorded, store):
    run = recorded(name="doomed")
    at = app("run", id=run.id)
    at.button(key="run.delete").click().run()
    assert store.exists(run.id), "the first click only asks"
    at.button(key="run.delete.yes").click().run()
    assert not store.exists(run.id)
    assert not run.folder.exists()


def test_run_page_clone_opens_train_with_the_runs_settings(app, recorded):
    run = recorded(name="origin", lr=0.0042)
    at = app("run", id=run.id)
    at.button(key="run.clone").click().run()
    assert [t.value for t in at.title] == ["Train a model"]
    assert at.number_input(key="train.form.vae.optim.lr").value == pytest.approx(0.0042)
    assert at.text_input(key="train.form.vae.name").value == "origin-clone"


def test_run_page_explains_an_unknown_run_and_cancel_of_a_finished_run_is_disabled(app, recorded):
    at = app("run", id="vae-nope")
    assert "No run with id 'vae-nope'" in texts(at, "error")
    run = recorded(name="done")
    at = app("run", id=run.id)
    assert at.button(key="run.cancel").disabled
    assert at.button(key="run.resume").disabled


def test_run_page_offers_resume_only_where_a_checkpoint_exists(app, recorded):
    run = recorded(name="stopped", status="failed")
    at = app("run", id=run.id)
    resume = at.button(key="run.resume")
    assert resume.disabled and "Clone and edit starts it again" in resume.help
    (run.folder / "checkpoints" / "last.ckpt").write_bytes(b"PK")
    at = app("run", id=run.id)
    assert not at.button(key="run.resume").disabled


# -- compare -------------------------------------------------------------------------------------------------


def test_compare_overlays_curves_diffs_configs_and_shows_samples_side_by_side(app, recorded):
    a = recorded(name="lr-small", lr=0.001, seed=1)
    b = recorded(name="lr-big", lr=0.01, seed=2)
    at = app("compare", ids=f"{a.id},{b.id}")
    assert not at.error
    charts = at.get("plotly_chart")
    assert charts and len(charts) >= 3
    diff = at.dataframe[1].value
    assert "optim.lr" in diff.index and "name" not in diff.index
    assert len(sample_grids(at)) == 2
    metrics = at.dataframe[0].value
    assert list(metrics.columns) == ["lr-small", "lr-big"]


def test_compare_asks_for_two_runs(app, recorded):
    a = recorded(name="alone")
    at = app("compare", ids=a.id)
    assert "Pick at least two runs" in texts(at, "info")


# -- data ----------------------------------------------------------------------------------------------------


def test_data_page_previews_a_builtin_set_with_size_and_licence(app):
    at = app("data")
    at.selectbox(key="data.image_set").set_value("digits").run()
    assert "Licence: CC BY 4.0" in texts(at, "markdown")
    assert at.get("image")
    assert [m.value for m in at.metric][:2] == ["1,797", "8×8"]


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_data_upload_stores_a_zip_of_images_with_its_report(app, home):
    at = app("data")
    at.segmented_control(key="data.section").set_value("Upload").run()
    files = {f"cats/{i}.png": png_bytes(i) for i in range(5)} | {f"dogs/{i}.png": png_bytes(10 + i) for i in range(5)}
    files["notes.txt"] = b"hello"
    at.get("file_uploader")[0].upload("pets.zip", _zip(files), "application/zip").run()
    at.button(key="data.store").click().run()
    assert not at.error, texts(at, "error")
    assert "10 image(s) in 2 classes (cats, dogs); 1 file(s) skipped" in texts(at, "success")
    assert (home / "uploads" / "pets" / "cats" / "0.png").is_file()
    at.segmented_control(key="data.section").set_value("Your uploads").run()
    assert any("pets" in e.label for e in at.expander)


def test_data_upload_of_a_zip_without_images_says_what_to_upload(app):
    at = app("data")
    at.segmented_control(key="data.section").set_value("Upload").run()
    at.get("file_uploader")[0].upload("docs.zip", _zip({"a.txt": b"x", "b/c.csv": b"1,2"}), "application/zip").run()
    at.button(key="data.store").click().run()
    assert "No usable images" in texts(at, "error") and "Upload PNG or JPEG" in texts(at, "error")


def test_data_upload_of_a_file_that_is_not_a_zip_is_refused(app):
    at = app("data")
    at.segmented_control(key="data.section").set_value("Upload").run()
    at.get("file_uploader")[0].upload("fake.zip", b"this is not a zip", "application/zip").run()
    at.button(key="data.store").click().run()
    assert "not a readable .zip file" in texts(at, "error")


# -- settings ------------------------------------------------------------------------------------------------


def test_settings_shows_storage_device_assets_and_never_echoes_the_wandb_key(app, home, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)  # the server's own key is not anyone's session key
    at = app("settings")
    assert str(home) in texts(at, "markdown")
    assert "No W&B key in this browser session" in texts(at, "info")
    assert "k" * 40 not in str(at)
    assets = at.dataframe[-1].value
    assert "MNIST digits (5k)" in list(assets["asset"])
    status = screener_status(load_defaults().model)  # the page names the screen that checks generated text
    assert f"Checking with: **{status['label'] or status['screener']}**" in texts(at, "caption")
    at.text_input(key="settings.wandb_key").set_value("not a key")
    at.button(key="FormSubmitter:settings.wandb-Save").click().run()
    assert "does not look like a W&B API key" in texts(at, "error")


def test_settings_saves_wandb_defaults_used_by_new_runs(app, home):
    at = app("settings")
    at.text_input(key="settings.wandb_project").set_value("my-project")
    at.button(key="FormSubmitter:settings.wandb-Save").click().run()
    assert "Saved" in texts(at, "success")
    at = app("train")
    assert at.text_input(key="train.form.vae.logging.wandb_project").value == "my-project"
