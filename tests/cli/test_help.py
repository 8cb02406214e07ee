"""``xnat --help`` and every subcommand's help; usage errors are one line, exit 2."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from xnat import __version__
from xnat.cli import build_parser


def _subcommands() -> list[tuple[str, ...]]:
    """Every command path in the parser: ("ls",), ("rest", "get"), ..."""
    found: list[tuple[str, ...]] = []

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append(prefix + (name,))
                    walk(sub, prefix + (name,))

    walk(build_parser(), ())
    return found


COMMANDS = _subcommands()


def test_the_issue_s_commands_all_exist():
    names = {command[0] for command in COMMANDS}
    assert {"login", "logout", "ls", "download", "upload", "import", "prearchive", "rest", "serve", "demo"} <= names
    assert {("rest", verb) for verb in ("get", "put", "post", "delete")} <= set(COMMANDS)
    assert {("prearchive", action) for action in ("ls", "archive", "move", "delete")} <= set(COMMANDS)


def test_top_level_help_teaches(cli):
    result = cli("--help")
    assert result.code == 0
    assert "xnat demo" in result.out and "getting started" in result.out
    for command in ("login", "logout", "ls", "download", "upload", "import", "prearchive", "rest", "serve", "demo"):
        assert f"    {command}" in result.out


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_subcommand_has_help_with_an_example(cli, command):
    result = cli(*command, "--help")
    assert result.code == 0, result.err
    assert result.out.startswith(f"usage: xnat {' '.join(command)}")
    assert "xnat " in result.out.split("options:", 1)[-1]  # an example in the epilog


def test_connection_options_are_explained_where_they_are_used(cli):
    out = cli("ls", "--help").out
    for option in ("--host", "--user", "--netrc", "--jsession", "--password-stdin", "XNATPY_JSESSION"):
        assert option in out
    assert "--password " not in out  # passwords do not go on the command line


def test_version_through_the_module_entry_point():
    done = subprocess.run([sys.executable, "-m", "xnat.cli", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"xnat {__version__}"


def test_no_command_prints_help_and_exits_2(cli):
    result = cli()
    assert result.code == 2
    assert "usage: xnat" in result.err


@pytest.mark.parametrize("argv, fragment", [
    (("ls", "--bogus"), "unrecognized arguments: --bogus"),
    (("ls", "--format", "xml"), "invalid choice: 'xml'"),
    (("ls", "--timeout", "0"), "must be more than 0"),
    (("ls", "--timeout", "soon"), "expected a number of seconds"),
    (("frobnicate",), "invalid choice: 'frobnicate'"),
    (("upload", "P/S"), "required"),
    (("download",), "required"),
    (("download", "P", "out", "--workers", "0"), "from 1 to 64"),
    (("rest", "patch", "/data"), "invalid choice: 'patch'"),
])
def test_usage_errors_are_one_line_and_exit_2(cli, argv, fragment):
    result = cli(*argv)
    assert result.code == 2
    assert len(result.err_lines) == 1, result.err
    assert fragment in result.err
    assert "--help'" in result.err and "Traceback" not in result.err
