"""The ``lifeopt`` command group: its one-line errors and exit codes, the helpers its
commands share, and the console entry point. The commands live in :mod:`.plans`
(solve, evaluate, sweep, compare, plot) and :mod:`.library` (fit, presets, gpus).

Every lifecycle_opt error becomes a one-line message on stderr and its exit code
(2 for bad input, 1 for an infeasible plan or a solver failure); never a traceback.
"""
from __future__ import annotations

__all__ = ["main", "cli", "emit", "today", "FORMATS", "check_outputs", "stdout_or", "printable"]

import sys

import click

from ..errors import LifecycleError

FORMATS = ("table", "json", "csv")


def _fail(exc: LifecycleError):
    """The one place an error of ours reaches the user: one line on stderr (an infeasible
    plan's line lists the changes that would fix it) and the error's exit code."""
    click.echo(f"error: {printable(str(exc))}", err=True)
    sys.exit(exc.exit_code)


def printable(text: str) -> str:
    """``text`` with control characters (a NUL, a terminal's escape sequences from a name
    in a file) shown escaped, never sent to the terminal; newlines and tabs kept."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


class _Interrupted(Exception):
    """Ctrl-C, carried past click (which would print a blank line and call it an abort)."""


class _Lifeopt(click.Group):
    """The command group, with click's own usage errors on one line like ours
    (``error: …``, exit code 2) and a last guard that keeps tracebacks from users."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted() from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except (click.Abort, _Interrupted, KeyboardInterrupt):
            # Ctrl-C: the exit code a shell gives a command stopped by SIGINT, 128 + 2
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:   # bare `lifeopt`
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except LifecycleError as exc:
            _fail(exc)
        except BrokenPipeError:                     # the reader went away (| head)
            sys.exit(1)
        except Exception as exc:                    # a bug: say so on one line, not a traceback
            click.echo(f"error: internal error ({type(exc).__name__}: {exc}); please report the "
                       f"command and its input files", err=True)
            sys.exit(70)


@click.group(cls=_Lifeopt, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lifecycle_opt", prog_name="lifeopt")   # read on --version only
def cli():
    """Plan the training of a language model over its whole life.

    \b
    Examples:
      lifeopt solve examples/chat_assistant.toml
      lifeopt solve examples/small_corpus.toml --format json -o plan.json
      lifeopt sweep examples/chat_assistant.toml --vary inference.requests=1e9..1e12:log:25
      lifeopt compare examples/compare_demand.toml
      lifeopt plot examples/chat_assistant.toml -o plan.png
      lifeopt fit examples/runs/isoflop_runs.csv --bootstrap 100 --samples law_samples.csv -o law.toml
      lifeopt check examples/finance_plan.toml
      lifeopt presets

    \b
    Shell completion (bash; zsh and fish likewise, see the README):
      eval "$(_LIFEOPT_COMPLETE=bash_source lifeopt)"
    """




def today():
    import datetime
    return datetime.date.today()


def check_outputs(force: bool, *paths, folders=()) -> None:
    """Before any work: every output file can be written, and no two outputs (files or
    ``folders``) name the same place (None and "-", standard output, are skipped)."""
    from ..outputs.exports import check_writable, distinct_outputs

    distinct_outputs(*paths, *folders)
    for path in paths:
        if path is not None and str(path) != "-":
            check_writable(path, force=force)


def stdout_or(path: str | None) -> str | None:
    """``-o -`` and ``-o /dev/stdout`` are standard output: None, as if no file were given."""
    return None if path in ("-", "/dev/stdout") else path


def emit(text: str, output: str | None, force: bool) -> None:
    """Write ``text`` to ``output`` atomically, or to standard output."""
    from ..outputs.exports import write_text_atomic

    if output and output != "-":
        write_text_atomic(output, text, force=force)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(printable(text), nl=False)     # a name from a file never drives the terminal



def main():
    """The console entry point. SIGTERM (a scheduler's or a user's kill) unwinds like
    Ctrl-C, so that an output being written leaves no temporary file behind."""
    import signal

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    _one_line_warnings()
    cli()


def _one_line_warnings() -> None:
    """Every Python warning (numpy's overflow and rank warnings among them) as one line
    on stderr, "warning: …", each text once, never a source line and a traceback path."""
    import warnings

    said: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message).splitlines()[0] if str(message) else category.__name__
        if text not in said:                    # the same text from another line or call: once
            said.add(text)
            sys.stderr.write(f"warning: {text}\n")

    warnings.showwarning = show
    warnings.simplefilter("once")

