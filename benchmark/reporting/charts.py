"""Charts of a code benchmark, in one style and one payer palette.

Every chart is drawn by a function that takes validated tables and returns a matplotlib Figure; :func:`save_figure`
writes it as PNG (``PNG_DPI``, >= 200) and SVG. Charts built from synthetic data carry the
synthetic-data label in their footnote, so a chart pasted alone into a deck still says what it is.

Figures use matplotlib's constrained layout and draw their footnote as the figure's ``supxlabel``, which the layout
makes room for: the footnote (wrapped to the figure's width) and every tick label stay inside the figure however it
is saved (a plain ``fig.savefig()`` included; no tight bounding box is needed, none is used). Figures are made
without pyplot, so a notebook shows a returned figure once.

Saving is the costly part of a report's charts, so each chart is laid out and drawn once per picture: the PNG by
Agg (written RGB, zlib level ``PNG_COMPRESSION``), the SVG in the layout the PNG's draw computed, the slide picture
laid out again for its larger text (``benchmarks/bench_charts.py`` times it).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import textwrap
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.textpath import text_to_path
from matplotlib.ticker import FuncFormatter, PercentFormatter
from PIL import Image

from benchmark import cache, codes, config
from benchmark.reporting.palette import PAYER_ORDER, PAYER_PALETTE  # each payer family keeps its colour everywhere

PNG_DPI = 220  # presentation resolution (>= 200 dpi)
PNG_COMPRESSION = 3  # zlib level of the PNGs written: ~3x faster to write than matplotlib's 6, files ~10% larger
_dollars = FuncFormatter(lambda v, _: f"${v:,.0f}")


@contextmanager
def chart_style() -> Iterator[None]:
    """Apply the project's style file for the charts drawn inside the block."""
    with plt.style.context(str(config.STYLE_FILE)):
        yield


