"""The payers' colours and order, shared by the charts and the deck (a module of its own: the deck and the CLI that
writes it need the colours without loading matplotlib)."""

from __future__ import annotations

# Okabe-Ito colours (safe for the common colour-vision deficiencies); each payer family keeps its colour everywhere.
PAYER_PALETTE: dict[str, str] = {
    "Aetna": "#CC79A7",
    "BCBS": "#0072B2",
    "Cigna": "#009E73",
    "UnitedHealthcare": "#E69F00",
    "Medicare": "#000000",
    "Other": "#999999",
}
PAYER_ORDER: list[str] = list(PAYER_PALETTE)
