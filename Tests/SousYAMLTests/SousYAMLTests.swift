// Swift Testing suites for SousYAML live in this folder.
