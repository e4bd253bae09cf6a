"""`make tutorial`'s order: 00-02 first one at a time, the notebooks known to be independent side
by side, every other one alone, 99 last; what is printed stays in series order."""
from pathlib import Path

from series_tools import series


def named(*numbers):
    return [Path(f"{number}_notebook.ipynb") for number in numbers]


def test_independent_notebooks_run_together_and_the_others_alone():
    paths = named("00", "01", "02", "03", "04", "05", "06", "07", "08", "10", "11", "12", "99")
    assert series.stages(paths) == [
        named("00"), named("01"), named("02"),
        # 04 and 12 change shared data; 08 is not known to be independent
        named("04"), named("08"), named("12"),
        named("03", "05", "06", "07", "10", "11"),
        named("99")]


def test_results_are_printed_in_series_order_whatever_order_they_finish_in(capsys):
    paths = named("03", "04", "05")
    printer = series._InOrder(paths)

    def result(path):
        return {"notebook": path.name, "status": "ok", "seconds": 1.0}

    printer.add(paths[2], result(paths[2]), "  progress of 05\n")
    printer.add(paths[1], result(paths[1]), "  progress of 04\n")
    assert capsys.readouterr().out == ""  # 03 has not finished: nothing may be printed yet
    printer.add(paths[0], result(paths[0]), "  progress of 03\n")
    printed = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert printed == ["[1/3] 03_notebook.ipynb", "progress of 03", "03_notebook.ipynb: ok in 1.0 s",
                       "[2/3] 04_notebook.ipynb", "progress of 04", "04_notebook.ipynb: ok in 1.0 s",
                       "[3/3] 05_notebook.ipynb", "progress of 05", "05_notebook.ipynb: ok in 1.0 s"]
