"""Build the shipped default model (:mod:`cselink.scoring.default_model`).

``python -m cselink.scoring.build_default_model`` trains it on the seeded synthetic
population and writes ``cselink/data/default_model.json``. Apart from the loader, so that
the pipeline (which falls back on the model) and the builder (which runs the pipeline) do
not import each other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config import Settings
from .default_model import (
    GENERATOR_DIFFICULTY,
    GENERATOR_PEOPLE,
    GENERATOR_SEED,
    default_model_path,
)

log = logging.getLogger(__name__)


def train_default_model(
    *, people: int = GENERATOR_PEOPLE, seed: int = GENERATOR_SEED,
    difficulty: str = GENERATOR_DIFFICULTY,
) -> dict[str, Any]:
    """Train the default model on a fresh synthetic population (in memory only).

    Returns:
        The model file's content: :meth:`Model.to_dict` plus ``provenance``.
    """
    from ..pipeline import Linker
    from ..synthetic import SynthConfig, generate_frames

    frames = generate_frames(SynthConfig.preset(difficulty, people=people, seed=seed))
    settings = Settings(link_type="dedupe")
    with Linker(dict(frames.canonical), settings=settings) as linker:
        model = linker.fit()
        records = int(linker.con.execute("SELECT count(*) FROM records").fetchall()[0][0])
    data = model.to_dict()
    all_pairs = records * (records - 1) / 2
    data["provenance"] = {
        "trained_on": "cselink.synthetic (no real personal data)",
        "generator_seed": seed,
        "generator_people": people,
        "generator_difficulty": difficulty,
        "records": records,
        # Matches per record: with the data's own size this gives its prior.
        "matches_per_record": model.prior * all_pairs / records,
        "cselink_version": __version__,
        "date": dt.date.today().isoformat(),
        "settings_hash": settings.hash(),
        "command": "python -m cselink.scoring.build_default_model",
    }
    return data


def write_default_model(path: str | Path | None = None, **kwargs: Any) -> Path:
    """Train (:func:`train_default_model`) and write the model file (default: the package's)."""
    from ..io import write_json_atomic

    target = Path(path) if path is not None else default_model_path()
    write_json_atomic(target, train_default_model(**kwargs))
    target.chmod(0o644)  # a package file, read by every user
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cselink.scoring.build_default_model [--out FILE]``: regenerate the file."""
    parser = argparse.ArgumentParser(prog="python -m cselink.scoring.build_default_model",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="where to write it (default: the package's file)")
    parser.add_argument("--people", type=int, default=GENERATOR_PEOPLE)
    parser.add_argument("--seed", type=int, default=GENERATOR_SEED)
    args = parser.parse_args(argv)
    path = write_default_model(args.out, people=args.people, seed=args.seed)
    log.warning("wrote %s", path)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    raise SystemExit(main())