def save_figure(fig: Figure, out_dir: str | Path, stem: str) -> dict[str, Path]:
    """Write ``stem.png`` (>= 200 dpi) and ``stem.svg`` into ``out_dir`` and close the figure.

    The PNG is drawn first, with the figure's layout engine placing everything; the SVG keeps that layout instead of
    computing it again (sizes are in inches, the same at both resolutions)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"png": out / f"{stem}.png", "svg": out / f"{stem}.svg"}
    with chart_style():
        _save_png(fig, paths["png"], PNG_DPI)
        with _layout_kept(fig):
            fig.savefig(paths["svg"], metadata={"Date": None})
    plt.close(fig)
    return paths


def _save_png(fig: Figure, path: Path, dpi: float) -> None:
    """``fig`` drawn by Agg at ``dpi`` and written as PNG with zlib level ``PNG_COMPRESSION``: RGB when every pixel
    is opaque (a chart's white background), RGBA otherwise.

    The figure is drawn once, its layout engine running inside that draw; ``fig.savefig`` would first draw it once
    more without rendering, only to run the layout (~12% of the time). Its canvas and resolution are put back."""
    canvas, figure_dpi = fig.canvas, fig.dpi
    agg = FigureCanvasAgg(fig)
    try:
        fig.dpi = dpi
        agg.draw()
        image = Image.fromarray(np.asarray(agg.buffer_rgba()))
    finally:
        fig.dpi = figure_dpi
        fig.set_canvas(canvas)
    if image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")
    image.save(path, format="png", compress_level=PNG_COMPRESSION, dpi=(dpi, dpi))


@contextmanager
def _layout_kept(fig: Figure) -> Iterator[None]:
    """Inside the block, ``fig`` is drawn where its last draw placed everything (no layout engine runs)."""
    engine = fig.get_layout_engine()
    if engine is None:
        yield
        return
    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)  # None, not "none": a placeholder engine would still make savefig lay it out
    try:
        yield
    finally:
        fig.set_layout_engine(engine)


SLIDE_DPI = 150  # slide pictures: 10 in wide -> 1500 px, sharp on a 13.3 in slide
SLIDE_MIN_FONT_PT = 11.0  # every text of a slide picture (shown at about its drawn size on the slide)


def has_data(fig: Figure) -> bool:
    """Whether a chart drew data (an empty chart turns its axes off and says "Data not available")."""
    return any(ax.axison for ax in fig.axes)


class _FontSized(Protocol):
    """An artist with a font size (``Text`` and the like), as :func:`save_slide_figure` finds them."""

    def get_fontsize(self) -> float: ...

    def set_fontsize(self, fontsize: float) -> None: ...


def save_slide_figure(fig: Figure, out_dir: str | Path, stem: str) -> Path:
    """``stem.png`` for a slide: without the chart's own title and footnote (the slide has its title and footer),
    every text at least ``SLIDE_MIN_FONT_PT``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for ax in fig.axes:
        for loc in ("left", "center", "right"):
            ax.set_title("", loc=loc)
    fig.supxlabel("")
    for artist in fig.findobj(lambda artist: hasattr(artist, "get_fontsize") and hasattr(artist, "set_fontsize")):
        text = cast(_FontSized, artist)  # the filter kept only artists with both methods
        if text.get_fontsize() < SLIDE_MIN_FONT_PT:
            text.set_fontsize(SLIDE_MIN_FONT_PT)
    path = out / f"{stem}.png"
    with chart_style():
        _save_png(fig, path, SLIDE_DPI)
    return path


def save_chart(
    draw: Callable[[], Figure], out_dir: str | Path, stem: str, slides_dir: str | Path | None = None
) -> dict[str, Path]:
    """Draw a chart and write it as :func:`save_figure` does, plus its slide picture into ``slides_dir`` (when given
    and the chart has data, :func:`save_slide_figure`).

    A chart drawn before from equal inputs is not drawn again: when ``draw`` is a :func:`functools.partial` of a
    chart function whose arguments can be fingerprinted (tables, numbers, text), its files are kept in the cache
    (:mod:`benchmark.cache`, namespace ``charts``) under a key of the function, every argument, the package source,
    the style file, matplotlib's version and font; a later call with the same key copies those files.
    """
    out = Path(out_dir)
    key = _chart_key(draw, stem, slides_dir is not None)
    entry = cache.load_files("charts", key) if key else None
    if entry is not None:
        out.mkdir(parents=True, exist_ok=True)
        paths = {kind: out / f"{stem}.{kind}" for kind in ("png", "svg")}
        for kind, path in paths.items():
            shutil.copyfile(entry / f"chart.{kind}", path)
        if slides_dir is not None and (entry / "slide.png").is_file():
            Path(slides_dir).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry / "slide.png", Path(slides_dir) / f"{stem}.png")
        return paths
    paths, slide = draw_and_save(draw, out, stem, slides_dir)
    if key:
        files = {"chart.png": paths["png"], "chart.svg": paths["svg"], **({"slide.png": slide} if slide else {})}
        cache.save_files("charts", key, files)
    return paths


def draw_and_save(
    draw: Callable[[], Figure], out_dir: str | Path, stem: str, slides_dir: str | Path | None = None
) -> tuple[dict[str, Path], Path | None]:
    """Draw a chart and write it (:func:`save_figure`) and, when ``slides_dir`` is given and the chart has data, its
    slide picture (:func:`save_slide_figure`), without the cache of :func:`save_chart`: (paths, slide picture)."""
    fig = draw()
    paths = save_figure(fig, out_dir, stem)
    slide = save_slide_figure(fig, slides_dir, stem) if slides_dir is not None and has_data(fig) else None
    return paths, slide


def _chart_key(draw: Callable[[], Figure], stem: str, slide: bool) -> str | None:
    """The cache key of a chart drawn by ``draw``, or None when its inputs cannot be fingerprinted."""
    if not isinstance(draw, partial):  # only a named chart function with its arguments (not a lambda or a stand-in)
        return None
    module, name = getattr(draw.func, "__module__", None), getattr(draw.func, "__qualname__", None)
    if not (module and name) or "<" in name:
        return None
    try:
        arguments = [_fingerprint(value) for value in draw.args]
        keywords = {key: _fingerprint(value) for key, value in sorted(draw.keywords.items())}
    except TypeError:
        return None
    return cache.key_of("chart", stem, slide, module, name, arguments, keywords, _look())


