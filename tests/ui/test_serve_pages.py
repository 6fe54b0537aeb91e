"""Settings makes and revokes REST API keys (shown once, stored hashed); the Run page shows a text run's
ratings and offers "Fine-tune on feedback" only where it can work."""

from __future__ import annotations

from tests.ui.conftest import open_tab


def texts(at, kind: str) -> str:
    return " ".join(str(e.value) for e in getattr(at, kind))


def test_settings_creates_a_key_once_and_revokes_it(app, store):
    from genlab.store.api_keys import list_keys, verify_key

    at = app("settings")
    assert "No API keys yet." in texts(at, "info")
    at.text_input(key="settings.api_key_name").set_value("phone app")
    at.button(key="FormSubmitter:settings.api_key_new-Create key").click().run()
    assert not at.error, texts(at, "error")
    secret = at.code[-1].value
    assert secret.startswith("glk_") and verify_key(store, secret) is not None
    (key,) = list_keys(store)
    at = app("settings")
    assert secret not in str(at), "a key is shown only when it is made"
    at.button(key=f"settings.api_key_revoke.{key.id}").click().run()
    assert verify_key(store, secret) is None and not list_keys(store)[0].active
    at.text_input(key="settings.api_key_name").set_value("!!")
    at.button(key="FormSubmitter:settings.api_key_new-Create key").click().run()
    assert "key name" in texts(at, "error")


def test_run_page_counts_ratings_and_offers_fine_tuning_only_for_a_completed_gpt_run(app, store):
    from genlab.core.registry import FAMILIES
    from genlab.use.feedback import add_feedback

    gpt = store.create_run(FAMILIES["gpt"].tiny_config(), status="completed")
    rnn = store.create_run(FAMILIES["rnn"].tiny_config(), status="completed")
    for run in (gpt, rnn):
        add_feedback(store, run.id, prompt="hi", output="zz", rating="down", correction="Hello.")
        add_feedback(store, run.id, prompt="bye", output="Bye!", rating="up", source="playground")
    at = open_tab(app("run", id=gpt.id), "Safety & feedback")
    assert "2 ratings from the Playground and the API: 1 👍, 1 👎, 1 corrected answers; 2 can be learned from" in texts(
        at, "caption"
    )
    assert list(at.dataframe[-1].value["correction"]) == ["", "Hello."]
    assert not at.button(key="run.finetune_feedback").disabled
    at = open_tab(app("run", id=rnn.id), "Safety & feedback")
    assert at.button(key="run.finetune_feedback").disabled, "a char-RNN has no Hugging Face export to fine-tune"
