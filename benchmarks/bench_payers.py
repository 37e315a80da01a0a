"""Payer resolution speed: the curated rule table vs a four-keyword baseline, measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_payers.py [--distinct 20000]``.

Readers call :func:`benchmark.normalize.payers.resolve_payer` for every row; it is cached per distinct (payer, plan) pair, so
the cost that matters is resolving each *distinct* pair once. The benchmark builds ``--distinct`` distinct pairs
from real-world spellings (licensee names, hospital payer columns, plan names with numeric suffixes), clears the
cache, and times resolving all of them (cold), then all of them again (warm, the per-row cost). The baseline is the
naive approach: lower-case the string and look for four family keywords (aetna, cigna, united, blue) and two
product words, with no brands, no licensees and no rule order. Best of 3 runs each.
"""

from __future__ import annotations

import argparse
import random

from run import best_of  # benchmarks/run.py (the script's folder is on sys.path)

PAYERS = [
    "EMPIRE HEALTHCHOICE ASSURANCE",
    "United Healthcare",
    "UHC",
    "Aetna Life Insurance Company",
    "Cigna Health and Life Insurance Company",
    "Blue Cross and Blue Shield of Texas",
    "Highmark Inc.",
    "Anthem Blue Cross",
    "i150180_VIVA",
    "Humana",
    "Molina Healthcare",
    "Florida Blue",
    "UMR",
    "Regence BlueShield of Idaho",
    "Blue Cross and Blue Shield of Kansas City",
    "Acme Health Plan",
    "Medicare",
    "Horizon Blue Cross Blue Shield of New Jersey",
    "Triple-S Salud",
    "Wellmark Blue Cross and Blue Shield",
]
PLANS = [
    "PPO",
    "HMO",
    "Medicare Advantage",
    "Medicaid",
    "Choice Plus",
    "Open Access Plus",
    "Silver Exchange",
    "EPO",
    "Dual Complete",
    "Community Plan",
    "POS II",
    "",
]


def pairs(count: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    while len(seen) < count:
        payer = (
            rng.choice(PAYERS) + rng.choice(["", "-", "_", " ", ", Inc."]) + rng.choice(["", str(rng.randint(1, 99))])
        )
        plan = rng.choice(PLANS) + (f" {rng.randint(100, 9999)}" if rng.random() < 0.8 else "")
        seen.add((payer.strip(), plan.strip()))
    return sorted(seen)


def baseline(payer: str, plan: str) -> tuple[str, str]:
    text = f"{payer} {plan}".lower()
    family = next(
        (
            f
            for k, f in (("aetna", "Aetna"), ("cigna", "Cigna"), ("united", "UnitedHealthcare"), ("blue", "BCBS"))
            if k in text
        ),
        "Other",
    )
    product = "medicare_advantage" if "medicare" in text else "medicaid" if "medicaid" in text else "commercial"
    return family, product


def main() -> None:
    from benchmark.normalize import payers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distinct", type=int, default=20000)
    args = parser.parse_args()
    work = pairs(args.distinct)
    payers.resolve_payer("warm", "up")  # load and compile the rule tables once, outside the timings

    def cold() -> None:
        payers.clear_caches(rules=False)
        for payer, plan in work:
            payers.resolve_payer(payer, plan)

    def warm() -> None:
        for payer, plan in work:
            payers.resolve_payer(payer, plan)

    def naive() -> None:
        for payer, plan in work:
            baseline(payer, plan)

    ours_cold, ours_warm, base = best_of(cold), best_of(warm), best_of(naive)
    rules = len(payers.load_alias_rules())
    print(f"{len(work):,} distinct payer / plan pairs, {rules} payer rules (version {payers.table_version()})")
    print(
        f"cold (each distinct pair resolved once): {ours_cold * 1000:8.1f} ms = "
        f"{ours_cold / len(work) * 1e6:6.1f} us/pair | keyword baseline {base * 1000:6.1f} ms | "
        f"ours/baseline x{ours_cold / base:6.1f}"
    )
    print(
        f"warm (cached, the per-row cost):          {ours_warm * 1000:8.1f} ms = "
        f"{ours_warm / len(work) * 1e6:6.2f} us/pair | ours/baseline x{ours_warm / base:6.2f}"
    )


if __name__ == "__main__":
    main()
