"""Write docs/scenario_keys.md, the reference of every scenario key, from the registry the
scenario reader uses (lifecycle_opt/scenario/registry.py). Run from the repository's root:
python docs/make_scenario_keys.py (tests/test_scenario_keys.py checks the file is current)."""
from pathlib import Path

from lifecycle_opt.outputs.key_reference import scenario_keys_markdown

if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "scenario_keys.md"
    target.write_text(scenario_keys_markdown(), encoding="utf-8")
    print(f"wrote {target}")