def _fingerprint(value: Any) -> Any:
    """A JSON-able stand-in of a chart argument that changes whenever the argument does (TypeError if unknown)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [_fingerprint(item) for item in value]
    if isinstance(value, dict):
        return {str(name): _fingerprint(item) for name, item in sorted(value.items())}
    if isinstance(value, (pd.DataFrame, pd.Series)):
        digest = hashlib.sha256(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        layout = [[str(name), str(dtype)] for name, dtype in frame.dtypes.items()]
        return {"rows": len(frame), "layout": layout, "sha256": digest.hexdigest(), "attrs": _fingerprint(value.attrs)}
    raise TypeError(f"no fingerprint for {type(value).__name__}")


def _look() -> list[str]:
    """What a drawn chart depends on besides its arguments and the package: style file, matplotlib and its font."""
    style = hashlib.sha256(config.STYLE_FILE.read_bytes()).hexdigest()
    with chart_style():
        font = font_manager.findfont(font_manager.FontProperties(family=plt.rcParams["font.family"]))
    return [style, matplotlib.__version__, font, str(Path(font).stat().st_size), json.dumps(PNG_DPI), str(SLIDE_DPI)]


class ChartFigure(Figure):
    """A Figure that a notebook shows as PNG when it is a cell's value, without pyplot (so it is shown once).

    Its footnote (:func:`_footnote`) is wrapped to the figure's width when it is set and again whenever that width
    changes, instead of matplotlib's ``wrap=True`` measuring it word by word at every draw."""

    footnote: str = ""  # the footnote's text before wrapping ("" without a footnote)
    footnote_label: Text | None = None  # the footnote as drawn
    footnote_width: float = 0.0  # the figure's width (inches) the footnote was wrapped for

    def set_size_inches(self, w: Any, h: Any = None, forward: bool = True) -> None:
        super().set_size_inches(w, h, forward)  # also called when the resolution changes (savefig's dpi)
        label, width = self.footnote_label, float(self.get_size_inches()[0])
        if label is not None and label.get_text() and width != self.footnote_width:  # a slide picture clears it
            label.set_text(_wrapped(self.footnote, label.get_fontproperties(), self, label.get_position()[0]))
            self.footnote_width = width

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


EDGE_PAD = 0.1  # inches of blank kept along the figure's edges by its layout (what a tight bounding box gave before)


def _figure(figsize: tuple[float, float] | None = None) -> tuple[Figure, Any]:
    """A figure (not registered with pyplot) with constrained layout, and its one axes; call inside chart_style()."""
    figsize = figsize or tuple(plt.rcParams["figure.figsize"])
    fig = ChartFigure(figsize=figsize, layout=ConstrainedLayoutEngine(w_pad=EDGE_PAD, h_pad=EDGE_PAD))
    return fig, fig.add_subplot()


def _footnote(fig: Figure, source: str, synthetic: bool) -> None:
    """The source line (and the synthetic-data label) inside the bottom of the figure, wrapped to its width."""
    text = source + (f"  |  {config.SYNTHETIC_LABEL.upper()}" if synthetic else "")
    x = 0.01
    label = fig.supxlabel(text, x=x, ha="left", fontsize=8.5, color="#B00020" if synthetic else "#444444")
    label.set_text(_wrapped(text, label.get_fontproperties(), fig, x))
    if isinstance(fig, ChartFigure):
        fig.footnote, fig.footnote_label, fig.footnote_width = text, label, float(fig.get_size_inches()[0])


# Agg's hinting draws small text wider than its outline measures: 8.5 pt text by up to 11% at 72 dpi (the worst
# resolution from 40 to 300 dpi), 2% at 100 dpi, under 1% at 220 dpi.
_HINTING = 1.12


def _wrapped(text: str, font: font_manager.FontProperties, fig: Figure, x: float) -> str:
    """``text`` broken between words into lines that fit, drawn in ``font`` from ``x`` (figure fraction, left
    aligned), within the figure's width: lines as matplotlib's ``wrap=True`` makes them (greedy), measured once, in
    points, with room for ``_HINTING`` (so they fit at any resolution, not only the one of the first draw)."""
    width = (1 - x) * fig.get_size_inches()[0] * 72 / _HINTING

    def fits(line: str) -> bool:
        return text_to_path.get_text_width_height_descent(line, font, ismath=False)[0] <= width

    if fits(text):
        return text
    lines: list[str] = []
    words = text.split(" ")
    line = [words[0]]
    for word in words[1:]:
        if fits(" ".join([*line, word])):
            line.append(word)
        else:
            lines.append(" ".join(line))
            line = [word]
    return "\n".join([*lines, " ".join(line)])


