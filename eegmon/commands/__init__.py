"""CLI subcommands: each module defines ``add_arguments(parser)`` and ``run(args) -> int``.

The module docstring's first line is the subcommand's one-line help; the rest is its description.
Modules are imported only to build the parser, so keep their top-level imports light.
"""

#: subcommand name -> module in eegmon.commands, in --help order.
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "simulate": "simulate",
    "import": "import_",
    "info": "info",
    "export": "export",
    "detect": "detect",
    "train": "train",
    "crossval": "crossval",
    "evaluate": "evaluate",
    "forecast": "forecast",
    "batch": "batch",
    "monitor": "monitor",
    "alerts": "alerts",
    "view": "view",
    "report": "report",
}
