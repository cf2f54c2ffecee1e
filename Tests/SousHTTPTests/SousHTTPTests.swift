// Swift Testing suites for SousHTTP live in this folder.
