// Swift Testing suites for SousLocalCloud live in this folder.
