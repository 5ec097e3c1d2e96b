"""benchmarks/serving_overhead.py runs on its tiny setting and emits its documented keys.

No timing is asserted: the ratios belong in benchmarks/RESULTS.md.
"""

import numpy as np
import pytest
from script_runs import import_script, run_script

RESULT_KEYS = {
    "kind",
    "size",
    "request_bytes",
    "answer_bytes",
    "request_ms",
    "in_process_ms",
    "ratio",
}


@pytest.mark.large
def test_serving_overhead_tiny_prints_documented_json():
    result = run_script("serving_overhead", "--tiny", timeout=600)
    assert (result["benchmark"], result["setting"]) == ("serving_overhead", "tiny")
    rows = result["results"]
    assert {(row["kind"], row["size"]) for row in rows} == {
        (kind, size) for kind in ("json", "png", "grpc") for size in (32, 64)
    }
    for row in rows:
        assert set(row) >= RESULT_KEYS
        assert row["request_ms"] > 0 and row["in_process_ms"] > 0
        assert row.get("target") == {"json": 3.0, "png": 1.3}.get(row["kind"])
        if row["kind"] != "png":  # pixels, not a compressed file: the whole image came back
            assert row["answer_bytes"] > row["size"] ** 2 * 3
        if row["kind"] == "json":
            assert row["native_parse_ms"] > 0 and row["native_encode_ms"] > 0
            native = row["native_parse_ms"] + row["native_encode_ms"]
            assert row["anchor_ratio"] == pytest.approx(1 + native / row["in_process_ms"], abs=0.02)
        else:
            assert "anchor_ratio" not in row
        if row["kind"] == "grpc":
            assert "stages_ms" not in row
            continue
        stages = row["stages_ms"]
        assert set(stages) >= {"parse", "model", "encode", "total"}
        assert row["handoff_ms"] >= 0
        assert row["http_ms"] == pytest.approx(row["request_ms"] - stages["total"], abs=0.02)


def test_where_the_time_went_splits_the_request(monkeypatch):
    serving_overhead = import_script(monkeypatch, "serving_overhead")
    answers = [
        {"parse": 2.0, "model": 10.0, "encode": 1.0, "total": 15.0},
        {"parse": 4.0, "model": 12.0, "encode": 1.0, "http-parse": 1.0, "total": 20.0},
        {"parse": 3.0, "model": 11.0, "encode": 1.5, "total": 16.5},
    ]
    split = serving_overhead.where_the_time_went(answers, request_ms=25.0)
    assert split["stages_ms"]["model"] == 11.0 and split["stages_ms"]["total"] == 16.5
    assert split["handoff_ms"] == 2.0  # medians of 2, 2 and 1
    assert split["http_ms"] == 8.5


def test_native_parse_reads_the_request_pixels(monkeypatch):
    serving_overhead = import_script(monkeypatch, "serving_overhead")
    body, _, inputs = serving_overhead.cases(8)["json"]
    image, mask = serving_overhead.native_parse(body)
    np.testing.assert_array_equal(image, inputs["image"].ravel())
    np.testing.assert_array_equal(mask, inputs["mask"].ravel())
