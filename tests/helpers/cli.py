"""`python -m core` in this process: its exit code, stdout and stderr."""

from core.__main__ import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err
