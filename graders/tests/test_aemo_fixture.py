"""The generated AEMO-style archives: the MMSDM layout, determinism, and summaries that match processing."""
from __future__ import annotations

import importlib.util
import io
import zipfile
import zlib

import pandas as pd
import pytest

from fixtures import aemo
from graders.tests.conftest import PROJECT


def csv_lines(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (member,) = archive.namelist()
        assert member == "PUBLIC_DVD_DISPATCH_UNIT_SCADA_202102010000.CSV"
        return archive.read(member).decode().splitlines()


@pytest.fixture(scope="module")
def february() -> aemo.MonthlyArchive:
    return aemo.make_archive(2021, 2, units=5, days=2)


def test_names_and_urls_follow_the_real_archives(february):
    assert february.name == "PUBLIC_DVD_DISPATCH_UNIT_SCADA_202102010000.zip"
    assert february.url.endswith("/2021/MMSDM_2021_02/MMSDM_Historical_Data_SQLLoader/DATA/" + february.name)
    assert ".example.test/" in february.url


def test_the_csv_has_the_mmsdm_record_layout(february):
    lines = csv_lines(february.data)
    assert lines[0].startswith("C,NEMP.WORLD,DVD_DISPATCH_UNIT_SCADA,AEMO,PUBLIC,")
    assert lines[1] == aemo.HEADER
    data = lines[2:-1]
    assert len(data) == 5 * 2 * 288  # one row per unit per 5-minute interval
    assert all(line.startswith('D,DISPATCH,UNIT_SCADA,1,"2021/02/') for line in data)
    assert data[0].split(",")[4] == '"2021/02/01 00:05:00"'
    assert data[-1].split(",")[4] == '"2021/02/03 00:00:00"'
    assert lines[-1] == f'C,"END OF REPORT",{len(lines)}'


def test_a_full_month_runs_to_midnight_of_the_next_months_first_day():
    january = aemo.make_archive(2021, 1, units=1)
    assert len(january.summary) == 31 * 288
    assert january.summary.index[-1] == "2021/02/01 00:00:00"


def test_generation_is_deterministic_and_differs_between_months(february):
    again = aemo.make_archive(2021, 2, units=5, days=2)
    assert again.data == february.data
    pd.testing.assert_frame_equal(again.summary, february.summary)
    march = aemo.make_archive(2021, 3, units=5, days=2)
    assert march.summary["mean"].to_numpy().tolist() != february.summary["mean"].to_numpy().tolist()


def test_the_expected_summary_is_what_the_reference_processing_computes(february):
    spec = importlib.util.spec_from_file_location("pipeline_solution", PROJECT / "solutions" / "04_pipeline" / "pipeline.py")
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    pd.testing.assert_frame_equal(pipeline.process_archive(february.data), february.summary, check_index_type=False)


@pytest.mark.parametrize("damage", [aemo.truncated, aemo.corrupted])
def test_damaged_archives_cannot_be_read(february, damage):
    with pytest.raises((zipfile.BadZipFile, zlib.error)):
        with zipfile.ZipFile(io.BytesIO(damage(february.data))) as archive:
            archive.read(archive.namelist()[0])