def _no_data(ax) -> None:
    ax.text(0.5, 0.5, config.NOT_AVAILABLE, ha="center", va="center", transform=ax.transAxes, fontsize=14)
    ax.set_axis_off()


def _ordered(families: pd.Series) -> list[str]:
    present = set(families)
    return [p for p in PAYER_ORDER if p in present] + sorted(present - set(PAYER_ORDER))


def rate_distribution_chart(
    rows: pd.DataFrame,
    code: str,
    medicare_amount: float | None,
    *,
    synthetic: bool,
    setting_label: str,
    flagged: pd.DataFrame | None = None,
) -> Figure:
    """Box plot with every rate as a dot, one row per payer family; Medicare national amount as a reference line.

    ``flagged``: rates left out of the statistics (``flags``), drawn as red crosses (legend "flagged rate"); the axis
    spans the kept rates, and a flagged amount beyond it is drawn at the axis edge as a triangle pointing out."""
    rows = rows.dropna(subset=["amount_usd"])
    flagged = flagged.dropna(subset=["amount_usd"]) if flagged is not None else rows.iloc[0:0]
    with chart_style():
        fig, ax = _figure()
        if rows.empty and flagged.empty:
            _no_data(ax)
        else:
            order = _ordered(pd.concat([rows["payer_family"], flagged["payer_family"]]))
            palette = {p: PAYER_PALETTE.get(p, "#999999") for p in order}
            # Boxes drawn by matplotlib itself: seaborn 0.13.2's boxplot passes `vert=`, deprecated in matplotlib 3.11
            # and removed in 3.13 (fixed in seaborn after 0.13.2, not yet released). Positions 0..n-1 in `order` are
            # the categories stripplot uses below.
            boxes = ax.boxplot(
                [rows.loc[rows["payer_family"] == family, "amount_usd"].to_numpy(float) for family in order],
                positions=range(len(order)),
                orientation="horizontal",
                widths=0.55,
                showfliers=False,
                patch_artist=True,
                manage_ticks=False,
            )
            for family, box, median in zip(order, boxes["boxes"], boxes["medians"]):
                box.set(facecolor=palette[family], edgecolor=palette[family], alpha=0.35)
                median.set(color=palette[family])
            for position, family in enumerate(order):  # every rate as a dot, jittered across its payer's row
                amounts = rows.loc[rows["payer_family"] == family, "amount_usd"].to_numpy(float)
                if len(amounts):
                    y = position + _jitter(family, len(amounts))
                    ax.scatter(amounts, y, s=16, color=palette[family], alpha=0.8, linewidths=0, edgecolors="face")
            ax.set_yticks(range(len(order)), order)
            ax.yaxis.grid(False)
            ax.set_ylim(len(order) - 0.5, -0.5)
            if len(flagged):
                _mark_flagged(ax, rows, flagged, order, medicare_amount)
            if medicare_amount:
                ax.axvline(medicare_amount, color="black", linestyle="--", linewidth=1.2)
                ax.annotate(
                    f"Medicare national ${medicare_amount:,.2f}",
                    (medicare_amount, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(4, -2),
                    textcoords="offset points",
                    va="top",
                    fontsize=9,
                )
            ax.xaxis.set_major_formatter(_dollars)
            ax.set_xlabel(f"Professional fee per service, {setting_label} setting (negotiated rate)")
            ax.set_ylabel("")
        ax.set_title(f"{codes.label(code)}: professional fees by payer")
        _footnote(fig, "Sources: payer TiC in-network files and hospital standard-charge files; CMS PFS.", synthetic)
    return fig


FLAG_COLOR = "#D55E00"  # Okabe-Ito vermillion: flagged rates
JITTER = 0.18  # half the height of the band a payer's dots are spread over (categories are 1 apart)


def _jitter(family: str, count: int) -> np.ndarray:
    """Vertical offsets of ``count`` dots of one payer family: uniform in +-``JITTER``, from a generator seeded by
    the family's name (the same rates give the same picture every time); none for a single dot."""
    if count < 2:
        return np.zeros(count)
    return np.random.default_rng(zlib.crc32(family.encode())).uniform(-JITTER, JITTER, count)


def _mark_flagged(ax, rows: pd.DataFrame, flagged: pd.DataFrame, order: list[str], medicare_amount: float | None):
    """Flagged rates as crosses on their payer's row; amounts beyond the kept rates' span drawn at the axis edge."""
    kept = rows["amount_usd"].astype(float)
    span = [*kept, *([medicare_amount] if medicare_amount else [])]
    if span:
        low, high = min(span), max(span)
        pad = max((high - low) * 0.08, high * 0.05, 1.0)
        low, high = max(low - pad, 0.0), high + pad
    else:
        amounts = flagged["amount_usd"].astype(float)
        low, high = 0.0, float(amounts.max()) * 1.1 or 1.0
    position = {p: i for i, p in enumerate(order)}
    y = flagged["payer_family"].map(position).astype(float).to_numpy()
    x = flagged["amount_usd"].astype(float).to_numpy()
    inside = (x >= low) & (x <= high)
    ax.scatter(x[inside], y[inside], marker="X", s=60, color=FLAG_COLOR, edgecolor="white", linewidth=0.6, zorder=5)
    beyond_high, beyond_low = x > high, x < low
    ax.scatter([high] * int(beyond_high.sum()), y[beyond_high], marker=">", s=70, color=FLAG_COLOR, zorder=5)
    ax.scatter([low] * int(beyond_low.sum()), y[beyond_low], marker="<", s=70, color=FLAG_COLOR, zorder=5)
    ax.set_xlim(low, high)
    ax.set_ylim(len(order) - 0.5, -0.5)
    outside = int(beyond_high.sum() + beyond_low.sum())
    label = f"flagged rate, left out of the statistics (n={len(flagged)}"
    label += f"; {outside} beyond the axis, at its edge)" if outside else ")"
    ax.legend(
        handles=[
            Line2D(
                [], [], marker="X", linestyle="", color=FLAG_COLOR, markeredgecolor="white", markersize=8, label=label
            )
        ],
        loc="lower right",
        fontsize=8.5,
        frameon=True,
    )


def crosscheck_chart(verdicts_by_payer: pd.DataFrame, code: str, *, synthetic: bool) -> Figure:
    """Cross-checked rates by payer family, stacked by verdict (``crosscheck.verdicts_by_payer``: ``payer_family``
    and one count column per verdict)."""
    verdicts = [c for c in verdicts_by_payer.columns if c != "payer_family"]
    with chart_style():
        fig, ax = _figure()
        table = verdicts_by_payer
        if len(table):
            table = table[table[verdicts].sum(axis=1) > 0]
        if table.empty or not verdicts:
            _no_data(ax)
        else:
            table = table.set_index("payer_family").loc[_ordered(table["payer_family"])]
            y = list(range(len(table)))
            left = pd.Series(0, index=table.index, dtype=float)
            for verdict in verdicts:
                values = table[verdict].astype(float)
                ax.barh(y, values, left=left, color=VERDICT_PALETTE.get(verdict, "#999999"), label=verdict)
                left = left + values
            ax.set_yticks(y, list(table.index))
            ax.invert_yaxis()
            ax.set_xlabel("Rates cross-checked (payer file vs hospital file)")
            ax.legend(loc="lower right", fontsize=8.5, frameon=True)
        ax.set_title(f"{codes.label(code)}: do payers and hospitals agree?")
        _footnote(fig, "Sources: payer TiC in-network files and hospital standard-charge files.", synthetic)
    return fig


# verdict colours (Okabe-Ito): agree green, disagree vermillion, one side only blues, not comparable grey
VERDICT_PALETTE: dict[str, str] = {
    "agree": "#009E73",
    "disagree": "#D55E00",
    "payer only": "#56B4E9",
    "hospital only": "#0072B2",
    "not comparable": "#BBBBBB",
}


def pct_of_medicare_chart(table: pd.DataFrame, code: str, year: int, *, synthetic: bool) -> Figure:
    """Median percent of the locality-matched Medicare amount by payer, interquartile range as whiskers."""
    with chart_style():
        fig, ax = _figure()
        data = table.dropna(subset=["median_pct_of_medicare"])
        if data.empty:
            _no_data(ax)
        else:
            data = data.set_index("payer_family").loc[_ordered(data["payer_family"])].reset_index()
            colors = [PAYER_PALETTE.get(p, "#999999") for p in data["payer_family"]]
            y = range(len(data))
            low = data["median_pct_of_medicare"] - data["p25_pct_of_medicare"]
            high = data["p75_pct_of_medicare"] - data["median_pct_of_medicare"]
            ax.barh(
                list(y),
                data["median_pct_of_medicare"],
                color=colors,
                alpha=0.85,
                xerr=[low, high],
                error_kw={"ecolor": "#333333", "capsize": 4, "linewidth": 1},
            )
            for i, value in zip(y, data["median_pct_of_medicare"]):
                ax.text(value + 2, i + 0.28, f"{value:.0f}%", va="center", fontsize=10)
            ax.axvline(100, color="black", linestyle="--", linewidth=1.2)
            ax.text(100, len(data) - 0.45, " Medicare = 100%", fontsize=9, va="bottom")
            ax.set_yticks(list(y), data["payer_family"])
            ax.invert_yaxis()
            ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
            ax.set_xlabel(f"Median rate as % of the {year} Medicare PFS amount of the same locality (bars: IQR)")
        ax.set_title(f"{codes.label(code)}: median % of Medicare by payer")
        _footnote(fig, f"Sources: payer price files; CMS PFS {year}, locality-matched.", synthetic)
    return fig


def medicare_localities_chart(amounts: pd.DataFrame, code: str, year: int, highlight: list[str]) -> Figure:
    """The facility (or payable) Medicare amount in every locality, sorted; markets in the data highlighted."""
    with chart_style():
        fig, ax = _figure()
        local = amounts[amounts["locality_id"] != "national"].dropna(subset=["amount"]).sort_values("amount")
        national = amounts[amounts["locality_id"] == "national"]["amount"].dropna()
        if local.empty:
            _no_data(ax)
        else:
            x = range(len(local))
            marked = local["locality_id"].isin(highlight).to_numpy()
            ax.scatter(
                [i for i, m in zip(x, marked) if not m],
                local.loc[~marked, "amount"],
                s=12,
                color="#999999",
                label="Other localities",
            )
            ax.scatter(
                [i for i, m in zip(x, marked) if m],
                local.loc[marked, "amount"],
                s=40,
                color="#0072B2",
                label="Localities in the rate data",
                zorder=3,
            )
            for i, (_, row) in zip(x, local.iterrows()):
                if row["locality_id"] in highlight:
                    ax.annotate(
                        f"{row['state']} {row['locality_name'].title()}",
                        (i, row["amount"]),
                        xytext=(-6, 6),
                        textcoords="offset points",
                        fontsize=8,
                        ha="right",
                    )
            if len(national):
                ax.axhline(national.iloc[0], color="black", linestyle="--", linewidth=1)
                ax.text(0, national.iloc[0], f" National ${national.iloc[0]:,.2f}", va="bottom", fontsize=9)
            ax.yaxis.set_major_formatter(_dollars)
            ax.set_xticks([])
            ax.grid(axis="y")
            gpci_years = sorted({int(y) for y in local["gpci_year"].dropna()})
            borrowed = f" ({year} has no GPCI table: {gpci_years[0]} GPCIs)" if gpci_years != [year] else ""
            ax.set_xlabel(f"{len(local)} Medicare payment localities, lowest to highest{borrowed}")
            ax.set_ylabel(f"{local['setting'].iloc[0].replace('_', '-')} amount")
            ax.legend(loc="upper left")
        ax.set_title(f"{codes.label(code)}: Medicare PFS amount across localities, {year}")
        gpci_years = sorted({int(v) for v in local["gpci_year"].dropna()}) if not local.empty else []
        gpci_note = f" with {gpci_years[0]} GPCIs" if gpci_years and gpci_years[0] != year else ""
        _footnote(fig, f"Source: CMS PFS relative value file {year}{gpci_note}; CMS GPCI table.", False)
    return fig


def medicare_trend_chart(by_year: pd.DataFrame, code: str) -> Figure:
    """National Medicare amount per payment year, per payable setting, with the conversion factor of each year."""
    with chart_style():
        fig, ax = _figure()
        data = by_year.dropna(subset=["amount"])
        if data.empty:
            _no_data(ax)
        else:
            for setting, group in data.groupby("setting"):
                ax.plot(
                    group["year"],
                    group["amount"],
                    marker="o",
                    linewidth=2,
                    label=setting.replace("_", "-"),
                    color="#000000" if setting == "facility" else "#56B4E9",
                )
                for _, row in group.iterrows():
                    ax.annotate(
                        f"${row['amount']:,.2f}\nCF {row['conversion_factor']:.4f}",
                        (row["year"], row["amount"]),
                        xytext=(0, 8),
                        textcoords="offset points",
                        ha="center",
                        fontsize=8.5,
                    )
            ax.set_xticks(sorted(data["year"].unique()))
            ax.yaxis.set_major_formatter(_dollars)
            ax.grid(axis="y")
            low, high = data["amount"].min(), data["amount"].max()
            ax.set_ylim(low * 0.9, high * 1.08)
            ax.set_ylabel("National amount")
            ax.legend(loc="lower left")
        ax.set_title(f"{codes.label(code)}: Medicare national amount by year")
        _footnote(fig, "Source: CMS PFS relative value files (PPRRVU) of each year.", False)
    return fig


def market_heatmap(table: pd.DataFrame, code: str, *, synthetic: bool) -> Figure:
    """Median % of Medicare by payer (rows) and state (columns); empty cells read 'n/a'.

    Rates without a known state (TiC rates without a provider directory) have no place on it.
    """
    with chart_style():
        fig, ax = _figure()
        data = table.dropna(subset=["median_pct_of_medicare", "state"])
        if data.empty:
            _no_data(ax)
        else:
            grid = data.pivot_table(index="payer_family", columns="state", values="median_pct_of_medicare")
            grid = grid.loc[[p for p in _ordered(data["payer_family"]) if p in grid.index]]
            sns.heatmap(
                grid,
                annot=True,
                fmt=".0f",
                cmap="cividis",
                cbar_kws={"label": "median % of Medicare"},
                linewidths=0.5,
                ax=ax,
            )
            ax.set_xlabel("State")
            ax.set_ylabel("")
            ax.grid(False)
        ax.set_title(f"{codes.label(code)}: median % of Medicare by payer and state")
        _footnote(fig, "Sources: payer price files; CMS PFS, locality-matched. Blank: no rates.", synthetic)
    return fig


def batch_overview_chart(table: pd.DataFrame, *, synthetic: bool) -> Figure:
    """Median % of Medicare by payer (one dot each, payer colours) for every report of a batch (one row each).

    ``table`` has ``report`` (the row label, in display order), ``payer_family`` and ``median_pct_of_medicare``.
    """
    with chart_style():
        fig, ax = _figure()
        data = table.dropna(subset=["median_pct_of_medicare"])
        if data.empty:
            _no_data(ax)
        else:
            reports = list(dict.fromkeys(table["report"]))
            fig.set_size_inches(fig.get_size_inches()[0], max(fig.get_size_inches()[1], 1.6 + 0.42 * len(reports)))
            families = _ordered(data["payer_family"])
            offsets = {p: (i - (len(families) - 1) / 2) * 0.12 for i, p in enumerate(families)}
            for family in families:
                rows = data[data["payer_family"] == family]
                y = [reports.index(r) + offsets[family] for r in rows["report"]]
                ax.scatter(
                    rows["median_pct_of_medicare"],
                    y,
                    s=46,
                    color=PAYER_PALETTE.get(family, "#999999"),
                    label=family,
                    zorder=3,
                    edgecolors="white",
                    linewidths=0.6,
                )
            ax.axvline(100, color="black", linestyle="--", linewidth=1.2)
            ax.text(100, -0.6, " Medicare = 100%", fontsize=9, va="bottom")
            ax.set_yticks(range(len(reports)), reports)
            ax.set_ylim(len(reports) - 0.4, -0.8)
            ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
            ax.set_xlabel("Median rate as % of the Medicare PFS amount of the same locality")
            ax.grid(axis="x")
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="Payer")
        ax.set_title("Median % of Medicare by payer, every report of the batch")
        _footnote(fig, "Sources: payer price files; CMS PFS, locality-matched. Each report's main setting.", synthetic)
    return fig


