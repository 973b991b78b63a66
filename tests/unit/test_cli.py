"""The command line: `python -m core evaluate colors`, `inspect`, `train colors --out`, and its error handling."""

import json

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.paths import REPO


def test_evaluate_colors_csv_with_bad_rows(tmp_path, capsys):
    csv = tmp_path / "c.csv"
    csv.write_text(
        "r,g,b,label\n255,0,0,red-ish\n0,0,255,Blue\n300,0,0,red\n1,2,,green\nx,1,2,red\n5,5,5,teal\n0,255,0,green\n"
    )
    code, out, _ = run_cli(capsys, "evaluate", "colors", str(csv))
    assert code == 0
    report = json.loads(out)
    assert report["n"] == 3 and report["accuracy"] == 1.0
    assert [s["line"] for s in report["skipped"]] == [4, 5, 6, 7]
    assert any("unknown label" in s["reason"] for s in report["skipped"])
    assert report["labels"][0] == "red-ish" and len(report["confusion"]) == 9
    assert report["per_class"]["red-ish"] == 1.0 and report["per_class"]["grey-ish"] is None
    assert 0 <= report["balanced_accuracy"] <= 1


@pytest.mark.parametrize(
    "content, message", [("", "empty"), ("red,green\n1,2\n", "lacks the column"), (b"\xff\xfe\x00bad", "UTF-8")]
)
def test_evaluate_colors_bad_files(tmp_path, capsys, content, message):
    csv = tmp_path / "c.csv"
    csv.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run_cli(capsys, "evaluate", "colors", str(csv))
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_evaluate_missing_file_and_model(tmp_path, capsys):
    code, _, err = run_cli(capsys, "evaluate", "colors", str(tmp_path / "none.csv"))
    assert code == 2 and "no file" in err
    csv = tmp_path / "c.csv"
    csv.write_text("r,g,b,label\n1,2,3,red\n")
    code, _, err = run_cli(capsys, "evaluate", "colors", str(csv), "--model", str(tmp_path / "nomodel"))
    assert code == 2 and "no model folder" in err


def test_evaluate_only_bad_rows_reports_zero(tmp_path, capsys):
    csv = tmp_path / "c.csv"
    csv.write_text("r,g,b,label\n999,0,0,red\n")
    code, out, _ = run_cli(capsys, "evaluate", "colors", str(csv))
    report = json.loads(out)
    assert code == 0 and report["n"] == 0 and report["accuracy"] is None and len(report["skipped"]) == 1


def test_train_rejects_bad_hyperparameters(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "colors", "--epochs", "0", "--out", str(tmp_path / "c"))
    assert code == 2 and "Epochs" in err and not (tmp_path / "c").exists()


def test_train_refuses_another_shipped_models_folder(capsys):
    shipped = (REPO / "saved_models/shapes/model.json").read_bytes()
    code, _, err = run_cli(capsys, "train", "colors", "--epochs", "1", "--out", str(REPO / "saved_models/shapes"))
    assert code == 2 and "another shipped model" in err
    assert (REPO / "saved_models/shapes/model.json").read_bytes() == shipped
