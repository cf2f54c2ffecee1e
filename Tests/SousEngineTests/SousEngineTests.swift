// Swift Testing suites for SousEngine live in this folder.
