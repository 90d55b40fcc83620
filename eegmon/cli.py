"""The ``eegmon`` command line: one entry point, one subcommand per module in ``eegmon.commands``.

Exit codes (see CONVENTIONS.md): 0 success; 1 the job ran but found a problem the user asked to be
told about; 2 bad input or usage (one line on stderr); 3 internal error (traceback with ``--debug``).
A reader that closes stdout early (``eegmon info ARCHIVE | head``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
import traceback
from collections.abc import Sequence

from . import __version__
from ._logging import configure as configure_logging
from .commands import COMMANDS
from .errors import EegmonError

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> None:  # noqa: D102 (argparse API)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks and debug logging")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars and only warnings on stderr")
    return common


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    common = _common_options()
    parser = _Parser(
        prog="eegmon",
        description="Home seizure monitoring with ultra-long-term subscalp EEG. "
        "Research software, not a certified medical device.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"eegmon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"eegmon.commands.{module_name}")
        doc = (module.__doc__ or "").strip()
        cmd = sub.add_parser(
            name, help=doc.splitlines()[0] if doc else None, description=doc, parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reading end has been closed (e.g. by ``head``)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (captured): a broken pipe came from elsewhere
        return False
    if not hasattr(select, "poll"):  # Windows: no way to ask; take it as stdout, as Python's docs do
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.debug = getattr(args, "debug", False)
    args.quiet = getattr(args, "quiet", False)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    configure_logging(debug=args.debug, quiet=args.quiet)
    code = EXIT_OK
    try:
        code = int(args._run(args) or EXIT_OK)
        sys.stdout.flush()  # a reader that went away shows here, not as a traceback at interpreter exit
        return code
    except EegmonError as err:
        if args.debug:
            traceback.print_exc()
        print(f"eegmon {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"eegmon {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: say so in one line, traceback only on request
        if isinstance(err, BrokenPipeError) and _stdout_reader_gone():
            # The reader (`eegmon info ... | head`) has all it wanted: stop quietly. Output still
            # buffered goes to devnull, so the flush at exit cannot fail (Python docs, "Note on SIGPIPE").
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return code  # the job's own verdict when it had finished before the last flush
        if args.debug:
            traceback.print_exc()
        print(f"eegmon {args.command}: internal error: {type(err).__name__}: {err} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
