"""The README's marked code blocks, which tests run as they are."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(name: str) -> str:
    """The Python block between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    block = re.search(
        rf"<!-- {name}:start -->\n```python\n(.*?)```\n<!-- {name}:end -->",
        README.read_text(),
        re.S,
    )
    assert block, f"README.md lost its {name} markers"
    return block.group(1)
