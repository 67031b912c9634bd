"""The ``hedge`` command: a thin typer layer over the library.

Errors: UsageError and typer's own usage errors exit 2, DataError exits 1; each prints one line on
stderr, ``error: <what> (<how to fix>)``, and no traceback (set HEDGE_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys

import typer

from .. import __version__

app = typer.Typer(
    name="hedge",
    help="Fed-liquidity macro-hedge backtester: data, signals, strategies, backtests and tearsheets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool):
    if value:
        typer.echo(f"hedge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
):
    """Fed-liquidity macro-hedge backtester."""


from . import backtest, data, experiment, report, research, signals, sweep, walkforward  # noqa: E402,F401,I001


def _err(line: str) -> None:
    sys.stderr.write(line.rstrip("\n") + "\n")


ARGV: list[str] = []  # the arguments of the command being run (recorded in run manifests)


def main(argv: list[str] | None = None) -> int:
    from typer import Abort
    from typer._click import exceptions as cx

    from ..errors import HedgeError

    ARGV[:] = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="hedge")
        code = rv if isinstance(rv, int) else 0
        if code == 130:  # typer turns Ctrl-C (KeyboardInterrupt) into a silent exit code 130
            _err("error: interrupted")
    except HedgeError as e:
        from .common import as_flags

        _err(as_flags(e).line())
        code = e.exit_code
    except cx.UsageError as e:
        cmd = e.ctx.command_path if e.ctx is not None else "hedge"
        _err(f"error: {' '.join(e.format_message().split())} (see `{cmd} --help`)")
        code = 2
    except Abort:
        _err("error: aborted")
        code = 130
    except cx.ClickException as e:
        _err(f"error: {' '.join(e.format_message().split())}")
        code = e.exit_code
    except KeyboardInterrupt:
        _err("error: interrupted")  # every write is a temp file + rename: nothing is half-written
        code = 130
    except BrokenPipeError:
        code = 0
    except OSError as e:  # the environment (disk full, read-only, permissions, a file where a folder goes)
        if os.environ.get("HEDGE_DEBUG"):
            raise
        from ..fsutil import os_error

        _err(os_error(e, "cannot read or write a file").line())
        code = 1
    except Exception as e:  # noqa: BLE001 - last resort: one line, never a traceback
        if os.environ.get("HEDGE_DEBUG"):
            raise
        _err(
            f"error: internal error: {type(e).__name__}: {' '.join(str(e).split())} "
            "(rerun with HEDGE_DEBUG=1 for the traceback and report it)"
        )
        code = 1
    if argv is None:
        sys.exit(code)
    return code
