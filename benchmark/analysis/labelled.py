"""A DataFrame that carries its data label: ``attrs["label"]`` and a caption wherever a notebook shows it.

The analyst API (``benchmark.benchmark_table``, ``benchmark.compared_rates``) returns :class:`LabelledFrame`, so a
table built from the synthetic sample says so when shown, copied or derived (pandas carries ``attrs`` through
selections and most operations). It is a ``pandas.DataFrame`` in every other respect.
"""

from __future__ import annotations

import html

import pandas as pd

from benchmark import config


class LabelledFrame(pd.DataFrame):
    """A DataFrame whose notebook display (``_repr_html_``) and text repr start with ``attrs["label"]``."""

    @property
    def _constructor(self):
        return LabelledFrame

    def _repr_html_(self) -> str | None:
        table = super()._repr_html_()
        label = self.attrs.get("label")
        if table is None or not label:
            return table
        colour = "#B00020" if self.attrs.get("synthetic") else "#444444"
        caption = f"<p style='color:{colour};font-weight:bold;margin:0 0 4px'>{html.escape(str(label))}</p>"
        return f"<div class='pb-labelled'>{caption}{table}</div>"

    def __repr__(self) -> str:
        label = self.attrs.get("label")
        text = super().__repr__()
        return f"[{label}]\n{text}" if label else text


def labelled(frame: pd.DataFrame, label: str, *, synthetic: bool) -> LabelledFrame:
    """``frame`` as a :class:`LabelledFrame` with ``attrs`` ``label`` and ``synthetic``."""
    out = LabelledFrame(frame)
    out.attrs = {**frame.attrs, "label": label, "synthetic": bool(synthetic)}
    return out


def data_label(synthetic: bool, source_label: str) -> str:
    """The label of data from a source: the synthetic-data label for the sample, else the source's own label."""
    return config.SYNTHETIC_LABEL if synthetic else source_label
