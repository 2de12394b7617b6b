"""The README's figures for the shipped model agree with its metadata. After a model change,
`python tools/readme_figures.py` prints the sentences to paste."""
import importlib.util

from faceid_gui.paths import assets_dir

ROOT = assets_dir().parent


def _figures():
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "tools" / "readme_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_quotes_the_shipped_models_figures():
    figures = _figures()
    expected = figures.printed(figures.load())
    quoted = figures.quoted((ROOT / "README.md").read_text(encoding="utf-8"))
    for name, places in quoted.items():
        assert places, f"README.md no longer quotes the {name} (tools/readme_figures.py: {figures.FIGURES[name][0]})"
        for numbers in places:
            assert numbers == expected[name], (
                f"README.md says {name} {numbers}, the model {expected[name]}: run tools/readme_figures.py")
