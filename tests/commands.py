"""The `lifeopt` commands the documentation shows: every one in a code block of README.md and
docs/tutorial.md, and every line of the Examples of each command's --help. Read by
tests/test_readme_commands.py, which runs them."""
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _joined(lines):
    """Lines with shell continuations (a trailing backslash) joined."""
    out, part = [], ""
    for line in lines:
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            part += stripped[:-1] + " "
            continue
        out.append(part + stripped)
        part = ""
    if part:
        out.append(part)
    return out


def _commands(lines):
    found = []
    for line in _joined(lines):
        text = line.strip().removeprefix("$ ").strip()
        if not text.startswith("lifeopt "):
            continue
        words = shlex.split(text, comments=True)
        found.append(words[1:])
    return found


def markdown_commands(path: Path):
    """The commands of the code blocks of a Markdown file, in order."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [c for block in blocks for c in _commands(block.splitlines())]


def help_commands():
    """(command, args) of each Examples line of every command's --help."""
    import click
    from lifecycle_opt.cli import cli
    out = []
    groups = [("", cli)] + [(name, cmd) for name, cmd in sorted(cli.commands.items())]
    for name, cmd in groups:
        text = cmd.help or ""
        if "Examples:" not in text:
            continue
        lines = text.split("Examples:", 1)[1].splitlines()
        out += [(name or "lifeopt", c) for c in _commands(lines)]
    assert isinstance(cli, click.Group)
    return out
