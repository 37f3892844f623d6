"""The docs that are generated from code must match the code."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_derivative_table_is_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "make_derivative_table.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "pytest" in line)
    assert command.strip() in readme


def test_readme_example_prints_what_the_readme_shows():
    import re

    readme = (ROOT / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    shown = re.findall(r"```\n(epoch .*?)```", readme, re.S)[0]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    for line in shown.splitlines():
        if line != "...":
            assert line in printed, f"README shows {line!r}; the code printed {printed}"


def test_readme_and_engine_doc_links_resolve():
    import re

    for page in (ROOT / "README.md", ROOT / "docs" / "engine.md"):
        text = page.read_text()
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if link.startswith(("http://", "https://")):
                continue
            assert (page.parent / link).exists(), f"{page.name} links to missing {link}"
