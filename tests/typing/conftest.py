"""The files of this folder are type-checked by tests/test_typing.py, never run."""

collect_ignore_glob = ["*.py"]
