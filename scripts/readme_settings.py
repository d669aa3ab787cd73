"""Rewrite the settings table at the end of README.md from ``pipelines.config.Settings``.

.venv/bin/python scripts/readme_settings.py
"""

from pathlib import Path

from pipelines.config import settings_table

readme = Path(__file__).resolve().parents[1] / "README.md"
text = readme.read_text()
head, _, _ = text.partition("| variable | default | what it sets |")
readme.write_text(head + settings_table() + "\n")
print(f"settings table rewritten in {readme}")
