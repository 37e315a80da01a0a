"""The code-report notebook: one tagged, typed parameters cell mirroring ReportParams, and no logic of its own."""

import ast

import nbformat
import pytest

from benchmark import config
from benchmark.reporting.report import SECTIONS, ReportParams
from benchmark.reporting.runner import report_slug


def _cells():
    return nbformat.read(config.CODE_REPORT_NOTEBOOK, as_version=4).cells


def test_exactly_one_tagged_parameters_cell_with_typed_defaults():
    tagged = [c for c in _cells() if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse(tagged[0].source)
    assert all(isinstance(node, ast.AnnAssign) for node in tree.body), "only annotated assignments"
    declared = {node.target.id: (ast.unparse(node.annotation), ast.literal_eval(node.value)) for node in tree.body}
    defaults = ReportParams().as_notebook_parameters()
    assert set(declared) == set(defaults)
    for name, (annotation, value) in declared.items():
        assert value == defaults[name], name
        assert annotation == type(defaults[name]).__name__, name
    for line in tagged[0].source.splitlines()[1:]:
        assert "  # " in line, f"parameter without a comment: {line}"


def test_notebook_has_no_logic_of_its_own_and_shows_every_section():
    code_cells = [
        c.source for c in _cells() if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
    ]
    for source in code_cells:
        tree = ast.parse(source)
        forbidden = (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.If, ast.With, ast.Lambda)
        assert not any(isinstance(node, forbidden) for node in ast.walk(tree)), source
    shown = [s for s in code_cells if s.startswith("report.show(")]
    assert shown == [f'report.show("{name}")' for name, _ in SECTIONS]


def test_committed_notebooks_are_clean():
    for path in config.NOTEBOOKS_DIR.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize(
    "bad",
    [
        {"code": 44320},
        {"code": "4432"},
        {"year": 2019},
        {"year": "2025"},
        {"payers": ["Humana"]},
        {"geography": "Texas"},
        {"product_lines": ["gold"]},
        {"unknown": 1},
    ],
)
def test_parameters_are_validated_before_anything_runs(bad):
    with pytest.raises(ValueError):
        ReportParams.from_mapping({"code": "44320", **bad})


def test_codes_stay_strings_and_lists_round_trip():
    params = ReportParams.from_mapping({"code": "00100", "payers": ["Aetna", "Cigna"]})
    assert params.code == "00100" and params.payers == ("Aetna", "Cigna")
    assert params.as_notebook_parameters()["payers"] == ["Aetna", "Cigna"]


def test_output_folder_slug_is_safe_and_parameter_based():
    assert report_slug(ReportParams()) == "44320"
    slug = report_slug(ReportParams(code="44310", year=2024, payers=("Aetna", "BCBS"), geography="04412-18"))
    assert slug == "44310__year-2024__payers-Aetna+BCBS__geography-04412-18"
    weird = report_slug(ReportParams(data_source="../../etc/<script>x"))
    assert weird.startswith("44320__data_source-script_x-") and "/" not in weird and "." not in weird


def test_papermill_documents_every_parameter():
    import papermill

    inferred = papermill.inspect_notebook(str(config.CODE_REPORT_NOTEBOOK))
    assert set(inferred) == set(ReportParams().as_notebook_parameters())
    assert inferred["code"]["inferred_type_name"] == "str" and inferred["code"]["default"] == '"44320"'
    assert all(p["help"] for p in inferred.values())


@pytest.mark.slow
def test_explore_notebook_runs_the_three_line_api(tmp_path):
    import papermill

    from benchmark.reporting.runner import ensure_kernel

    out = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(config.NOTEBOOKS_DIR / "explore.ipynb"),
        str(out),
        kernel_name=ensure_kernel(),
        cwd=str(tmp_path),
        progress_bar=False,
    )
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    first = cells[0]
    assert len([line for line in first.source.splitlines() if line.strip()]) == 3
    images = [o for o in first.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the chart is displayed once (not once by pyplot and again as the cell's value)"
    table_html = cells[1].outputs[0]["data"]["text/html"]
    assert config.SYNTHETIC_LABEL in table_html  # the table's caption
    for column in ("payer_family", "median", "median_pct_of_medicare", "small_sample"):
        assert column in table_html
