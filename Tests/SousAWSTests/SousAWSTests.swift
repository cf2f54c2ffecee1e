// Swift Testing suites for SousAWS live in this folder.
