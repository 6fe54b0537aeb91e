"""Run page, for runs that learn from preferences (the PreferenceTunable capability): the preference pairs
its ratings make (an answer rated down against a correction or a rated-up answer to the same prompt), and,
for a DPO child, the reward accuracy and margin it logged while training and measured on held-out pairs
before and after."""

from __future__ import annotations

import streamlit as st

from genlab.store.runs import Run, RunStore
from genlab.use.preferences import preference_pairs, read_preferences
from ui.widgets.charts import metric_figure

REWARD_KEYS = ("train/reward_accuracy", "val/reward_accuracy", "train/reward_margin", "val/reward_margin")
MAX_ROWS = 200


def preference_data(store: RunStore, run: Run) -> None:
    st.subheader("Preference data")
    pairs = preference_pairs(store, run.id)
    prompts = len({(p.system_prompt, p.prompt) for p in pairs})
    if not pairs:
        st.info(
            "No preference pairs yet. Rate an answer 👎 in the Playground (or POST /runs/ID/feedback) and give "
            "the better answer, or rate another answer to the same prompt 👍: each such pair teaches DPO.",
            icon=":material/info:",
        )
        return
    st.caption(
        f"{len(pairs)} pairs on {prompts} prompts, made from this run's ratings (chosen: a correction or an "
        f"answer rated 👍; rejected: an answer rated 👎 to the same prompt). Train on them: "
        f"`python -m genlab finetune-feedback {run.id} --method dpo`"
    )
    st.dataframe(
        [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs[:MAX_ROWS]],
        hide_index=True,
    )


def dpo_results(store: RunStore, run: Run) -> None:
    """Only for a DPO child: its held-out figures and its logged reward curves."""
    record = read_preferences(store, run.id)
    curves = {k: store.metric_series(run.id, k) for k in REWARD_KEYS}
    curves = {k: v for k, v in curves.items() if v}
    if record is None and not curves:
        return
    st.subheader("DPO: reward accuracy and margin")
    if record is not None:
        before, after = record["before"], record["after"]
        st.caption(
            f"Trained from `{record['parent_id']}` on {record['train_pairs']} pairs ({record['steps']} steps, "
            f"beta {record['beta']}); measured on {record['held_out_pairs']} held-out pairs. Accuracy: how often "
            "the preferred answer gets the higher implicit reward; margin: by how much, on average."
        )
        c = st.columns(2)
        c[0].metric(
            "Held-out reward accuracy",
            f"{after['reward_accuracy']:.0%}",
            f"{after['reward_accuracy'] - before['reward_accuracy']:+.0%} from the parent",
        )
        c[1].metric(
            "Held-out reward margin",
            f"{after['reward_margin']:.3f}",
            f"{after['reward_margin'] - before['reward_margin']:+.3f} from the parent",
        )
    for what in ("accuracy", "margin"):
        picked = {k: ([s for s, _ in v], [x for _, x in v]) for k, v in curves.items() if k.endswith(what)}
        if picked:
            st.plotly_chart(metric_figure(picked, f"reward {what}", 0.0, height=260), key=f"run.pref.{what}")
    if record is not None and record.get("examples"):
        with st.expander(f"Pairs it learned from (first {len(record['examples'])})"):
            st.dataframe(
                [{k: e[k] for k in ("prompt", "chosen", "rejected")} for e in record["examples"]],
                hide_index=True,
            )


def preference_panel(store: RunStore, run: Run) -> None:
    dpo_results(store, run)
    preference_data(store, run)
