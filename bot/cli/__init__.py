"""`python -m bot <command>`: each module here registers one thin sub-command.

A module defines `register(subparsers)`, adding a parser whose `func(args) -> int` runs it.
Commands only parse arguments and call into the packages; errors become one clear line.
"""
