// Swift Testing suites for SousCLI live in this folder.
