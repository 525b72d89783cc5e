"""One module per `casefinder` command: NAME, HELP, add_arguments(parser), run(args)."""
