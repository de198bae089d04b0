import pytest
import sqlalchemy as sa

from vitals_common.errors import StartupError
from vitals_producer.source import SourceTable, create_source_engine, masked_url


def test_masked_url_hides_password():
    shown = masked_url("postgresql://reader:s3cret@db.example:5432/vitals")
    assert "s3cret" not in shown
    assert "reader:***@db.example" in shown


def test_read_after_pages_in_order(make_table):
    url = make_table("t", {"row_seq": sa.Integer, "customerId": sa.Integer}, [
        {"row_seq": k, "customerId": k} for k in (5, 1, 3, 2, 4)
    ])
    source = SourceTable(create_source_engine(url), "t", "row_seq")
    assert [r["row_seq"] for r in source.read_after(None, 2)] == [1, 2]
    assert [r["row_seq"] for r in source.read_after(2, 2)] == [3, 4]
    assert [r["row_seq"] for r in source.read_after(4, 2)] == [5]
    assert source.read_after(5, 2) == []
    assert source.count_after(3) == 2
    assert source.count_after(None) == 5


def test_missing_table_names_table(make_table):
    url = make_table("other", {"row_seq": sa.Integer}, [])
    with pytest.raises(StartupError, match="table 'patients_vital_info' not found"):
        SourceTable(create_source_engine(url), "patients_vital_info", "row_seq")


def test_missing_database_file(tmp_path):
    with pytest.raises(StartupError, match="does not exist"):
        create_source_engine(f"sqlite:///{tmp_path / 'absent.db'}")


def test_missing_column_lists_columns(make_table):
    url = make_table("t", {"row_seq": sa.Integer, "customerId": sa.Integer}, [])
    source = SourceTable(create_source_engine(url), "t", "row_seq")
    with pytest.raises(StartupError, match="no column\\(s\\) heartBeat; its columns are row_seq, customerId"):
        source.require_columns(["customerId", "heartBeat"])
