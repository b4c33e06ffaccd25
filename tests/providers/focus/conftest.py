from __future__ import annotations

import json
from pathlib import Path

import pytest

SAMPLE_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "focus-sample"


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    path = SAMPLE_DIR / "focus_sample.csv"
    if not path.is_file():
        pytest.skip(f"FOCUS sample not found at {path} (it lives in ../shared/focus-sample)")
    return path


@pytest.fixture(scope="session")
def expected_aggregates(sample_csv: Path) -> dict:
    return json.loads((sample_csv.parent / "expected_aggregates.json").read_text())
