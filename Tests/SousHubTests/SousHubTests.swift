// Swift Testing suites for SousHub live in this folder.