# Cell colours of the policy matrix by what a cell rests on (light tints: the text on them must stay readable).
POLICY_BASIS_COLORS: dict[str, str] = {
    "published": "#C7EBDD",  # a payer's public policy, cited
    "derived": "#CFE6F5",  # computed from CMS data (Medicare)
    "illustrative": "#FBE3BF",  # invented for the synthetic sample
    "unknown": "#EEEEEE",  # Data not available
}
_POLICY_BASIS_LABELS = {
    "published": "Published payer policy (cited)",
    "derived": "Derived from CMS PFS data",
    "illustrative": "Illustrative (synthetic sample, not real)",
    "unknown": config.NOT_AVAILABLE,
}


def policy_matrix_chart(matrix: pd.DataFrame, code: str, labels: list[str], *, synthetic: bool) -> Figure:
    """Payers (rows) x policy types (columns): each cell's value in words, coloured by what it rests on."""
    with chart_style():
        payers = list(dict.fromkeys(matrix["payer_key"])) if len(matrix) else []
        types = list(dict.fromkeys(matrix["policy_type"])) if len(matrix) else []
        width = max(8.0, 1.35 * len(types) + 2.4)
        # the legend's four entries take ~8.5 in in one row: two rows on a narrower figure, so they stay inside it
        legend_columns = 4 if width >= 9.5 else 2
        fig, ax = _figure((width, max(3.0, 0.78 * len(payers) + 1.9)))
        if matrix.empty:
            _no_data(ax)
        else:
            boxes: list[Rectangle] = []
            colors: list[str] = []
            for row, payer in enumerate(payers):
                mine = matrix[matrix["payer_key"] == payer]
                cells = mine.drop_duplicates("policy_type").set_index("policy_type")
                for col, policy_type in enumerate(types):
                    cell = cells.loc[policy_type] if policy_type in cells.index else pd.Series(dtype=object)
                    known = cell.get("status") == "known"
                    basis = cell["basis"] if known and isinstance(cell.get("basis"), str) else "unknown"
                    boxes.append(Rectangle((col, row), 1, 1))
                    colors.append(POLICY_BASIS_COLORS[basis])
                    text = str(cell["value"]) if known else config.NOT_AVAILABLE
                    wrapped = textwrap.wrap(text, 17)[:4]
                    if len(textwrap.wrap(text, 17)) > 4:
                        wrapped[-1] = wrapped[-1][:15] + "…"
                    ax.text(
                        col + 0.5,
                        row + 0.5,
                        "\n".join(wrapped),
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="#222222" if known else "#777777",
                    )
            # the cells as one collection (drawn under the texts, like patches): one draw call, not one per cell
            ax.add_collection(
                PatchCollection(boxes, facecolors=colors, edgecolors="white", linewidths=2, zorder=1), autolim=False
            )
            ax.set_xlim(0, len(types))
            ax.set_ylim(len(payers), 0)
            ax.set_xticks(
                [i + 0.5 for i in range(len(types))],
                labels[: len(types)] if len(labels) >= len(types) else types,
                rotation=30,
                ha="right",
                fontsize=8.5,
            )
            ax.set_yticks([i + 0.5 for i in range(len(payers))], payers, fontsize=9)
            ax.tick_params(length=0)
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            present = ["published", "derived", "illustrative", "unknown"]
            ax.legend(
                handles=[Patch(facecolor=POLICY_BASIS_COLORS[b], label=_POLICY_BASIS_LABELS[b]) for b in present],
                loc="lower center",
                bbox_to_anchor=(0.5, 1.0),
                ncol=legend_columns,
                fontsize=8,
                frameon=False,
            )
        title_pad = 26 if matrix.empty or legend_columns == 4 else 38  # above the legend's one or two rows
        ax.set_title(f"{codes.label(code)}: what each payer requires, by policy type", pad=title_pad)
        has_illustrative = bool(len(matrix)) and matrix["basis"].eq("illustrative").any()
        _footnote(
            fig,
            "Sources: CMS PFS indicators (Medicare); payer policy tables in data/policy/"
            + (" (commercial entries illustrative)" if has_illustrative else ""),
            synthetic,
        )
    return fig
